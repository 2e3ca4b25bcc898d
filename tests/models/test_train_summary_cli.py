"""`mlcycle train`'s summary, as text and as JSON: a row for every model family, with its
CV and holdout figures or why it has none, and the trials counted as planned, run, pruned
and skipped for time."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.store.workspace import Workspace
from tests.conftest import run_cli, run_json
from tests.training_data import classification_frame, write


@pytest.fixture
def small(ws: Workspace, tmp_path: Path) -> Workspace:
    projects.create(ws, "p.q", target="label", task="classification", metric="roc_auc")
    datasets.add(ws, "p.q", write(classification_frame(300), tmp_path, "small.csv"))
    return ws


def test_the_json_summary_has_every_family_and_the_trial_counts(small: Workspace) -> None:
    result = run_json("train", "p.q", "--models", "logistic,knn", "--trials", "2", "--cv", "2",
                      workspace=small.root)
    rows = {row["model"]: row for row in result["families"]}
    assert list(rows) == ["baseline", "logistic", "knn"]
    for row in rows.values():
        assert row["run"] and row["cv"] is not None and row["holdout"] is not None, row
        assert row["status"] == "judged"
    assert result["progress"] == {"planned": 5, "run": 5, "pruned": 0, "skipped": 0}
    assert result["registered_version"] == 1 and result["trials_finished"] == 5


def test_a_family_the_budget_cannot_hold_is_a_row_of_the_text_summary(
        small: Workspace) -> None:
    # The baseline always runs; a budget of a hundredth of a second holds nothing else.
    shown = run_cli("train", "p.q", "--models", "logistic", "--trials", "2", "--cv", "2",
                    "--time-budget", "0.01", workspace=small.root, check=True).stdout
    assert "logistic: skipped for time: the time budget was used up before its first trial" in shown
    table = [line for line in shown.splitlines() if line.startswith("│")]
    assert any("baseline" in line and "0.5000" in line for line in table), shown
    assert any("logistic" in line and "skipped for time" in line for line in table), shown
    assert "1 of 3 trials run, 2 skipped for time" in shown
    assert "stopped early: time budget of 0.01s used" in shown
