"""False-alarm and detection rates of the drift engine, from 100 rows to 10 million.

End to end (generated table -> Parquet -> profile -> check) up to ``--max-rows`` (default
1,000,000) with the scenarios of ``tests/drift/test_drift_rates.py``. At 10 million rows, where
generating hundreds of table pairs would take hours, the false-alarm rate is measured on
simulated *counts*: the reference's bin edges come from a 20,000-row sample as in the engine,
both tables' bin and category counts are drawn from the true distribution, and the engine's
own per-column judgement and Bonferroni threshold are applied to them. Because the engine
only ever sees counts, this is the same computation without the I/O.

The multivariate part (``--multivariate``, also run by default) measures the joint test of
:mod:`mlcycle.drift.multivariate` on inputs whose correlation reverses (+0.8 to -0.8) while
every input's own distribution stays the same, and on same-distribution pairs; if
``bench/.env`` already has Evidently (see ``bench/README.md``), its ``DataDriftPreset``
verdict on the same pairs is printed beside it (nothing is installed for this).

    python bench/drift_rates.py                   # about 10 minutes on 2 cores
    python bench/drift_rates.py --quick           # fewer repetitions
    python bench/drift_rates.py --multivariate    # only the joint test
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlcycle import drift  # noqa: E402
from mlcycle.drift.check import judge_column  # noqa: E402
from mlcycle.drift.profile import BINS, SAMPLE_ROWS  # noqa: E402
from tests.drift.test_drift_multivariate import correlated  # noqa: E402
from tests.drift.test_drift_rates import (  # noqa: E402
    SCENARIOS,
    _new_category,
    detections,
    false_alarm_count,
    frame,
    run_once,
)

EVIDENTLY_PY = ROOT / "bench" / ".env" / "bin" / "python"
# Evidently's dataset verdict on each (reference, current) Parquet pair given as arguments.
EVIDENTLY_VERDICTS = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
out = []
for ref_path, cur_path in zip(sys.argv[1::2], sys.argv[2::2]):
    ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    try:  # Evidently >= 0.7: the share of drifted columns against its default 0.5
        from evidently import Report
        from evidently.presets import DataDriftPreset
        d = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref).dict()
        share = next(m["value"]["share"] for m in d["metrics"]
                     if "DriftedColumnsCount" in str(m.get("metric_id", "")))
        out.append(share >= 0.5)
    except ImportError:  # Evidently 0.4 - 0.6
        from evidently.report import Report
        from evidently.metric_preset import DataDriftPreset
        report = Report(metrics=[DataDriftPreset()])
        report.run(reference_data=ref, current_data=cur)
        out.append(bool(report.as_dict()["metrics"][0]["result"]["dataset_drift"]))
print(json.dumps(out))
"""


def interval(k: int, n: int) -> str:
    """The observed rate with a 95% Wilson interval."""
    p = k / n
    z = 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{p:6.1%}  [{max(0, centre - half):.1%}, {min(1, centre + half):.1%}]  ({k}/{n})"


def simulated_false_alarms(n: int, reps: int, seed: int = 1) -> int:
    """Dataset-level alarms over ``reps`` simulated same-distribution pairs of ``n`` rows
    with 20 continuous and 5 categorical columns (the bench table's shape)."""
    from scipy.special import ndtr

    rng = np.random.default_rng(seed)
    cat_p = np.array([0.40, 0.25, 0.15, 0.12, 0.08])
    alarms = 0
    for _ in range(reps):
        columns: list[tuple[drift.ColumnProfile, dict]] = []
        for j in range(20):
            sample = np.sort(rng.normal(size=SAMPLE_ROWS))
            qs = [sample[int(k / BINS * len(sample)) - 1] for k in range(1, BINS)]
            edges = sorted(set(float(q) for q in qs))
            probs = np.diff(np.concatenate([[0.0], ndtr(np.array(edges)), [1.0]]))
            sample_counts = np.bincount(np.searchsorted(edges, sample, side="left"),
                                        minlength=len(edges) + 1)
            ref = sample_counts + rng.multinomial(n - len(sample), probs)
            cur = rng.multinomial(n, probs)
            col = drift.ColumnProfile(name=f"num_{j}", dtype="DOUBLE", kind="numeric",
                                      identifier=False, mode="bins", n=n, n_missing=0,
                                      n_distinct=n, edges=edges, counts=ref.tolist())
            columns.append((col, {"n_values": n, "counts": cur.tolist()}))
        for j in range(5):
            ref = rng.multinomial(n, cat_p)
            cur = rng.multinomial(n, cat_p)
            col = drift.ColumnProfile(name=f"cat_{j}", dtype="VARCHAR", kind="categorical",
                                      identifier=False, mode="categories", n=n, n_missing=0,
                                      n_distinct=5, values=list("abcde"),
                                      counts=ref.tolist())
            columns.append((col, {"n_values": n, "counts": dict(zip("abcde", cur.tolist()))}))
        threshold = drift.ALPHA / len(columns)
        alarms += any(
            judge_column(col, cur, n, threshold, drift.MIN_PSI, drift.MIN_H).drifted
            for col, cur in columns
        )
    return alarms


