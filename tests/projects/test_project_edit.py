"""A project card's words and success measure can change, its target only while nothing was
trained for it; its task cannot."""

from __future__ import annotations

import pytest

from mlcycle import projects
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput
from tests.conftest import run_cli, run_json


def test_update_changes_what_it_is_given_and_records_it(ws) -> None:
    projects.create(ws, "churn", target="churned", task="classification", goal=0.8, kpi="k")
    card = projects.update(ws, "churn", metric="f1", goal=None, description="who leaves")
    assert (card.metric, card.goal, card.description, card.kpi) == ("f1", None, "who leaves", "k")
    last = events.recent(ws, "churn", limit=1)[0]
    assert last["kind"] == "project.updated" and last["subject"] == "metric, goal, description"


@pytest.mark.parametrize("changes, message", [
    ({"metric": "rmse"}, "does not fit a classification task"),
    ({"goal": 3.0}, "out of range for roc_auc"),
    ({"task": "regression"}, "task cannot change"),
    ({"target": " "}, "must name the column"),
])
def test_update_refuses_and_changes_nothing(ws, changes, message) -> None:
    projects.create(ws, "churn", target="churned", task="classification")
    before = projects.get(ws, "churn")
    with pytest.raises(InvalidInput, match=message):
        projects.update(ws, "churn", **changes)
    assert projects.get(ws, "churn") == before


def test_project_edit_command(ws_path) -> None:
    run_cli("project", "create", "churn", "--target", "churned", "--task", "classification",
            "--goal", "0.8", workspace=ws_path, check=True)
    out = run_cli("project", "edit", "churn", "--no-goal", "--kpi", "calls saved",
                  workspace=ws_path, check=True).stdout
    assert out.strip() == "updated churn: goal, kpi"
    card = run_json("project", "show", "churn", workspace=ws_path)
    assert card["goal"] is None and card["kpi"] == "calls saved"
    bad = run_cli("project", "edit", "churn", "--metric", "rmse", workspace=ws_path)
    assert bad.returncode != 0 and "does not fit" in bad.stderr and "Traceback" not in bad.stderr
