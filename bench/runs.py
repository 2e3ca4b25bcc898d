"""Runs at scale: 100,000 runs x 10 params x 10 metrics, against the same on 10 runs.

Logs the runs through the Python API (``mlcycle.models.tracking``, 1,000 training sessions
of 100 trials), then times, each as a whole process, on the big project and on a 10-run
one: ``mlcycle runs PROJECT --sort m3 --limit 20 --json``; the Experiments view's first
drawn frame of the run table (the app run headless, exiting once the table has its rows);
and a filter keystroke's redraw (the same, plus typing into the filter until the table
shows the filtered rows). Goals: the runs query within 2x, the first frame within 1.5x.
For the record, MLflow's ``search_runs`` over the same 100,000 runs in its SQLite store
(bench/.env, from bench/requirements.txt), logged through its batch API.

    python bench/runs.py [--runs 100000] [--no-mlflow]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from timing import BIN, DATA, comparison_env, measure, report, run_once

PARAMS, METRICS, PER_SESSION = 10, 10, 100

# Ten metrics: the project's (cv.rmse, holdout.rmse, as training logs them) and eight more.
METRIC_NAMES = ["cv.rmse", "holdout.rmse", *(f"m{m}" for m in range(2, METRICS))]

# The constants the scripts below share, as lines of Python set before each.
SETTINGS = f"names = {METRIC_NAMES!r}\nPER, PARAMS = {PER_SESSION}, {PARAMS}\n"

LOG = SETTINGS + """
import sys
from mlcycle import projects
from mlcycle.models import tracking
from mlcycle.store.workspace import open_workspace
ws = open_workspace(sys.argv[1], create=True)[0]
projects.create(ws, "bench", target="y", task="regression")
for i in range(int(sys.argv[2])):
    with tracking.start_run(ws, "bench", name=f"trial-{i}", kind="trial",
                            group=f"s{i // PER:05d}") as run:
        run.log_params({f"p{p}": (i * p) % 97 for p in range(PARAMS)})
        run.log_metrics({name: ((i * 7919 + m) % 100003) / 100003
                         for m, name in enumerate(names)})
"""

# The view's first frame: the Experiments screen drawn with its run table filled. With
# ``filter`` it then types into the run filter and waits for the filtered table.
VIEW = """
import sys
from mlcycle.app.ui import MlcycleApp
from mlcycle.store.workspace import open_workspace

typed = sys.argv[2] if len(sys.argv) > 2 else ""

class FirstFrame(MlcycleApp):
    def on_mount(self):
        super().on_mount()
        self.switch_mode("experiments")
        self.set_interval(0.005, self._done)
        self._typing = False

    def _done(self):
        if self._typing:  # the filtered table is drawn once the summary names the filter
            if "matching" in str(self.screen.query_one("#runs-summary").content):
                self.exit()
            return
        tables = self.screen.query("#runs")
        if not tables or not tables.first().row_count:
            return
        if not typed:
            self.exit()
        else:
            self._typing = True
            self.screen.action_filter()
            self.screen.query_one("#runs-filter").value = typed

FirstFrame(open_workspace(sys.argv[1])[0], "bench").run(headless=True, size=(160, 48))
"""

# MLflow logs a run (create, log_batch, terminate) in tens of milliseconds: the first
# ``sys.argv[3]`` runs go through its client, timed; the rest are copies of the last one's
# rows written straight into its SQLite tables, with their own ids, names and values.
MLFLOW_LOG = SETTINGS + """
import logging, sqlite3, sys, time, uuid, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient
db = sys.argv[1] + "/mlflow.db"
mlflow.set_tracking_uri("sqlite:///" + db)
client = MlflowClient()
experiment = client.create_experiment("bench", artifact_location="file://" + sys.argv[1] + "/a")
total, logged = int(sys.argv[2]), int(sys.argv[3])
def values(i):
    return {name: ((i * 7919 + m) % 100003) / 100003 for m, name in enumerate(names)}
started = time.perf_counter()
for i in range(logged):
    run = client.create_run(experiment, run_name=f"trial-{i}")
    client.log_batch(run.info.run_id,
                     metrics=[Metric(k, v, 0, 0) for k, v in values(i).items()],
                     params=[Param(f"p{p}", str((i * p) % 97)) for p in range(PARAMS)])
    client.set_terminated(run.info.run_id)
print(f"{(time.perf_counter() - started) / logged * 1000:.1f}", flush=True)
con = sqlite3.connect(db)
template = run.info.run_id
tables = {t: [c[1] for c in con.execute(f"PRAGMA table_info({t})")]
          for t in ("runs", "metrics", "latest_metrics", "params", "tags")}
