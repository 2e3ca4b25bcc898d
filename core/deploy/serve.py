"""A local prediction service: HTTP JSON over the same scoring path as ``mlcycle predict``.

Endpoints: ``POST /predict`` (``{"rows": [...]}`` or one row object), ``GET /health``,
``GET /openapi.json``, and the Open Inference Protocol v2 under ``/v2`` (as KServe and
Triton speak it; ``mlcycle.deploy.oip_serve``). It binds to loopback unless told otherwise.

Why the standard library's ``ThreadingHTTPServer``: the service answers JSON on loopback for
one workbench user, so it needs request parsing, threads and nothing else; ``http.server``
does the HTTP parsing (no hand-written parsing here), adds no dependency, and onnxruntime's
``InferenceSession.run`` is thread-safe, so one session serves every thread. A larger listen
backlog than the default (5) lets a burst of concurrent clients queue instead of failing.

Strategies (the project's deployment config, mlcycle.deploy.config): ``shadow`` (the
champion answers, the challenger scores every row beside it), ``canary`` (the challenger
answers a sticky share of rows, rolled back when it crosses a limit) and ``blue_green`` (two
loaded slots, one live). Every prediction names the version that made it.

Hot reload: the deployment (config, state and the aliases it names) is read from the
workspace at most once per ``RELOAD_SECONDS``, on a request; when it has moved, the versions
needed are loaded (parity-checked graphs) and the whole route is swapped in between requests,
so a request is answered under one route from start to end. Scoring is logged in
``scoring_runs`` once per ``FLUSH_SECONDS`` (one run per interval and version), so a burst of
requests costs no workspace write each.

Limits, so that no request can take the service down: a body over ``MAX_BODY`` (10 MiB,
``--max-body``) is refused with 413 and never kept (what the client still sends is read and
thrown away for up to 2 seconds, so that it reads the 413); a connection silent for
``IDLE_TIMEOUT`` seconds (``--timeout``) is closed, so it cannot hold a thread; a body that
nests too deeply, holds a number a float cannot (1e400, NaN, Infinity) or a field that is
not a scalar is refused with 400 naming the field, before any scoring (on ``/v2`` NaN is a
missing value). Every answer is JSON (``{"error": ...}`` for errors, http.server's own
included; a ``/v2`` answer asked for in binary tensors carries them after its JSON); 500
means a bug in mlcycle. A client that hangs up mid-request is dropped without a traceback.
Ctrl-C or SIGTERM stops taking connections, answers the requests in flight (for up to 10
seconds), logs the scoring and exits 0.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from mlcycle.deploy import (
    abtest,
    canary_watch,
    oip,
    oip_serve,
    predictions,
    routing,
    runs,
    score_input,
    scoring,
    shadows,
    strategies,
)
from mlcycle.deploy import config as configs
from mlcycle.deploy.labels import row_keys
from mlcycle.deploy.oip_server import JsonHandler, JsonServer
from mlcycle.models import model_input
from mlcycle.store.errors import InvalidInput, MlcycleError, first_line

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mlcycle.store.workspace import Workspace

RELOAD_SECONDS = 1.0
FLUSH_SECONDS = 5.0
MAX_BODY = 10 * 1024 * 1024
MAX_ROWS = 100_000
IDLE_TIMEOUT = 30.0  # seconds a connection may stay silent before it is closed
# The JSON Schema type of a classifier's prediction, by its label type (model_input).
_JSON_TYPES = {"string": "string", "integer": "integer", "boolean": "boolean"}


class _Tally:
    """Predictions served by one (version, shadow version) pair since the last flush."""

    def __init__(self, task: str, classes: list[str], shadow: bool) -> None:
        self.summary = predictions.Summary(task, classes)
        self.shadow_summary = predictions.Summary(task, classes) if shadow else None
        self.seconds = 0.0
        self.shadow_rows: list[Any] = []


# The canary is judged every this many of its requests once it has enough (a judgement
# computes a quantile and a PSI: too much work for every request).
JUDGE_EVERY = 10


class Service:
    """The models being served, as the project's deployment strategy routes requests to
    them (mlcycle.deploy.routing), and what they have scored."""

    def __init__(self, ws: Workspace, project: str, ref: str, shadow: bool = True,
                 say: Callable[[str], None] | None = None) -> None:
        self.ws, self.project, self.ref, self.shadow = ws, project, ref, shadow
        self.say = say or (lambda _text: None)
        self.lock = threading.Lock()
        self.started = time.time()
        self.requests = 0
        self.reload_error: str | None = None
        self.reloads = 0
        self.router = routing.Router(ws, project, ref, shadow)
        declared = self.router.declared()
        self.route = self.router.load(declared)
        self._declared = declared.key
        self.watch = canary_watch.CanaryWatch(self.route.revision)
        self.rolled_back: dict[str, Any] | None = None  # this server's last rollback
        self._unsaved_rollback: tuple[dict[str, Any], int] | None = None
        self._checked = time.monotonic()
        self._checking = threading.Lock()
        self._tallies: dict[tuple[int, int | None], _Tally] = {}
        self._answers: dict[tuple[int, int], list[Any]] = {}

    @property
    def main(self) -> scoring.Scorer:
        return self.route.main

    def maybe_reload(self) -> None:
        """Follow the deployment (config, state, aliases) when it moves; at most once a
        second."""
        if time.monotonic() - self._checked < RELOAD_SECONDS:
            return
        if not self._checking.acquire(blocking=False):
            return  # another request is checking
        try:
            self._checked = time.monotonic()
            if self._unsaved_rollback and not self._save_rollback():
                return  # the old state must not bring the canary back before it is saved
            declared = self.router.declared()
            if declared.key != self._declared:
                route = self.router.load(declared)
                with self.lock:
                    self.route, self._declared = route, declared.key
                    self.reloads += 1
                    if route.revision != self.watch.revision:
                        self.watch = canary_watch.CanaryWatch(route.revision)
            self.reload_error = None
        except MlcycleError as exc:
            if str(exc) != self.reload_error:  # said once per problem, not once a second
                self.say(f"note: the deployment changed but cannot be followed ({exc}); "
                         "still serving the route loaded before")
            self.reload_error = str(exc)  # keep serving the models already loaded
        finally:
            self._checking.release()

    def _roll_back(self, route: routing.Route, verdict: dict[str, Any]) -> None:
        """The canary crossed a limit: every row to the champion now, and the rollback
        saved in the workspace (by the next reload check if the workspace is busy)."""
        assert route.other is not None
        figures = {**verdict, "champion": route.main.version.version,
                   "challenger": route.other.version.version}
        with self.lock:
            if self.route.revision != route.revision or not self.route.share:
                return  # already rolled back, or a new step since
            self.route = routing.without_canary(self.route)
            self.rolled_back = figures
            self._unsaved_rollback = (figures, route.revision)
        drivers = canary_watch.drivers_line(verdict["drivers"])
        self.say(f"rolled back the canary v{figures['challenger']}: "
                 + "; ".join(verdict["crossed"]) + f" over {verdict['keys']} keys"
                 + (f" ({drivers})" if drivers else ""))
        with self._checking:
            self._save_rollback()

    def _save_rollback(self) -> bool:
        if self._unsaved_rollback is None:
            return True
        try:
            strategies.rollback(self.ws, self.project, *self._unsaved_rollback)
        except MlcycleError as exc:
            self.reload_error = f"rollback not saved yet: {exc}"
            return False
        self._unsaved_rollback = None
        return True

    def predict(self, rows: list[dict[str, Any]],
                headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        import polars as pl

        self.maybe_reload()
        with self.lock:
            route, watch = self.route, self.watch
        main = route.main
        started = time.perf_counter()
        # A field left out of one row would read as a missing value (the row scored with a
        # null); refuse it instead, by the field's name as the client sends it.
        needed = model_input.raw_columns(main.signature)
        for number, row in enumerate(rows, 1):
            missing = [c for c in needed if c not in row]
            if missing:
                where = "the row" if len(rows) == 1 else f"row {number}"
                raise InvalidInput(f"{where} is missing column(s) the model needs: "
                                   f"{', '.join(missing)}")
        try:
            raw = pl.from_dicts(rows, infer_schema_length=None)
        except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
            raise InvalidInput(f"rows could not be read: {first_line(exc)}") from None
        canary = route.canary
        # Under a canary config the keys are read even at a share of 0, so that a request
        # the canary would refuse (a routing header sent twice) is refused at every share.
        keys = route.keys(rows, headers or {}) if route.strategy == configs.CANARY else []
        picked = [] if canary is None else [
            i for i, key in enumerate(keys) if strategies.to_canary(key, route.share,
                                                                   self.project)]
        answered = []  # (row positions, scorer, raw rows, model inputs, predictions)
        failed = None  # seconds the canary spent before it failed its rows, and the rows
        if canary is not None and picked:
            part = raw[picked]
            began = time.perf_counter()
            try:
                inputs = score_input.model_frame(part, canary.signature)
                pred = canary.predict(inputs)
            except Exception:  # the champion answers these rows instead
                failed = time.perf_counter() - began, picked
                picked = []
            else:
                watch.canary(time.perf_counter() - began, [keys[i] for i in picked],
                             canary_watch.score_values(pred))
                answered.append((picked, canary, part, inputs, pred))
        chosen = set(picked)
        rest = [i for i in range(len(rows)) if i not in chosen]
        if rest:
            part = raw if not chosen else raw[rest]
            inputs = score_input.model_frame(part, main.signature)
            pred = main.predict(inputs)
            answered.append((rest, main, part, inputs, pred))
            if canary is not None:
                watch.champion([keys[i] for i in rest], canary_watch.score_values(pred))
        if failed is not None:
            # Counted once the champion has answered: rows both refuse are the client's
            # fault (refused with 400 above), not the canary's.
            watch.canary(failed[0], [keys[i] for i in failed[1]], None)
        shadow_pred = None
        second = route.shadow
        if second is not None:
            shadow_pred = second.predict(score_input.model_frame(raw, second.signature))
        seconds = time.perf_counter() - started
        self._tally(route, answered, raw, shadow_pred, seconds)
        if canary is not None and watch.requests >= route.limits.min_requests and (
                watch.requests - route.limits.min_requests) % JUDGE_EVERY == 0:
            verdict = watch.judge(route.limits)
            if verdict:
                self._roll_back(route, verdict)
        out: list[dict[str, Any]] = [{} for _ in rows]
        for positions, scorer, part, _inputs, pred in answered:
            for position, item in zip(positions, _items(scorer, part, pred)):
                out[position] = item
        versions = sorted({scorer.version.version for _p, scorer, *_ in answered})
        return {"model_version": versions[0] if len(versions) == 1 else None,
                "predictions": out}

    def _tally(self, route: routing.Route, answered: list[Any], raw: Any,
               shadow_pred: dict[str, Any] | None, seconds: float) -> None:
        import polars as pl

        main, second = route.main, route.shadow
        with self.lock:
            self.requests += 1
            for positions, scorer, part, inputs, pred in answered:
                key = (scorer.version.version, second.version.version if second else None)
                tally = self._tallies.get(key)
                if tally is None:
                    tally = self._tallies[key] = _Tally(
                        scorer.signature.task, scorer.signature.classes, second is not None)
                tally.summary.add(pred)
                tally.seconds += seconds * len(positions) / raw.height
                if shadow_pred is not None and second is not None:
                    assert tally.shadow_summary is not None
                    tally.shadow_summary.add(shadow_pred)
                    tally.shadow_rows.append(shadows.shadow_frame(
                        row_keys(raw, inputs, main.identifier), pred, shadow_pred,
                        main.signature))
                if route.canary is not None:
                    pair = (main.version.version, route.canary.version.version)
                    self._answers.setdefault(pair, []).append(pl.concat([
                        pl.DataFrame([row_keys(part, inputs, main.identifier)]),
                        pl.DataFrame({"model_version": [scorer.version.version] * part.height}),
                        predictions.prediction_frame(pred, scorer.signature)], how="horizontal"))

    def flush(self) -> None:
        """Log what was scored since the last flush: one scoring run per version pair, and
        the rows each arm of a canary answered."""
        with self.lock:
            tallies, self._tallies = self._tallies, {}
            answers, self._answers = self._answers, {}
        for (version, shadow_version), tally in tallies.items():
            if not tally.summary.rows:
                continue
            runs.log_run(
                self.ws, self.project, version, "serve", tally.summary.rows, tally.seconds,
                tally.summary.to_dict(), shadow_version,
                tally.shadow_summary.to_dict() if tally.shadow_summary else None,
                tally.shadow_rows,
            )
        for (control, treatment), frames in answers.items():
            abtest.log_answers(self.ws, self.project, control, treatment, frames)

    def health(self) -> dict[str, Any]:
        self.maybe_reload()
        with self.lock:
            route, watch = self.route, self.watch
        out = {
            "status": "ok",
            "project": self.project,
            "serving": self.ref,
            "version": route.main.version.version,
            "shadow_version": route.shadow.version.version if route.shadow else None,
            **route.describe(),
            "requests": self.requests,
            "reloads": self.reloads,
            "reload_error": self.reload_error,
            "uptime_seconds": round(time.time() - self.started, 1),
        }
        if route.strategy == configs.CANARY:
            out["canary"]["figures"] = watch.figures()
            out["canary"]["rolled_back"] = self.rolled_back
        return out

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
            "prediction": {"type": _JSON_TYPES[sig.label_type]
                           if sig.task == "classification" else "number"},
            "model_version": {"type": "integer", "description": "the version that made it"},
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
                                "model_version": {
                                    "type": "integer", "nullable": True, "description":
                                    "null when a canary batch was answered by both"},
                                "predictions": {"type": "array", "items": prediction},
                                "prediction": prediction}}}}},
                        "400": {"description": "bad input", "content": error},
                    }}},
                "/health": {"get": {"summary": "Which version serves", "responses": {
                    "200": {"description": "ok"}}}},
                "/openapi.json": {"get": {"summary": "This description", "responses": {
                    "200": {"description": "ok"}}}},
                **oip_serve.openapi_paths(self),
            },
        }


class BadRequest(MlcycleError):
    """A request body that cannot be rows: answered 400 with this message."""


def read_rows(body: bytes) -> tuple[list[dict[str, Any]], bool]:
    """The rows a request body sends, and whether it sent a single row object.

    Raises ``BadRequest`` for anything else: text that is not JSON, nesting deeper than the
    parser's stack (rows are flat, so nothing legitimate comes close), a number that is not
    finite or that float32 cannot hold, or a field whose value is not a number, string,
    boolean or null.
    """
    try:
        data = oip.loads(body)  # the JSON reading both protocols share
    except oip.ProtocolError as exc:
        raise BadRequest(exc.message) from None
    single = isinstance(data, dict) and "rows" not in data
    rows = [data] if single else data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise BadRequest('send one row object or {"rows": [row objects]}')
    if len(rows) > MAX_ROWS:
        raise BadRequest(f"at most {MAX_ROWS} rows per request; use 'mlcycle predict' for files")
    for number, row in enumerate(rows, 1):
        for key, value in row.items():
            where = f"field {_short(key)}" + ("" if single else f" of row {number}")
            if isinstance(value, (int, float)) and abs(value) > oip.FP32_MAX:
                # The model computes in float32, where this number reads as infinity.
                raise BadRequest(f"{where} is {value:g}, beyond the range of float32 "
                                 f"(±{oip.FP32_MAX:.4g})")
            if value is None or isinstance(value, (bool, int, float, str)):
                continue
            if isinstance(value, oip.NotFinite):
                raise BadRequest(f"{where} is {_short(value.text)}, not a finite number")
            kind = "an object" if isinstance(value, dict) else "a list"
            raise BadRequest(f"{where} holds {kind}; send numbers, strings, booleans or null")
    return rows, single


def _short(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _items(scorer: scoring.Scorer, raw: Any, pred: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer for each row: its prediction, probabilities, id and the version."""
    import polars as pl

    out = []
    version = scorer.version.version
    for record in predictions.prediction_frame(pred, scorer.signature).to_dicts():
        item: dict[str, Any] = {"prediction": record.pop("prediction"), "model_version": version}
        if record:
            item["probabilities"] = {k.removeprefix("probability_"): v
                                     for k, v in record.items()}
        out.append(item)
    if scorer.identifier and scorer.identifier in raw.columns:
        for item, ident in zip(out, raw.get_column(scorer.identifier).cast(pl.Utf8).to_list()):
            item["id"] = ident
    return out


