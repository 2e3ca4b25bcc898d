"""The model registry: versions with lineage, aliases instead of stages, and an audit trail.

A registered version points at its run's model file, content-hashed when it was written and
checked again before every load; only then is it deserialised, with skops (never pickle).
Aliases (``champion`` = what production scores with, ``challenger``, or any name) move
between versions; each move is recorded with who-knows-why (the reason) and the figures at
the time, so "which version was in production when, and why" always has an answer.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlcycle import projects
from mlcycle.models import tracking
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso, utcnow
from mlcycle.store.sql import fetch_one
from mlcycle.store.workspace import Workspace

MODEL_FILE = "model.skops"
CHAMPION = "champion"
# A run's ONNX parity verdict (``mlcycle.models.exportable`` writes it): "passed" or "failed",
# and why it failed.
PARITY_TAG, PARITY_REASON_TAG = "mlcycle.parity", "mlcycle.parity.reason"
ALIAS = re.compile(r"^[a-z][a-z0-9_\-]{0,31}$")


@dataclass
class ModelVersion:
    project: str
    version: int
    run_id: str
    path: str
    sha256: str
    created_at: datetime
    archived: bool
    summary: dict[str, Any]
    aliases: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "version": self.version,
            "run_id": self.run_id,
            "sha256": self.sha256,
            "created_at": iso(self.created_at),
            "archived": self.archived,
            "aliases": self.aliases,
            **self.summary,
        }


def register(
    ws: Workspace,
    project: str,
    run_id: str,
    reason: str | None = None,
    summary: dict[str, Any] | None = None,
) -> ModelVersion:
    """Register the model of a run as the project's next version."""
    run = tracking.get_run(ws, run_id)
    if run.project != project:
        raise InvalidInput(f"run {run.id} belongs to project {run.project!r}, not {project!r}")
    tracking.artifact_path(ws, run, MODEL_FILE)  # refuses a file changed since it was logged
    if run.tags.get(PARITY_TAG) == "failed":
        raise InvalidInput(
            f"run {run.id} cannot be registered: its model could not be scored, "
            f"{run.tags.get(PARITY_REASON_TAG) or 'its ONNX graph failed parity'}; "
            "register a run whose graph keeps parity")
    info = run.artifacts[MODEL_FILE]
    content = summary or summary_of(run)
    with ws.write() as con:
        existing = fetch_one(
            con,
            "SELECT version FROM model_versions WHERE project = ? AND run_id = ?",
            [project, run.id],
        )
        if existing:
            raise InvalidInput(f"run {run.id} is already registered as version {existing[0]}")
        row = fetch_one(
            con,
            "SELECT coalesce(max(version), 0) + 1 FROM model_versions WHERE project = ?",
            [project],
        )
        version = int(row[0]) if row else 1
        con.execute(
            "INSERT INTO model_versions VALUES (?, ?, ?, ?, ?, ?, false, ?)",
            [
                project,
                version,
                run.id,
                info["path"],
                info["sha256"],
                utcnow(),
                json.dumps(content, default=str),
            ],
        )
        events.record(
            con,
            "model.registered",
            project=project,
            subject=f"v{version}",
            detail={"run": run.id, "reason": reason},
        )
    return get(ws, project, str(version))


def summary_of(run: tracking.RunRecord) -> dict[str, Any]:
    """What the registry keeps about a run's model: name, params, figures and lineage."""
    tags = run.tags
    return {
        "model": tags.get("mlcycle.model"),
        "params": run.params,
        "metrics": run.metrics,
        "lineage": {
            "run": run.id,
            "group": run.group,
            "dataset": tags.get("mlcycle.dataset"),
            "features": tags.get("mlcycle.features"),
            "seed": tags.get("mlcycle.seed"),
        },
    }


def versions(ws: Workspace, project: str, include_archived: bool = True) -> list[ModelVersion]:
    """The project's model versions, newest first, with their aliases."""
    projects.get(ws, project)
    with ws.read() as con:
        rows = con.execute(
            "SELECT project, version, run_id, path, sha256, created_at, archived, summary "
            "FROM model_versions WHERE project = ? ORDER BY version DESC",
            [project],
        ).fetchall()
        aliases = con.execute(
            "SELECT alias, version FROM aliases WHERE project = ?", [project]
        ).fetchall()
    by_version: dict[int, list[str]] = {}
    for alias, version in aliases:
        by_version.setdefault(version, []).append(alias)
    out = [
        ModelVersion(*row[:7], json.loads(row[7]), sorted(by_version.get(row[1], [])))
        for row in rows
    ]
    return [v for v in out if include_archived or not v.archived]


