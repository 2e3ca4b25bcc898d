"""Converting a trained pipeline to one ONNX graph, and feeding it the way it was trained.

Each input column is its own graph input named like the column (float32 for numbers,
string for categories), so the graph keeps the column names and string categories need no
encoding outside it. Classifiers output plain label and probability tensors (ZipMap off).
Nearest-neighbour models use onnxruntime's CDist operator, which plain onnxruntime runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlcycle.models.model_input import Signature

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

OPSET = 17
# Rows per onnxruntime call. Larger calls make some graphs slower, not faster: a
# nearest-neighbour distance matrix for 200,000 rows no longer fits in cache (half the
# throughput of 16,384-row slices); tree ensembles and linear models are unaffected.
SESSION_ROWS = 16_384


def to_onnx(pipeline: Any, signature: Signature) -> bytes:
    """The pipeline, preprocessing included, as serialised ONNX."""
    from skl2onnx import to_onnx as convert
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    types = [(c, FloatTensorType([None, 1])) for c in signature.numeric]
    types += [(c, StringTensorType([None, 1])) for c in signature.categorical]
    options: dict[int, dict[str, Any]] = {}
    if signature.task == "classification":
        options[id(pipeline)] = {"zipmap": False}
    estimator = pipeline.steps[-1][1]
    if type(estimator).__name__.startswith("KNeighbors"):
        # The default conversion loops over training rows with Scan; onnxruntime's CDist
        # kernel computes the same distances in one call (about 7x faster on batches).
        options[id(estimator)] = {"optim": "cdist"}
    model = convert(pipeline, initial_types=types, options=options, target_opset=OPSET)
    return model.SerializeToString()


def feeds(inputs: pl.DataFrame, signature: Signature) -> dict[str, np.ndarray]:
    """The graph's inputs from a frame made by ``model_input.frame``."""
    import numpy as np

    out = {c: inputs[c].to_numpy().astype(np.float32).reshape(-1, 1) for c in signature.numeric}
    out.update(
        {c: np.asarray(inputs[c].to_numpy(), dtype=object).reshape(-1, 1)
         for c in signature.categorical}
    )
    return out


def run(session: Any, inputs: pl.DataFrame, signature: Signature) -> list[np.ndarray]:
    """The graph's outputs for ``inputs``, scored in slices of ``SESSION_ROWS`` rows."""
    import numpy as np

    parts = [session.run(None, feeds(inputs.slice(start, SESSION_ROWS), signature))
             for start in range(0, max(inputs.height, 1), SESSION_ROWS)]
    if len(parts) == 1:
        return parts[0]
    return [np.concatenate(outputs) for outputs in zip(*parts, strict=True)]


def session(model: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
