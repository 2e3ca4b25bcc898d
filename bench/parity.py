"""ONNX parity: the derived bound against what graphs really differ by, and trees in double.

On a synthetic 3-class table (make_classification, 20,000 rows x 8, seed 1) and a regression
one (make_regression, same size), fits gradient boosting (two learning rates) and a random
forest, converts each as mlcycle does (float32 graph) and, where skl2onnx can, with the trees
in double (a cast to float64 before the estimator, ai.onnx.ml opset 3). Prints per graph: its
size, the median of 5 onnxruntime runs over the 4,000 holdout rows, the largest difference
from scikit-learn, the bound mlcycle derives, and the seconds training now spends converting
and checking it. ``python bench/parity.py``.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import polars as pl


def _tables() -> dict[str, tuple[pl.DataFrame, np.ndarray]]:
    from sklearn.datasets import make_classification, make_regression

    x, y = make_classification(20_000, 8, n_informative=6, n_classes=3, random_state=1)
    xr, yr = make_regression(20_000, 8, n_informative=6, noise=10.0, random_state=1)
    frame = lambda a: pl.DataFrame({f"f{i}": a[:, i].astype(np.float32) for i in range(8)})  # noqa: E731
    return {"classification": (frame(x), y), "regression": (frame(xr), yr)}


def _graph(pipeline, signature, double: bool) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from skl2onnx.sklapi import CastTransformer
    from sklearn.pipeline import Pipeline

    if double:
        pipeline = Pipeline([pipeline.steps[0], ("cast", CastTransformer(dtype=np.float64)),
                             pipeline.steps[-1]])
    types = [(c, FloatTensorType([None, 1])) for c in signature.numeric]
    options = {id(pipeline): {"zipmap": False}} if signature.task == "classification" else {}
    return to_onnx(pipeline, initial_types=types, options=options,
                   target_opset={"": 17, "ai.onnx.ml": 3}).SerializeToString()


def main() -> None:
    from mlcycle.models import catalog, exportable, model_input, onnx_graph, parity

    for task, (frame, y) in _tables().items():
        signature = model_input.Signature(list(frame.columns), [], "y", task)
        train, hold = frame[:16_000], frame[16_000:]
        for name, params in [("hist_gradient_boosting", {"model__learning_rate": 0.1}),
                             ("hist_gradient_boosting", {"model__learning_rate": 0.3,
                                                         "model__max_leaf_nodes": 63}),
                             ("random_forest", {"model__n_estimators": 200,
                                                "model__max_depth": 10})]:
            pipeline = catalog.pipeline(catalog.get(name, task), signature, 1, params)
            pipeline.fit(train, y[:16_000])
            started = time.perf_counter()
            verdict = exportable.check(pipeline, signature, hold)
            checked = time.perf_counter() - started
            expected = (pipeline.predict_proba(hold) if task == "classification"
                        else pipeline.predict(hold))
            label = f"{task} {name} {params}"
            print(f"{label}: training's check {checked:.2f} s, bound "
                  f"{verdict.figures['tolerance']:.2g} ({verdict.figures['bound']})")
            for double in (False, True):
                try:
                    graph = _graph(pipeline, signature, double)
                    session = onnx_graph.session(graph)
                except Exception as exc:  # onnxruntime's refusal is the finding
                    print(f"  {'double' if double else 'float32'}: not runnable: "
                          f"{str(exc).splitlines()[0][:160]}")
                    continue
                times = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    out = onnx_graph.run(session, hold, signature)
                    times.append(time.perf_counter() - t0)
                got = out[1] if task == "classification" else np.ravel(out[0])
                diff = float(np.max(np.abs(got - expected)))
                print(f"  {'double' if double else 'float32'}: {len(graph) / 2**10:,.0f} KiB, "
                      f"{statistics.median(times) * 1000:.1f} ms / 4,000 rows, "
                      f"max diff {diff:.3g}")
    print(f"u = {parity.U32:.3g}")


if __name__ == "__main__":
    main()
