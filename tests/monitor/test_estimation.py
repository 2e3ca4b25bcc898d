"""Performance estimated without labels: exact when the outcome is certain, close under a
covariate shift, and an alert before the labels arrive."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from mlcycle.models import registry
from mlcycle.monitor import estimation, monitoring
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=2, max_size=60))
def test_expected_auc_with_certain_outcomes_is_the_roc_auc(rows) -> None:
    scores = np.array([s / 6 for s, _ in rows])
    y = np.array([b for _, b in rows])
    if y.all() or not y.any():
        return
    assert estimation.expected_auc(scores, y.astype(float)) == pytest.approx(
        roc_auc_score(y, scores), abs=1e-12)


def test_expected_metrics_with_certain_outcomes_are_the_metrics() -> None:
    rng = np.random.default_rng(4)
    positive = rng.random(500)
    y = rng.random(500) < positive
    pred = positive > 0.5
    scores = np.column_stack([1 - positive, positive])
    certain = np.column_stack([~y, y]).astype(float)  # every row's label is known
    got = estimation.expected_metrics(scores, pred.astype(int), certain, positive=1)
    scores = positive
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-4)
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred), abs=1e-4)
    assert got["precision"] == pytest.approx(precision_score(y, pred), abs=1e-4)
    assert got["recall"] == pytest.approx(recall_score(y, pred), abs=1e-4)
    assert got["f1"] == pytest.approx(f1_score(y, pred), abs=1e-4)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, scores), abs=1e-4)


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory):
    ws = classification_workspace(tmp_path_factory.mktemp("estimate"), ["logistic"], rows=2000)
    registry.promote(ws, "clf", "1", reason="test")
    return ws


def _files(folder: Path, name: str, frame: pl.DataFrame) -> tuple[Path, Path]:
    batch, labels = folder / f"{name}.csv", folder / f"{name}-labels.csv"
    frame.drop("label").write_csv(batch)
    frame.select("id", "label").write_csv(labels)
    return batch, labels


def test_an_input_shift_that_costs_performance_alerts_before_labels(clf, tmp_path) -> None:
    # Covariate shift: only customers with high x1 arrive, each with its true outcome, so
    # the model ranks them less well while the relation of x1 to the outcome is unchanged.
    fresh = classification_frame(30_000, seed=99)
    shifted = fresh.filter(pl.col("x1") > 0.5).head(2000)
    batch, labels = _files(tmp_path, "shifted", shifted)
    blind = monitoring.check(clf, "clf", batch)
    estimate = blind["estimated_performance"]
    assert estimate["metric"] == "roc_auc" and estimate["relative_loss"] > 0.05
    assert any(a.startswith("estimated roc_auc (labels not known yet) fell to")
               for a in blind["alerts"])
    known = monitoring.check(clf, "clf", batch, labels=labels)
    assert estimate["value"] == pytest.approx(known["performance"]["value"], abs=0.03)
    # With labels, the truth decides and no estimate alerts.
    assert not any(a.startswith("estimated") for a in known["alerts"])

    calm, calm_labels = _files(tmp_path, "calm", fresh.head(2000))
    result = monitoring.check(clf, "clf", calm, labels=calm_labels)
    assert result["estimated_performance"]["value"] == pytest.approx(
        result["performance"]["value"], abs=0.03)
    assert result["estimated_performance"]["relative_loss"] < 0.05
    history = monitoring.history(clf, "clf")
    assert monitoring.metric_of(history[0]) == (estimate["value"], True)
