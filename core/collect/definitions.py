"""A project's data sources: where to collect from, by which query, and from which value on.

``mlcycle source add PROJECT NAME --uri URI [--query SQL] [--incremental COLUMN]`` stores a
source. Sources are versioned like recipes: storing a different definition under the same
name makes version 2, 3, …, the old ones stay readable, and every collection records the
version it ran. A version's **id** hashes what it means (URI, query, incremental column), so
the same definition stored again is no new version.

URIs are those of :mod:`mlcycle.data.databases`, plus ``sources:A,B``: an *aggregate* whose
query combines other sources of the project, each read as a table named after it. Every
query is checked by :mod:`mlcycle.data.queries` when it is stored and again each time it
runs: one read-only SELECT over the source's own tables, nothing that reaches a file, a
setting or another database.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlcycle import projects
from mlcycle.data import databases, queries
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso, utcnow

if TYPE_CHECKING:
    from mlcycle.store.workspace import Workspace

AGGREGATE = "sources"
ID_LENGTH = 12
# A source's name is a table name in an aggregate's query: one plain SQL identifier.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_FIELDS = "project, name, version, id, uri, query, incremental, created_at"


@dataclass(frozen=True)
class SourceVersion:
    project: str
    name: str
    version: int
    id: str
    uri: str
    query: str | None
    incremental: str | None
    created_at: datetime

    @property
    def kind(self) -> str:
        return AGGREGATE if self.uri.startswith(f"{AGGREGATE}:") else self.location.kind

    @property
    def inputs(self) -> list[str]:
        """The sources an aggregate combines (none for a plain source)."""
        if not self.uri.startswith(f"{AGGREGATE}:"):
            return []
        return self.uri.split(":", 1)[1].split(",")

    @property
    def location(self) -> databases.Location:
        return databases.stored(self.uri)

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "name": self.name, "version": self.version,
                "id": self.id, "kind": self.kind, "uri": self.uri, "query": self.query,
                "incremental": self.incremental, "inputs": self.inputs,
                "created_at": iso(self.created_at)}


def source_id(uri: str, query: str | None, incremental: str | None) -> str:
    blob = json.dumps([uri, query, incremental], separators=(",", ":"))
    return hashlib.blake2b(blob.encode(), digest_size=20).hexdigest()[:ID_LENGTH]


def validate_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise InvalidInput(f"{name!r} is not a source name: letters, digits and _, starting "
                           "with a letter (it names the table in an aggregate's query)")
    return name


def add(ws: Workspace, project: str, name: str, uri: str, query: str | None = None,
        incremental: str | None = None) -> tuple[SourceVersion, bool]:
    """Check and store a source definition as the newest version of ``name``; returns it and
    whether it is new (False when the newest version already says the same)."""
    projects.get(ws, project)
    validate_name(name)
    query = _clean_query(query)
    if incremental is not None and not incremental.strip():
        raise InvalidInput("--incremental names a column; it cannot be empty")
    if uri.strip().startswith(f"{AGGREGATE}:"):
        stored_uri = _aggregate(ws, project, name, uri, query)
    else:
        location = databases.parse(uri, workspace=ws.root)
        if location.kind != databases.FILE and not query:
            raise InvalidInput(f"{location.uri}: a database source needs a query "
                               "(--query 'SELECT …')")
        if query:
            queries.check(query, f"source {name}",
                          [name] if location.kind == databases.FILE else None)
        stored_uri = location.uri
    sid = source_id(stored_uri, query, incremental)
    with ws.write() as con:
        rows = con.execute("SELECT version, id FROM sources WHERE project = ? AND name = ? "
                           "ORDER BY version DESC LIMIT 1", [project, name]).fetchall()
        created = not rows or rows[0][1] != sid
        number = int(rows[0][0]) if rows else 0
        if created:
            number += 1
            con.execute("INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [project, name, number, sid, stored_uri, query, incremental, utcnow()])
            events.record(con, "data.source_saved", project=project, subject=name,
                          detail={"version": number, "id": sid})
    return get(ws, project, name, str(number)), created


def _clean_query(query: str | None) -> str | None:
    if query is None:
        return None
    text = query.strip().rstrip(";").strip()
    if not text:
        raise InvalidInput("--query is empty; write a SELECT or leave it out")
    return text


def _aggregate(ws: Workspace, project: str, name: str, uri: str, query: str | None) -> str:
    names = [n.strip() for n in uri.strip().split(":", 1)[1].split(",") if n.strip()]
    if not names:
        raise InvalidInput(f"{uri}: name the sources to combine, as sources:A,B")
    if not query:
        raise InvalidInput(f"{uri}: an aggregate needs the query that combines its sources")
    for other in names:
        if other == name:
            raise InvalidInput(f"source {name} cannot read itself")
        found = get(ws, project, validate_name(other))
        if found.inputs:
            raise InvalidInput(f"source {other} is an aggregate itself; combine plain sources")
    queries.check(query, f"source {name}", names)
    return f"{AGGREGATE}:{','.join(names)}"


def history(ws: Workspace, project: str, name: str) -> list[SourceVersion]:
    """Every version of one source, newest first."""
    projects.get(ws, project)
    with ws.read() as con:
        rows = con.execute(f"SELECT {_FIELDS} FROM sources WHERE project = ? AND name = ? "  # noqa: S608
                           "ORDER BY version DESC", [project, name]).fetchall()
    return [SourceVersion(*r) for r in rows]


def get(ws: Workspace, project: str, name: str, ref: str = "latest") -> SourceVersion:
    """A stored version of a source: ``latest`` or a number (``2`` or ``v2``)."""
    versions = history(ws, project, name)
    if not versions:
        raise NotFound(f"project {project!r} has no source {name!r}; add one with "
                       f"'mlcycle source add {project} {name} --uri URI'")
    if ref == "latest":
        return versions[0]
    number = ref[1:] if ref[:1] in ("v", "V") else ref
    for v in versions:
        if number.isdigit() and v.version == int(number):
            return v
    raise NotFound(f"source {name!r} has no version {ref!r} (versions 1 to "
                   f"{versions[0].version})")


def list_sources(ws: Workspace, project: str) -> list[SourceVersion]:
    """The newest version of each of the project's sources, by name."""
    projects.get(ws, project)
    with ws.read() as con:
        rows = con.execute(
            f"SELECT {_FIELDS} FROM sources s WHERE project = ? AND version = "  # noqa: S608
            "(SELECT max(version) FROM sources m WHERE m.project = s.project "
            "AND m.name = s.name) ORDER BY name", [project]).fetchall()
    return [SourceVersion(*r) for r in rows]
