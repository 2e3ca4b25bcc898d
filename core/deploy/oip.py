"""The Open Inference Protocol v2 (KServe's and Triton's REST protocol) on HTTP.

Both servers speak it: ``mlcycle serve`` (beside its own ``/predict``) and the standalone
``server.py`` of a bundle. This module is the protocol alone, written with the standard
library only, because it is copied into every bundle beside ``server.py`` and must run
where mlcycle is not installed: routing, reading an inference request into columns,
writing the outputs, model metadata and the endpoints' OpenAPI description.

A model has one input per data column, named exactly as the data names it (spaces, quotes,
slashes and accents included), of shape ``[-1, 1]``: ``FP32`` for numbers (booleans as 0/1)
and ``BYTES`` for categories. A request sends each input as ``{"name", "shape": [n, 1] or
[n], "datatype", "data"}`` with ``data`` flat or nested like the shape; ``null`` (an
extension) and NaN (JSON's ``NaN`` token, or a NaN in a binary ``FP16``/``FP32``/``FP64``
tensor, as numpy spells a missing value) are a missing value; infinity, and a number beyond
float32's range (±3.4e38) for an ``FP32`` input, which would read it as infinity, are
refused. Outputs are ``label`` (``[n]``: ``INT64``, ``BOOL`` or ``BYTES`` as the target's
classes are integers, booleans or text) and ``probabilities`` (``FP32``,
``[n, classes]``, the class order in its ``parameters``) for a classifier, ``variable``
(``FP32``, ``[n, 1]``) for a regression, as the ONNX graph names them. Errors are
``{"error": "one line"}``: 400 for a malformed request, 404 for another model or path, 405
for the wrong method.

The binary tensor data extension (what tritonclient sends by default) is spoken both ways:
a request whose ``Inference-Header-Content-Length`` header says N has its JSON in the first
N bytes of the body and, after it, the raw little-endian tensors of the inputs whose
``parameters`` hold ``binary_data_size``, in the order the inputs are listed (a ``BYTES``
element is its length as 4 little-endian bytes, then its bytes; a ``BOOL`` one byte). An
output asked for with ``parameters.binary_data`` true, or every output when the request's
``parameters.binary_data_output`` is true (an output's own ``binary_data`` overriding it),
is answered the same way: the answer carries ``Inference-Header-Content-Length`` and that
output's ``parameters.binary_data_size`` instead of its ``data``.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

PROTOCOL = "v2"
# Each numeric datatype's element in the binary tensor extension, as a struct format letter.
PACKED = {"FP16": "e", "FP32": "f", "FP64": "d", "INT8": "b", "INT16": "h", "INT32": "i",
          "INT64": "q", "UINT8": "B", "UINT16": "H", "UINT32": "I", "UINT64": "Q",
          "BOOL": "?"}
NUMERIC = set(PACKED)
# A classifier's label output datatype, by its label type (mlcycle.models.model_input).
LABEL_DATATYPES = {"string": "BYTES", "integer": "INT64", "boolean": "BOOL"}
FLOATS = {"FP16", "FP32", "FP64"}  # the datatypes that can hold NaN, a missing value
HEADER_LENGTH = "Inference-Header-Content-Length"
MAX_ROWS = 100_000
FP32_MAX = 3.4028234663852886e38  # the largest finite float32: beyond it a cast gives infinity


class ProtocolError(Exception):
    """A request the protocol refuses: answered with ``status`` and this one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Tensor:
    """An input or output as metadata describes it; -1 is a dimension of any size."""

    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "datatype": self.datatype,
                               "shape": self.shape}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


@dataclass
class Model:
    """What a server serves: its name (the project's), version, inputs and outputs."""

    name: str
    version: str
    inputs: list[Tensor]
    outputs: list[Tensor]
    platform: str = "onnxruntime_onnx"


def outputs(task: str, classes: list[str], label_type: str = "string") -> list[Tensor]:
    """The graph's outputs for a task, as both servers answer them: the label typed as the
    target was (``LABEL_DATATYPES``; text for versions from before label types)."""
    if task == "classification":
        return [Tensor("label", LABEL_DATATYPES[label_type], [-1]),
                Tensor("probabilities", "FP32", [-1, len(classes)], {"classes": classes})]
    return [Tensor("variable", "FP32", [-1, 1])]


def input_tensor(column: str, numeric: bool) -> Tensor:
    return Tensor(column, "FP32" if numeric else "BYTES", [-1, 1])


