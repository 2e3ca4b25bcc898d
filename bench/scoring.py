"""Scoring speed per catalog estimator: onnxruntime session vs the scikit-learn pipeline;
then single-row latency through HTTP on loopback for the three servers a user could run.

Prints, per estimator and task: single-row latency (median over --calls calls), batch
throughput on --rows rows, export time and ONNX size. Goals: single row >= 10x faster than
scikit-learn, batch throughput >= scikit-learn's, export < 10 s and < 50 MB.

Then (``--http``, or ``--http-only`` alone), for a logistic regression and a random forest
trained by ``mlcycle train`` on the same table: p50 and p99 of --requests single-row
requests, one at a time over one kept-alive loopback connection, to ``mlcycle serve``
(``POST /predict`` and the Open Inference Protocol's ``/v2/models/NAME/infer``), the bundle's
standalone ``server.py`` (in the numpy + onnxruntime environment ``bundle verify`` makes) and
``mlflow models serve`` of the same fitted scikit-learn pipeline (``--env-manager local``, in
bench/.env, answering ``predict_proba``), with each one's ratio to MLflow's figure.

    .venv/bin/python bench/scoring.py [--rows 1000000] [--calls 2000] [--http]
    .venv/bin/python bench/scoring.py --http-only [--requests 2000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pickle
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import DATA, comparison_env

from mlcycle.deploy import onnx_export
from mlcycle.models import catalog, model_input
from tests.training_data import classification_frame, regression_frame

WARMUP = 100


def _median_call(fn, calls: int) -> float:
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--http", action="store_true", help="then the HTTP servers")
    parser.add_argument("--http-only", action="store_true", help="the HTTP servers alone")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    if not args.http_only:
        engines(args)
    if args.http or args.http_only:
        servers(args.requests)


def engines(args: argparse.Namespace) -> None:
    print(f"{'task':<15}{'model':<24}{'1-row ort µs':>13}{'1-row skl µs':>13}{'speedup':>8}"
          f"{'batch ort r/s':>15}{'batch skl r/s':>15}{'export s':>9}{'size KiB':>9}")
    for task in ("classification", "regression"):
        if task == "classification":
            data, target = classification_frame(2000), "label"
            dictionary = [{"name": "x1", "kind": "numeric", "role": "feature"},
                          {"name": "x2", "kind": "numeric", "role": "feature"},
                          {"name": "plan", "kind": "categorical", "role": "feature"},
                          {"name": "flag", "kind": "boolean", "role": "feature"}]
        else:
            data, target = regression_frame(2000), "price"
            dictionary = [{"name": "size", "kind": "numeric", "role": "feature"},
                          {"name": "rooms", "kind": "numeric", "role": "feature"},
                          {"name": "area", "kind": "categorical", "role": "feature"}]
        signature = model_input.infer(dictionary, target, task)
        inputs = model_input.frame(data, signature)
        y = model_input.target_values(data, signature)
        big = inputs.sample(args.rows, with_replacement=True, seed=0)
        for name in catalog.names(task):
            entry = catalog.get(name, task)
            # the largest setting of the default search space: the worst case for the goals
            params = {k: (max(v, key=lambda x: x if isinstance(x, (int, float)) else 0)
                          if isinstance(v, list) else v.rvs(random_state=0))
                      for k, v in entry.space.items()}
            pipe = catalog.pipeline(entry, signature, 0, params).fit(inputs, y)
            t = time.perf_counter()
            model = onnx_export.to_onnx(pipe, signature)
            export_s = time.perf_counter() - t
            session = onnx_export.session(model)
            row = inputs.head(1)
            feeds = onnx_export.feeds(row, signature)
            skl = pipe.predict_proba if task == "classification" else pipe.predict
            ort_1 = _median_call(lambda s=session, f=feeds: s.run(None, f), args.calls)
            skl_1 = _median_call(lambda f=skl, r=row: f(r), max(args.calls // 10, 50))
            t = time.perf_counter()
            onnx_export.run(session, big, signature)
            ort_b = args.rows / (time.perf_counter() - t)
            t = time.perf_counter()
            skl(big)
            skl_b = args.rows / (time.perf_counter() - t)
            print(f"{task:<15}{name:<24}{ort_1 * 1e6:>13.0f}{skl_1 * 1e6:>13.0f}"
                  f"{skl_1 / ort_1:>7.0f}x{ort_b:>15,.0f}{skl_b:>15,.0f}{export_s:>9.2f}"
                  f"{len(model) / 1024:>9.0f}", flush=True)



# -- HTTP on loopback -----------------------------------------------------------------------

# Run in bench/.env, where MLflow is: the pickle is the pipeline this script just trained.
MLFLOW_SAVE = """
import pickle, sys, warnings
warnings.filterwarnings("ignore")
import mlflow.sklearn
with open(sys.argv[1], "rb") as fh:
    pipeline = pickle.load(fh)
# MLflow stores it with skops, as mlcycle does; these are the types the pipeline names.
import skops.io
trusted = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
mlflow.sklearn.save_model(pipeline, sys.argv[2], pyfunc_predict_fn="predict_proba",
                          skops_trusted_types=trusted)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, path: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-800:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"server on {port} did not start: {log.read_text()[-800:]}")