def get(ws: Workspace, project: str, ref: str = CHAMPION) -> ModelVersion:
    """A version by number (``3`` or ``v3``) or by alias (``champion``)."""
    all_versions = versions(ws, project)
    if not all_versions:
        raise NotFound(f"project {project!r} has no registered models; run 'mlcycle train'")
    text = ref.lower().removeprefix("v") if re.fullmatch(r"v?\d+", ref.lower()) else None
    for v in all_versions:
        if (text is not None and v.version == int(text)) or (text is None and ref in v.aliases):
            return v
    if text is not None:
        raise NotFound(f"project {project!r} has no model version {ref}")
    raise NotFound(
        f"no model of project {project!r} has the alias {ref!r}"
        + ("; promote one with 'mlcycle promote'" if ref == CHAMPION else "")
    )


def load(ws: Workspace, project: str, ref: str = CHAMPION) -> tuple[ModelVersion, Any]:
    """The fitted pipeline of a version, after checking its file is the one registered and
    that it names only types mlcycle's catalog trains with."""
    version = get(ws, project, ref)
    label = f"the model file of version {version.version}"
    data = ws.verified_bytes(version.path, version.sha256, label)
    return version, load_trusted(data, label)


def load_trusted(data: bytes, label: str) -> Any:
    """A skops file's object, only if every type it names is in ``catalog.trusted_types``.

    The hash only proves the file is the one the workspace recorded, and a workspace may come
    from someone else: so nothing is trusted because the file names it. Every node of the
    file's schema names the type skops would construct; those, and anything skops itself
    flags, must all be on the allow-list, and only then is the file loaded.
    """
    import zipfile

    from skops.io import get_untrusted_types, loads

    from mlcycle.models import catalog

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
        named = schema_types(schema) | set(get_untrusted_types(data=data))
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise InvalidInput(f"{label} is not a skops file mlcycle can read") from None
    allowed = catalog.trusted_types()
    foreign = sorted(named - allowed)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5
                                          else "")
        raise InvalidInput(f"{label} names types mlcycle never trains with ({shown}); "
                           "it will not be loaded")
    return loads(data, trusted=sorted(named & allowed))


