"""The Open Inference Protocol v2: a bundle's standalone server, run from an environment with
only numpy and onnxruntime, and ``mlcycle serve``, on data whose column names hold spaces,
quotes, slashes and accents; both agree with ``mlcycle predict`` on every row."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcycle import deploy, projects
from mlcycle.data import datasets
from mlcycle.deploy import oip_serve, scoring, serve, standalone
from mlcycle.models import registry, training
from mlcycle.prep import features
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace, open_workspace
from tests.conftest import MLCYCLE, ROOT, run_cli, run_json
from tests.training_data import classification_frame

# The classification table's x1, x2, plan and flag, as real headers name columns.
NAMES = ['taille "moyenne" (m²)', "od280/od315", "plan d'été", "a b"]
MAX_BODY_MIB = 0.05


def _frame(rows: int, seed: int) -> pl.DataFrame:
    return classification_frame(rows, seed).drop("id").rename(
        dict(zip(["x1", "x2", "plan", "flag"], NAMES, strict=True)))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    root = tmp_path_factory.mktemp("oip")
    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "clf", target="label", task="classification", metric="roc_auc")
    _frame(300, seed=1).write_csv(root / "train.csv")
    datasets.add(ws, "clf", root / "train.csv")
    training.train(ws, training.TrainConfig("clf", models=["logistic"], trials=1, cv=2))
    registry.promote(ws, "clf", "1", reason="serve")
    deploy.export(ws, "clf", "1", root / "bundle")
    return ws, root / "bundle"


class Server:
    """A server on a loopback port, spoken to in raw HTTP/1.1."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(self, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> tuple[int, dict]:
        head = {"Host": "localhost", "Content-Length": str(len(body)), "Connection": "close",
                **(headers or {})}
        data = f"{method} {path} HTTP/1.1\r\n".encode()
        data += "".join(f"{k}: {v}\r\n" for k, v in head.items()).encode() + b"\r\n" + body
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(data)
            response = http.client.HTTPResponse(sock, method=method)
            response.begin()
            text = response.read()
            return response.status, json.loads(text) if text else {}

    def infer(self, body: object, path: str = "/v2/models/clf/infer") -> tuple[int, dict]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request("POST", path, data)


def _start(python: Path, bundle: Path, *args: str) -> tuple[subprocess.Popen, int]:
    """server.py started without --host: it must say it listens on loopback."""
    proc = subprocess.Popen([str(python), "-E", "-s", "server.py", "--port", "0", *args],
                            cwd=bundle, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_interruptible)
    return proc, _port(proc)


def _interruptible() -> None:
    # A child of a shell's background job inherits SIGINT ignored; the server must hear it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _port(proc: subprocess.Popen) -> int:
    """The port a server says it listens on, on loopback, in its first line."""
    line = proc.stderr.readline()
    found = re.search(r" on http://127\.0\.0\.1:(\d+) ", line)
    assert found, line + proc.stderr.read()
    return int(found.group(1))


@pytest.fixture(scope="module")
def standalone_server(trained, server_python: Path) -> Iterator[Server]:
    proc, port = _start(server_python, trained[1], "--max-body", str(MAX_BODY_MIB))
    yield Server(port)
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err, err


@pytest.fixture(scope="module")
def mlcycle_server(trained) -> Iterator[Server]:
    ws, _ = trained
    serving = serve.Serving(ws, "clf", "champion", "127.0.0.1", 0, shadow=False,
                            max_body=int(MAX_BODY_MIB * 2**20))
    thread = threading.Thread(target=serving.serve, daemon=True)
    thread.start()
    yield Server(serving.port)
    serving.stop()
    thread.join(30)


def _request(bundle: Path, rows: pl.DataFrame) -> dict:
    """An inference request for ``rows``: one input per column, as the bundle lists them."""
    sig = json.loads((bundle / "signature.json").read_text(encoding="utf-8"))
    return standalone.infer_body(rows.to_dicts(), sig, "r1")


