"""Experiment tracking: runs with parameters, metrics over steps, tags and artifacts.

The semantics are MLflow's: start a run, log parameters (one value per key), metrics (a value
per step), tags and artifacts, end it. Writes go through the process's journal (see
``mlcycle.store.journal``), so a log call costs microseconds and is durable when it returns;
reads fold pending journals first and then query DuckDB, so a run is visible while it is being
logged.

    from mlcycle.models import tracking
    with tracking.start_run(ws, "churn", name="my-xgb") as run:
        run.log_params({"depth": 6})
        for step in range(20):
            run.log_metric("loss", loss, step=step)
        run.log_dict({"notes": "..."}, "notes.json")
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlcycle import projects
from mlcycle.store import journal
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso
from mlcycle.store.workspace import Workspace, file_sha256

RUN_KINDS = ("custom", "trial", "baseline")
STATUSES = ("running", "finished", "failed", "killed")
_KEY = re.compile(r"^[A-Za-z0-9_.\-/ ]{1,250}$")
_known_projects: set[tuple[Path, str]] = set()


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInput(
            f"key {key!r} is not valid: use up to 250 letters, digits, spaces or _ . - /"
        )
    return key


def _param_value(value: Any) -> Any:
    """A parameter as JSON holds it: numbers, booleans, text, lists, objects; else its text."""
    import math
    import numbers

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):  # numpy integers too
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else str(value)  # JSON has no NaN
    if isinstance(value, (list, tuple)):
        return [_param_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _param_value(v) for k, v in value.items()}
    return str(value)


def _stored_param(text: str | None) -> Any:
    """A stored parameter with its type; runs logged before parameters were JSON hold plain
    text, which reads as JSON when it is a number and as itself otherwise."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class Run:
    """A run being logged. Use as a context manager, or call :meth:`end`."""

    def __init__(self, ws: Workspace, project: str, run_id: str) -> None:
        self.ws = ws
        self.project = project
        self.id = run_id
        self._journal = journal.for_workspace(ws)
        self._ended = False

    def _log(self, record_type: str, **fields: Any) -> None:
        if self._ended:
            raise InvalidInput(f"run {self.id} has ended; start a new run to log more")
        self._journal.append({"t": record_type, "run": self.id, "ts": time.time(), **fields})

    def log_param(self, key: str, value: Any) -> None:
        # Stored as JSON, so that it reads back as logged: 0.5 a number, "rbf" text.
        self._log("param", key=_check_key(key), value=_param_value(value))

    def log_params(self, params: dict[str, Any]) -> None:
        for key, value in params.items():
            self.log_param(key, value)

    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"metric {key!r} must be a number, not {value!r}") from None
        self._log("metric", key=_check_key(key), value=number, step=int(step))

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def set_tag(self, key: str, value: Any) -> None:
        self._log("tag", key=_check_key(key), value=None if value is None else str(value))

    def set_tags(self, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.set_tag(key, value)

    def log_artifact(self, path: str | Path, name: str | None = None) -> str:
        """Copy a file into the run's artifacts; returns its content hash."""
        source = Path(path)
        if not source.is_file():
            raise NotFound(f"{source}: no such file to log as an artifact")
        temp = self.ws.temp_path()
        shutil.copyfile(source, temp)
        return self._store(temp, name or source.name)

    def log_bytes(self, data: bytes, name: str) -> str:
        temp = self.ws.temp_path()
        temp.write_bytes(data)
        return self._store(temp, name)

    def log_dict(self, obj: Any, name: str) -> str:
        return self.log_bytes(json.dumps(obj, indent=2, default=str).encode(), name)

    def _store(self, temp: Path, name: str) -> str:
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            temp.unlink(missing_ok=True)
            raise InvalidInput(f"artifact name {name!r} must be a plain file name")
        digest = file_sha256(temp)
        size = temp.stat().st_size
        relpath = f"runs/{self.id}/{name}"
        self.ws.commit_file(temp, relpath)
        self._log("artifact", name=name, path=relpath, sha256=digest, size=size)
        return digest

    @property
    def ended(self) -> bool:
        return self._ended

    def end(self, status: str = "finished") -> None:
        if self._ended:
            return
        if status not in STATUSES[1:]:
            raise InvalidInput(f"status {status!r} is not one of: {', '.join(STATUSES[1:])}")
        self._log("end", status=status)
        self._ended = True
        self._journal.fold_soon()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        from mlcycle.store.cancel import Cancelled

        if exc_type is KeyboardInterrupt or (exc_type and issubclass(exc_type, Cancelled)):
            self.end("killed")
        else:
            self.end("failed" if exc_type else "finished")


def start_run(
    ws: Workspace,
    project: str,
    name: str | None = None,
    *,
    kind: str = "custom",
    group: str | None = None,
    tags: dict[str, Any] | None = None,
) -> Run:
    """Start a run of ``project``; ``group`` ties together the trials of one search."""
    if kind not in RUN_KINDS:
        raise InvalidInput(f"run kind {kind!r} is not one of: {', '.join(RUN_KINDS)}")
    if (ws.root, project) not in _known_projects:
        projects.get(ws, project)
        _known_projects.add((ws.root, project))
    run = Run(ws, project, uuid.uuid4().hex[:12])
    run._log("start", project=project, name=name, kind=kind, group=group, pid=os.getpid())
    if tags:
        run.set_tags(tags)
    return run


def resume_run(ws: Workspace, run_id: str) -> Run:
    """Log more to an ended run (for example its holdout evaluation), as MLflow allows."""
    record = get_run(ws, run_id)
    return Run(ws, record.project, record.id)


# -- reading --------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """A run as stored: its latest value of each metric, its params and tags."""

    id: str
    project: str
    name: str | None
    kind: str
    status: str
    group: str | None
    started_at: datetime
    ended_at: datetime | None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "group": self.group,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at) if self.ended_at else None,
            "duration_s": self.duration,
            "params": self.params,
            "metrics": self.metrics,
            "tags": self.tags,
            "artifacts": self.artifacts,
        }


