"""Which lifecycle stages a project has reached.

A stage is reached when the activity log holds an event of its kind for the project, so each
stage's module only has to record its events (``core.events.record``) to light up here, in
``project show`` and in the TUI.
"""

from __future__ import annotations

from typing import Any

from core.workspace import Workspace

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
        kinds = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT kind FROM events WHERE project = ?", [project]
            ).fetchall()
        ]
    return [
        {"key": key, "label": label, "reached": any(k.startswith(prefix) for k in kinds)}
        for key, label, prefix in STAGES
    ]


def current_label(stages: list[dict[str, Any]]) -> str:
    """The furthest stage reached, for one-line summaries."""
    done = [s["label"] for s in stages if s["reached"]]
    return done[-1] if done else "–"