def metadata(model: Model) -> dict[str, Any]:
    return {"name": model.name, "versions": [model.version], "platform": model.platform,
            "inputs": [t.to_dict() for t in model.inputs],
            "outputs": [t.to_dict() for t in model.outputs]}


def server_metadata(name: str, version: str) -> dict[str, Any]:
    return {"name": name, "version": version, "extensions": ["binary_tensor_data"]}


# -- routing --------------------------------------------------------------------------------

ROUTES = {"live": "GET", "ready": "GET", "server": "GET", "model": "GET",
          "model_ready": "GET", "infer": "POST"}


def route(method: str, path: str, model: Model) -> str:
    """Which endpoint ``path`` (query string and all) asks for: a key of ``ROUTES``.

    Raises ``ProtocolError`` 404 for another path or model (or version), 405 for the wrong
    method. The model's name is compared after URL decoding, so a name with spaces works.
    """
    parts = path.split("?", 1)[0].split("/")[1:]
    endpoint = _endpoint(parts, model)
    if ROUTES[endpoint] != method:
        raise ProtocolError(405, f"{path.split('?', 1)[0]} takes {ROUTES[endpoint]} requests")
    return endpoint


def _endpoint(parts: list[str], model: Model) -> str:
    if parts == [PROTOCOL]:
        return "server"
    if parts[:2] == [PROTOCOL, "health"] and len(parts) == 3 and parts[2] in ("live", "ready"):
        return parts[2]
    if parts[:2] != [PROTOCOL, "models"] or len(parts) < 3:
        raise ProtocolError(404, f"no endpoint {short('/'.join(['', *parts]))}")
    name, rest = unquote(parts[2]), parts[3:]
    if name != model.name:
        raise ProtocolError(404, f"no model {short(name)}; this server serves {model.name!r}")
    if rest[:1] == ["versions"]:
        asked = unquote(rest[1]) if len(rest) > 1 else ""
        if asked != model.version:
            raise ProtocolError(404, f"no version {short(asked)} of {model.name!r}; it serves "
                                     f"version {model.version}")
        rest = rest[2:]
    found = {(): "model", ("ready",): "model_ready", ("infer",): "infer"}.get(tuple(rest))
    if found is None:
        raise ProtocolError(404, f"no endpoint {short('/'.join(['', *parts]))}")
    return found


# -- reading a request ----------------------------------------------------------------------


@dataclass
class Request:
    """An inference request, read and checked: each input column's values, in order, and
    which outputs to answer (those in ``binary`` as binary tensors)."""

    id: str | None
    rows: int
    columns: dict[str, list[Any]]
    outputs: list[str]
    binary: set[str] = field(default_factory=set)


class NotFinite:
    """A number JSON can spell but a float cannot hold (1e400, NaN, Infinity), kept as
    spelled so the input holding it can be named."""

    def __init__(self, text: str) -> None:
        self.text = text


def _number(text: str) -> float | NotFinite:
    value = float(text)
    return value if math.isfinite(value) else NotFinite(text)


def _integer(text: str) -> int | float | NotFinite:
    value = int(text)
    # Beyond 64 bits no integer tensor holds it; a float32 input sees a float anyway.
    return value if -(2**63) <= value < 2**63 else _number(text)


def loads(body: bytes) -> Any:
    """The JSON of a body, numbers a float cannot hold kept as ``NotFinite`` for the caller
    to refuse by name; ``ProtocolError`` 400 for a body that is not JSON."""
    try:
        return json.loads(body, parse_float=_number, parse_int=_integer,
                          parse_constant=NotFinite)
    except RecursionError:
        raise ProtocolError(400, "the body is nested too deeply") from None
    except ValueError:  # also undecodable bytes and integers of over 4300 digits
        raise ProtocolError(400, "the body is not valid JSON") from None


