"""A local prediction service: HTTP JSON over the same scoring path as ``mlcycle predict``.

Endpoints: ``POST /predict`` (``{"rows": [...]}`` or one row object), ``GET /health``,
``GET /openapi.json``. It binds to loopback unless told otherwise.

Why the standard library's ``ThreadingHTTPServer``: the service answers JSON on loopback for
one workbench user, so it needs request parsing, threads and nothing else; ``http.server``
does the HTTP parsing (no hand-written parsing here), adds no dependency, and onnxruntime's
``InferenceSession.run`` is thread-safe, so one session serves every thread. A larger listen
backlog than the default (5) lets a burst of concurrent clients queue instead of failing.

Hot reload: with an alias (the champion by default), the alias is read from the registry at
most once per ``RELOAD_SECONDS``, on a request; when it has moved, the new version's
parity-checked graph is loaded and swapped in between requests. Scoring is logged in
``scoring_runs`` once per ``FLUSH_SECONDS`` (one run per interval and version), so a burst of
requests costs no workspace write each.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from core import model_input, registry, scoring
from core.errors import MlcycleError

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.workspace import Workspace

RELOAD_SECONDS = 1.0
FLUSH_SECONDS = 5.0
MAX_BODY = 20 * 1024 * 1024
MAX_ROWS = 100_000


class _Tally:
    """Predictions served by one (version, shadow version) pair since the last flush."""

    def __init__(self, task: str, classes: list[str], shadow: bool) -> None:
        self.summary = scoring.Summary(task, classes)
        self.shadow_summary = scoring.Summary(task, classes) if shadow else None
        self.seconds = 0.0
        self.shadow_rows: list[Any] = []


class Service:
    """The models being served and what they have scored."""

    def __init__(self, ws: Workspace, project: str, ref: str, shadow: bool = True) -> None:
        self.ws, self.project, self.ref, self.shadow = ws, project, ref, shadow
        self.lock = threading.Lock()
        self.started = time.time()
        self.requests = 0
        self.reload_error: str | None = None
        self.reloads = 0
        self.main, self.second = self._load()
        self._checked = time.monotonic()
        self._checking = threading.Lock()
        self._tallies: dict[tuple[int, int | None], _Tally] = {}

    def _load(self) -> tuple[scoring.Scorer, scoring.Scorer | None]:
        main = scoring.scorer(self.ws, self.project, self.ref)
        second = scoring.shadow_of(self.ws, self.project, main.version) if self.shadow else None
        return main, second

    def maybe_reload(self) -> None:
        """Follow the alias (and the challenger) when they move; at most once a second."""
        if time.monotonic() - self._checked < RELOAD_SECONDS:
            return
        if not self._checking.acquire(blocking=False):
            return  # another request is checking
        try:
            self._checked = time.monotonic()
            current = registry.get(self.ws, self.project, self.ref).version
            challenger = None
            if self.shadow:
                try:
                    challenger = registry.get(self.ws, self.project, scoring.CHALLENGER).version
                except MlcycleError:
                    challenger = None
                if challenger == current:
                    challenger = None
            main, second = self.main, self.second
            if current != main.version.version or challenger != (
                    second.version.version if second else None):
                new_main, new_second = self._load()
                with self.lock:
                    self.main, self.second = new_main, new_second
                    self.reloads += 1
            self.reload_error = None
        except MlcycleError as exc:
            self.reload_error = str(exc)  # keep serving the models already loaded
        finally:
            self._checking.release()

    def predict(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import polars as pl

        self.maybe_reload()
        with self.lock:
            main, second = self.main, self.second
        started = time.perf_counter()
        # A field left out of one row would read as a missing value (the row scored with a
        # null); refuse it instead, by the field's name as the client sends it.
        needed = model_input.raw_columns(main.signature)
        for number, row in enumerate(rows, 1):
            missing = [c for c in needed if c not in row]
            if missing:
                where = "the row" if len(rows) == 1 else f"row {number}"
                raise scoring.InvalidInput(f"{where} is missing column(s) the model needs: "
                                           f"{', '.join(missing)}")
        try:
            raw = pl.from_dicts(rows, infer_schema_length=None)
        except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
            raise scoring.InvalidInput(f"rows could not be read: {scoring._first(exc)}") from None
        inputs = scoring.model_frame(raw, main.signature)
        pred = main.predict(inputs)
        frame = scoring.prediction_frame(pred, main.signature)
        shadow_pred = None
        if second is not None:
            shadow_pred = second.predict(scoring.model_frame(raw, second.signature))
        seconds = time.perf_counter() - started
        key = (main.version.version, second.version.version if second else None)
        with self.lock:
            self.requests += 1
            tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = _Tally(main.signature.task, main.signature.classes,
                                                    second is not None)
            tally.summary.add(pred)
            tally.seconds += seconds
            if shadow_pred is not None and tally.shadow_summary is not None:
                tally.shadow_summary.add(shadow_pred)
                tally.shadow_rows.append(scoring.shadow_frame(
                    scoring.row_keys(raw, inputs, main.identifier), pred, shadow_pred,
                    main.signature))
        out = []
        for record in frame.to_dicts():
            item: dict[str, Any] = {"prediction": record.pop("prediction")}
            if record:
                item["probabilities"] = {k.removeprefix("probability_"): v
                                         for k, v in record.items()}
            out.append(item)
        ids = (raw.get_column(main.identifier).cast(pl.Utf8).to_list()
               if main.identifier and main.identifier in raw.columns else None)
        if ids is not None:
            for item, ident in zip(out, ids):
                item["id"] = ident
        return {"model_version": main.version.version, "predictions": out}

    def flush(self) -> None:
        """Log what was scored since the last flush: one scoring run per version pair."""
        with self.lock:
            tallies, self._tallies = self._tallies, {}
        for (version, shadow_version), tally in tallies.items():
            if not tally.summary.rows:
                continue
            scoring.log_run(
                self.ws, self.project, version, "serve", tally.summary.rows, tally.seconds,
                tally.summary.to_dict(), shadow_version,
                tally.shadow_summary.to_dict() if tally.shadow_summary else None,
                tally.shadow_rows,
            )

    def health(self) -> dict[str, Any]:
        self.maybe_reload()
        with self.lock:
            main, second = self.main, self.second
        return {
            "status": "ok",
            "project": self.project,
            "serving": self.ref,
            "version": main.version.version,
            "shadow_version": second.version.version if second else None,
            "requests": self.requests,
            "reloads": self.reloads,
            "reload_error": self.reload_error,
            "uptime_seconds": round(time.time() - self.started, 1),
        }

    def openapi(self) -> dict[str, Any]:
        sig = self.main.signature
        fields = model_input.raw_columns(sig)  # a feature set's derived columns are not sent
        row = {"type": "object", "required": fields, "properties": {
            **{c: {"type": "number", "nullable": True} for c in sig.numeric if c in fields},
            **{c: {"type": "string", "nullable": True,
                   "description": "known: " + ", ".join(sig.categories.get(c, [])[:20])}
               for c in sig.categorical if c in fields},
            **{c: {"nullable": True, "description": "read by the feature set"}
               for c in fields if c not in sig.inputs},
        }}
        prediction: dict[str, Any] = {"type": "object", "properties": {
            "prediction": {"type": "string" if sig.task == "classification" else "number"},
            "id": {"type": "string"},
        }}
        if sig.task == "classification":
            prediction["properties"]["probabilities"] = {
                "type": "object", "properties": {c: {"type": "number"} for c in sig.classes}}
        error = {"application/json": {"schema": {"type": "object", "properties": {
            "error": {"type": "string"}}}}}
        return {
            "openapi": "3.0.3",
            "info": {"title": f"mlcycle: {self.project}", "version": str(
                self.main.version.version), "description": f"Predicts {sig.target} ({sig.task})."},
            "paths": {
                "/predict": {"post": {
                    "summary": "Score one row or a batch",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"oneOf": [row, {"type": "object", "required": ["rows"],
                                                   "properties": {"rows": {
                                                       "type": "array", "items": row}}}]}}}},
                    "responses": {
                        "200": {"description": "predictions", "content": {"application/json": {
                            "schema": {"type": "object", "properties": {
                                "model_version": {"type": "integer"},
                                "predictions": {"type": "array", "items": prediction},
                                "prediction": prediction}}}}},
                        "400": {"description": "bad input", "content": error},
                    }}},
                "/health": {"get": {"summary": "Which version serves", "responses": {
                    "200": {"description": "ok"}}}},
                "/openapi.json": {"get": {"summary": "This description", "responses": {
                    "200": {"description": "ok"}}}},
            },
        }


def _handler(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mlcycle"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scoring runs are the log; a line per request would drown the terminal

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, default=str).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                self._send(HTTPStatus.OK, service.health())
            elif path == "/openapi.json":
                self._send(HTTPStatus.OK, service.openapi())
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {path}"})

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            if path != "/predict":
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {path}"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length <= 0 or length > MAX_BODY:
                self.close_connection = True
                self._send(HTTPStatus.BAD_REQUEST, {
                    "error": f"send a JSON body of 1 byte to {MAX_BODY // 2**20} MiB "
                             "with Content-Length"})
                return
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                self._send(HTTPStatus.BAD_REQUEST, {"error": "the body is not valid JSON"})
                return
            single = isinstance(body, dict) and "rows" not in body
            rows = [body] if single else body.get("rows") if isinstance(body, dict) else None
            if not isinstance(rows, list) or not rows or not all(
                    isinstance(r, dict) for r in rows):
                self._send(HTTPStatus.BAD_REQUEST, {
                    "error": 'send one row object or {"rows": [row objects]}'})
                return
            if len(rows) > MAX_ROWS:
                self._send(HTTPStatus.BAD_REQUEST, {
                    "error": f"at most {MAX_ROWS} rows per request; use 'mlcycle predict' "
                             "for files"})
                return
            try:
                result = service.predict(rows)
            except MlcycleError as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            except Exception as exc:  # a bug must not kill the thread silently
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR,
                           {"error": f"unexpected {type(exc).__name__}: {exc}"})
                return
            if single:
                result = {"model_version": result["model_version"],
                          "prediction": result["predictions"][0]}
            self._send(HTTPStatus.OK, result)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


def make_server(service: Service, host: str, port: int) -> ThreadingHTTPServer:
    return _Server((host, port), _handler(service))


def run(ws: Workspace, project: str, ref: str, host: str, port: int, shadow: bool = True,
        say: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM); scoring is logged on the way out."""
    tell = say or (lambda _t: None)
    service = Service(ws, project, ref, shadow)
    try:
        server = make_server(service, host, port)
    except OSError as exc:
        raise scoring.InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    stop = threading.Event()

    def flusher() -> None:
        while not stop.wait(FLUSH_SECONDS):
            try:
                service.flush()
            except MlcycleError as exc:
                tell(f"note: could not log scoring: {exc}")

    def terminate(*_args: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    thread = threading.Thread(target=flusher, daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    if host not in ("127.0.0.1", "localhost", "::1"):
        tell(f"note: listening on {host}, not only loopback: other machines can reach it")
    shadow_text = (f", challenger v{service.second.version.version} in shadow"
                   if service.second else "")
    tell(f"serving {project} v{service.main.version.version} ({ref}){shadow_text} on "
         f"http://{bound_host}:{bound_port} (POST /predict, GET /health, GET /openapi.json)")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        # A flush in progress holds tallies it has taken: let it finish before exiting.
        thread.join(timeout=60)
        server.server_close()
        service.flush()
        tell("stopped")
