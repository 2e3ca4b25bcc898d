"""The search's use of time: a time budget honoured within 5 %, successive halving's pruned
trials kept as runs and marked with the rows and iterations they got."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.models import tracking, training
from mlcycle.store.workspace import Workspace
from tests.conftest import run_cli
from tests.training_data import classification_frame, write


def _project(ws: Workspace, tmp_path: Path, rows: int) -> None:
    projects.create(ws, "clf", target="label", task="classification", metric="roc_auc")
    datasets.add(ws, "clf", write(classification_frame(rows), tmp_path, "clf.csv"))


@pytest.mark.slow
def test_the_time_budget_is_honoured_within_five_percent(ws: Workspace, tmp_path: Path) -> None:
    _project(ws, tmp_path, 6000)
    budget = 15.0
    config = training.TrainConfig("clf", models=["random_forest", "hist_gradient_boosting"],
                                  trials=40, cv=3, time_budget=budget)
    started = time.monotonic()
    result = training.train(ws, config)
    elapsed = time.monotonic() - started
    assert elapsed <= 1.05 * budget, elapsed
    assert elapsed >= 0.6 * budget, elapsed  # the budget was spent, not given up early
    assert result.stopped == "time budget of 15s used"
    # The best so far is judged on the holdout and registered.
    assert result.registered_version == 1 and "holdout.roc_auc" in result.models[0]
    seconds = [r.metrics["train_seconds"] for r in tracking.runs(ws, "clf", group=result.group)]
    assert max(seconds) >= 0.05 * budget  # a trial is a noticeable share of the budget
    assert result.trials_finished < 1 + 2 * 40


def test_pruned_trials_are_runs_marked_with_the_resource_they_got(
        ws: Workspace, tmp_path: Path) -> None:
    _project(ws, tmp_path, 3750)  # 3,000 training rows: two rungs, 1,000 and 3,000 rows
    result = training.train(ws, training.TrainConfig(
        "clf", models=["logistic", "hist_gradient_boosting"], trials=4, cv=2))
    runs = [r for r in tracking.runs(ws, "clf", group=result.group) if r.kind == "trial"]
    assert len(runs) == 8 and result.trials_finished == 9
    pruned = [r for r in runs if r.tags.get("mlcycle.pruned") == "true"]
    full = [r for r in runs if r not in pruned]
    # ceil(4 / 3) = 2 of each family go on to all the rows; the other two are pruned.
    assert sorted(r.name for r in pruned) == ["hist_gradient_boosting"] * 2 + ["logistic"] * 2
    assert {r.tags["mlcycle.rows"] for r in pruned} == {"1000"}
    assert {r.tags["mlcycle.rows"] for r in full} == {"3000"}
    assert all(int(r.tags["mlcycle.iterations"]) >= 1 for r in runs
               if r.name == "hist_gradient_boosting")
    assert {r.status for r in runs} == {"finished"}
    assert result.best_run in {r.id for r in full}
    # A pruned trial reproduces on the rows it got.
    assert training.reproduce(ws, pruned[0].id)["identical"]
    listed = run_cli("runs", "clf", workspace=ws.root, check=True).stdout
    assert listed.count("pruned (1,000 rows") == 4
    assert "iterations)" in listed


def test_a_trial_past_its_deadline_stops_between_folds(ws: Workspace, tmp_path: Path) -> None:
    from mlcycle.models import catalog, search

    _project(ws, tmp_path, 600)
    prepared = training.prepare(ws, "clf", "latest", 3)
    entry = catalog.get("logistic", "classification")
    # No fold starts after the deadline, not even the first.
    with pytest.raises(search.OutOfTime, match="stopped after 0 of 3 folds"):
        training.cross_validate(prepared, entry, {}, 0, 3, deadline=time.monotonic())
    # In time, the folds one by one give what the folds together give.
    assert training.cross_validate(prepared, entry, {}, 0, 3,
                                   deadline=time.monotonic() + 600) == pytest.approx(
        training.cross_validate(prepared, entry, {}, 0, 3))
