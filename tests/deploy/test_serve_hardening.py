"""The prediction service under hostile input: limits, timeouts, disconnects, and a fuzz test."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import string
import struct
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcycle.models import registry
from tests.conftest import MLCYCLE, ROOT, free_port, wait_until_serving
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame

MAX_BODY_MIB = 1
TIMEOUT = 2.0
ROW = classification_frame(1, seed=8).to_dicts()[0]


class Served:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log

    def request(self, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        head = {"Host": "localhost", "Content-Length": str(len(body)), "Connection": "close",
                **(headers or {})}
        data = f"{method} {path} HTTP/1.1\r\n".encode("utf-8", "surrogateescape")
        data += "".join(f"{k}: {v}\r\n" for k, v in head.items()).encode() + b"\r\n" + body
        return self.raw(data, method)

    def raw(self, data: bytes, method: str = "GET") -> tuple[int, bytes]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(data)
            response = http.client.HTTPResponse(sock, method=method)
            response.begin()
            return response.status, response.read()

    def post(self, body: object) -> tuple[int, dict]:
        status, data = self.request("POST", "/predict", json.dumps(body).encode())
        return status, json.loads(data)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hardened")
    ws = classification_workspace(root, models=["logistic"])
    registry.promote(ws, "clf", "1", reason="serve")
    port = free_port()
    log = root / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if k != "MLCYCLE_WORKSPACE"}
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [*MLCYCLE, "--workspace", str(ws.root), "serve", "clf",
             "--port", str(port), "--max-body", str(MAX_BODY_MIB), "--timeout", str(TIMEOUT)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
    server = Served(proc, port, log)
    wait_until_serving(port, proc, log.read_text)
    yield server
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    # However it was treated, the service never printed a traceback.
    assert "Traceback" not in log.read_text(), log.read_text()


def test_binds_loopback_by_default(served: Served) -> None:
    assert f"on http://127.0.0.1:{served.port} " in served.log.read_text()


def test_a_body_over_the_limit_is_refused_unread(served: Served) -> None:
    size = MAX_BODY_MIB * 2**20 + 1
    for extra in ({}, {"Expect": "100-continue"}):  # curl asks first for large bodies
        data = (f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in extra.items()) + "\r\n").encode()
        status, body = served.raw(data, "POST")
        assert status == 413 and "larger than 1,048,576 bytes" in json.loads(body)["error"]
    assert served.post(ROW)[0] == 200


def test_deep_nesting_is_refused_without_exhausting_the_stack(served: Served) -> None:
    deep = b"[" * 50_000 + b"]" * 50_000
    status, body = served.request("POST", "/predict", deep)
    assert status == 400 and "nested too deeply" in json.loads(body)["error"]
    nested: object = 1
    for _ in range(500):
        nested = [nested]
    status, answer = served.post({**ROW, "x1": nested})
    assert status == 400 and answer["error"].startswith("field 'x1' holds a list")


@pytest.mark.parametrize(("text", "shown"), [("1e400", "1e400"), ("-1e400", "-1e400"),
                                             ("NaN", "NaN"), ("Infinity", "Infinity"),
                                             ("-Infinity", "-Infinity")])
def test_numbers_a_float_cannot_hold_are_refused_naming_the_field(
    served: Served, text: str, shown: str
) -> None:
    row = json.dumps({**ROW, "x1": 0.5}).replace('"x1": 0.5', f'"x1": {text}')
    status, body = served.request("POST", "/predict", row.encode())
    assert status == 400
    assert json.loads(body)["error"] == f"field 'x1' is '{shown}', not a finite number"
    batch = json.dumps({"rows": [ROW, {**ROW, "x2": 0.5}]}).replace('"x2": 0.5', f'"x2": {text}')
    status, body = served.request("POST", "/predict", batch.encode())
    assert status == 400 and "field 'x2' of row 2 is" in json.loads(body)["error"]
    big = json.dumps({**ROW, "x1": 0}).replace('"x1": 0', '"x1": 1' + "0" * 30)
    assert served.request("POST", "/predict", big.encode())[0] == 200  # large, but finite


@pytest.mark.parametrize("value", [1e39, -1e39, 10**40])
def test_numbers_float32_cannot_hold_are_refused_as_in_v2(served: Served, value) -> None:
    status, answer = served.post({**ROW, "x1": value})
    assert status == 400
    assert answer["error"].startswith("field 'x1' is ") and "beyond the range of float32" in \
        answer["error"]


def test_http_refusals_are_json(served: Served) -> None:
    cases = [(("GET", "/predict"), 405), (("POST", "/health"), 405), (("PUT", "/predict"), 501),
             (("GET", "/nowhere"), 404)]
    for (method, path), code in cases:
        status, body = served.request(method, path)
        assert status == code and json.loads(body)["error"], (method, path)
    status, body = served.raw(b"POST /predict HTTP/1.1\r\nHost: x\r\n\r\n", "POST")
    assert status == 411 and json.loads(body)["error"]
    status, body = served.raw(b"NONSENSE\r\n\r\n")
    assert status == 400 and json.loads(body)["error"]


def test_idle_and_stalled_connections_are_closed(served: Served) -> None:
    for opening in (b"", b"POST /predict HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"rows\""):
        with socket.create_connection(("127.0.0.1", served.port)) as sock:
            sock.sendall(opening)
            sock.settimeout(TIMEOUT + 10)
            started = time.monotonic()
            assert sock.recv(1024) == b""  # the server hung up
            assert time.monotonic() - started < TIMEOUT + 5
    assert served.post(ROW)[0] == 200


def test_clients_that_hang_up_are_dropped_quietly(served: Served) -> None:
    rows = classification_frame(3000, seed=2).to_dicts()
    body = json.dumps({"rows": rows}).encode()
    request = (f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
               .encode() + body)
    for cut in (len(request) // 2, len(request)):
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", served.port))
            # Closing with SO_LINGER 0 resets the connection instead of closing it politely.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(request[:cut])
            sock.close()
    time.sleep(1.0)
    assert served.post(ROW)[0] == 200
    assert "Traceback" not in served.log.read_text()


_scalars = (st.none() | st.booleans() | st.integers() | st.floats()
            | st.text(max_size=12) | st.sampled_from(["basic", "pro", "true", "", "1e400"]))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
_rows = st.dictionaries(st.sampled_from([*ROW, "extra"]) | st.text(max_size=6),
                        _scalars | _values, max_size=7) | st.just(ROW).flatmap(
    lambda row: st.fixed_dictionaries({k: st.just(v) | _scalars for k, v in row.items()}))
_json = _values | _rows | st.lists(_rows, max_size=4).map(lambda rows: {"rows": rows})
_bodies = (_json.map(lambda v: json.dumps(v).encode())  # NaN and Infinity included
           | st.binary(max_size=200))
_methods = st.sampled_from(["GET", "POST", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]) | st.text(
    string.ascii_letters + "_-", min_size=1, max_size=8)
_paths = st.sampled_from(["/predict", "/predict", "/health", "/openapi.json", "/predict?x=1",
                          "/", "*"]) | st.text(string.printable.strip(), max_size=20).map(
    lambda text: "/" + text)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(method=_methods, path=_paths, body=_bodies)
def test_fuzzed_requests_never_get_a_500_and_errors_are_json(
    served: Served, method: str, path: str, body: bytes
) -> None:
    try:
        status, answer = served.request(method, path, body)
    except (http.client.RemoteDisconnected, ConnectionResetError):
        # Only a request line http.server cannot split into words gets no answer at all.
        assert len(f"{method} {path} HTTP/1.1".split()) != 3
        return
    assert status != 500, (method, path, body, answer)
    if method != "HEAD" and status >= 400:
        error = json.loads(answer)["error"]
        assert isinstance(error, str) and error and "\n" not in error
    assert served.proc.poll() is None


def test_garbage_request_lines_never_get_a_500(served: Served) -> None:
    @settings(max_examples=100, deadline=None, database=None)
    @given(st.binary(min_size=1, max_size=300))
    def garbage(data: bytes) -> None:
        try:
            status, answer = served.raw(data + b"\r\n\r\n")
        except (http.client.RemoteDisconnected, ConnectionResetError, TimeoutError):
            return  # nothing http.server could parse as a request: it hangs up or waits
        assert status != 500 and json.loads(answer)["error"]

    garbage()
    assert served.request("GET", "/health")[0] == 200
