"""A check's questions share one error budget: the inputs' tests and the scores' test are each
judged at their share, and the shares add up to at most 2 % (``bench/monitor_rates.py``
measures the false-alarm rate this gives)."""

from __future__ import annotations

from pathlib import Path

from mlcycle.models import registry
from mlcycle.monitor import budget, monitoring
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame


def test_the_shares_of_a_check_add_up_to_two_percent() -> None:
    shares = [budget.INPUTS, budget.PREDICTIONS, budget.ESTIMATED_LOSS, budget.MEASURED_LOSS]
    assert abs(sum(shares) - 0.02) < 1e-12 and min(shares) > 0
    # A loss must clear more than the two-sided 95 % interval's 1.96 standard errors.
    assert 2.8 < budget.Z_ESTIMATED == budget.Z_MEASURED < 2.9


def test_a_check_judges_inputs_and_scores_at_their_shares(tmp_path: Path) -> None:
    ws = classification_workspace(tmp_path, models=["logistic"])
    registry.promote(ws, "clf", "1", reason="first")
    batch = tmp_path / "batch.csv"
    classification_frame(300, seed=5).drop("label").write_csv(batch)
    result = monitoring.check(ws, "clf", batch)
    assert result["data_drift"]["alpha"] == budget.INPUTS
    assert result["prediction_drift"]["alpha"] == budget.PREDICTIONS
    # The inputs' share is split between the inputs and the joint test (Bonferroni).
    tested = result["data_drift"]["n_tested"]
    joint = result["data_drift"]["multivariate"] or {}
    threshold = budget.INPUTS / (tested + bool(joint.get("applicable")))
    assert all(c["threshold"] == threshold for c in result["data_drift"]["columns"]
               if c.get("threshold") is not None)
