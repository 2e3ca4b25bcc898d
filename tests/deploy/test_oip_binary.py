"""The binary tensor data extension of the Open Inference Protocol, as Triton's own client
(tritonclient) speaks it by default, against ``mlcycle serve`` and a bundle's standalone
server: NumPy's NaN is a missing value, infinity is refused, outputs come back binary when
asked, and the answers are ``mlcycle predict``'s."""

from __future__ import annotations

import http.client
import json
import struct
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.deploy.test_oip import (  # noqa: F401  (fixtures)
    NAMES,
    Server,
    _agree,
    _frame,
    _predicted,
    mlcycle_server,
    standalone_server,
    trained,
)

SERVERS = ["standalone_server", "mlcycle_server"]


def _inputs(client: triton.InferenceServerClient, rows: pl.DataFrame,
            inf_row: int | None = None) -> list[triton.InferInput]:
    """One binary input per column, as the model's metadata lists them: a missing number
    is NumPy's NaN, since tritonclient cannot send null."""
    out = []
    for spec in client.get_model_metadata("clf")["inputs"]:
        column = rows[spec["name"]]
        if spec["datatype"] == "FP32":
            array = column.cast(pl.Float32).fill_null(np.nan).to_numpy().astype(np.float32)
            if inf_row is not None:
                array[inf_row] = np.inf
        else:
            array = np.array(column.to_list(), dtype=object)
        tensor = triton.InferInput(spec["name"], [rows.height, 1], spec["datatype"])
        tensor.set_data_from_numpy(array.reshape(-1, 1))  # binary_data=True by default
        out.append(tensor)
    return out


def _as_answer(result: triton.InferResult) -> dict:
    """tritonclient's result in the shape of a JSON answer, for ``_agree``."""
    labels = [v.decode() if isinstance(v, bytes) else v
              for v in result.as_numpy("label").tolist()]
    proba = result.get_output("probabilities")
    return {"outputs": [{"name": "label", "shape": [len(labels)], "data": labels},
                        {**proba, "data": result.as_numpy("probabilities").ravel().tolist()}]}


@pytest.mark.parametrize("which", SERVERS)
def test_tritonclient_sends_nan_as_missing_and_gets_mlcycle_predicts_answers(
        which: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    server: Server = request.getfixturevalue(which)
    ws = request.getfixturevalue("trained")[0]
    rows = _frame(30, seed=21).drop("label").with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col(NAMES[0]))
        .alias(NAMES[0]))
    assert rows[NAMES[0]].null_count() == 1 and rows[NAMES[1]].null_count() > 0
    expected = _predicted(ws, rows, tmp_path)  # nulls, read from a CSV by mlcycle predict
    client = triton.InferenceServerClient(f"127.0.0.1:{server.port}")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    inputs = _inputs(client, rows)

    # No outputs named: tritonclient asks for every output as binary data.
    everything = client.infer("clf", inputs)
    assert all("binary_data_size" in o["parameters"]
               for o in everything.get_response()["outputs"])
    _agree(_as_answer(everything), expected)

    # Labels as JSON, probabilities as binary, in one answer.
    mixed = client.infer("clf", inputs, request_id="r7", outputs=[
        triton.InferRequestedOutput("label", binary_data=False),
        triton.InferRequestedOutput("probabilities", binary_data=True)])
    label, proba = mixed.get_response()["outputs"]
    assert "data" in label and "binary_data_size" not in label.get("parameters", {})
    assert proba["parameters"]["binary_data_size"] == rows.height * 2 * 4
    assert mixed.get_response()["id"] == "r7"
    _agree(_as_answer(mixed), expected)


@pytest.mark.parametrize("which", SERVERS)
def test_infinity_in_a_binary_tensor_is_refused_with_400(
        which: str, request: pytest.FixtureRequest) -> None:
    server: Server = request.getfixturevalue(which)
    client = triton.InferenceServerClient(f"127.0.0.1:{server.port}")
    rows = _frame(3, seed=2).drop("label")
    with pytest.raises(InferenceServerException) as refused:
        client.infer("clf", _inputs(client, rows, inf_row=1))
    assert refused.value.status() == "400"
    assert refused.value.message() == (f"input {NAMES[0]!r}, row 2: 'inf' is not a finite "
                                       "number (send null or NaN for a missing value)")


def _binary_body(rows: pl.DataFrame, meta: dict) -> tuple[dict, list[bytes]]:
    """A request's JSON and its tensors' bytes, written by hand as the extension says."""
    head, blobs = {"inputs": []}, []
    for spec in meta["inputs"]:
        values = rows[spec["name"]].to_list()
        if spec["datatype"] == "FP32":
            blob = struct.pack(f"<{len(values)}f", *[
                float("nan") if v is None else float(v) for v in values])
        else:
            blob = b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)
        head["inputs"].append({"name": spec["name"], "datatype": spec["datatype"],
                               "shape": [len(values), 1],
                               "parameters": {"binary_data_size": len(blob)}})
        blobs.append(blob)
    return head, blobs


def _post(server: Server, head: dict, blobs: list[bytes], length: str | None = None
          ) -> tuple[int, dict]:
    text = json.dumps(head).encode()
    return server.request("POST", "/v2/models/clf/infer", text + b"".join(blobs),
                          {"Inference-Header-Content-Length": length or str(len(text))})


