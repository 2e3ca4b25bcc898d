"""Running a source: ``mlcycle collect`` reads it and stores what it read as a dataset version.

The rows are read once, columnar, into a Parquet file under ``artifacts/.tmp`` (databases
stream Arrow batches into DuckDB, see :mod:`mlcycle.data.databases`). The stored query is
checked again first (:mod:`mlcycle.data.queries`: a received workspace's query is input),
and DuckDB runs it where it can read only the source's files and write only that file. The
version id hashes that file's bytes, and the file is registered through the same path as
``data add`` (:func:`mlcycle.data.datasets.store_parquet`), so the same content gives the
same version and stores nothing new.

An *incremental* source reads only the rows whose column is past the largest value the
previous collection holds (the database filters, so only new rows travel); the new version
is the previous one with those rows appended, and no new rows give the previous version
back. The previous collection is the newest whose version the project still holds: after
``data purge`` a source builds on the newest version left, or collects in full, and the
result's ``note`` says so. An aggregate reads each of its sources in full, as tables named
after them, and runs its stored query over them in DuckDB.

Each collection is compared with the previous one (:mod:`mlcycle.collect.changes`) and
recorded with its lineage: the source version, its query, the rows read and the changes. With
``strict``, a breaking change stops the collection before anything is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle import projects
from mlcycle.collect import changes as changing
from mlcycle.collect import definitions
from mlcycle.collect.definitions import SourceVersion
from mlcycle.data import databases, datasets, queries, sources
from mlcycle.store import cancel as cancelling
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput
from mlcycle.store.schema import iso, utcnow
from mlcycle.store.sql import fetch_one, ident, memory_connection

if TYPE_CHECKING:
    import duckdb

    from mlcycle.store.cancel import CancelToken
    from mlcycle.store.workspace import Workspace

Progress = Callable[[str], None]


class SourceBroke(InvalidInput):
    """With ``strict``: the source changed in a breaking way, and nothing was written."""

    exit_code = 1

    def __init__(self, message: str, result: CollectResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class CollectResult:
    source: SourceVersion
    rows_read: int
    changes: list[changing.Change] = field(default_factory=list)
    version: datasets.DatasetVersion | None = None  # None when a strict run stopped
    stored: bool = False  # False when the same content was already there
    collection: str | None = None
    after: Any = None  # the value an incremental collection started past
    last_value: Any = None
    note: str | None = None  # how the collection began when its last version was purged

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.name, "source_version": self.source.version,
            "source_id": self.source.id, "kind": self.source.kind, "uri": self.source.uri,
            "query": self.source.query, "incremental": self.source.incremental,
            "after": _jsonable(self.after), "last_value": _jsonable(self.last_value),
            "rows_read": self.rows_read, "collection": self.collection,
            "version": self.version.id if self.version else None,
            "rows": self.version.n_rows if self.version else None,
            "stored": self.stored, "breaking": self.breaking, "note": self.note,
            "changes": [c.to_dict() for c in self.changes],
        }


def collect(ws: Workspace, project: str, name: str, *, strict: bool = False,
            progress: Progress | None = None, cancel: CancelToken | None = None
            ) -> CollectResult:
    """Collect one source into a dataset version of ``project`` (see the module)."""
    say = progress or (lambda _msg: None)
    projects.get(ws, project)
    source = definitions.get(ws, project, name)
    previous, note = _previous(ws, project, source)
    before = datasets.get(ws, project, previous[0]) if previous else None
    before_path = datasets.data_path(ws, before) if before else None
    after = None
    if source.incremental and before_path is not None:
        after = _largest(before_path, source.incremental)
    ws.sweep_temp()
    # Files read whole hold what 'data add' of them stores: the same content gets the same
    # version id (hashed, as there, before the files are read).
    same_as_added = (datasets.content_hash(sources.resolve(source.location.target))
                     if _whole_files(source) else None)
    batch, joined = ws.temp_path(".parquet"), ws.temp_path(".parquet")
    try:
        say(f"reading source {name}")
        _read(ws, source, batch, after, cancel)
        rows_read = _rows(batch)
        cancelling.check(cancel)
        # Personal data needs no step here: the drift profile compares a sensitive column
        # by its missing rate only, and registering the version scans it and stores its
        # report masked (mlcycle.data.privacy).
        result = CollectResult(source, rows_read, after=after, note=note)
        if before_path is not None and rows_read:
            say("comparing with the previous collection")
            result.changes = changing.compare(before_path, batch, reference_rows=previous[1],
                                              current_rows=rows_read,
                                              steady=source.incremental)
        if strict and result.breaking:
            raise SourceBroke(f"source {name}: {changing.summary(result.changes)} (--strict): "
                              "nothing was written", result)
        final = batch
        if after is not None and before_path is not None:
            final = before_path if not rows_read else _append(before_path, batch, joined)
        elif not rows_read:
            raise InvalidInput(f"source {name}: the query returned no rows")
        if source.incremental:
            result.last_value = _largest(final, source.incremental)
        say("storing")
        _store(ws, project, source, final, result, before, same_as_added)
    finally:
        batch.unlink(missing_ok=True)
        joined.unlink(missing_ok=True)
    return result


def collect_all(ws: Workspace, project: str, **options: Any) -> list[CollectResult]:
    """Collect every source of the project, except those an aggregate reads (it reads them
    itself; a lookup table need not hold the project's target)."""
    found = definitions.list_sources(ws, project)
    if not found:
        raise InvalidInput(f"project {project!r} has no sources; add one with "
                           f"'mlcycle source add {project} NAME --uri URI'")
    read = {name for s in found for name in s.inputs}
    return [collect(ws, project, s.name, **options) for s in found if s.name not in read]


def _read(ws: Workspace, source: SourceVersion, out: Path, after: Any,
          cancel: CancelToken | None) -> None:
    import duckdb

    bound = (source.incremental, after) if after is not None else None
    shown = f"source {source.name}"
    parts = [definitions.get(ws, source.project, n) for n in source.inputs] or [source]
    # The query runs where it can read its own files and write the output, nothing else.
    con = queries.guarded_connection(
        [f for part in parts for f in databases.readable(part.location)], [out])
    try:
        if source.inputs:  # checked before any input is opened
            queries.check(source.query or "", shown, source.inputs, con=con)
        with _relation(con, source, parts, bound) as rel:
            if source.incremental and source.incremental not in rel.columns:
                raise InvalidInput(f"{shown}: no column {source.incremental!r} to collect "
                                   f"incrementally on (columns: {', '.join(rel.columns[:12])})")
            try:
                with cancelling.interrupting(cancel, con.interrupt):
                    rel.to_parquet(str(out), compression="zstd", use_tmp_file=False)
            except duckdb.Error as exc:
                cancelling.check(cancel)
                raise InvalidInput(f"{shown}: cannot read: {sources.error_text(exc)}") from None
    finally:
        con.close()


@contextlib.contextmanager
def _relation(con: duckdb.DuckDBPyConnection, source: SourceVersion,
              parts: list[SourceVersion], after: tuple[str, Any] | None
              ) -> Iterator[duckdb.DuckDBPyRelation]:
    """The rows of ``source``: its own query's, or an aggregate's over ``parts``, its inputs
    (whose queries :func:`databases.opened` checks; the aggregate's was checked already)."""
    import duckdb

    shown = f"source {source.name}"
    if not source.inputs:
        with databases.opened(con, source.location, source.query, name=source.name,
                              after=after, label=shown) as rel:
            yield rel
        return
    with contextlib.ExitStack() as stack:
        for part in parts:
            rel = stack.enter_context(databases.opened(
                con, part.location, part.query, name=part.name, label=f"source {part.name}"))
            # A database's rows arrive as a stream, read once: keep them as a table.
            if part.location.kind == databases.FILE:
                rel.create_view(part.name)
            else:
                rel.create(part.name)
        sql = source.query or ""
        if after:
            sql = databases.incremental_sql(sql, after[0], "?")
        try:
            yield con.sql(sql, params=[after[1]] if after else None)
        except duckdb.Error as exc:
            raise InvalidInput(f"{shown}: the query fails: {sources.error_text(exc)}") from None


def _rows(path: Path) -> int:
    with memory_connection() as con:
        row = fetch_one(con, "SELECT sum(num_rows) FROM parquet_file_metadata(?)", [str(path)])
    return int(row[0] or 0) if row else 0


def _largest(path: Path, column: str) -> Any:
    with memory_connection() as con:
        row = fetch_one(con, f"SELECT max({ident(column)}) FROM read_parquet(?)",  # noqa: S608
                        [str(path)])
    return row[0] if row else None


def _append(before: Path, batch: Path, out: Path) -> Path:
    with memory_connection() as con:
        con.read_parquet(str(before)).create_view("before")
        con.read_parquet(str(batch)).create_view("batch")
        # By name: a column the source added since is missing (null) in the earlier rows.
        con.sql('SELECT * FROM "before" UNION ALL BY NAME SELECT * FROM batch').to_parquet(
            str(out), compression="zstd")
    return out


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=20)
    h.update(b"collected")
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _previous(ws: Workspace, project: str, source: SourceVersion
              ) -> tuple[tuple[str, int] | None, str | None]:
    """The dataset version and rows read of the source's last collection that read rows and
    whose version the project still holds, and a line saying so when a later collection's
    version was purged since (nothing then builds on a version that is gone)."""
    query = ("SELECT dataset_id, rows_read FROM collections WHERE project = ? AND source = ? "
             "AND rows_read > 0 {} ORDER BY ts DESC LIMIT 1")
    held = ("AND dataset_id IN (SELECT dataset_id FROM project_datasets "
            "WHERE project = collections.project)")
    with ws.read() as con:
        last = fetch_one(con, query.format(""), [project, source.name])
        kept = fetch_one(con, query.format(held), [project, source.name])
    base = (kept[0], int(kept[1])) if kept else None
    if last is None or (base is not None and base[0] == last[0]):
        return base, None
    if base is None:
        return None, (f"version {last[0]} of the last collection was purged: collecting "
                      "in full")
    uses = "appending to" if source.incremental else "comparing with"
    return base, (f"version {last[0]} of the last collection was purged: {uses} version "
                  f"{base[0]}, the newest left")