def schema_types(schema: Any) -> set[str]:
    """The ``module.class`` of every node in a skops schema (walked without recursion, so a
    deeply nested file cannot exhaust the stack)."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            module, name = node.get("__module__"), node.get("__class__")
            if isinstance(module, str) and isinstance(name, str):
                found.add(f"{module}.{name}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def promote(
    ws: Workspace,
    project: str,
    ref: str,
    alias: str = CHAMPION,
    reason: str | None = None,
    action: str = "promote",
    in_transaction: Callable[[Any], None] | None = None,
) -> ModelVersion:
    """Point ``alias`` at a version and record why; ``in_transaction(con)``, when given,
    writes in the same transaction (what the move settles is stored with it, or neither is).

    One version per alias, and one alias per version: a version that holds another alias
    gives it up, recorded as cleared (so promoting the challenger to champion leaves no
    challenger, and the champion is never its own shadow). The champion alias is the
    exception: it leaves a version only when another one becomes champion, so giving the
    champion a second alias is refused and production never loses its model by a side effect.
    """
    if not ALIAS.match(alias):
        raise InvalidInput(f"alias {alias!r} is not valid: lower-case letters, digits, _ or -")
    if not reason or not reason.strip():
        raise InvalidInput("say why with --reason: the audit trail keeps it")
    target = get(ws, project, ref)
    if target.archived:
        raise InvalidInput(f"version {target.version} is archived; it cannot take an alias")
    others = [a for a in target.aliases if a != alias]
    if CHAMPION in others:
        raise InvalidInput(
            f"version {target.version} is {CHAMPION}; a version holds one alias, and the "
            f"champion keeps it until another version is promoted to {CHAMPION}"
        )
    with ws.write() as con:
        row = fetch_one(
            con, "SELECT version FROM aliases WHERE project = ? AND alias = ?", [project, alias]
        )
        previous = row[0] if row else None
        if previous == target.version:
            raise InvalidInput(f"version {target.version} already is {alias}")
        for other in others:
            con.execute("DELETE FROM aliases WHERE project = ? AND alias = ?", [project, other])
            _record(con, project, other, None, target.version, "clear",
                    f"version {target.version} became {alias}: {reason}", target)
        con.execute(
            "INSERT OR REPLACE INTO aliases VALUES (?, ?, ?)", [project, alias, target.version]
        )
        _record(con, project, alias, target.version, previous, action, reason, target)
        if in_transaction is not None:
            in_transaction(con)
    return get(ws, project, str(target.version))


def clear(ws: Workspace, project: str, alias: str, reason: str | None) -> int:
    """Take ``alias`` off the version that holds it, and record why; returns that version."""
    if not ALIAS.match(alias):
        raise InvalidInput(f"alias {alias!r} is not valid: lower-case letters, digits, _ or -")
    if not reason or not reason.strip():
        raise InvalidInput("say why with --reason: the audit trail keeps it")
    held = get(ws, project, alias)  # names the alias when no version holds it
    with ws.write() as con:
        con.execute("DELETE FROM aliases WHERE project = ? AND alias = ? AND version = ?",
                    [project, alias, held.version])
        _record(con, project, alias, None, held.version, "clear", reason, held)
    return held.version


def _record(con: Any, project: str, alias: str, version: int | None, previous: int | None,
            action: str, reason: str, figures_of: ModelVersion) -> None:
    """One alias move in the audit trail and the activity log (``version`` None: cleared)."""
    con.execute(
        "INSERT INTO alias_history (ts, project, alias, version, previous_version, action, "
        "reason, figures) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [utcnow(), project, alias, version, previous, action, reason,
         json.dumps(figures_of.summary.get("metrics", {}))],
    )
    events.record(
        con,
        f"model.{action}",
        project=project,
        subject=f"v{version if version is not None else previous}",
        detail={"alias": alias, "previous": previous, "reason": reason},
    )


def rollback(
    ws: Workspace, project: str, alias: str = CHAMPION, reason: str | None = None
) -> ModelVersion:
    """Give ``alias`` back to the version that held it before the current one."""
    current = get(ws, project, alias)
    with ws.read() as con:
        row = fetch_one(
            con,
            "SELECT previous_version FROM alias_history WHERE project = ? AND alias = ? AND "
            "version = ? AND action = 'promote' ORDER BY id DESC LIMIT 1",
            [project, alias, current.version],
        )
    if not row or row[0] is None:
        raise InvalidInput(
            f"version {current.version} is the first {alias}; nothing to roll back to"
        )
    return promote(
        ws,
        project,
        str(row[0]),
        alias,
        reason or f"rollback from version {current.version}",
        action="rollback",
    )


def archive(ws: Workspace, project: str, ref: str, reason: str | None = None) -> ModelVersion:
    version = get(ws, project, ref)
    if version.aliases:
        raise InvalidInput(
            f"version {version.version} is {', '.join(version.aliases)}; "
            "promote another version first"
        )
    with ws.write() as con:
        con.execute(
            "UPDATE model_versions SET archived = true WHERE project = ? AND version = ?",
            [project, version.version],
        )
        events.record(
            con,
            "model.archived",
            project=project,
            subject=f"v{version.version}",
            detail={"reason": reason},
        )
    return get(ws, project, str(version.version))


def history(ws: Workspace, project: str) -> list[dict[str, Any]]:
    """Every alias move of the project, oldest first: the audit trail."""
    projects.get(ws, project)
    with ws.read() as con:
        rows = con.execute(
            "SELECT ts, alias, version, previous_version, action, reason, figures "
            "FROM alias_history WHERE project = ? ORDER BY id",
            [project],
        ).fetchall()
    return [
        {
            "ts": iso(ts),
            "alias": a,
            "version": v,
            "previous": p,
            "action": act,
            "reason": r,
            "figures": json.loads(f or "{}"),
        }
        for ts, a, v, p, act, r, f in rows
    ]
