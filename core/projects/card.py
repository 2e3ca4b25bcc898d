"""Problem definition (lifecycle stage 1): the project card."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlcycle.projects import metrics
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso, utcnow
from mlcycle.store.sql import fetch_one
from mlcycle.store.workspace import Workspace

if TYPE_CHECKING:
    import duckdb

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_UP_TO_ONE = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "r2")
_FIELDS = "name, target, task, metric, goal, description, kpi, created_at"


@dataclass(frozen=True)
class Project:
    """What the problem is and how success is measured."""

    name: str
    target: str
    task: str
    metric: str
    goal: float | None
    description: str | None
    kpi: str | None
    created_at: datetime

    @property
    def greater_is_better(self) -> bool:
        return metrics.CATALOG[self.metric].greater_is_better

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["created_at"] = iso(self.created_at)
        out["greater_is_better"] = self.greater_is_better
        return out


def validate_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise InvalidInput(
            f"project name {name!r} is not valid; use letters, digits, '_', '-' or '.' "
            "(at most 64, starting with a letter or digit)"
        )
    return name


def create(
    ws: Workspace,
    name: str,
    *,
    target: str,
    task: str,
    metric: str | None = None,
    goal: float | None = None,
    description: str | None = None,
    kpi: str | None = None,
) -> Project:
    """Define a new problem. The metric must fit the task; the default is the task's usual one."""
    validate_name(name)
    if not target or not target.strip():
        raise InvalidInput("--target must name the column to predict")
    chosen = metrics.validate_metric(metric, task)
    check_goal(goal, chosen.name)
    project = Project(name, target, task, chosen.name, goal, description, kpi, utcnow())
    with ws.write() as con:
        if con.execute("SELECT 1 FROM projects WHERE name = ?", [name]).fetchall():
            raise InvalidInput(f"project {name!r} already exists")
        con.execute(
            f"INSERT INTO projects ({_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            [
                project.name,
                project.target,
                project.task,
                project.metric,
                project.goal,
                project.description,
                project.kpi,
                project.created_at,
            ],
        )
        events.record(con, "project.created", project=name, detail={"metric": chosen.name})
    return project


def check_goal(goal: float | None, metric: str) -> None:
    """A goal must be reachable: scores that top out at 1 take a goal up to 1."""
    if goal is not None and metric in _UP_TO_ONE and goal > 1:
        raise InvalidInput(f"goal {goal:g} is out of range for {metric}: use a value up to 1")


# What a card may change once made: the problem's words and how success is judged. The target
# and task stay: every dataset version, run and model of the project was made for them.
EDITABLE = ("metric", "goal", "description", "kpi")


def update(ws: Workspace, name: str, **changes: Any) -> Project:
    """Change the card's metric (one that fits its task), goal, description or KPI; each
    keyword given replaces the value (None clears the goal, description or KPI)."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(f"a project's {', '.join(unknown)} cannot change; "
                           f"edit its {', '.join(EDITABLE)}")
    current = get(ws, name)
    merged = {**{f: getattr(current, f) for f in EDITABLE}, **changes}
    merged["metric"] = metrics.validate_metric(merged["metric"], current.task).name
    check_goal(merged["goal"], merged["metric"])
    changed = {f: merged[f] for f in EDITABLE if merged[f] != getattr(current, f)}
    if not changed:
        return current
    with ws.write() as con:
        sets = ", ".join(f"{f} = ?" for f in changed)
        con.execute(f"UPDATE projects SET {sets} WHERE name = ?",  # noqa: S608
                    [*changed.values(), name])
        events.record(con, "project.updated", project=name, subject=", ".join(changed),
                      detail=changed)
    return get(ws, name)


def get(ws: Workspace, name: str) -> Project:
    with ws.read() as con:
        row = fetch_one(con, f"SELECT {_FIELDS} FROM projects WHERE name = ?", [name])  # noqa: S608
        known = [r[0] for r in con.execute("SELECT name FROM projects ORDER BY name").fetchall()]
    if row is None:
        hint = (
            f"; projects: {', '.join(known)}"
            if known
            else "; create one with 'mlcycle project create'"
        )
        raise NotFound(f"no project {name!r}{hint}")
    return Project(*row)


def list_all(ws: Workspace) -> list[Project]:
    with ws.read() as con:
        return list_with(con)


def list_with(con: duckdb.DuckDBPyConnection) -> list[Project]:
    """All projects, oldest first, read on an open connection."""
    rows = con.execute(
        f"SELECT {_FIELDS} FROM projects ORDER BY created_at, name"  # noqa: S608
    ).fetchall()
    return [Project(*row) for row in rows]