def _whole_files(source: SourceVersion) -> bool:
    """A file source with no query and no increment: its version is its files, as read."""
    return (not source.inputs and source.location.kind == databases.FILE
            and not source.query and not source.incremental)


def _store(ws: Workspace, project: str, source: SourceVersion, final: Path,
           result: CollectResult, before: datasets.DatasetVersion | None,
           digest: str | None = None) -> None:
    digest = digest or _digest(final)
    result.collection = uuid.uuid4().hex[:12]
    appended = result.after is not None and before is not None
    detail = {"source": source.name, "source_version": source.version,
              "source_id": source.id, "uri": source.uri, "query": source.query,
              "incremental": source.incremental, "after": _jsonable(result.after),
              "last_value": _jsonable(result.last_value), "rows_read": result.rows_read,
              "collection": result.collection}

    def record(con: Any) -> None:
        dataset_id = digest[:datasets.ID_LENGTH]
        con.execute("INSERT INTO dataset_lineage VALUES (?, 'collect', ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    [dataset_id, before.id if appended and before else "", source.id,
                     json.dumps(detail, default=str), utcnow()])
        con.execute("INSERT INTO collections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [result.collection, utcnow(), project, source.name, source.version,
                     dataset_id, result.rows_read, json.dumps(_jsonable(result.last_value)),
                     result.breaking, json.dumps([c.to_dict() for c in result.changes],
                                                 default=str)])
        events.record(con, "data.collected", project=project, subject=dataset_id, detail={
            "source": source.name, "source_version": source.version,
            "rows_read": result.rows_read, "breaking": result.breaking})

    added = datasets.store_parquet(ws, project, final, digest=digest,
                                   source_format=source.kind,
                                   source_label=f"source {source.name} v{source.version}",
                                   in_transaction=record)
    result.version, result.stored = added.version, added.stored


def history(ws: Workspace, project: str, name: str | None = None) -> list[dict[str, Any]]:
    """The project's collections (of one source), newest first."""
    projects.get(ws, project)
    with ws.read() as con:
        rows = con.execute(
            "SELECT id, ts, source, source_version, dataset_id, rows_read, last_value, "
            "breaking, changes FROM collections WHERE project = ? AND (? IS NULL OR source = ?) "
            "ORDER BY ts DESC", [project, name, name]).fetchall()
    return [{"collection": i, "ts": iso(ts), "source": s, "source_version": v,
             "version": d, "rows_read": n, "last_value": json.loads(last or "null"),
             "breaking": b, "changes": json.loads(ch)}
            for i, ts, s, v, d, n, last, b, ch in rows]


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