def read_infer(body: bytes, model: Model, max_rows: int = MAX_ROWS,
               header_length: str | None = None) -> Request:
    """The inputs of an inference request, one list of values per column.

    ``header_length`` is the request's ``Inference-Header-Content-Length`` header, when it
    sent one: the body is then its JSON followed by binary tensors. Numbers come back as
    floats (booleans as 0.0/1.0) and categories as strings, ``None`` for a missing value.
    Raises ``ProtocolError`` 400 naming what is wrong: an input left out or unknown, a shape
    or datatype that does not fit, too many or too few values or bytes, a value of the
    wrong kind or not finite.
    """
    head, tail = _split(body, header_length)
    data = loads(head)
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), list):
        raise ProtocolError(400, 'send {"inputs": [{"name", "shape", "datatype", "data"}]}')
    ident = data.get("id")
    if ident is not None and not isinstance(ident, str):
        raise ProtocolError(400, "id must be a string")
    declared = {t.name: t for t in model.inputs}
    sent: dict[str, Any] = {}
    for item in data["inputs"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ProtocolError(400, "each input must be an object with a name")
        name = item["name"]
        if name not in declared:
            raise ProtocolError(400, f"no input {short(name)}; the model's inputs are "
                                     f"{names(list(declared))}")
        if name in sent:
            raise ProtocolError(400, f"input {short(name)} is sent twice")
        sent[name] = item
    missing = [n for n in declared if n not in sent]
    if missing:
        raise ProtocolError(400, f"missing input(s) {names(missing)}; send one input per "
                                 "column")
    blobs = _blobs(data["inputs"], tail, header_length is not None)
    columns: dict[str, list[Any]] = {}
    rows = None
    for name, tensor in declared.items():
        values = _column(sent[name], tensor, max_rows, blobs.get(name))
        if rows is not None and len(values) != rows:
            raise ProtocolError(400, f"input {short(name)} has {len(values)} rows, "
                                     f"others have {rows}")
        rows = len(values)
        columns[name] = values
    outputs, binary = _requested(data.get("outputs"), data.get("parameters"), model)
    return Request(ident, rows or 0, columns, outputs, binary)


def _split(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON of a body and the binary tensors after it."""
    if header_length is None:
        return body, b""
    try:
        length = int(header_length)
    except ValueError:
        length = -1
    if not 0 < length <= len(body):
        raise ProtocolError(400, f"{HEADER_LENGTH} is {short(header_length)}; it must be the "
                                 f"length of the body's JSON, 1 to {len(body):,} bytes")
    return body[:length], body[length:]


def _blobs(items: list[dict[str, Any]], tail: bytes, extension: bool) -> dict[str, bytes]:
    """Each binary input's bytes, cut from ``tail`` in the order the inputs are listed."""
    blobs, offset = {}, 0
    for item in items:
        parameters = item.get("parameters")
        if not isinstance(parameters, dict) or "binary_data_size" not in parameters:
            continue
        name, size = short(item["name"]), parameters["binary_data_size"]
        if not extension:
            raise ProtocolError(400, f"input {name} is sent as binary data; send the length "
                                     f"of the body's JSON in the {HEADER_LENGTH} header")
        if type(size) is not int or size < 0:
            raise ProtocolError(400, f"input {name}: binary_data_size must be a number of "
                                     "bytes")
        if offset + size > len(tail):
            raise ProtocolError(400, f"input {name}: binary_data_size says {size:,} bytes but "
                                     f"only {len(tail) - offset:,} follow the JSON")
        blobs[item["name"]] = tail[offset:offset + size]
        offset += size
    if offset != len(tail):
        raise ProtocolError(400, f"{len(tail) - offset:,} bytes follow the JSON and the "
                                 "inputs' binary_data_size; send exactly the tensors' bytes")
    return blobs


def _column(item: dict[str, Any], tensor: Tensor, max_rows: int,
            blob: bytes | None) -> list[Any]:
    name = short(tensor.name)
    shape, datatype = item.get("shape"), item.get("datatype")
    if not isinstance(datatype, str):
        raise ProtocolError(400, f"input {name} needs a datatype ({tensor.datatype})")
    numeric = tensor.datatype != "BYTES"
    if (datatype not in NUMERIC) if numeric else datatype != "BYTES":
        want = f"{tensor.datatype} or another numeric datatype" if numeric else "BYTES"
        raise ProtocolError(400, f"input {name} is {want}, not {short(datatype)}")
    if (not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape)
            or len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1)):
        rank = " (rank 0, a single value)" if shape == [] else ""
        raise ProtocolError(400, f"input {name} has shape {short(json.dumps(shape))}{rank}; "
                                 "send [rows, 1] or [rows]")
    rows = shape[0]
    if rows == 0:
        raise ProtocolError(400, f"input {name} has no rows")
    if rows > max_rows:
        raise ProtocolError(400, f"at most {max_rows:,} rows per request")
    if blob is not None:
        if "data" in item:
            raise ProtocolError(400, f"input {name} sends both data and binary_data_size; "
                                     "send one")
        values = _unpack(blob, datatype, name, rows)
    else:
        values = item.get("data")
        if not isinstance(values, list):
            raise ProtocolError(400, f"input {name} needs its values as a list in data")
        if values and all(isinstance(v, list) for v in values):  # nested like the shape
            if not all(len(v) == 1 for v in values):
                raise ProtocolError(400, f"input {name}: each row holds one value")
            values = [v[0] for v in values]
        if len(values) != rows:
            raise ProtocolError(400, f"input {name} has shape {shape} but {len(values)} "
                                     "values")
    limit = FP32_MAX if tensor.datatype == "FP32" else math.inf
    nan = datatype in FLOATS
    return [_value(v, numeric, name, i, limit, nan) for i, v in enumerate(values, 1)]


