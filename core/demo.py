"""The demo workspace: the customer-churn problem of ``sample_data/``, defined and collected."""

from __future__ import annotations

from pathlib import Path

from core import datasets, projects
from core.errors import NotFound
from core.workspace import Workspace

PROJECT = "churn"


def sample_dir() -> Path:
    """``sample_data/`` of this checkout."""
    return Path(__file__).resolve().parent.parent / "sample_data"


def build(ws: Workspace, data_dir: Path | None = None) -> str:
    """Define the churn project and add its reference data; safe to run again."""
    data_dir = data_dir or sample_dir()
    reference = data_dir / "churn_reference.csv"
    if not reference.exists():
        raise NotFound(f"{reference} is missing; run 'python sample_data/generate.py'")
    if PROJECT not in {p.name for p in projects.list_all(ws)}:
        projects.create(
            ws,
            PROJECT,
            target="churned",
            task="classification",
            metric="roc_auc",
            goal=0.80,
            description="Predict which subscribers cancel within the next month",
            kpi="Monthly churn rate, via retention offers to the customers most at risk",
        )
    datasets.add(ws, PROJECT, reference)
    return PROJECT
