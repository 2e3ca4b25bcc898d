"""Small generated tables for training tests: fast, with a real signal to find."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl


def classification_frame(rows: int = 600, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=rows)
    x2 = rng.uniform(0, 10, size=rows)
    plan = rng.choice(["basic", "plus", "pro"], size=rows, p=[0.5, 0.3, 0.2])
    flag = rng.random(rows) < 0.4
    logit = 1.5 * x1 - 0.3 * x2 + np.where(plan == "pro", 1.2, 0.0) + 0.8 * flag + 1.0
    y = rng.random(rows) < 1 / (1 + np.exp(-logit))
    x2[rng.random(rows) < 0.05] = np.nan
    return pl.DataFrame(
        {
            "id": [f"U{i:05d}" for i in range(rows)],
            "x1": x1.round(4),
            "x2": x2.round(3),
            "plan": plan,
            "flag": flag,
            "label": np.where(y, "yes", "no"),
        }
    ).with_columns(pl.col("x2").fill_nan(None))


def regression_frame(rows: int = 500, seed: int = 2) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.uniform(20, 200, size=rows)
    rooms = rng.integers(1, 6, size=rows)
    area = rng.choice(["north", "south", "centre"], size=rows)
    price = 1000 + 30 * size + 200 * rooms + np.where(area == "centre", 800, 0)
    price = price + rng.normal(scale=300, size=rows)
    return pl.DataFrame(
        {"size": size.round(1), "rooms": rooms, "area": area, "price": price.round(2)}
    )


def write(frame: pl.DataFrame, folder: Path, name: str) -> Path:
    path = folder / name
    frame.write_csv(path)
    return path


def logistic_workspace(root: Path):
    """A workspace at ``root/ws`` whose project ``clf`` has one registered logistic model,
    trained on 300 rows (one trial, two folds: quick)."""
    from mlcycle import projects
    from mlcycle.data import datasets
    from mlcycle.models import training
    from mlcycle.store.workspace import open_workspace

    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "clf", target="label", task="classification", metric="roc_auc")
    datasets.add(ws, "clf", write(classification_frame(300), root, "clf.csv"))
    training.train(ws, training.TrainConfig("clf", models=["logistic"], trials=1, cv=2))
    return ws


def labelled_batch(folder: Path, name: str, seed: int, shift: float,
                   rows: int = 400) -> tuple[Path, Path]:
    """A batch and its labels file (by ``id``); with a ``shift`` the inputs move and the
    outcome is turned round too, so the champion measurably loses and retraining is asked."""
    frame = classification_frame(rows, seed=seed).with_columns(pl.col("x1") + shift)
    if shift:
        frame = frame.with_columns(
            pl.when(pl.col("label") == "yes").then(pl.lit("no")).otherwise(pl.lit("yes"))
            .alias("label"))
    batch, labels = folder / name, folder / f"labels-{name}"
    frame.drop("label").write_csv(batch)
    frame.select("id", "label").write_csv(labels)
    return batch, labels
