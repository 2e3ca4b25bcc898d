"""Scoring speed per catalog estimator: onnxruntime session vs the scikit-learn pipeline.

Prints, per estimator and task: single-row latency (median over --calls calls), batch
throughput on --rows rows, export time and ONNX size. Goals: single row >= 10x faster than
scikit-learn, batch throughput >= scikit-learn's, export < 10 s and < 50 MB.

    .venv/bin/python bench/scoring.py [--rows 1000000] [--calls 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcycle.deploy import onnx_export
from mlcycle.models import catalog, model_input
from tests.training_data import classification_frame, regression_frame


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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