def _predicted(ws: Workspace, rows: pl.DataFrame, tmp_path: Path) -> pl.DataFrame:
    rows.write_csv(tmp_path / "rows.csv")
    scoring.predict_file(ws, "clf", tmp_path / "rows.csv", ref="1", out=tmp_path / "pred.csv",
                         shadow=False)
    return pl.read_csv(tmp_path / "pred.csv")


def _agree(answer: dict, predicted: pl.DataFrame) -> None:
    outputs = {o["name"]: o for o in answer["outputs"]}
    label, proba = outputs["label"], outputs["probabilities"]
    classes = proba["parameters"]["classes"]
    assert label["shape"] == [predicted.height] and proba["shape"] == [predicted.height, 2]
    # The target's yes/no is stored as a boolean: the labels are booleans, as predicted.
    assert label["data"] == predicted["prediction"].to_list()
    got = np.asarray(proba["data"]).reshape(-1, len(classes))
    for i, cls in enumerate(classes):
        np.testing.assert_allclose(got[:, i], predicted[f"probability_{cls}"].to_numpy(),
                                   atol=1e-6)


def test_the_environment_holds_numpy_and_onnxruntime_only(server_python: Path) -> None:
    script = ("import importlib.util as u; print([m for m in ('numpy', 'onnxruntime', "
              "'mlcycle', 'sklearn', 'polars', 'duckdb', 'skl2onnx') if u.find_spec(m)])")
    out = subprocess.run([str(server_python), "-E", "-s", "-c", script], capture_output=True,
                         text=True, check=True, cwd="/").stdout
    assert out.strip() == "['numpy', 'onnxruntime']"


def test_standalone_server_agrees_with_mlcycle_predict_on_every_row(
        trained, standalone_server: Server, tmp_path: Path) -> None:
    ws, bundle = trained
    status, meta = standalone_server.request("GET", "/v2/models/clf")
    assert status == 200 and [i["name"] for i in meta["inputs"]] == [
        NAMES[0], NAMES[1], NAMES[3], NAMES[2]]  # numbers (the boolean among them), category
    assert {i["name"]: i["datatype"] for i in meta["inputs"]}[NAMES[2]] == "BYTES"
    rows = _frame(60, seed=7).drop("label")
    assert rows[NAMES[1]].null_count() > 0  # missing values travel as null
    status, answer = standalone_server.infer(_request(bundle, rows))
    assert status == 200, answer
    assert answer["id"] == "r1" and answer["model_name"] == "clf"
    _agree(answer, _predicted(ws, rows, tmp_path))
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/clf/ready",
                 "/v2/models/clf/versions/1"):
        assert standalone_server.request("GET", path)[0] == 200, path
    spec = standalone_server.request("GET", "/openapi.json")[1]
    assert "/v2/models/clf/infer" in spec["paths"] and spec["openapi"].startswith("3.")


def test_mlcycle_serve_speaks_the_protocol_with_the_same_answers(
        trained, mlcycle_server: Server, standalone_server: Server) -> None:
    bundle = trained[1]
    rows = _frame(25, seed=11).drop("label")
    assert standalone_server.request("GET", "/v2/models/clf")[1] == mlcycle_server.request(
        "GET", "/v2/models/clf")[1]
    status, ours = mlcycle_server.infer(_request(bundle, rows))
    assert status == 200, ours
    theirs = standalone_server.infer(_request(bundle, rows))[1]
    assert ours["model_version"] == theirs["model_version"] == "1"
    assert [o["name"] for o in ours["outputs"]] == ["label", "probabilities"]
    assert ours["outputs"][0]["data"] == theirs["outputs"][0]["data"]
    np.testing.assert_allclose(ours["outputs"][1]["data"], theirs["outputs"][1]["data"],
                               atol=1e-6)
    assert mlcycle_server.request("GET", "/v2/health/ready") == (200, {"ready": True})
    paths = mlcycle_server.request("GET", "/openapi.json")[1]["paths"]
    assert {"/predict", "/v2/models/clf", "/v2/models/clf/infer"} <= set(paths)
    # /predict and the protocol are the same scoring.
    status, single = mlcycle_server.request("POST", "/predict", json.dumps(
        rows.head(1).to_dicts()[0]).encode())
    assert status == 200
    assert single["prediction"]["prediction"] == theirs["outputs"][0]["data"][0]


