"""The activity log: every stage records what it did, when, to which project."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlcycle.store.schema import utcnow

if TYPE_CHECKING:
    import duckdb

    from mlcycle.store.workspace import Workspace


def record(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    *,
    project: str | None = None,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an event inside the caller's write transaction."""
    con.execute(
        "INSERT INTO events (ts, project, kind, subject, detail) VALUES (?, ?, ?, ?, ?)",
        [utcnow(), project, kind, subject, json.dumps(detail or {}, default=str)],
    )


def recent(ws: Workspace, project: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest events, newest first."""
    with ws.read() as con:
        return recent_with(con, project, limit)


def recent_with(
    con: duckdb.DuckDBPyConnection, project: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """``recent`` on an open connection."""
    rows = con.execute(
        "SELECT ts, project, kind, subject, detail FROM events "
        "WHERE ? IS NULL OR project = ? ORDER BY id DESC LIMIT ?",
        [project, project, limit],
    ).fetchall()
    return [
        {"ts": ts, "project": p, "kind": k, "subject": s, "detail": json.loads(d or "{}")}
        for ts, p, k, s, d in rows
    ]