def _handler(service: Service, max_body: int, idle_timeout: float | None,
             say: Callable[[str], None]) -> type[BaseHTTPRequestHandler]:
    from polars.exceptions import PanicException  # pyo3's, a BaseException

    endpoints = {"/predict": "POST", "/health": "GET", "/openapi.json": "GET"}

    class Handler(JsonHandler):
        server_version = "mlcycle"
        # Applied to each connection's socket: an idle or stalled client is dropped instead
        # of holding its thread for ever (http.server closes quietly on the timeout).
        timeout = idle_timeout
        too_large_hint = "send fewer rows per request, or use 'mlcycle predict' for files"

        def _route(self, method: str) -> str | None:
            """The endpoint asked for, or None once a 404 or 405 has been sent."""
            path = self.path.split("?", 1)[0]
            if path == "/v2" or path.startswith("/v2/"):
                try:
                    oip_serve.route(service, method, self.path)
                except oip.ProtocolError as exc:
                    self._send(exc.status, {"error": exc.message})
                    return None
                return path
            allowed = endpoints.get(path)
            if allowed is None:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {_short(path)}"})
                return None
            if allowed != method:
                self._send(HTTPStatus.METHOD_NOT_ALLOWED,
                           {"error": f"{path} takes {allowed} requests"}, {"Allow": allowed})
                return None
            return path

        def _answer(self, work: Callable[[], dict[str, Any]]) -> None:
            try:
                self._send(HTTPStatus.OK, work())
            except oip.ProtocolError as exc:
                self._send(exc.status, {"error": exc.message})
            except MlcycleError as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            except (Exception, PanicException) as exc:  # a bug: one line, and keep serving
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                say(f"note: internal error on {self.command} {_short(self.path)}: "
                    f"{type(exc).__name__}: {text}")
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR,
                           {"error": f"internal error: {type(exc).__name__}: {text}"})

        def do_GET(self) -> None:
            path = self._route("GET")
            if path == "/health":
                self._answer(service.health)
            elif path == "/openapi.json":
                self._answer(service.openapi)
            elif path is not None:
                self._answer(lambda: oip_serve.answer(service, "GET", self.path, None))

        def do_POST(self) -> None:
            path = self._route("POST")
            if path is None:
                return
            body = self._body()
            if body is None:
                return
            if path == "/predict":
                self._answer(lambda: self._predict(body))
            else:
                self._answer(lambda: oip_serve.answer(service, "POST", self.path, body,
                                                      self.headers))

        def _predict(self, body: bytes) -> dict[str, Any]:
            rows, single = read_rows(body)
            result = service.predict(rows, self.headers)
            if single:
                return {"model_version": result["model_version"],
                        "prediction": result["predictions"][0]}
            return result

    Handler.max_body = max_body
    return Handler


