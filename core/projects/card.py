"""Problem definition (lifecycle stage 1): the project card."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlcycle.projects import metrics
from mlcycle.store import events, suggest
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso, utcnow
from mlcycle.store.sql import fetch_one
from mlcycle.store.workspace import Workspace

if TYPE_CHECKING:
    import duckdb

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_UP_TO_ONE = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "r2")
_FIELDS = ("name, target, task, metric, goal, description, kpi, created_at, retention_days, "
           "lawful_basis")


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
    # Data handling: how long dataset versions are kept, and on what ground personal data
    # is processed (the user's words).
    retention_days: int | None = None
    lawful_basis: str | None = None

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
            f"INSERT INTO projects ({_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            [
                project.name,
                project.target,
                project.task,
                project.metric,
                project.goal,
                project.description,
                project.kpi,
                project.created_at,
                project.retention_days,
                project.lawful_basis,
            ],
        )
        events.record(con, "project.created", project=name, detail={"metric": chosen.name})
    return project


def check_goal(goal: float | None, metric: str) -> None:
    """A goal must be reachable: scores that top out at 1 take a goal up to 1."""
    if goal is not None and metric in _UP_TO_ONE and goal > 1:
        raise InvalidInput(f"goal {goal:g} is out of range for {metric}: use a value up to 1")


# What a card may change once made: the problem's words and how success is judged, and the
# target while nothing has been trained for it. The task stays: a project's metrics, data
# checks and models are all made for it.
EDITABLE = ("target", "metric", "goal", "description", "kpi", "retention_days", "lawful_basis")


def update(ws: Workspace, name: str, **changes: Any) -> Project:
    """Change the card's target (while the project has no run or model version), metric (one
    that fits its task), goal, description, KPI, retention period or lawful basis; each
    keyword given replaces the value (None clears all but the target and the metric)."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(f"a project's {', '.join(unknown)} cannot change; "
                           f"edit its {', '.join(EDITABLE)}")
    current = get(ws, name)
    merged = {**{f: getattr(current, f) for f in EDITABLE}, **changes}
    if not merged["target"] or not str(merged["target"]).strip():
        raise InvalidInput("--target must name the column to predict")
    merged["metric"] = metrics.validate_metric(merged["metric"], current.task).name
    check_goal(merged["goal"], merged["metric"])
    if merged["retention_days"] is not None and merged["retention_days"] < 1:
        raise InvalidInput("--retention-days must be at least 1 day")
    changed = {f: merged[f] for f in EDITABLE if merged[f] != getattr(current, f)}
    if not changed:
        return current
    with ws.write() as con:
        if "target" in changed:
            # Checked in the writing transaction, so a run started meanwhile is seen.
            _check_target(con, current, changed["target"])
        sets = ", ".join(f"{f} = ?" for f in changed)
        con.execute(f"UPDATE projects SET {sets} WHERE name = ?",  # noqa: S608
                    [*changed.values(), name])
        events.record(con, "project.updated", project=name, subject=", ".join(changed),
                      detail=changed)
    return get(ws, name)


def target_fixed(ws: Workspace, card: Project) -> str | None:
    """Why the card's target can no longer change (its runs or model versions were made for
    it), or None while it still can."""
    with ws.read() as con:
        return _target_fixed_with(con, card)


def _target_fixed_with(con: duckdb.DuckDBPyConnection, card: Project) -> str | None:
    row = fetch_one(con, "SELECT (SELECT count(*) FROM runs WHERE project = ?), "
                         "(SELECT count(*) FROM model_versions WHERE project = ?)",
                    [card.name, card.name])
    if not row or not (row[0] or row[1]):
        return None
    made = "model versions" if row[1] else "runs"
    return (f"project {card.name!r} already has {made} trained to predict {card.target!r}; "
            "its target cannot change: create a new project with "
            f"'mlcycle project create NAME --target COLUMN --task {card.task}'")


def _check_target(con: duckdb.DuckDBPyConnection, card: Project, target: str) -> None:
    """A new target must be free to set and be a column of every version of the data."""
    why = _target_fixed_with(con, card)
    if why:
        raise InvalidInput(why)
    versions: dict[str, list[str]] = {}
    for dataset_id, column in con.execute(
        "SELECT pd.dataset_id, c.name FROM project_datasets pd "
        "JOIN dataset_columns c ON c.dataset_id = pd.dataset_id "
        "WHERE pd.project = ? ORDER BY pd.added_at, c.position",
        [card.name],
    ).fetchall():
        versions.setdefault(dataset_id, []).append(column)
    for dataset_id, names in versions.items():
        if target not in names:
            raise InvalidInput(
                f"no column {target!r} in version {dataset_id} of project {card.name!r}"
                f"{suggest.did_you_mean(target, names)} "
                f"(columns: {suggest.listing(target, names)})")


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


def data_handling(ws: Workspace, name: str) -> dict[str, Any]:
    """The card's data-handling section: the kinds of personal data the project's dataset
    versions hold (and in which versions and columns), how long versions are kept and which
    are past it, and the lawful basis."""
    card = get(ws, name)
    with ws.read() as con:
        rows = con.execute(
            "SELECT pd.dataset_id, pd.added_at, p.findings FROM project_datasets pd "
            "LEFT JOIN dataset_privacy p ON p.dataset_id = pd.dataset_id "
            "WHERE pd.project = ? ORDER BY pd.added_at",
            [name],
        ).fetchall()
    kinds: dict[str, dict[str, list[str]]] = {}
    unscanned = []
    for dataset_id, _added, findings in rows:
        if findings is None:
            unscanned.append(dataset_id)
            continue
        for f in json.loads(findings):
            held = kinds.setdefault(f["kind"], {"versions": [], "columns": []})
            if dataset_id not in held["versions"]:
                held["versions"].append(dataset_id)
            if f["column"] not in held["columns"]:
                held["columns"].append(f["column"])
    past = []
    if card.retention_days is not None:
        cutoff = utcnow() - timedelta(days=card.retention_days)
        past = [dataset_id for dataset_id, added, _ in rows if added < cutoff]
    return {
        "sensitive": [{"kind": k, **v} for k, v in sorted(kinds.items())],
        "unscanned_versions": unscanned,
        "retention_days": card.retention_days,
        "past_retention": past,
        "lawful_basis": card.lawful_basis,
    }