def _refusals(bundle: Path, rows: pl.DataFrame) -> list[tuple[object, int, str]]:
    good = _request(bundle, rows)
    first = good["inputs"][0]

    def changed(**fields: object) -> dict:
        return {"inputs": [{**first, **fields}, *good["inputs"][1:]]}

    return [
        (b"{not json", 400, "not valid JSON"),
        (b"[" * 20_000, 400, "nested too deeply"),
        ({"rows": []}, 400, "inputs"),
        ({"inputs": good["inputs"][1:]}, 400, f"missing input(s) {NAMES[0]!r}"),
        ({"inputs": [*good["inputs"], {**first, "name": "x"}]}, 400, "no input 'x'"),
        ({"inputs": [*good["inputs"], first]}, 400, "sent twice"),
        (changed(datatype="BYTES"), 400, "FP32 or another numeric datatype, not 'BYTES'"),
        (changed(shape=[3, 2]), 400, "send [rows, 1] or [rows]"),
        (changed(shape=[2, 1]), 400, "has shape [2, 1] but 3 values"),
        (changed(data=["a", 1, 2]), 400, "row 1 holds '\"a\"'; send numbers or null"),
        # float32 would read 1e39 as infinity; a rank-0 tensor is no column of rows
        (changed(data=[0.5, -1e39, 0.5]), 400,
         f"input {NAMES[0]!r}, row 2: -1e+39 is beyond the range of FP32 (±3.403e+38)"),
        (changed(shape=[]), 400, "has shape '[]' (rank 0, a single value)"),
        (json.dumps(changed()).replace("0.", "1e400", 1).encode(), 400, "not a finite"),
        ({"inputs": good["inputs"], "outputs": [{"name": "nope"}]}, 400, "no output 'nope'"),
        ({"inputs": [dict(t, shape=[0, 1], data=[]) for t in good["inputs"]]}, 400,
         "has no rows"),
        (json.dumps({"inputs": [{**t, "data": t["data"] * 600, "shape": [1800, 1]}
                                for t in good["inputs"]]}).encode(), 413, "larger than"),
    ]


@pytest.mark.parametrize("which", ["standalone_server", "mlcycle_server"])
def test_malformed_requests_get_400_and_large_ones_413_with_one_line(
        trained, which: str, request: pytest.FixtureRequest) -> None:
    server: Server = request.getfixturevalue(which)
    for body, status, reason in _refusals(trained[1], _frame(3, seed=2).drop("label")):
        got, answer = server.infer(body)
        assert (got, reason in answer["error"]) == (status, True), (body, answer)
        assert "\n" not in answer["error"]
    assert server.request("GET", "/v2/models/clf/infer")[0] == 405
    assert server.request("POST", "/v2/health/live")[0] == 405
    assert server.request("GET", "/v2/models/other")[0] == 404
    assert server.request("GET", "/v2/models/clf/versions/9")[0] == 404
    assert server.infer(b'{"inputs": []}', "/v2/models/clf/infer")[0] == 400


@pytest.mark.parametrize("which", ["standalone_server", "mlcycle_server"])
def test_a_300_mb_upload_from_urllib_reads_its_413(which: str,
                                                   request: pytest.FixtureRequest) -> None:
    server: Server = request.getfixturevalue(which)
    size, chunk = 300 * 2**20, b" " * 2**20

    def body() -> Iterator[bytes]:  # made as it is sent: 300 MB never sit in memory
        for _ in range(size // len(chunk)):
            yield chunk

    upload = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/v2/models/clf/infer", data=body(),
        headers={"Content-Length": str(size), "Content-Type": "application/json"})
    started = time.monotonic()
    # urllib sends the whole body before it reads: the server reads and discards it
    # (for a bounded time) so that the answer is not lost to a reset connection.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(upload, timeout=30)
    assert refused.value.code == 413
    assert "larger than 52,428 bytes" in json.loads(refused.value.read())["error"]
    assert time.monotonic() - started < 10
    assert server.request("GET", "/v2/health/ready")[0] == 200


