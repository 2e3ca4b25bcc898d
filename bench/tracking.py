"""Experiment tracking: 100 runs logged through mlcycle's tracking vs MLflow's local SQLite store.

Each run logs 10 params, 10 metrics x 20 steps (one call per value per step) and one small
JSON artifact; then the best 10 runs by a metric are queried. Both are whole processes, on a
fresh store each time, measured in the same run. Goal: mlcycle at least 10x faster than MLflow.
MLflow is installed only in bench/.env (from bench/requirements.txt).
"""

from __future__ import annotations

import shutil
import sys

from timing import DATA, comparison_env, measure, report

RUNS, PARAMS, METRICS, STEPS = 100, 10, 10, 20

MLCYCLE = f"""
import sys, time
from mlcycle import projects
from mlcycle.models import tracking
from mlcycle.store.workspace import open_workspace
ws = open_workspace(sys.argv[1], create=True)[0]
projects.create(ws, "bench", target="y", task="regression")
for i in range({RUNS}):
    with tracking.start_run(ws, "bench", name=f"run-{{i}}") as run:
        for p in range({PARAMS}):
            run.log_param(f"p{{p}}", i * p)
        for step in range({STEPS}):
            for m in range({METRICS}):
                run.log_metric(f"m{{m}}", (i * m + step) / 100, step=step)
        run.log_dict({{"run": i}}, "info.json")
started = time.perf_counter()
best = tracking.runs(ws, "bench", sort="m3", limit=10)
assert len(best) == 10 and best[0].name == "run-{RUNS - 1}"
print(f"query {{time.perf_counter() - started:.3f}}", file=sys.stderr)
"""

MLFLOW = f"""
import logging, sys, time, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import mlflow
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1] + "/mlflow.db")
# Artifacts beside the store, not in ./mlruns of wherever the bench runs.
mlflow.set_experiment(experiment_id=mlflow.create_experiment(
    "bench", artifact_location="file://" + sys.argv[1] + "/artifacts"))
for i in range({RUNS}):
    with mlflow.start_run(run_name=f"run-{{i}}"):
        for p in range({PARAMS}):
            mlflow.log_param(f"p{{p}}", i * p)
        for step in range({STEPS}):
            for m in range({METRICS}):
                mlflow.log_metric(f"m{{m}}", (i * m + step) / 100, step=step)
        mlflow.log_dict({{"run": i}}, "info.json")
started = time.perf_counter()
best = mlflow.search_runs(order_by=["metrics.m3 DESC"], max_results=10)
assert len(best) == 10
print(f"query {{time.perf_counter() - started:.3f}}", file=sys.stderr)
"""


def main() -> None:
    store = DATA / "tracking"

    def fresh() -> None:
        shutil.rmtree(store, ignore_errors=True)
        store.mkdir(parents=True)

    rows = [("mlcycle tracking", measure([sys.executable, "-c", MLCYCLE, str(store / "ws")],
                                              runs=3, before=fresh))]
    python, reason = comparison_env("mlflow")
    if python is None:
        print(f"  MLflow skipped: {reason}")
    else:
        env = {"MLFLOW_TRACKING_URI": "", "GIT_PYTHON_REFRESH": "quiet",
               "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
        # One run: MLflow takes minutes here, so its median of one is its figure.
        rows.append(("mlflow (sqlite store)", measure([str(python), "-c", MLFLOW, str(store)],
                                                      runs=1, warmup=0, before=fresh, env=env)))
    calls = RUNS * (PARAMS + METRICS * STEPS + 1)
    print(f"tracking: {RUNS} runs, {calls:,} log calls, then the best 10 by a metric "
          "(whole process, fresh store; mlcycle median of 3):")
    report(rows, baseline=rows[-1][0], goal="mlcycle at most 0.1x MLflow (10x faster)")


if __name__ == "__main__":
    main()