@pytest.mark.parametrize("which", SERVERS)
def test_malformed_binary_requests_get_400_with_one_line(
        which: str, request: pytest.FixtureRequest) -> None:
    server: Server = request.getfixturevalue(which)
    rows = _frame(3, seed=2).drop("label")
    head, blobs = _binary_body(rows, server.request("GET", "/v2/models/clf")[1])
    assert _post(server, head, blobs)[0] == 200
    first = NAMES[0]
    cases = [
        (head, blobs, "0", "Inference-Header-Content-Length is '0'"),
        (head, blobs[:-1], None,
         f"binary_data_size says {len(blobs[-1])} bytes but only 0 follow the JSON"),
        (head, [*blobs, b"x"], None, "1 bytes follow the JSON"),
        ({"inputs": [{**head["inputs"][0], "parameters": {"binary_data_size": 8}},
                     *head["inputs"][1:]]}, [blobs[0][:8], *blobs[1:]], None,
         f"input {first!r}: 3 FP32 values are 12 bytes, not 8"),
        ({"inputs": [{**head["inputs"][0], "data": [1, 2, 3]}, *head["inputs"][1:]]}, blobs,
         None, "sends both data and binary_data_size"),
        ({"inputs": [*head["inputs"][:-1], {**head["inputs"][-1], "parameters": {
            "binary_data_size": len(blobs[-1]) - 1}}]}, [*blobs[:-1], blobs[-1][:-1]], None,
         "is cut off"),
    ]
    for body, tensors, length, reason in cases:
        status, answer = _post(server, body, tensors, length)
        assert (status, reason in answer["error"]) == (400, True), (reason, answer)
        assert "\n" not in answer["error"]
    # Binary data announced without the header that says where the JSON ends.
    status, answer = server.request("POST", "/v2/models/clf/infer",
                                    json.dumps(head).encode() + b"".join(blobs))
    assert status == 400


@pytest.mark.parametrize("which", SERVERS)
def test_json_nan_is_a_missing_value_and_infinity_is_refused(
        which: str, request: pytest.FixtureRequest) -> None:
    server: Server = request.getfixturevalue(which)
    rows = _frame(2, seed=2).drop("label").with_columns(pl.lit(None, pl.Float64)
                                                        .alias(NAMES[0]))
    meta = server.request("GET", "/v2/models/clf")[1]
    body = {"inputs": [{"name": i["name"], "datatype": i["datatype"], "shape": [2, 1],
                        "data": rows[i["name"]].to_list()} for i in meta["inputs"]]}
    with_null = server.infer(body)
    text = json.dumps(body).replace("null", "NaN")
    with_nan = server.infer(text.encode())
    assert with_nan == with_null and with_nan[0] == 200
    status, answer = server.infer(text.replace("NaN", "Infinity", 1).encode())
    assert status == 400 and "'Infinity' is not a finite number" in answer["error"]


def _exchange(server: Server, body: bytes, headers: dict[str, str]) -> tuple[dict, bytes]:
    """A 200 answer's JSON and the binary tensors after it."""
    head = {"Host": "localhost", "Content-Length": str(len(body)), **headers}
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("POST", "/v2/models/clf/infer", body, head)
        response = connection.getresponse()
        data = response.read()
        assert response.status == 200, data
        length = response.getheader("Inference-Header-Content-Length")
    finally:
        connection.close()
    cut = int(length) if length is not None else len(data)
    return json.loads(data[:cut]), data[cut:]


def test_both_servers_answer_the_same_rows_alike_in_json_and_in_binary(
        request: pytest.FixtureRequest) -> None:
    standalone: Server = request.getfixturevalue("standalone_server")
    serve: Server = request.getfixturevalue("mlcycle_server")
    rows = _frame(12, seed=31).drop("label")
    meta = standalone.request("GET", "/v2/models/clf")[1]
    assert meta == serve.request("GET", "/v2/models/clf")[1]
    head, blobs = _binary_body(rows, meta)
    as_json = {"inputs": [{"name": i["name"], "datatype": i["datatype"], "shape": [12, 1],
                           "data": rows[i["name"]].to_list()} for i in meta["inputs"]]}
    binary_out = {"binary_data_output": True}
    exchanges = {
        "json": (json.dumps(as_json).encode(), {}),
        "json, binary outputs": (json.dumps({**as_json, "parameters": binary_out}).encode(),
                                 {}),
    }
    for name, request_head in (("binary", head),
                               ("binary, binary outputs", {**head, "parameters": binary_out})):
        text = json.dumps(request_head).encode()
        exchanges[name] = (text + b"".join(blobs),
                           {"Inference-Header-Content-Length": str(len(text))})
    for name, (body, headers) in exchanges.items():
        ours, our_tail = _exchange(serve, body, headers)
        theirs, their_tail = _exchange(standalone, body, headers)
        # The same header, tensor for tensor: names, shapes, datatypes, byte sizes.
        strip = [{k: v for k, v in o.items() if k != "data"} for o in ours["outputs"]]
        assert strip == [{k: v for k, v in o.items() if k != "data"}
                         for o in theirs["outputs"]], name
        assert ours["model_version"] == theirs["model_version"] == "1"
        assert len(our_tail) == len(their_tail)
        assert bool(our_tail) == ("binary outputs" in name), name
        if "binary outputs" in name:  # labels, then float32 probabilities
            split = ours["outputs"][0]["parameters"]["binary_data_size"]
            assert our_tail[:split] == their_tail[:split], name
            np.testing.assert_allclose(np.frombuffer(our_tail[split:], "<f4"),
                                       np.frombuffer(their_tail[split:], "<f4"), atol=1e-6)
        else:
            assert ours["outputs"][0]["data"] == theirs["outputs"][0]["data"], name
            np.testing.assert_allclose(ours["outputs"][1]["data"],
                                       theirs["outputs"][1]["data"], atol=1e-6)
