"""Drift check speed and memory: ``mlcycle drift`` against Evidently and the I/O floor.

On a generated pair of Parquet files (1,000,000 rows x 20 numeric + 5 categorical columns by
default) this prints, each as a whole fresh process measured with wait4 (wall time and peak
resident memory):

* ``mlcycle drift REF CUR --json``;
* polars reading both files into memory, the floor any drift check must pay;
* Evidently's default data-drift report on the same pair, run from its own virtual
  environment in ``bench/.env`` (created on first use from ``bench/requirements.txt``; if it
  cannot be installed the row is skipped with the reason).

    python bench/drift.py                      # 1M rows, everything
    python bench/drift.py --rows 10000000 --no-evidently --runs 1   # the 10M-row memory check

Goals: at least 50x faster than Evidently, within 3x of the read floor, peak memory at most a
quarter of Evidently's; at 10M rows x 25 columns, peak memory under 2 GB.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import BIN, DATA, Timing, comparison_env, measure

EVIDENTLY_SCRIPT = """
import sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
try:  # Evidently >= 0.7
    from evidently import Report
    from evidently.presets import DataDriftPreset
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    snapshot.dict()
except ImportError:  # Evidently 0.4 - 0.6
    from evidently.report import Report
    from evidently.metric_preset import DataDriftPreset
    report = Report(metrics=[DataDriftPreset()])
    report.run(reference_data=ref, current_data=cur)
    report.as_dict()
"""

POLARS_SCRIPT = """
import sys
import polars as pl
a = pl.read_parquet(sys.argv[1]); b = pl.read_parquet(sys.argv[2])
assert a.height and b.height
"""


def generate(rows: int, numeric: int = 20, categorical: int = 5) -> tuple[Path, Path]:
    """A reference/current pair; the current has a real shift in two columns."""
    import duckdb

    DATA.mkdir(parents=True, exist_ok=True)
    paths = []
    for label, seed in (("reference", 0.1), ("current", 0.2)):
        path = DATA / f"drift_{label}_{rows}x{numeric + categorical}.parquet"
        paths.append(path)
        if path.exists():
            continue
        shift = 0.3 if label == "current" else 0.0
        con = duckdb.connect()
        con.execute(f"SELECT setseed({seed})")
        nums = ", ".join(
            f"(random() + random() + random() + random() - 2) * {i + 1} + {i}"
            f"{f' + {shift * (i + 1) * 0.58:.4f}' if i == 0 else ''} AS num_{i}"
            for i in range(numeric)
        )
        cats = ", ".join(
            f"['a','b','c','d','e','f','g'][1 + floor(random() * random() * 7)::INT] AS cat_{i}"
            for i in range(categorical)
        )
        tmp = path.with_suffix(".tmp")
        # Generated column expressions and our own file name: nothing from outside.
        con.execute(f"COPY (SELECT {nums}, {cats} FROM range({rows})) TO '{tmp}' "  # noqa: S608
                    "(FORMAT parquet)")
        tmp.rename(path)
    return paths[0], paths[1]


def line(name: str, t: Timing) -> None:
    print(f"  {name:<28} median {t.median:8.2f} s   peak {t.peak:7.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-evidently", action="store_true")
    args = parser.parse_args()

    ref, cur = generate(args.rows)
    print(f"drift check on {args.rows:,} rows x 25 columns (Parquet, {ref.stat().st_size >> 20} MB"
          f" each), {os.cpu_count()} cores")
    ours = measure([str(BIN / "mlcycle"), "drift", str(ref), str(cur), "--json"], runs=args.runs)
    line("mlcycle drift", ours)
    floor = measure([sys.executable, "-c", POLARS_SCRIPT, str(ref), str(cur)], runs=args.runs)
    line("polars read both (floor)", floor)
    ev: Timing | None = None
    if not args.no_evidently:
        py, reason = comparison_env("evidently", "pandas")
        if py is None:
            print(f"  Evidently skipped: {reason}")
        else:
            ev = measure([str(py), "-c", EVIDENTLY_SCRIPT, str(ref), str(cur)], runs=1,
                         warmup=0)
            line("Evidently DataDriftPreset", ev)
    print(f"  vs read floor: {ours.median / floor.median:.2f}x the time (goal <= 3x)")
    if ev is not None:
        print(f"  vs Evidently: {ev.median / ours.median:.0f}x faster (goal >= 50x), "
              f"{ours.peak / ev.peak:.2f} of its peak memory (goal <= 0.25)")
    if args.rows >= 10_000_000:
        print(f"  peak memory {ours.peak:.0f} MB (goal < 2048 MB)")


if __name__ == "__main__":
    main()
