"""Retraining is recommended only when performance is worse beyond its uncertainty: drift
that costs nothing is still an alert, says "no action needed" with the figure that shows
it, and raises no decision; drift whose cost cannot be told asks for a look, not a
retraining."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlcycle import monitor, projects
from mlcycle.data import datasets
from mlcycle.models import registry, training
from mlcycle.monitor import decisions, monitoring
from mlcycle.store.workspace import open_workspace
from tests.conftest import copy_workspace, run_cli, run_json
from tests.deploy_fixtures import register_all

SIGNAL, UNUSED = "signal", "unused 'é/%'"  # the model hangs on signal; barely uses the other


def _frame(rows: int, seed: int, squeeze: float = 1.0, unused_shift: float = 0.0
           ) -> pl.DataFrame:
    """``squeeze`` < 1 narrows signal: the rows get harder to tell apart, and the
    estimate sees the loss; ``unused_shift`` moves the input the model does not use."""
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=rows), rng.normal(size=rows)
    y = rng.random(rows) < 1 / (1 + np.exp(-2.0 * x))
    return pl.DataFrame({"id": [f"R{seed}-{i}" for i in range(rows)], SIGNAL: x * squeeze,
                         UNUSED: z + unused_shift, "label": np.where(y, "yes", "no")})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("advice")
    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "rank", target="label", task="classification", metric="roc_auc")
    _frame(1500, seed=1).write_csv(root / "train.csv")
    datasets.add(ws, "rank", root / "train.csv")
    result = training.train(ws, training.TrainConfig("rank", models=["logistic"], trials=1,
                                                     cv=2))
    register_all(ws, "rank", result.group)
    registry.promote(ws, "rank", "1", reason="test")
    return ws.root


@pytest.fixture
def ws(trained: Path, tmp_path: Path):
    return copy_workspace(trained, tmp_path)


def _batch(folder: Path, name: str, frame: pl.DataFrame) -> Path:
    frame.drop("label").write_csv(folder / name)
    return folder / name


def test_drift_that_costs_nothing_says_no_action_needed_and_raises_no_decision(
        ws, tmp_path: Path) -> None:
    batch = _batch(tmp_path, "unused moved.csv", _frame(1000, seed=2, unused_shift=1.0))
    check = monitor.check("rank", batch, workspace=ws)
    (drift,) = check.alert_details  # real drift: the alert stays
    assert drift.kind == "data_drift" and drift.action == "none"
    assert not drift.retrain_recommended and not check.retrain_recommended
    estimate = check.estimated_performance
    assert estimate is not None and estimate.low < estimate.reference < estimate.high
    holds = (f"no action needed: no clear loss (estimated roc_auc {estimate.value:.4f} "
             f"[{estimate.low:.4f}, {estimate.high:.4f}] vs {estimate.reference:.4f} on the "
             "holdout)")
    assert drift.message == f"data drift in 1 of 2 inputs: {UNUSED}; {holds}"
    assert check.advice == holds
    evidence = drift.evidence["performance"]
    assert evidence["holds"] and evidence["estimated"] and evidence["low"] == estimate.low
    assert drift.playbook[0].startswith("No action needed")
    assert not any("mlcycle retrain" in step for step in drift.playbook)
    assert check.decision is None and decisions.list_decisions(ws, "rank", "pending") == []


def test_an_estimated_loss_beyond_its_interval_recommends_retraining_and_raises_it(
        ws, tmp_path: Path) -> None:
    batch = _batch(tmp_path, "squeezed.csv", _frame(1000, seed=3, squeeze=0.3))
    check = monitor.check("rank", batch, workspace=ws)
    by_kind = {a.kind: a for a in check.alert_details}
    loss = by_kind["estimated_loss"]
    estimate = check.estimated_performance
    assert estimate is not None and estimate.high < estimate.reference  # beyond its interval
    assert check.retrain_recommended and all(a.action == "retrain" for a in by_kind.values())
    assert check.advice == f"retraining recommended: {loss.message}"
    assert "no action needed" not in " ".join(check.alerts)
    assert check.decision is not None
    assert (check.decision.kind, check.decision.trigger, check.decision.status) == (
        "retrain", "on_alert", "pending")
    (fired,) = check.decision.evidence["fired"]
    assert "estimated_loss" in fired["kinds"] and fired["advice"] == check.advice


def test_drift_whose_cost_cannot_be_told_asks_for_a_look_not_a_retraining(
        ws, tmp_path: Path) -> None:
    batch = _batch(tmp_path, "few.csv", _frame(60, seed=4, unused_shift=4.0))
    check = monitor.check("rank", batch, workspace=ws)
    (drift,) = check.alert_details
    assert drift.action == "look" and not check.retrain_recommended
    unknown = ("performance unknown: 60 rows are too few to estimate it without labels (the "
               "policy needs 100)")
    assert drift.message.endswith(f"; {unknown}; look before retraining")
    assert check.advice == f"retraining not recommended yet: {unknown}"
    assert any(step.startswith("Measure it with labels before retraining: mlcycle monitor")
               for step in drift.playbook)
    assert check.decision is None


def test_the_cli_says_the_same_in_json_and_text(ws, tmp_path: Path) -> None:
    calm = _batch(tmp_path, "calm drift.csv", _frame(1000, seed=5, unused_shift=1.0))
    result = run_json("monitor", "rank", str(calm), workspace=ws.root)
    assert result["alerts"] and not result["retrain_recommended"]
    assert result["advice"].startswith("no action needed: no clear loss (estimated roc_auc")
    assert [a["action"] for a in result["alert_details"]] == ["none"]
    assert result["decision"] is None
    shown = run_cli("monitor", "rank", str(calm), "--again", workspace=ws.root,
                    check=True).stdout
    flat = " ".join(shown.split())
    assert f"ALERT data drift in 1 of 2 inputs: {UNUSED}; no action needed" in flat
    assert "is pending" not in flat and "retraining recommended" not in flat

    lost = _batch(tmp_path, "lost.csv", _frame(1000, seed=6, squeeze=0.3))
    result = run_json("monitor", "rank", str(lost), workspace=ws.root)
    assert result["retrain_recommended"]
    assert result["advice"].startswith("retraining recommended: estimated roc_auc")
    assert result["decision"]["status"] == "pending" and result["decision"]["new"]
    repeat = monitor.check("rank", lost, workspace=ws)  # answered, not checked again
    assert repeat.repeat_of == result["id"]
    assert (repeat.advice, repeat.retrain_recommended) == (result["advice"], True)
    assert monitoring.get_check(ws, "rank", result["id"])["advice"] == result["advice"]
