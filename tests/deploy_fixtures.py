"""Workspaces with registered models for the deployment tests, built once per module."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.models import registry, tracking, training
from mlcycle.store.workspace import Workspace, open_workspace
from tests.training_data import classification_frame, regression_frame, write


def register_all(ws: Workspace, project: str, group: str) -> list[int]:
    """Register every evaluated model of a training (train registers only the best)."""
    versions = [v.run_id for v in registry.versions(ws, project)]
    out = []
    for run in tracking.runs(ws, project, group=group):
        if run.tags.get("mlcycle.evaluated") == "true" and run.kind == "trial":
            if run.id not in versions:
                registry.register(ws, project, run.id, reason="test")
            out.append(next(v.version for v in registry.versions(ws, project)
                            if v.run_id == run.id))
    return sorted(out)


def classification_workspace(root: Path, models: list[str] | None = None,
                             rows: int = 400) -> Workspace:
    """Project ``clf``: id, two numbers, a category, a boolean; target ``label``."""
    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "clf", target="label", task="classification", metric="roc_auc")
    datasets.add(ws, "clf", write(classification_frame(rows), root, "clf.csv"))
    result = training.train(ws, training.TrainConfig(
        "clf", models=models or ["logistic", "random_forest"], trials=1, cv=2))
    register_all(ws, "clf", result.group)
    return ws


def regression_workspace(root: Path, models: list[str] | None = None,
                         rows: int = 400) -> Workspace:
    """Project ``reg``: two numbers and a category; target ``price``."""
    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "reg", target="price", task="regression", metric="rmse")
    # Sizes to 4 decimals, not 1: with coarse values, nearest neighbours tie at equal
    # distances, and which of two tied rows counts is arbitrary in each runtime.
    rng = np.random.default_rng(3)
    frame = regression_frame(rows).with_columns(
        (pl.col("size") + rng.uniform(-0.05, 0.05, rows)).round(4))
    datasets.add(ws, "reg", write(frame, root, "reg.csv"))
    result = training.train(ws, training.TrainConfig(
        "reg", models=models or ["ridge"], trials=1, cv=2))
    register_all(ws, "reg", result.group)
    return ws
