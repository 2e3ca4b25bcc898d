"""Which lifecycle stages a project has reached.

A stage is reached when the activity log holds an event of its kind for the project, so each
stage's module only has to record its events (``mlcycle.store.events.record``) to light up here, in
``project show`` and in the TUI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcycle.projects.card import Project, list_with
from mlcycle.store.events import recent_with
from mlcycle.store.workspace import Workspace

if TYPE_CHECKING:
    import duckdb

# (key, label, event kind prefix that marks the stage as reached)
STAGES: list[tuple[str, str, str]] = [
    ("problem", "problem", "project.created"),
    ("data", "data", "data.added"),
    ("prepare", "prepare", "prep."),
    ("features", "features", "features."),
    ("train", "train", "train."),
    ("evaluate", "evaluate", "evaluate."),
    ("register", "registry", "model."),
    ("deploy", "deploy", "deploy."),
    ("monitor", "monitor", "monitor."),
    ("retrain", "retrain", "retrain."),
]


def reached(ws: Workspace, project: str) -> list[dict[str, Any]]:
    """Every stage in order, with whether the project has reached it."""
    with ws.read() as con:
        return reached_with(con).get(project) or _stages(set())


def reached_with(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
    """The stages of every project that has any activity, in one query."""
    kinds: dict[str, set[str]] = {}
    for project, kind in con.execute(
        "SELECT DISTINCT project, kind FROM events WHERE project IS NOT NULL"
    ).fetchall():
        kinds.setdefault(project, set()).add(kind)
    return {project: _stages(found) for project, found in kinds.items()}


def _stages(kinds: set[str]) -> list[dict[str, Any]]:
    return [
        {"key": key, "label": label, "reached": any(k.startswith(prefix) for k in kinds)}
        for key, label, prefix in STAGES
    ]


@dataclass
class Overview:
    """Everything the projects overview shows, read in one short transaction."""

    projects: list[Project]
    stages: dict[str, list[dict[str, Any]]]
    activity: list[dict[str, Any]]


def overview(ws: Workspace, activity: int = 30) -> Overview:
    with ws.read() as con:
        cards = list_with(con)
        stages = reached_with(con)
        recent = recent_with(con, limit=activity)
    return Overview(cards, {p.name: stages.get(p.name) or _stages(set()) for p in cards}, recent)


def current_label(stages: list[dict[str, Any]]) -> str:
    """The furthest stage reached, for one-line summaries."""
    done = [s["label"] for s in stages if s["reached"]]
    return done[-1] if done else "–"
