"""How often the whole monitor alerts on a batch that did not change, and on one that did.

A check asks several questions of a batch (every input's drift and breakage, the joint
test of the inputs, the model's scores, the estimated loss), and an alert of any kind is an
alarm to the user. ``mlcycle.monitor.budget`` promises that an unshifted batch raises any
alert in at most 2 % of checks, at any size; this script measures it.

The table is real and ships inside a package: statsmodels' ``fair`` (6,366 marriages, 8
inputs, most with few values, whether the person had an affair). Its rows are the
population: the project's data is 3,000 rows drawn from them with replacement, a logistic
model is trained on it and promoted, and each batch is drawn from the same rows with
replacement, so an unshifted batch of any size, even a million rows, comes from exactly the
distribution the model's reference describes. A shifted batch is drawn the same way and
then changed:

- ``older half x2``: rows of people at or above the median age drawn twice as often (a
  change of population that moves several inputs and the scores a little);
- ``unhappy x3``: rows of marriages rated 3 or less (of 5) drawn three times as often (the
  model's strongest input moves, and its scores with it).

Both change which rows arrive, not their values: a value the table never holds (age 19.3 in
a column of 17.5, 22, 27, …) would be found by any test at any size.

Each check is computed as ``mlcycle monitor`` computes it (the file read, scored, tested,
estimated, and its alerts classed with the default policy), without storing it, so
thousands of checks leave no trace. An alarm is any alert; the kinds are counted too.

    python bench/monitor_rates.py                 # about 5 minutes on 2 cores
    python bench/monitor_rates.py --quick         # fewer checks, no million-row batches
    python bench/monitor_rates.py --scale 4       # four times the checks at every size
    python bench/monitor_rates.py --each-at-5     # every question at its own 5 %, as before
                                                  # the budget, for comparison
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.drift_rates import interval  # noqa: E402
from mlcycle.monitor import budget  # noqa: E402

TARGET = "affair"
TRAIN_ROWS = 3000
# (rows, unshifted checks, checks per shift): the default run, then --quick.
PLAN = [(100, 250, 20), (1_000, 250, 20), (10_000, 100, 10), (100_000, 20, 3),
        (1_000_000, 4, 1)]
QUICK = [(100, 60, 5), (1_000, 60, 5), (10_000, 20, 3), (100_000, 4, 1)]


def population() -> pl.DataFrame:
    from statsmodels.datasets import fair

    return pl.from_pandas(fair.load_pandas().data).with_columns(
        (pl.col("affairs") > 0).alias(TARGET)).drop("affairs")


Shift = Callable[[np.random.Generator, pl.DataFrame, int], pl.DataFrame]


def _weighted(favoured: pl.Expr, factor: float) -> Shift:
    """Rows where ``favoured`` holds drawn ``factor`` times as often as the others."""
    def draw(rng: np.random.Generator, table: pl.DataFrame, n: int) -> pl.DataFrame:
        weight = np.where(table.select(favoured).to_series().to_numpy(), factor, 1.0)
        return table[rng.choice(table.height, n, p=weight / weight.sum())]
    return draw


SHIFTS: dict[str, Shift] = {
    "older half x2": _weighted(pl.col("age") >= pl.col("age").median(), 2.0),
    "unhappy x3": _weighted(pl.col("rate_marriage") <= 3, 3.0),
}


def workspace(folder: Path, table: pl.DataFrame) -> tuple[object, object]:
    """A workspace whose champion is a logistic model trained on 3,000 drawn rows; and the
    reference every check is made against (built once, as the watcher keeps it)."""
    from mlcycle import projects
    from mlcycle.data import datasets
    from mlcycle.models import registry, training
    from mlcycle.monitor import monitoring
    from mlcycle.store.workspace import open_workspace

    rng = np.random.default_rng(0)
    table[rng.choice(table.height, TRAIN_ROWS)].write_csv(folder / "fair.csv")
    ws = open_workspace(folder / "ws", create=True)[0]
    projects.create(ws, "fair", target=TARGET, task="classification")
    datasets.add(ws, "fair", folder / "fair.csv")
    training.train(ws, training.TrainConfig("fair", models=["logistic"], trials=1, cv=2))
    registry.promote(ws, "fair", "1", reason="bench")
    return ws, monitoring.reference(ws, "fair")


def alert_kinds(ws: object, base: object, rows: pl.DataFrame, file: Path) -> list[str]:
    """The kinds of the alerts ``mlcycle monitor`` would raise on ``rows`` (not stored)."""
    from mlcycle.deploy import score_files
    from mlcycle.monitor import monitoring
    from mlcycle.monitor import policy as policies

    rows.drop(TARGET).write_parquet(file)
    table = score_files.read_table(file)
    try:
        result, _run = monitoring._check_table(ws, "fair", base, table, None, None, None,
                                               policies.Alerts())
    finally:
        table.close()
    return sorted({a["kind"] for a in result["alert_details"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer checks, up to 100,000 rows")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count of checks")
    parser.add_argument("--each-at-5", action="store_true",
                        help="judge every question at its own 5 %% (two-sided 95 %% intervals "
                             "for the losses), as checks did before the budget")
    args = parser.parse_args()
    plan = [(n, max(1, round(a * args.scale)), max(1, round(b * args.scale)))
            for n, a, b in (QUICK if args.quick else PLAN)]
    if args.each_at_5:  # read by the check at call time
        budget.INPUTS = budget.PREDICTIONS = 0.05
        budget.Z_ESTIMATED, budget.Z_MEASURED = 1.96, 2.0
    table = population()
    shares = ("every question at its own 5 %, as before the budget" if args.each_at_5 else
              f"the check's budget {budget.CHECK_ALPHA:.0%} (inputs {budget.INPUTS:.1%}, "
              f"predictions {budget.PREDICTIONS:.1%}, estimated loss "
              f"{budget.ESTIMATED_LOSS:.1%}, measured loss {budget.MEASURED_LOSS:.1%})")
    print(f"fair: {table.height:,} rows x {table.width - 1} inputs; {shares}")
    with tempfile.TemporaryDirectory(prefix="mlcycle-monitor-rates-") as tmp:
        folder = Path(tmp)
        ws, base = workspace(folder, table)
        file = folder / "batch.parquet"
        rng = np.random.default_rng(1)
        print(f"\n{'rows':>9}  {'scenario':<14} {'any alert, 95 % Wilson interval':<34} "
              f"{'kinds':<34} s/check")
        for n, reps, shifted in plan:
            scenarios = [("unshifted", reps, lambda r, t, k: t[r.choice(t.height, k)])]
            scenarios += [(name, shifted, make) for name, make in SHIFTS.items()]
            for name, count, make in scenarios:
                kinds: collections.Counter[str] = collections.Counter()
                alarms = 0
                started = time.perf_counter()
                for _ in range(count):
                    found = alert_kinds(ws, base, make(rng, table, n), file)
                    alarms += bool(found)
                    kinds.update(found)
                each = (time.perf_counter() - started) / count
                shown = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "-"
                print(f"{n:>9,}  {name:<14} {interval(alarms, count):<34} {shown:<34} "
                      f"{each:.2f}", flush=True)


if __name__ == "__main__":
    main()