def _unpack(blob: bytes, datatype: str, name: str, rows: int) -> list[Any]:
    """A binary tensor's ``rows`` elements: numbers (NaN and infinity as ``NotFinite``) or
    strings."""
    if datatype != "BYTES":
        size = struct.calcsize(PACKED[datatype])
        if len(blob) != rows * size:
            raise ProtocolError(400, f"input {name}: {rows} {datatype} values are "
                                     f"{rows * size:,} bytes, not {len(blob):,}")
        return [v if type(v) is bool or math.isfinite(v) else NotFinite(str(v))
                for v in struct.unpack(f"<{rows}{PACKED[datatype]}", blob)]
    values, offset = [], 0
    while offset < len(blob) and len(values) < rows:
        if offset + 4 > len(blob):
            raise ProtocolError(400, f"input {name}: element {len(values) + 1} is cut off")
        (length,) = struct.unpack_from("<I", blob, offset)
        end = offset + 4 + length
        if end > len(blob):
            raise ProtocolError(400, f"input {name}: element {len(values) + 1} is cut off")
        try:
            values.append(blob[offset + 4:end].decode("utf-8"))
        except UnicodeDecodeError:
            raise ProtocolError(400, f"input {name}, row {len(values) + 1} is not UTF-8 "
                                     "text") from None
        offset = end
    if len(values) != rows or offset != len(blob):
        raise ProtocolError(400, f"input {name}: its binary data does not hold exactly "
                                 f"{rows} BYTES elements")
    return values


def _value(value: Any, numeric: bool, name: str, row: int, limit: float, nan: bool) -> Any:
    if value is None:
        return None
    if numeric:
        if isinstance(value, (bool, int, float)):
            if abs(value) > limit:  # the model would read infinity
                raise ProtocolError(400, f"input {name}, row {row}: {value:g} is beyond the "
                                         f"range of FP32 (±{limit:.4g})")
            return float(value)
        if isinstance(value, NotFinite):
            if nan and value.text.lower() == "nan":  # numpy's missing value
                return None
            raise ProtocolError(400, f"input {name}, row {row}: {short(value.text)} is not a "
                                     "finite number (send null or NaN for a missing value)")
    elif isinstance(value, str):
        return value
    kind = "numbers" if numeric else "strings"
    shown = value.text if isinstance(value, NotFinite) else json.dumps(value)
    raise ProtocolError(400, f"input {name}, row {row} holds {short(shown)}; send {kind} "
                             "or null")


def _requested(asked: Any, parameters: Any, model: Model) -> tuple[list[str], set[str]]:
    """The outputs asked for, and those of them to answer as binary tensors."""
    names = [t.name for t in model.outputs]
    every = isinstance(parameters, dict) and parameters.get("binary_data_output") is True
    if asked is None:
        return names, set(names) if every else set()
    if not isinstance(asked, list) or not all(isinstance(o, dict) and isinstance(
            o.get("name"), str) for o in asked):
        raise ProtocolError(400, 'outputs must be a list of {"name": ...}')
    unknown = [o["name"] for o in asked if o["name"] not in names]
    if unknown:
        raise ProtocolError(400, f"no output {short(unknown[0])}; the outputs are "
                                 f"{', '.join(names)}")
    binary = set()
    for output in asked:
        own = output.get("parameters")
        own = own.get("binary_data") if isinstance(own, dict) else None
        if own is True or (own is None and every):
            binary.add(output["name"])
    return [o["name"] for o in asked], binary


# -- writing the answer ---------------------------------------------------------------------