rows = {t: con.execute(f"SELECT * FROM {t} WHERE run_uuid = ?", [template]).fetchall()
        for t in tables}
for i in range(logged, total):
    run_id = uuid.uuid4().hex
    metric = values(i)
    for table, columns in tables.items():
        out = []
        for row in rows[table]:
            row = dict(zip(columns, row))
            row["run_uuid"] = run_id
            if table == "runs":
                row["name"] = f"trial-{i}"
            if table in ("metrics", "latest_metrics"):
                row["value"] = metric[row["key"]]
            if table == "params":
                row["value"] = str((i * int(row["key"][1:])) % 97)
            if table == "tags" and row["key"] == "mlflow.runName":
                row["value"] = f"trial-{i}"
            out.append(tuple(row[c] for c in columns))
        con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})", out)
con.commit()
"""  # noqa: S608 (a script of its own; the table names are MLflow's, the values bound)

MLFLOW_SEARCH = """
import logging, sys, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import mlflow
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1] + "/mlflow.db")
found = mlflow.search_runs(experiment_names=["bench"], order_by=["metrics.m3 DESC"],
                           max_results=20)
assert found["tags.mlflow.runName"].iloc[0] == sys.argv[2], found["tags.mlflow.runName"]
assert len(found) == 20
"""


def _log(store, runs: int) -> float:
    shutil.rmtree(store, ignore_errors=True)
    started = time.perf_counter()
    run_once([sys.executable, "-c", LOG, str(store), str(runs)])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    big, small = DATA / "runs-big", DATA / "runs-small"
    seconds = _log(big, args.runs)
    calls = args.runs * (PARAMS + METRICS + 2)
    print(f"logged {args.runs:,} runs ({calls:,} log calls) through the Python API in "
          f"{seconds:.1f} s ({seconds / args.runs * 1e6:.0f} us a run)")
    _log(small, 10)
    mlcycle = str(BIN / "mlcycle")
    query = ["runs", "bench", "--sort", "m3", "--limit", "20", "--json"]
    for title, cmd, goal, runs in (
        ("mlcycle runs bench --sort m3 --limit 20 --json",
         lambda ws: [mlcycle, "--workspace", str(ws), *query], "at most 2x", 7),
        ("the Experiments view's first frame (160x48, headless)",
         lambda ws: [sys.executable, "-c", VIEW, str(ws)], "at most 1.5x", 5),
        ("a filter keystroke's redraw (first frame, then 'trial-99' typed)",
         lambda ws: [sys.executable, "-c", VIEW, str(ws), "trial-99"], "for the record", 5),
    ):
        rows = [(f"{n:,} runs", measure(cmd(ws), runs=runs))
                for n, ws in ((10, small), (args.runs, big))]
        print(f"\n{title} (whole process, median of {runs}):")
        report(rows, baseline="10 runs", goal=goal)
    best = max(range(args.runs), key=lambda i: (i * 7919 + 3) % 100003)
    answer = json.loads(subprocess.run([mlcycle, "--workspace", str(big), *query],
                                       capture_output=True, text=True, check=True).stdout)
    assert len(answer) == 20 and answer[0]["name"] == f"trial-{best}", answer[0]["name"]
    if args.no_mlflow:
        return
    python, reason = comparison_env("mlflow")
    if python is None:
        print(f"\nMLflow skipped: {reason}")
        return
    store = DATA / "runs-mlflow"
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    env = {**os.environ, "MLFLOW_TRACKING_URI": "", "GIT_PYTHON_REFRESH": "quiet"}
    through_api = min(1_000, args.runs)
    started = time.perf_counter()
    per_run = subprocess.run([str(python), "-c", MLFLOW_LOG, str(store), str(args.runs),
                              str(through_api)], capture_output=True, text=True, check=True,
                             env=env).stdout.split()[0]
    print(f"\nMLflow: {through_api:,} runs logged through its client (create_run, log_batch, "
          f"set_terminated) at {per_run} ms a run, {float(per_run) * args.runs / 1000:.0f} s "
          f"for {args.runs:,} at that rate; the rest copied into its SQLite tables "
          f"({time.perf_counter() - started:.0f} s in all)")
    print(f"search_runs(order_by=['metrics.m3 DESC'], max_results=20) over {args.runs:,} runs, "
          "whole process, one call:")
    # One call: over 100,000 runs it takes longer than the whole of mlcycle's part.
    report([("mlflow search_runs", measure([str(python), "-c", MLFLOW_SEARCH, str(store),
                                            f"trial-{best}"], runs=1, warmup=0, env=env))],
           baseline="mlflow search_runs", goal="for the record")


if __name__ == "__main__":
    main()