def _in_flight_then_interrupted(proc: subprocess.Popen, port: int, body: bytes) -> None:
    """A request half sent when SIGINT arrives is still answered (200), a new connection is
    refused, and the server exits 0 without a traceback."""
    head = (f"POST /v2/models/clf/infer HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + body[:len(body) // 2])
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert proc.poll() is None  # still answering what is in flight
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        sock.sendall(body[len(body) // 2:])
        response = http.client.HTTPResponse(sock, method="POST")
        response.begin()
        answer = json.loads(response.read())
        assert response.status == 200 and answer["outputs"][0]["shape"] == [40], answer
        assert response.getheader("Connection") == "close"
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert err.splitlines()[-1] == "stopped", err


def test_sigint_lets_the_request_in_flight_finish_on_both_servers(
        trained, server_python: Path) -> None:
    ws, bundle = trained
    body = json.dumps(_request(bundle, _frame(40, seed=4).drop("label"))).encode()
    _in_flight_then_interrupted(*_start(server_python, bundle), body)
    proc = subprocess.Popen([*MLCYCLE, "--workspace", str(ws.root), "serve", "clf", "--port",
                             "0", "--no-shadow"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_interruptible)
    _in_flight_then_interrupted(proc, _port(proc), body)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=5)
                         | st.integers(), lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(st.sampled_from(["inputs", "name", "shape",
                                                            "datatype", "data", *NAMES]),
                                           inner, max_size=4), max_leaves=12))
def test_fuzzed_bodies_never_get_a_500(standalone_server: Server, mlcycle_server: Server,
                                       body: object) -> None:
    data = json.dumps(body).encode()
    for server in (standalone_server, mlcycle_server):
        status, answer = server.infer(data)
        assert status in (200, 400), (body, answer)
        assert status == 200 or (answer["error"] and "\n" not in answer["error"])


def test_the_server_refuses_a_bundle_whose_model_changed(
        trained, server_python: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(trained[1], tmp_path / "bundle")
    model = copy / "model.onnx"
    model.write_bytes(model.read_bytes() + b"\0")
    proc = subprocess.run([str(server_python), "-E", "-s", "server.py"], cwd=copy,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("server.py: model.onnx does not match its sha256 in "
                                   "manifest.json; the bundle was changed since export: "
                                   "export it again")


def test_the_dockerfile_copies_the_bundle_and_pins_what_it_was_checked_with(trained) -> None:
    bundle = trained[1]
    lines = (bundle / "Dockerfile").read_text().splitlines()
    copied = next(line for line in lines if line.startswith("COPY")).split()[1:-1]
    assert sorted(copied) == sorted(p.name for p in bundle.iterdir() if p.name != "Dockerfile")
    pins = standalone.pins()
    assert f"FROM python:{pins['python']}-slim" in lines
    assert (f"RUN pip install --no-cache-dir numpy=={pins['numpy']} "
            f"onnxruntime=={pins['onnxruntime']}") in lines
    assert lines[-1] == 'CMD ["python", "server.py", "--host", "0.0.0.0", "--port", "8080"]'
    assert "EXPOSE 8080" in lines and "USER nobody" in lines
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert {"server.py", "oip.py", "Dockerfile"} <= set(manifest)
    # The bundle's copies are the package's modules, byte for byte.
    assert (bundle / "oip.py").read_bytes() == Path(standalone.__file__).with_name(
        "oip.py").read_bytes()


def test_bundle_verify_starts_the_server_and_catches_one_that_disagrees(
        trained, tmp_path: Path) -> None:
    ws, bundle = trained
    result = run_json("bundle", "verify", str(bundle), workspace=ws.root)
    assert result["server"]["ok"] and result["server"]["rows"] == 5
    assert not result["extra_files"]  # running server.py left nothing in the bundle
    assert run_json("bundle", "verify", str(bundle), "--no-server",
                    workspace=ws.root)["server"] is None

    # A server.py whose probabilities are off, its manifest hash updated to match.
    copy = shutil.copytree(bundle, tmp_path / "bundle")
    server = copy / "server.py"
    server.write_text(server.read_text().replace(
        'dtype=np.float64).tolist()', 'dtype=np.float64).__mul__(0.99).tolist()'))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["server.py"] = hashlib.sha256(server.read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    proc = run_cli("bundle", "verify", str(copy), workspace=ws.root)
    assert proc.returncode == 2
    assert re.search(r"^error: bundle .*: the server's answers differ from mlcycle's by "
                     r"0\.\d+ on the sample rows \(allowed 1e-05\)$", proc.stderr.strip(),
                     re.M), proc.stderr

    # One that does not start: its last words are the reason, in one line.
    server.write_text('import sys\nprint("warming up", file=sys.stderr)\n'
                      'sys.exit("server.py: cannot run here")\n')
    manifest["server.py"] = hashlib.sha256(server.read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidInput, match=r"^the bundle's server did not start: server\.py: "
                                           r"cannot run here$"):
        deploy.verify(copy)


def test_a_bundle_from_before_the_server_still_verifies_with_a_note(
        trained, tmp_path: Path) -> None:
    copy = shutil.copytree(trained[1], tmp_path / "bundle")
    meta = json.loads((copy / "metadata.json").read_text())
    del meta["server"]
    (copy / "metadata.json").write_text(json.dumps(meta))
    manifest = json.loads((copy / "manifest.json").read_text())
    for name in deploy.SERVER_FILES:
        (copy / name).unlink()
        del manifest[name]
    manifest["metadata.json"] = hashlib.sha256((copy / "metadata.json").read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    heard: list[str] = []
    result = deploy.verify(copy, note=heard.append)
    assert result.server is None and result.smoke_test.ok and not result.extra_files
    assert heard == ["note: this bundle predates the standalone server; export it again to "
                     "have one"]


def test_serve_takes_the_raw_columns_a_feature_set_reads_and_the_bundle_its_graph_inputs(
        trained, tmp_path: Path) -> None:
    ws, _ = trained
    projects.create(ws, "fs", target="label", task="classification", metric="roc_auc")
    _frame(200, seed=3).write_csv(tmp_path / "train.csv")
    datasets.add(ws, "fs", tmp_path / "train.csv")
    features.store(ws, "fs", 'name = "twice"\n[[derive]]\nname = "twice"\n'
                             'expr = "`od280/od315` * 2"\n[select]\ndrop = ["od280/od315"]\n')
    training.train(ws, training.TrainConfig("fs", models=["logistic"], trials=1, cv=2))
    service = serve.Service(ws, "fs", "1", shadow=False)
    described = oip_serve.answer(service, "GET", "/v2/models/fs", None)
    types = {i["name"]: i["datatype"] for i in described["inputs"]}
    assert types == {NAMES[0]: "FP32", NAMES[3]: "FP32", NAMES[2]: "BYTES", NAMES[1]: "FP32"}
    rows = _frame(4, seed=5).drop("label")
    body = {"inputs": [{"name": n, "shape": [4, 1], "datatype": t,
                        "data": rows[n].cast(pl.Float64 if t == "FP32" else pl.Utf8).to_list()}
                       for n, t in types.items()]}
    answer = oip_serve.answer(service, "POST", "/v2/models/fs/infer", json.dumps(body).encode())
    assert answer["outputs"][0]["shape"] == [4]
    assert answer["outputs"][1]["data"] == pytest.approx(
        [v for p in service.predict(rows.to_dicts())["predictions"]
         for v in p["probabilities"].values()], abs=1e-6)
    bundle = tmp_path / "bundle"
    deploy.export(ws, "fs", "1", bundle)
    sig = json.loads((bundle / "signature.json").read_text())
    assert "twice" in [i["column"] for i in sig["inputs"]]
    assert NAMES[1] not in [i["column"] for i in sig["inputs"]]
    assert deploy.verify(bundle).server.ok  # fed the graph's inputs, derived ones too
