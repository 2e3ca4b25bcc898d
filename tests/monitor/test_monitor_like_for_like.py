"""Monitoring compares raw batches with the training data as it was collected, not as a
recipe left it: an imputed column does not 'drift' in its missing rate."""

from __future__ import annotations

import pytest

from mlcycle import prep
from mlcycle.models import registry, training
from mlcycle.monitor import monitoring
from mlcycle.prep import recipes
from tests.conftest import SAMPLE

RECIPE = """
[[step]]
op = "impute"
columns = ["total_charges"]
strategy = "median"
"""


@pytest.mark.slow
def test_an_imputed_column_raises_no_missing_rate_alarm(churn_ws) -> None:
    prepared = prep.run(churn_ws, "churn", recipe=recipes.parse(RECIPE, "r.toml")).version
    result = training.train(churn_ws, training.TrainConfig(
        "churn", data=prepared.id, models=["logistic"], trials=1, cv=2, features=None))
    registry.promote(churn_ws, "churn", str(result.registered_version), reason="first")
    check = monitoring.check(churn_ws, "churn", SAMPLE / "batches" / "2026-01.csv")
    total = next(c for c in check["data_drift"]["columns"] if c["name"] == "total_charges")
    assert total["missing_reference"] > 0.03  # the collected rows, not the imputed ones
    assert not total["drifted"], total["note"]
    assert check["alerts"] == []
