"""The multivariate drift test: it finds a change of the inputs' joint distribution that
every per-column test misses, and holds its false-alarm rate on same-distribution pairs.

Generated data with known truth: two inputs drawn bivariate normal with correlation +0.8 in
the reference and -0.8 in the batch (so each input's own distribution is unchanged), plus
independent noise inputs. ``bench/drift_rates.py`` runs the same scenario with more pairs
and at several sizes.
"""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from mlcycle import drift
from tests.conftest import SAMPLE, run_cli
from tests.drift.test_drift_rates import run_once

NOISE = 3


def correlated(rng: np.random.Generator, n: int, rho: float) -> dict[str, np.ndarray]:
    """x1, x2 standard normal with correlation ``rho``; noise inputs independent of them
    (one numeric, one categorical, one boolean, so every encoding takes part)."""
    x1 = rng.normal(size=n)
    x2 = rho * x1 + math.sqrt(1 - rho * rho) * rng.normal(size=n)
    return {
        "x1": x1,
        "x2": x2,
        "noise": rng.normal(5, 2, size=n),
        "colour": rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2]),
        "flag": rng.random(n) < 0.3,
    }


def reversal_detected(seed: int, n: int) -> tuple[bool, bool]:
    """(joint test drifted, any single column drifted) for one reversed pair."""
    rng = np.random.default_rng(seed)
    result = run_once(correlated(rng, n, 0.8), correlated(rng, n, -0.8))
    return result.multivariate.drifted, any(c.drifted for c in result.columns)


def same_distribution_alarm(seed: int, n: int) -> bool:
    rng = np.random.default_rng(seed)
    result = run_once(correlated(rng, n, 0.8), correlated(rng, n, 0.8))
    return result.multivariate.drifted


# 90% power required; the measured power is 100% (bench/drift_rates.py), so 19 of 20 passes
# reliably.
def test_correlation_reversal_is_detected_where_no_column_drifts() -> None:
    runs = [reversal_detected(seed, 5000) for seed in range(20)]
    joint = sum(j for j, _ in runs)
    columns = sum(c for _, c in runs)
    assert joint >= 18, f"correlation reversal found {joint} of 20 times"
    # The reason for the test: the per-column tests alone see (almost) nothing.
    assert columns <= 2, f"a single column drifted in {columns} of 20 reversed pairs"


# 5% allowed: with 40 pairs a true rate of 5% gives at most 5 alarms 98% of the time. The
# test runs at alpha / (number of tests), so its own rate is far lower.
def test_same_distribution_pairs_raise_few_alarms() -> None:
    alarms = sum(same_distribution_alarm(1000 + seed, 5000) for seed in range(40))
    assert alarms <= 2, f"{alarms} false multivariate alarms in 40 same-distribution pairs"


@pytest.mark.parametrize("month", ["2026-01", "2026-02"])
def test_sample_months_without_drift_raise_no_joint_alarm(month: str) -> None:
    result = drift.compare(SAMPLE / "churn_reference.csv", SAMPLE / "batches" / f"{month}.csv")
    joint = result.multivariate
    assert joint.applicable and not joint.drifted, joint
    assert "customer_id" not in joint.columns and "signup_date" not in joint.columns
    assert {"tenure_months", "total_charges", "contract"} <= set(joint.columns)
    assert not result.drift_detected


def test_cli_json_reports_the_joint_verdict_and_the_dataset_drifts(tmp_path) -> None:
    rng = np.random.default_rng(3)
    paths = []
    for name, rho in (("ref.csv", 0.8), ("cur.csv", -0.8)):
        path = tmp_path / name
        pl.DataFrame(correlated(rng, 3000, rho)).write_csv(path)
        paths.append(str(path))
    report = tmp_path / "r.md"
    proc = run_cli("drift", *paths, "--json", "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    joint = out["multivariate"]
    assert joint["drifted"] is True and out["drift_detected"] is True
    assert out["n_drifted"] == 0  # no column on its own
    assert joint["p_value"] < joint["threshold"]
    assert joint["mean_error_current"] > joint["mean_error_reference"]
    assert set(joint["columns"]) == {"x1", "x2", "noise", "colour", "flag"}
    assert "PCA reconstruction error" in joint["method"]
    text = report.read_text()
    assert "inputs taken together" in text and "DRIFT" in text
    human = run_cli("drift", *paths)
    assert "inputs taken together" in human.stdout


def test_one_input_is_not_applicable_and_does_not_fail() -> None:
    rng = np.random.default_rng(4)
    ref, cur = correlated(rng, 500, 0.8), correlated(rng, 500, 0.8)
    result = run_once({"x1": ref["x1"]}, {"x1": cur["x1"]})
    joint = result.multivariate
    assert not joint.applicable and not joint.drifted
    assert "fewer than 2" in (joint.reason or "")
    assert result.to_dict()["multivariate"]["drifted"] is False
    # With one test in the family, a column's threshold is alpha itself.
    assert result.columns[0].threshold == pytest.approx(drift.ALPHA)


def test_a_stored_profile_gives_the_same_verdict_and_old_profiles_still_load() -> None:
    rng = np.random.default_rng(5)
    ref, cur = pl.DataFrame(correlated(rng, 2000, 0.8)), pl.DataFrame(correlated(rng, 2000, 0))
    direct = drift.check(drift.profile(ref), cur).multivariate
    stored = drift.Profile.from_json(drift.profile(ref).to_json())
    again = drift.check(stored, cur).multivariate
    assert direct.drifted and again.to_dict() == direct.to_dict()  # deterministic, too
    old = stored.to_dict()
    del old["multivariate"]
    result = drift.check(drift.Profile.from_dict(old), cur)
    assert not result.multivariate.applicable and "older mlcycle" in result.multivariate.reason
    assert drift.DriftResult.from_dict(result.to_dict()).multivariate == result.multivariate


def test_selecting_columns_fits_the_joint_model_on_them_only() -> None:
    rng = np.random.default_rng(6)
    ref, cur = pl.DataFrame(correlated(rng, 2000, 0.8)), pl.DataFrame(correlated(rng, 2000, -0.8))
    result = drift.compare(ref, cur, columns=["x1", "x2"])
    assert result.multivariate.columns == ["x1", "x2"] and result.multivariate.drifted
    # A profile of every column cannot be checked on a subset: said, not failed.
    subset = drift.check(drift.profile(ref), cur, columns=["x1", "noise"])
    assert not subset.multivariate.applicable and "not selected" in subset.multivariate.reason