def make_server(service: Service, host: str, port: int, *, max_body: int = MAX_BODY,
                idle_timeout: float | None = IDLE_TIMEOUT,
                say: Callable[[str], None] | None = None) -> JsonServer:
    tell = say or (lambda _text: None)
    server = JsonServer((host, port), _handler(service, max_body, idle_timeout, tell))
    server.say = tell  # type: ignore[method-assign]
    return server


class Serving:
    """A prediction service bound to its address, served by :meth:`serve` in one thread and
    stopped by :meth:`stop` from any other (the terminal UI serves from a thread of its own).

    Raises ``InvalidInput`` when the address cannot be listened on."""

    def __init__(self, ws: Workspace, project: str, ref: str, host: str, port: int,
                 shadow: bool = True, say: Callable[[str], None] | None = None,
                 max_body: int = MAX_BODY, idle_timeout: float | None = IDLE_TIMEOUT) -> None:
        self.say = say or (lambda _t: None)
        self.project, self.ref = project, ref
        self.service = Service(ws, project, ref, shadow, self.say)
        try:
            self.server = make_server(self.service, host, port, max_body=max_body,
                                      idle_timeout=idle_timeout, say=self.say)
        except OSError as exc:
            raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self.host, self.port = self.server.server_address[:2]
        self._started = threading.Event()
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1")

    def describe(self, endpoints: bool = True) -> str:
        """What serves, and where (and, with ``endpoints``, what it answers)."""
        paths = (f" (POST /predict, GET /health, GET /openapi.json; Open Inference Protocol: "
                 f"POST /v2/models/{self.project}/infer)" if endpoints else "")
        return (f"serving {self.project} {self.service.route.summary(self.ref)} on "
                f"{self.url}{paths}")

    def serve(self) -> None:
        """Answer requests in the calling thread until :meth:`stop` (or an interrupt);
        scoring is logged on the way out."""
        stop = threading.Event()

        def flusher() -> None:
            while not stop.wait(FLUSH_SECONDS):
                try:
                    self.service.flush()
                except MlcycleError as exc:
                    self.say(f"note: could not log scoring: {exc}")

        thread = threading.Thread(target=flusher, daemon=True)
        thread.start()
        self._started.set()
        try:
            if not self._stopped.is_set():
                self.server.serve_forever(poll_interval=0.2)
        finally:
            self.server.close()  # the requests in flight are answered first
            stop.set()
            # A flush in progress holds tallies it has taken: let it finish before exiting.
            thread.join(timeout=60)
            self.service.flush()
            self.say("stopped")

    def stop(self) -> None:
        """End :meth:`serve` (from another thread); returns once no new request is taken
        (:meth:`serve` answers those in flight before it returns)."""
        self._stopped.set()
        if self._started.is_set():
            self.server.shutdown()  # waits for serve_forever to return


def run(ws: Workspace, project: str, ref: str, host: str, port: int, shadow: bool = True,
        say: Callable[[str], None] | None = None, max_body: int = MAX_BODY,
        idle_timeout: float | None = IDLE_TIMEOUT) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM); the requests in flight are answered and
    scoring is logged on the way out."""
    tell = say or (lambda _t: None)
    serving = Serving(ws, project, ref, host, port, shadow, tell, max_body, idle_timeout)

    def terminate(*_args: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    if not serving.loopback:
        tell(f"note: listening on {host}, not only loopback: other machines can reach it")
    tell(serving.describe())
    with contextlib.suppress(KeyboardInterrupt):
        serving.serve()