def _start(procs: list[subprocess.Popen], log: Path, cmd: list[str], ready: str,
           **kwargs) -> int:
    """Start a server on a free port (added to ``procs``), once it answers ``ready``."""
    port = _free_port()
    procs.append(subprocess.Popen([*cmd, "--port", str(port)], stdout=log.open("w"),
                                  stderr=subprocess.STDOUT, **kwargs))
    _wait(port, ready, procs[-1], log)
    return port


def _latencies(port: int, path: str, body: bytes, requests: int) -> list[float]:
    """Seconds per request, one at a time on one kept-alive connection, after a warm-up."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    times = []
    for i in range(WARMUP + requests):
        started = time.perf_counter()
        conn.request("POST", path, body, headers)
        response = conn.getresponse()
        data = response.read()
        if i >= WARMUP:
            times.append(time.perf_counter() - started)
        if response.status != 200:
            raise SystemExit(f"POST {path}: {response.status} {data[:300]!r}")
    conn.close()
    return times


def _quantile(times: list[float], q: float) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[round(q * 100) - 1]


def servers(requests: int) -> None:
    from mlcycle import deploy, projects
    from mlcycle.data import datasets
    from mlcycle.deploy import standalone
    from mlcycle.models import registry, training
    from mlcycle.store.workspace import open_workspace

    mlflow_python, why = comparison_env("mlflow")
    root = DATA / "http"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    ws = open_workspace(root / "ws", create=True)[0]
    data = classification_frame(2000)
    data.write_csv(root / "clf.csv")
    server_python = standalone.environment(standalone.pins(), print)
    print(f"\nsingle-row latency over HTTP on loopback, {requests:,} requests each (after "
          f"{WARMUP} uncounted), one connection kept alive; ratio = p50 (p99) / MLflow's")
    for model in ("logistic", "random_forest"):
        project = model.replace("_", "-")
        projects.create(ws, project, target="label", task="classification", metric="roc_auc")
        datasets.add(ws, project, root / "clf.csv")
        training.train(ws, training.TrainConfig(project, models=[model], trials=1, cv=2))
        registry.promote(ws, project, "1", reason="bench")
        bundle = root / f"bundle-{project}"
        deploy.export(ws, project, "1", bundle)
        version, pipeline = registry.load(ws, project, "1")
        signature = deploy.signature_of(ws, version)
        raw = data.drop("label").head(1)
        row = raw.to_dicts()[0]
        inputs = model_input.frame(data.head(1), signature).to_dicts()[0]
        sig = json.loads((bundle / "signature.json").read_text())
        oip_body = json.dumps(standalone.infer_body([inputs], sig)).encode()
        runs: list[tuple[str, int, str, bytes]] = []
        procs: list[subprocess.Popen] = []

        env = {k: v for k, v in os.environ.items() if k != "MLCYCLE_WORKSPACE"}
        try:
            port = _start(procs, root / f"serve-{project}.txt", [
                sys.executable, "-m", "mlcycle", "--workspace", str(ws.root), "serve", project,
                "--no-shadow"], "/health", env=env)
            runs.append(("mlcycle serve /predict", port, "/predict", json.dumps(row).encode()))
            runs.append(("mlcycle serve /v2 infer", port, f"/v2/models/{project}/infer",
                         oip_body))
            port = _start(procs, root / f"server-{project}.txt", [
                str(server_python), "-E", "-s", "server.py"], "/v2/health/ready", cwd=bundle)
            runs.append(("bundle server.py /v2 infer", port, f"/v2/models/{project}/infer",
                         oip_body))
            if mlflow_python is None:
                print(f"  mlflow models serve: skipped ({why})")
            else:
                with open(root / "pipeline.pkl", "wb") as fh:
                    pickle.dump(pipeline, fh)
                saved = root / f"mlflow-{project}"
                subprocess.run([str(mlflow_python), "-c", MLFLOW_SAVE, str(root / "pipeline.pkl"),
                                str(saved)], check=True, capture_output=True)
                port = _start(procs, root / f"mlflow-{project}.txt", [
                    str(mlflow_python.parent / "mlflow"), "models", "serve", "-m", str(saved),
                    "--env-manager", "local", "--host", "127.0.0.1", "--workers", "1"], "/ping",
                    # it runs uvicorn by name: bench/.env's bin must be on the PATH
                    env={**env, "MLFLOW_TRACKING_URI": f"file://{root / 'mlruns'}",
                         "PATH": f"{mlflow_python.parent}{os.pathsep}{env.get('PATH', '')}"})
                body = json.dumps({"dataframe_split": {"columns": list(inputs),
                                                       "data": [list(inputs.values())]}})
                runs.append(("mlflow models serve /invocations", port, "/invocations",
                             body.encode()))
            figures = []
            for name, port, path, body in runs:
                times = _latencies(port, path, body, requests)
                figures.append((name, _quantile(times, 0.5), _quantile(times, 0.99)))
            base = figures[-1] if mlflow_python is not None else None
            print(f"  {model} ({len(signature.inputs)} inputs)")
            for name, p50, p99 in figures:
                ratio = f"  {p50 / base[1]:5.2g}x ({p99 / base[2]:.2g}x)" if base else ""
                print(f"    {name:<34} p50 {p50 * 1e3:7.2f} ms   p99 {p99 * 1e3:7.2f} ms{ratio}",
                      flush=True)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)

if __name__ == "__main__":
    main()