def refresh(ws: Workspace) -> None:
    """Fold pending journals, so that a read sees every run logged so far."""
    if journal.pending(ws):
        journal.fold(ws)


def runs(
    ws: Workspace,
    project: str,
    *,
    sort: str | None = None,
    descending: bool = True,
    limit: int | None = None,
    group: str | None = None,
) -> list[RunRecord]:
    """The project's runs, newest first, or sorted by the latest value of metric ``sort``."""
    from mlcycle.models import run_search

    return run_search.page(ws, project, sort=sort, descending=descending, limit=limit,
                           group=group).records


def fill(con: Any, records: list[RunRecord]) -> None:
    """Give ``records`` their latest metrics, params, tags and artifacts, in four queries."""
    if not records:
        return
    ids = [r.id for r in records]
    by_id = {r.id: r for r in records}
    # A semi-join on the page's ids: reads the index side once, however many runs there are.
    among = "run_id IN (SELECT unnest(?::VARCHAR[]))"
    for run_id, key, value in con.execute(
        f"SELECT run_id, key, value FROM run_latest_metrics WHERE {among}", [ids]  # noqa: S608
    ).fetchall():
        by_id[run_id].metrics[key] = value
    for table, attr in (("run_params", "params"), ("run_tags", "tags")):
        for run_id, key, value in con.execute(
            f"SELECT run_id, key, value FROM {table} WHERE {among}",  # noqa: S608
            [ids],
        ).fetchall():
            getattr(by_id[run_id], attr)[key] = (
                _stored_param(value) if attr == "params" else value)
    for run_id, name, path, sha, size in con.execute(
        f"SELECT run_id, name, path, sha256, size_bytes FROM run_artifacts WHERE {among}",  # noqa: S608
        [ids],
    ).fetchall():
        by_id[run_id].artifacts[name] = {"path": path, "sha256": sha, "size": size}


def get_run(ws: Workspace, ref: str) -> RunRecord:
    """A run by id or unique id prefix."""
    if not re.fullmatch(r"[0-9a-f]{4,32}", ref or ""):
        raise InvalidInput(f"{ref!r} is not a run id (hex, at least 4 characters)")
    refresh(ws)
    with ws.read() as con:
        rows = con.execute(
            "SELECT id, project, name, kind, status, group_id, started_at, ended_at FROM runs "
            "WHERE starts_with(id, ?) LIMIT 2",
            [ref],
        ).fetchall()
        if not rows:
            raise NotFound(f"no run {ref!r}")
        if len(rows) > 1:
            raise InvalidInput(f"{ref!r} matches several runs; give more of the id")
        record = RunRecord(*rows[0])
        fill(con, [record])
    return record


def artifact_path(ws: Workspace, run: RunRecord, name: str) -> Path:
    """The verified path of a run's artifact: its hash must match what was logged."""
    info = run.artifacts.get(name)
    if info is None:
        raise NotFound(f"run {run.id} has no artifact {name!r}")
    return ws.verified_path(info["path"], info["sha256"], f"artifact {name!r} of run {run.id}")


def compare(a: RunRecord, b: RunRecord) -> dict[str, Any]:
    """Params and metrics of two runs side by side, differences first."""

    def side(key: str, da: dict[str, Any], db: dict[str, Any]) -> dict[str, Any]:
        return {"key": key, "a": da.get(key), "b": db.get(key), "same": da.get(key) == db.get(key)}

    params = [side(k, a.params, b.params) for k in sorted(set(a.params) | set(b.params))]
    metrics = [side(k, a.metrics, b.metrics) for k in sorted(set(a.metrics) | set(b.metrics))]
    params.sort(key=lambda row: row["same"])
    return {"a": a.id, "b": b.id, "params": params, "metrics": metrics}


def step_histories(ws: Workspace, run_id: str) -> dict[str, list[float]]:
    """Every metric of a run as its values in step order (for charts)."""
    refresh(ws)
    out: dict[str, list[float]] = {}
    with ws.read() as con:
        for key, value in con.execute(
            "SELECT key, value FROM run_metrics WHERE run_id = ? ORDER BY key, step, ts", [run_id]
        ).fetchall():
            out.setdefault(key, []).append(float(value))
    return out
