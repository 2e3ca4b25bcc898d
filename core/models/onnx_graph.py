"""Converting a trained pipeline to one ONNX graph, and feeding it the way it was trained.

Each input column is its own graph input (float32 for numbers, string for categories), so
string categories need no encoding outside the graph. The input is named like the column when
the column's name is a plain identifier, and otherwise as ``model_input.graph_names`` spells
it; the signature carries that mapping, so a caller feeds the data's columns by it.
Classifiers output plain label and probability tensors (ZipMap off), the label typed as
the target was (integers, booleans or strings). Nearest-neighbour models
use onnxruntime's CDist operator, which plain onnxruntime runs.
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

    names = signature.graph_inputs
    types = [(names[c], FloatTensorType([None, 1])) for c in signature.numeric]
    types += [(names[c], StringTensorType([None, 1])) for c in signature.categorical]
    graph_pipeline = _with_graph_names(pipeline, names)
    options: dict[int, dict[str, Any]] = {}
    if signature.task == "classification":
        options[id(graph_pipeline)] = {"zipmap": False}
    estimator = pipeline.steps[-1][1]
    if type(estimator).__name__.startswith("KNeighbors"):
        # The default conversion loops over training rows with Scan; onnxruntime's CDist
        # kernel computes the same distances in one call (about 7x faster on batches).
        options[id(estimator)] = {"optim": "cdist"}
    model = convert(graph_pipeline, initial_types=types, options=options, target_opset=OPSET)
    got = [i.name for i in model.graph.input]
    if got != [name for name, _ in types]:
        raise ValueError(f"the converter renamed the graph inputs to {got}")
    if signature.task == "classification" and signature.label_type != "string":
        _type_label(model, signature)
    return model.SerializeToString()


def _type_label(model: Any, signature: Signature) -> None:
    """Make the graph's ``label`` output integers or booleans, as the target was.

    The pipeline learns class names as text, so the converter's label is a string tensor;
    a LabelEncoder maps each class name to its integer (for booleans 0/1, then cast), so
    that a plain onnxruntime caller gets the target's own type.
    """
    from onnx import TensorProto, helper

    graph = model.graph
    taken = {n for node in graph.node for n in (*node.input, *node.output)}
    taken |= {i.name for i in graph.input}
    # Names of the graph's own, clear of every name in it (an input may be "label_text").
    n = next(n for n in range(1, len(taken) + 2)
             if not {f"label_text_{n}", f"label_code_{n}"} & taken)
    text, code = f"label_text_{n}", f"label_code_{n}"
    for node in graph.node:
        node.input[:] = [text if n == "label" else n for n in node.input]
        node.output[:] = [text if n == "label" else n for n in node.output]
    boolean = signature.label_type == "boolean"
    codes = [int(c == "true") if boolean else int(c) for c in signature.classes]
    encoded = code if boolean else "label"
    graph.node.append(helper.make_node(
        "LabelEncoder", [text], [encoded], domain="ai.onnx.ml",
        keys_strings=list(signature.classes), values_int64s=codes, default_int64=-1))
    if boolean:
        graph.node.append(helper.make_node("Cast", [encoded], ["label"], to=TensorProto.BOOL))
    label = next(o for o in graph.output if o.name == "label")
    label.type.tensor_type.elem_type = TensorProto.BOOL if boolean else TensorProto.INT64
    ml = next((o for o in model.opset_import if o.domain == "ai.onnx.ml"), None)
    if ml is None:
        model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 2))
    elif ml.version < 2:  # LabelEncoder's string-to-integer form
        ml.version = 2


def _with_graph_names(pipeline: Any, names: dict[str, str]) -> Any:
    """The fitted pipeline with its column selector naming the graph inputs, for conversion.

    skl2onnx finds a column transformer's columns among the initial types by name, and spells
    names that are not identifiers its own way; giving it the graph's names instead makes the
    graph's inputs exactly ``names``. The copy shares every fitted step; only the selector's
    column lists differ, and it is only converted, never run.
    """
    import copy

    from sklearn.pipeline import Pipeline

    prepare = copy.copy(pipeline.steps[0][1])
    prepare.transformers_ = [
        (name, step, [names.get(c, c) if isinstance(c, str) else c for c in columns]
         if isinstance(columns, list) else columns)
        for name, step, columns in prepare.transformers_
    ]
    return Pipeline([(pipeline.steps[0][0], prepare), *pipeline.steps[1:]])


def feeds(inputs: pl.DataFrame, signature: Signature) -> dict[str, np.ndarray]:
    """The graph's inputs, by graph input name, from a frame made by ``model_input.frame``."""
    import numpy as np

    names = signature.graph_inputs
    out = {names[c]: inputs[c].to_numpy().astype(np.float32).reshape(-1, 1)
           for c in signature.numeric}
    out.update(
        {names[c]: np.asarray(inputs[c].to_numpy(), dtype=object).reshape(-1, 1)
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
