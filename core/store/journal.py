"""Durable, cheap logging for experiment tracking: per-process journals folded into DuckDB.

Logging a metric per training step must cost microseconds, survive a kill the moment the call
returns, and be visible to other processes while the run goes on. A DuckDB commit per call
costs milliseconds and holds the workspace's only write lock, so instead:

- each process appends one JSON line per call to its own file under ``journal/`` with a
  single ``os.write`` on an ``O_APPEND`` descriptor. Once the call returns, the line is in
  the kernel's page cache: killing the process cannot lose it (only a power cut could);
- whoever next holds the write lock folds complete lines into the tables in one transaction,
  together with how far it read (``journal_offsets``), so nothing is applied twice. The
  logging process folds when a run ends (at most every ``FOLD_EVERY`` seconds) and at exit;
  readers fold before they read, so a run is visible while it is being logged;
- a journal whose process has died is folded by the next reader or writer, its unfinished
  runs are marked ``killed``, and the file is removed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.store.sql import fetch_one

if TYPE_CHECKING:
    import duckdb

    from mlcycle.store.workspace import Workspace

FOLD_EVERY = 1.0
_lock = threading.Lock()
_journals: dict[Path, Journal] = {}
# Size of each journal when this process last folded it completely: a fold with nothing new
# to apply must not write, or every reader would keep changing the database file.
_folded_sizes: dict[Path, int] = {}


def journal_dir(ws: Workspace) -> Path:
    return ws.root / "journal"


class Journal:
    """This process's append-only log for one workspace."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.path = journal_dir(ws) / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.ndjson"
        self._fd: int | None = None
        self._last_fold = 0.0

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        with _lock:
            if self._fd is None:
                self.path.parent.mkdir(exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(self._fd, line)

    def fold_soon(self) -> None:
        """Fold if the last fold was long enough ago; cheap to call after every run."""
        if time.monotonic() - self._last_fold >= FOLD_EVERY:
            fold(self.ws)
            self._last_fold = time.monotonic()

    def close(self) -> None:
        with _lock:
            if self._fd is None:
                return
            os.close(self._fd)
            self._fd = None
        fold(self.ws, finished=self.path)


def for_workspace(ws: Workspace) -> Journal:
    """The journal this process writes for ``ws`` (one per workspace per process)."""
    key = ws.root
    with _lock:
        journal = _journals.get(key)
        if journal is None:
            journal = _journals[key] = Journal(ws)
    return journal


@atexit.register
def _close_all() -> None:
    for journal in list(_journals.values()):
        with contextlib.suppress(Exception):
            journal.close()


def pending(ws: Workspace) -> bool:
    """Whether any journal file exists, i.e. a fold may have something to do."""
    folder = journal_dir(ws)
    return folder.exists() and any(folder.glob("*.ndjson"))


def _owner_alive(path: Path) -> bool:
    try:
        pid = int(path.name.split("-", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fold(ws: Workspace, finished: Path | None = None) -> int:
    """Apply every complete, unapplied journal line; returns how many were applied.

    ``finished`` names this process's own journal when it closes, so it can be removed.
    """
    folder = journal_dir(ws)
    if not folder.exists():
        return 0
    files = sorted(folder.glob("*.ndjson"))
    sizes = {p: _size(p) for p in files}
    if not files or (
        finished is None
        and all(_folded_sizes.get(p) == size and _owner_alive(p) for p, size in sizes.items())
    ):
        return 0
    applied = 0
    removable: list[Path] = []
    with ws.write() as con:
        offsets = dict(con.execute("SELECT file, offset_bytes FROM journal_offsets").fetchall())
        for path in files:
            start = offsets.get(path.name, 0)
            try:
                with open(path, "rb") as fh:
                    fh.seek(start)
                    data = fh.read()
            except FileNotFoundError:
                continue
            end = data.rfind(b"\n") + 1
            if end:
                applied += _apply(ws, con, data[:end])
                con.execute(
                    "INSERT OR REPLACE INTO journal_offsets VALUES (?, ?)", [path.name, start + end]
                )
            dead = path == finished or not _owner_alive(path)
            if dead and end == len(data):
                if path != finished:
                    pid = int(path.name.split("-", 1)[0])
                    con.execute(
                        "UPDATE runs SET status = 'killed', ended_at = now() "
                        "WHERE status = 'running' AND pid = ?",
                        [pid],
                    )
                removable.append(path)
        live = [p.name for p in files if p not in removable]
        con.execute(
            "DELETE FROM journal_offsets WHERE NOT list_contains(?::VARCHAR[], file)", [live]
        )
    # Files go only after the transaction that forgot their offsets has committed: if we die
    # in between, a file with no offset would be applied again from the start.
    for path in removable:
        path.unlink(missing_ok=True)
        _folded_sizes.pop(path, None)
    for path, size in sizes.items():
        if path not in removable:
            _folded_sizes[path] = size
    return applied


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


_SCHEMA = {
    "t": "VARCHAR",
    "run": "VARCHAR",
    "ts": "DOUBLE",
    "key": "VARCHAR",
    "value": "JSON",
    "step": "BIGINT",
    "project": "VARCHAR",
    "name": "VARCHAR",
    "kind": "VARCHAR",
    "group": "VARCHAR",
    "pid": "INTEGER",
    "path": "VARCHAR",
    "sha256": "VARCHAR",
    "size": "BIGINT",
    "status": "VARCHAR",
}
_TS = "make_timestamp((ts * 1e6)::BIGINT)"
# A tag's JSON string becomes its text; numbers, lists and objects keep their JSON spelling.
_TEXT = "CASE WHEN json_type(value) = 'VARCHAR' THEN value ->> '$' ELSE value::VARCHAR END"
# A parameter keeps its JSON spelling, strings quoted, so that it reads back with its type.
_JSON = "value::VARCHAR"


def _apply(ws: Workspace, con: duckdb.DuckDBPyConnection, segment: bytes) -> int:
    """Apply one journal segment with a handful of set-based statements; returns its lines."""
    temp = ws.temp_path(".ndjson")
    temp.write_bytes(segment)
    try:
        con.read_json(str(temp), format="newline_delimited", columns=_SCHEMA).project(
            "*, row_number() OVER () AS line"
        ).create_view("segment", replace=True)
        con.execute(
            "INSERT INTO runs SELECT run, project, name, kind, 'running', \"group\", "  # noqa: S608
            f"{_TS}, NULL, pid FROM segment WHERE t = 'start' ON CONFLICT DO NOTHING"
        )
        for record, table, spelled in (("param", "run_params", _JSON),
                                       ("tag", "run_tags", _TEXT)):
            con.execute(
                f"INSERT OR REPLACE INTO {table} SELECT run, key, "  # noqa: S608
                f"arg_max({spelled}, line) FROM segment WHERE t = ? GROUP BY run, key",
                [record],
            )
        con.execute(
            "INSERT INTO run_metrics SELECT run, key, step, value::DOUBLE, "  # noqa: S608
            f"{_TS} FROM segment WHERE t = 'metric'"
        )
        con.execute(
            "INSERT INTO run_latest_metrics SELECT run, key, max(step), "
            "arg_max(value::DOUBLE, (step, line)) FROM segment WHERE t = 'metric' "
            "GROUP BY run, key ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, "
            "value = excluded.value WHERE excluded.step >= run_latest_metrics.step"
        )
        con.execute(
            "INSERT OR REPLACE INTO run_artifacts SELECT run, name, arg_max(path, line), "
            "arg_max(sha256, line), arg_max(size, line) FROM segment "
            "WHERE t = 'artifact' GROUP BY run, name"
        )
        con.execute(
            "UPDATE runs SET status = e.status, ended_at = coalesce(runs.ended_at, e.ended) FROM "  # noqa: S608
            f"(SELECT run, arg_max(status, line) AS status, arg_max({_TS}, line) AS ended "
            "FROM segment WHERE t = 'end' GROUP BY run) e WHERE runs.id = e.run"
        )
        count = fetch_one(con, "SELECT count(*) FROM segment")
        con.execute("DROP VIEW segment")
    finally:
        temp.unlink(missing_ok=True)
    return int(count[0]) if count else 0


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)