def response(model: Model, request: Request, values: dict[str, list[Any]]) -> dict[str, Any]:
    """The inference response: each requested output with its values, row by row (a row of
    probabilities is a list), flattened as the protocol sends tensors; an output asked for
    as binary holds its packed bytes in ``data`` until ``encode`` moves them after the
    JSON."""
    out = []
    for tensor in model.outputs:
        if tensor.name not in request.outputs:
            continue
        rows = values[tensor.name]
        width = tensor.shape[1] if len(tensor.shape) == 2 else None
        flat = [v for row in rows for v in row] if tensor.name == "probabilities" else rows
        answer = tensor.to_dict()
        answer["shape"] = [len(rows)] + ([width] if width is not None else [])
        if tensor.name in request.binary:
            packed = _pack(flat, tensor.datatype)
            answer["parameters"] = {**tensor.parameters, "binary_data_size": len(packed)}
            answer["data"] = packed
        else:
            answer["data"] = flat
        out.append(answer)
    body: dict[str, Any] = {"model_name": model.name, "model_version": model.version,
                            "outputs": out}
    if request.id is not None:
        body["id"] = request.id
    return body


def _pack(values: list[Any], datatype: str) -> bytes:
    if datatype == "BYTES":
        texts = [str(v).encode("utf-8") for v in values]
        return b"".join(struct.pack("<I", len(t)) + t for t in texts)
    return struct.pack(f"<{len(values)}{PACKED[datatype]}", *values)


def encode(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """An answer's bytes and the headers it needs: JSON, followed by the binary outputs'
    bytes (in the order listed) when it holds any, its length then in ``HEADER_LENGTH``."""
    tensors = [o for o in body.get("outputs", ()) if isinstance(o, dict)
               and isinstance(o.get("data"), bytes)]
    if not tensors:
        return json.dumps(body, default=str).encode("utf-8"), {
            "Content-Type": "application/json"}
    head = {**body, "outputs": [{k: v for k, v in o.items() if k != "data"}
                                if isinstance(o.get("data"), bytes) else o
                                for o in body["outputs"]]}
    text = json.dumps(head, default=str).encode("utf-8")
    return text + b"".join(o["data"] for o in tensors), {
        "Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(text))}


# -- OpenAPI --------------------------------------------------------------------------------


def openapi_paths(model: Model) -> dict[str, Any]:
    """The protocol's endpoints for an OpenAPI 3 description, with this model's tensors."""
    name = model.name
    error = {"application/json": {"schema": {"type": "object", "properties": {
        "error": {"type": "string"}}}}}
    tensor_in = {"type": "object", "required": ["name", "shape", "datatype", "data"],
                 "properties": {
                     "name": {"type": "string", "enum": [t.name for t in model.inputs]},
                     "shape": {"type": "array", "items": {"type": "integer"},
                               "example": [1, 1]},
                     "datatype": {"type": "string", "enum": sorted({"BYTES", *NUMERIC})},
                     "data": {"type": "array", "items": {"nullable": True}}}}
    inputs = ", ".join(f"{t.name!r} ({t.datatype})" for t in model.inputs)
    ok = {"description": "ok", "content": {"application/json": {"schema": {
        "type": "object"}}}}
    return {
        "/v2/health/live": {"get": {"summary": "Open Inference Protocol: the server is up",
                                    "responses": {"200": ok}}},
        "/v2/health/ready": {"get": {"summary": "Open Inference Protocol: the model is loaded",
                                     "responses": {"200": ok}}},
        f"/v2/models/{name}": {"get": {
            "summary": "Open Inference Protocol: the model's inputs and outputs",
            "responses": {"200": ok, "404": {"description": "another model",
                                             "content": error}}}},
        f"/v2/models/{name}/infer": {"post": {
            "summary": "Open Inference Protocol: score rows",
            "description": f"One input per column, named as the data names it: {inputs}. "
                           "Shape [rows, 1]; null (or NaN) is a missing value. The binary tensor "
                           "data extension is accepted (Inference-Header-Content-Length). "
                           "Outputs: "
                           + ", ".join(t.name for t in model.outputs) + ".",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["inputs"], "properties": {
                    "id": {"type": "string"},
                    "inputs": {"type": "array", "items": tensor_in},
                    "outputs": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}}}}}}}}},
            "responses": {"200": {"description": "the outputs", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "model_name": {"type": "string"}, "model_version": {"type": "string"},
                    "id": {"type": "string"},
                    "outputs": {"type": "array", "items": {"type": "object"}}}}}}},
                "400": {"description": "a malformed request", "content": error},
                "413": {"description": "a body over the size limit", "content": error}}}},
    }


def short(text: str, limit: int = 60) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."


def names(items: list[str], limit: int = 8) -> str:
    """Names as a one-line list: each quoted, the first ``limit`` of them."""
    shown = ", ".join(short(n) for n in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
