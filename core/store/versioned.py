"""Texts a project keeps in versions 1, 2, … (a monitoring policy, a deployment config):
a new version only when the text changes, each with where it came from and when.

The table holds ``(project, version, text, source, created_at)``; the module that owns the
text parses a row into its own type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcycle.store import events
from mlcycle.store.errors import NotFound
from mlcycle.store.schema import utcnow
from mlcycle.store.sql import ident

if TYPE_CHECKING:
    import duckdb

    from mlcycle.store.workspace import Workspace

Row = tuple[Any, ...]  # (version, text, source, created_at)


@dataclass(frozen=True)
class Versions:
    table: str  # "policies"
    what: str  # "policy", in messages
    event: str  # recorded when a version is stored: "policy.saved"

    def _select(self, limit: str = "") -> str:
        return (f"SELECT version, text, source, created_at FROM {ident(self.table)} "  # noqa: S608
                f"WHERE project = ? ORDER BY version DESC {limit}")

    def newest(self, con: duckdb.DuckDBPyConnection, project: str) -> Row | None:
        rows = con.execute(self._select("LIMIT 1"), [project]).fetchall()
        return rows[0] if rows else None

    def rows(self, ws: Workspace, project: str) -> list[Row]:
        """Every stored version, newest first."""
        with ws.read() as con:
            return con.execute(self._select(), [project]).fetchall()

    def find(self, ws: Workspace, project: str, ref: str) -> Row:
        """The version ``ref`` names (``2`` or ``v2``); NotFound says which exist."""
        number = ref[1:] if ref[:1] in ("v", "V") else ref
        rows = self.rows(ws, project)
        for row in rows:
            if number.isdigit() and int(row[0]) == int(number):
                return row
        span = f"versions 1 to {rows[0][0]}" if rows else "none stored yet"
        raise NotFound(f"project {project!r} has no {self.what} version {ref!r} ({span})")

    def store(self, ws: Workspace, project: str, text: str, source: str | None,
              detail: dict[str, Any]) -> tuple[int, bool]:
        """Store ``text`` as the newest version unless it already is; its number and whether
        it is new (the event, with ``detail``, is in the same transaction)."""
        with ws.write() as con:
            newest = self.newest(con, project)
            created = newest is None or newest[1] != text
            number = int(newest[0]) if newest else 0
            if created:
                number += 1
                con.execute(f"INSERT INTO {ident(self.table)} VALUES (?, ?, ?, ?, ?)",  # noqa: S608
                            [project, number, text, source, utcnow()])
                events.record(con, self.event, project=project, subject=f"v{number}",
                              detail={"source": source, **detail})
        return number, created
