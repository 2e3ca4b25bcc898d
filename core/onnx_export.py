"""Converting a trained pipeline to one ONNX graph, and feeding it the way it was trained.

Each input column is its own graph input named like the column (float32 for numbers,
string for categories), so the graph keeps the column names and string categories need no
encoding outside it. Classifiers output plain label and probability tensors (ZipMap off).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.model_input import Signature

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

OPSET = 17


def to_onnx(pipeline: Any, signature: Signature) -> bytes:
    """The pipeline, preprocessing included, as serialised ONNX."""
    from skl2onnx import to_onnx as convert
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    types = [(c, FloatTensorType([None, 1])) for c in signature.numeric]
    types += [(c, StringTensorType([None, 1])) for c in signature.categorical]
    options = {id(pipeline): {"zipmap": False}} if signature.task == "classification" else None
    model = convert(pipeline, initial_types=types, options=options, target_opset=OPSET)
    return model.SerializeToString()


def feeds(inputs: pl.DataFrame, signature: Signature) -> dict[str, np.ndarray]:
    """The graph's inputs from a frame made by ``model_input.frame``."""
    import numpy as np

    out = {c: inputs[c].to_numpy().astype(np.float32).reshape(-1, 1) for c in signature.numeric}
    out.update(
        {c: inputs[c].to_numpy().astype(object).reshape(-1, 1) for c in signature.categorical}
    )
    return out


def session(model: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