def evidently_available() -> str | None:
    """Why Evidently cannot be compared with, or None when bench/.env has it."""
    if not EVIDENTLY_PY.exists():
        return "bench/.env does not exist (python bench/drift.py creates it)"
    probe = subprocess.run([str(EVIDENTLY_PY), "-c", "import evidently, pandas"],
                           capture_output=True, check=False)
    return None if probe.returncode == 0 else "bench/.env has no Evidently"


def evidently_verdicts(pairs: list[tuple[dict, dict]]) -> list[bool]:
    """Evidently's DataDriftPreset verdict on each pair, in one process of bench/.env."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (ref, cur) in enumerate(pairs):
            for side, cols in (("ref", ref), ("cur", cur)):
                path = f"{tmp}/{i}-{side}.parquet"
                frame(cols).write_parquet(path)
                paths.append(path)
        proc = subprocess.run([str(EVIDENTLY_PY), "-c", EVIDENTLY_VERDICTS, *paths],
                              capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def multivariate_rates(scale: float) -> None:
    """Detection of a correlation reversal and false alarms of the joint test."""
    why_not = evidently_available()
    print("\nMultivariate: x1, x2 correlation +0.8 -> -0.8 (marginals unchanged), plus "
          "3 noise inputs")
    print(f"  Evidently: {'compared' if why_not is None else 'skipped, ' + why_not}")
    for rho_cur, title, sizes in (
        (-0.8, "detection (goal >= 90% at 5,000 rows)", [(300, 100), (1000, 100), (5000, 100),
                                                        (20_000, 40)]),
        (0.8, "false alarms on same-distribution pairs (goal <= 5%)",
         [(1000, 400), (5000, 200), (100_000, 20)]),
    ):
        print(f"  {title}")
        for n, reps in sizes:
            reps = max(10, int(reps * scale))
            rng = np.random.default_rng(n + (rho_cur > 0))
            pairs = [(correlated(rng, n, 0.8), correlated(rng, n, rho_cur))
                     for _ in range(reps)]
            started = time.perf_counter()
            results = [run_once(ref, cur) for ref, cur in pairs]
            seconds = (time.perf_counter() - started) / reps
            joint = sum(r.multivariate.drifted for r in results)
            columns = sum(bool(r.drifted) for r in results)
            print(f"  {n:>10,} rows  joint test {interval(joint, reps)}", flush=True)
            print(f"  {'':>15}  any column  {interval(columns, reps)}  "
                  f"{seconds:5.2f} s per compare()", flush=True)
            if why_not is None and n <= 5000:
                found = sum(evidently_verdicts(pairs[: min(reps, 40)]))
                print(f"  {'':>15}  Evidently   {interval(found, min(reps, 40))}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--max-rows", type=int, default=1_000_000)
    parser.add_argument("--multivariate", action="store_true", help="only the joint test")
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    if args.multivariate:
        multivariate_rates(scale)
        return

    print("False alarms: random splits of one 12-column mixed table (goal <= 5%)")
    for n, reps in [(100, 400), (1000, 400), (10_000, 200), (100_000, 60), (1_000_000, 20)]:
        if n > args.max_rows:
            continue
        reps = max(10, int(reps * scale))
        started = time.perf_counter()
        print(f"  {n:>10,} rows  {interval(false_alarm_count(n, reps, seed=n + 1), reps)}"
              f"  {time.perf_counter() - started:5.0f} s", flush=True)
    reps = max(20, int(200 * scale))
    started = time.perf_counter()
    print(f"  {10_000_000:>10,} rows  {interval(simulated_false_alarms(10_000_000, reps), reps)}"
          f"  {time.perf_counter() - started:5.0f} s  (simulated counts, 25 columns)")

    print("\nDetection at 1,000 rows per table: drift found in the changed column (goal >= 90%)")
    reps = max(20, int(200 * scale))
    for name in [*SCENARIOS, "subpopulation"]:
        _, right = detections(name, 1000, reps, seed=99)
        print(f"  {name:<28} {interval(right, reps)}", flush=True)

    print("\nBeyond the requirements (for the design note)")
    rng_reps = max(20, int(100 * scale))
    SCENARIOS["new category (1% of rows)"] = lambda rng, cur: _new_category(rng, cur, 0.01)
    for name, n in [("mean shift 0.25 sd", 300), ("variance x1.5", 300),
                    ("new category (1% of rows)", 1000), ("mean shift 0.25 sd", 10_000)]:
        _, right = detections(name, n, rng_reps, seed=7)
        print(f"  {name:<28} at {n:>6,} rows  {interval(right, rng_reps)}", flush=True)
    multivariate_rates(scale)


if __name__ == "__main__":
    main()
