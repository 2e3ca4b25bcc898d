"""A bundle's standalone server: the Open Inference Protocol v2 over its ONNX graph.

``mlcycle export`` copies this file into every bundle as ``server.py``, beside ``oip.py``
(the protocol), so that the model can be served where mlcycle is not installed: it needs
Python's standard library, numpy and onnxruntime, nothing else. Inside the bundle folder:

    python server.py --host 127.0.0.1 --port 8080

It serves ``GET /v2/health/live``, ``GET /v2/health/ready``, ``GET /v2/models/NAME`` (the
inputs, one per data column, and the outputs), ``POST /v2/models/NAME/infer`` and ``GET
/openapi.json``; NAME is the project's name. Before loading the model it checks the sha256
of every file it reads against ``manifest.json``, and refuses to start on a mismatch.

Hardening, as in ``mlcycle serve``: loopback by default; a body over ``--max-body`` is
refused with 413 (what the client still sends is read and thrown away for up to 2 seconds,
so that a client which sends before it reads gets the answer); a connection silent for
``--timeout`` seconds is closed; a malformed request gets 400 and a one-line reason; every
answer is JSON (followed by binary tensors when the request asks for them). Ctrl-C or
SIGTERM stops taking connections, answers the requests in flight (for up to 10 seconds)
and exits 0. A feature set's derived columns are inputs here (the bundle's graph takes
them), computed by the caller; ``mlcycle serve`` computes them itself from the raw columns.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

if __package__:
    from . import oip
else:  # run as a bundle's server.py, beside its copy of oip.py
    # No __pycache__ in the bundle: the folder stays exactly what its manifest lists.
    sys.dont_write_bytecode = True
    import oip  # type: ignore[no-redef]

MAX_BODY_MIB = 10.0
IDLE_TIMEOUT = 30.0
# How long a refused request's body is still read and thrown away before the connection is
# closed (nginx's lingering close): closing a socket with unread data resets it, and a
# client that sends its whole body before it reads (Python's urllib, requests) would then
# see the reset instead of the refusal. Loopback moves a few hundred MB in this time; a
# slower client past it sees the reset.
LINGER_SECONDS = 2.0
LINGER_CHUNK = 1 << 20
GRACE_SECONDS = 10.0  # how long a stopping server lets the requests in flight finish
CHECKED = ("model.onnx", "signature.json", "metadata.json")  # what the server reads


class BundleError(Exception):
    """A bundle the server will not serve: said in one line, and it exits with status 2."""


@dataclass
class Graph:
    """A bundle's model, loaded: the protocol's view of it and the session that scores."""

    model: oip.Model
    session: Any
    feeds: list[tuple[str, str, bool]]  # graph input, data column, numeric

    def infer(self, body: bytes, header_length: str | None = None,
              max_rows: int = oip.MAX_ROWS) -> dict[str, Any]:
        """The answer to an inference request (``header_length``: its
        ``Inference-Header-Content-Length`` header, when it sends binary tensors)."""
        import numpy as np

        request = oip.read_infer(body, self.model, max_rows, header_length)
        feeds = {}
        for graph_name, column, numeric in self.feeds:  # values beyond float32 are refused
            values = request.columns[column]
            if numeric:
                array = np.array([np.nan if v is None else v for v in values],
                                 dtype=np.float32)
            else:  # a missing category is the empty string, a category of its own
                array = np.array(["" if v is None else v for v in values], dtype=object)
            feeds[graph_name] = array.reshape(-1, 1)
        try:
            got = self.session.run(None, feeds)
        except Exception as exc:  # onnxruntime's own error types, raised on input it refuses
            raise oip.ProtocolError(400, f"the model could not score these inputs: "
                                         f"{_first_line(exc)}") from None
        out = dict(zip((o.name for o in self.session.get_outputs()), got))
        values: dict[str, list[Any]] = {}
        if "label" in out:
            values["label"] = np.asarray(out["label"]).ravel().tolist()  # typed as the graph
            values["probabilities"] = np.asarray(out["probabilities"], dtype=np.float64).tolist()
        else:
            values["variable"] = np.asarray(out["variable"], dtype=np.float64).ravel().tolist()
        return oip.response(self.model, request, values)

    def openapi(self) -> dict[str, Any]:
        return {"openapi": "3.0.3",
                "info": {"title": f"{self.model.name} (Open Inference Protocol v2)",
                         "version": self.model.version},
                "paths": {**oip.openapi_paths(self.model), "/openapi.json": {"get": {
                    "summary": "This description", "responses": {
                        "200": {"description": "ok"}}}}}}


def load(folder: Path, threads: int = 1) -> Graph:
    """The bundle in ``folder``, its files checked against the manifest first."""
    import onnxruntime as ort

    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{folder} has no readable manifest.json ({_first_line(exc)}); "
                          "run server.py inside an mlcycle bundle") from None
    contents = {}
    for name in CHECKED:
        try:
            contents[name] = (folder / name).read_bytes()
        except OSError:
            raise BundleError(f"{name} is missing from {folder}; export the bundle again"
                              ) from None
        if hashlib.sha256(contents[name]).hexdigest() != manifest.get(name):
            raise BundleError(f"{name} does not match its sha256 in manifest.json; the "
                              "bundle was changed since export: export it again")
    sig = json.loads(contents["signature.json"])
    meta = json.loads(contents["metadata.json"])
    feeds = [(i["name"], i.get("column", i["name"]), i["type"] == "float32")
             for i in sig["inputs"]]
    model = oip.Model(str(meta["project"]), str(meta["version"]),
                      [oip.input_tensor(column, numeric) for _, column, numeric in feeds],
                      oip.outputs(sig["task"], sig["classes"],
                                  sig.get("label_type") or "string"))
    options = ort.SessionOptions()
    # Requests are answered in threads of their own; one core per run keeps concurrent
    # requests from fighting over a shared pool, and a single row gains nothing from two.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(contents["model.onnx"], options,
                                   providers=["CPUExecutionProvider"])
    return Graph(model, session, feeds)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class JsonHandler(BaseHTTPRequestHandler):
    """What this server and ``mlcycle serve`` answer alike: JSON (binary tensors after it
    when asked for, ``oip.encode``), a body limit heard before the body is sent (or, for a
    client that did not ask first, answered while the body is read and thrown away),
    http.server's own refusals as JSON, no 40 ms Nagle delay, and no line per request. A
    subclass sets ``max_body``, ``timeout`` and ``too_large_hint``."""

    protocol_version = "HTTP/1.1"
    server: JsonServer  # type: ignore[assignment]  # a handler serves only a JsonServer
    _unread = 0  # bytes of this request's body not read yet
    _in_flight = False  # a request is read and not yet answered
    # Headers and body leave in two writes; with Nagle's algorithm the second waits for
    # the client's delayed ACK of the first: 40 ms added to every kept-alive answer.
    disable_nagle_algorithm = True
    max_body = int(MAX_BODY_MIB * 2**20)
    too_large_hint = "send fewer rows per request"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a line per request would drown the terminal

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        # http.server's own refusals (a malformed request line or header, an unknown
        # method) are JSON like every other answer, with a status line even when the line
        # was too malformed to say which HTTP it speaks (http.server assumes 0.9).
        if self.request_version == "HTTP/0.9":
            self.request_version = self.protocol_version
        self._send(code, {"error": message or HTTPStatus(code).phrase})

    def _send(self, status: int, body: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data, described = oip.encode(body)  # JSON, and the binary outputs after it if any
        if status >= 400 or self.server.stopping:
            self.close_connection = True  # the rest of the request may be unread
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            for name, value in {**described, **(headers or {})}.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            if self._unread:
                self._linger()
        except OSError:  # the client went away or stopped reading: nothing to tell it
            self.close_connection = True

    def parse_request(self) -> bool:
        self._unread = 0  # a refusal of the request line or headers reads no body
        parsed = super().parse_request()
        if parsed:
            self._unread = self._length() or 0
            self.server.begin()
            self._in_flight = True
        return parsed

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            if self._in_flight:
                self._in_flight = False
                self.server.end()

    def _linger(self) -> None:
        """Read and discard what is left of the body of a request answered before it was
        read, for at most ``LINGER_SECONDS``, so that the client reads the answer."""
        left, self._unread = self._unread, 0
        deadline = time.monotonic() + LINGER_SECONDS
        while left > 0 and (wait := deadline - time.monotonic()) > 0:
            self.connection.settimeout(wait)
            chunk = self.rfile.read1(min(left, LINGER_CHUNK))
            if not chunk:
                break
            left -= len(chunk)
        self.connection.settimeout(self.timeout)
        if left:  # what is left would read as the next request
            self.close_connection = True

    def _length(self) -> int | None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return None
        return length if length >= 0 else None

    def handle_expect_100(self) -> bool:
        # Clients that ask first (curl does, for large bodies) hear the refusal before they
        # send the body.
        length = self._length()
        if length is not None and length > self.max_body:
            self._too_large()
            return False
        return super().handle_expect_100()

    def _too_large(self) -> None:
        self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {
            "error": f"the body is larger than {self.max_body:,} bytes; {self.too_large_hint}"})

    def _body(self) -> bytes | None:
        """The request's body; None once the refusal is sent (no or a bad length: 411 or
        400; too large: 413, the body read and discarded for a while, not kept) or the
        client stalled or left before sending it all."""
        length = self._length()
        if not length:
            self._send(HTTPStatus.LENGTH_REQUIRED if length is None else
                       HTTPStatus.BAD_REQUEST,
                       {"error": "send a JSON body with its Content-Length"})
            return None
        if length > self.max_body:
            self._too_large()
            return None
        self._unread = 0  # read below, or the connection is closed
        try:
            body = self.rfile.read(length)
        except OSError:  # stalled past the timeout, or gone
            self.close_connection = True
            return None
        if len(body) < length:  # the client closed before sending it all
            self.close_connection = True
            return None
        return body


class JsonServer(ThreadingHTTPServer):
    """Threads per connection, each request counted while in flight, so that a stop
    (:meth:`close`) answers them before the process exits."""

    daemon_threads = True
    request_queue_size = 512  # a burst of clients queues instead of being refused

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]
                 ) -> None:
        self.stopping = False
        self._busy = 0  # requests in flight
        self._idle = threading.Condition()
        super().__init__(address, handler)

    def begin(self) -> None:
        with self._idle:
            self._busy += 1

    def end(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def close(self, grace: float = GRACE_SECONDS) -> None:
        """Once ``serve_forever`` has returned: stop listening, then wait up to ``grace``
        seconds for the requests in flight to be answered (each answer says the connection
        closes). A second interrupt, or the grace running out, ends the wait; the requests
        still unanswered are counted in one line."""
        self.stopping = True
        try:
            self.server_close()
            with self._idle:
                self._idle.wait_for(lambda: not self._busy, timeout=grace)
        except KeyboardInterrupt:
            pass
        if self._busy:
            self.say(f"note: stopped with {self._busy} request(s) unanswered")

    def say(self, line: str) -> None:
        print(line, file=sys.stderr)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # What escapes a handler is a client that vanished mid-request (reset, broken pipe,
        # timeout): not worth a traceback. Anything else gets one line.
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            self.say(f"note: a request from {client_address[0]} failed: "
                     f"{type(exc).__name__}: {exc}")


def _handler(graph: Graph, max_body: int, idle_timeout: float | None
             ) -> type[BaseHTTPRequestHandler]:
    model = graph.model

    class Handler(JsonHandler):
        server_version = "mlcycle-bundle"
        timeout = idle_timeout  # an idle or stalled client cannot hold its thread for ever

        def _endpoint(self, method: str) -> str | None:
            """The endpoint asked for, or None once a 404 or 405 has been sent."""
            try:
                if self.path.split("?", 1)[0] == "/openapi.json":
                    if method != "GET":
                        raise oip.ProtocolError(405, "/openapi.json takes GET requests")
                    return "openapi"
                return oip.route(method, self.path, model)
            except oip.ProtocolError as exc:
                allow = {"Allow": "POST" if method == "GET" else "GET"} \
                    if exc.status == HTTPStatus.METHOD_NOT_ALLOWED else None
                self._send(exc.status, {"error": exc.message}, allow)
                return None

        def _answer(self, endpoint: str, body: bytes | None) -> None:
            try:
                self._send(HTTPStatus.OK, self._work(endpoint, body))
            except oip.ProtocolError as exc:
                self._send(exc.status, {"error": exc.message})

        def _work(self, endpoint: str, body: bytes | None) -> dict[str, Any]:
            if endpoint == "infer":
                assert body is not None
                return graph.infer(body, self.headers.get(oip.HEADER_LENGTH))
            if endpoint == "openapi":
                return graph.openapi()
            if endpoint == "live":
                return {"live": True}
            if endpoint == "ready":
                return {"ready": True}
            if endpoint == "model_ready":
                return {"name": model.name, "ready": True}
            if endpoint == "server":
                return oip.server_metadata("mlcycle-bundle", oip.PROTOCOL)
            return oip.metadata(model)

        def do_GET(self) -> None:
            endpoint = self._endpoint("GET")
            if endpoint is not None:
                self._answer(endpoint, None)

        def do_POST(self) -> None:
            endpoint = self._endpoint("POST")
            if endpoint is None:
                return
            body = self._body()
            if body is not None:
                self._answer(endpoint, body)

    Handler.max_body = max_body
    return Handler


def make_server(graph: Graph, host: str, port: int, max_body: int,
                idle_timeout: float | None = IDLE_TIMEOUT) -> JsonServer:
    return JsonServer((host, port), _handler(graph, max_body, idle_timeout))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="server.py", description="Serve this bundle's model with the Open Inference "
        "Protocol v2 (numpy and onnxruntime only).")
    # Loopback unless told otherwise; a container's CMD says 0.0.0.0 (see the Dockerfile).
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--max-body", type=float, default=MAX_BODY_MIB, metavar="MIB",
                        help="largest request body, in MiB (larger ones get 413)")
    parser.add_argument("--timeout", type=float, default=IDLE_TIMEOUT, metavar="SECONDS",
                        help="close a connection that stays silent this long")
    parser.add_argument("--threads", type=int, default=1,
                        help="onnxruntime threads per request")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535 or args.max_body <= 0 or args.timeout <= 0 \
            or args.threads < 1:
        parser.error("--port is 0 to 65535; --max-body, --timeout and --threads are positive")
    folder = Path(__file__).resolve().parent
    try:
        graph = load(folder, args.threads)
        server = make_server(graph, args.host, args.port, int(args.max_body * 2**20),
                             args.timeout)
    except BundleError as exc:
        print(f"server.py: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"server.py: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    name = graph.model.name
    print(f"serving {name} v{graph.model.version} on http://{host}:{port} (Open Inference "
          f"Protocol v2: POST /v2/models/{name}/infer; GET /openapi.json)",
          file=sys.stderr, flush=True)

    def terminate(*_args: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever(poll_interval=0.2)
    finally:
        server.close()
    print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
