"""How often the drift engine raises false alarms, and how often it finds real drift.

Generated data with known truth: random splits of one table (no drift) at several sizes,
and at 1,000 rows each required kind of drift injected into one column. The table mixes
every column type the engine handles. ``bench/drift_rates.py`` runs the same scenarios with
more repetitions and up to 10 million rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest

from mlcycle import drift

CATEGORIES = ["north", "south", "east", "west", "centre"]
CATEGORY_P = [0.40, 0.25, 0.15, 0.12, 0.08]
# A "moderate" change of category mix: PSI 0.12, the conventional band of moderate change
# (0.1-0.25) in credit-risk monitoring, where PSI comes from.
CATEGORY_P_MODERATE = [0.25, 0.27, 0.22, 0.15, 0.11]


def make_table(rng: np.random.Generator, n: int) -> dict[str, Any]:
    """A mixed table: every column type, odd names, missing values, a constant, an id."""
    segment = rng.choice(CATEGORIES, size=n, p=CATEGORY_P)
    income = rng.lognormal(10, 0.6, size=n)
    score = rng.normal(0, 1, size=n)
    with_missing = rng.normal(50, 10, size=n)
    with_missing[rng.random(n) < 0.2] = np.nan
    start = np.datetime64("2024-01-01T00:00:00", "ms")
    seconds = rng.integers(0, 86_400 * 365, size=n).astype("timedelta64[s]")
    return {
        "score": score,
        "income": income,
        "age": rng.integers(18, 90, size=n),  # integer, many values: bins
        "children": rng.poisson(1.2, size=n),  # integer, few values: counted per value
        "zero inflated": np.where(rng.random(n) < 0.4, 0.0, rng.exponential(3, size=n)),
        "segment": segment,
        'plan "tier"': rng.choice(["basic", "plus", "pro"], size=n, p=[0.6, 0.3, 0.1]),
        "is_member": rng.random(n) < 0.3,
        "with missing": with_missing,
        "constant": np.full(n, 7.0),
        "customer_id": rng.permutation(n) * 10 + rng.integers(0, 10, size=n),
        "signup": start + seconds.astype("timedelta64[ms]"),
    }


def frame(cols: dict[str, Any]) -> pl.DataFrame:
    data = {}
    for name, values in cols.items():
        series = pl.Series(name, values)
        if series.dtype == pl.Float64:
            series = series.fill_nan(None)
        data[name] = series
    return pl.DataFrame(data)


def split(rng: np.random.Generator, n_ref: int, n_cur: int) -> tuple[dict, dict]:
    """Two random parts of one generated table."""
    table = make_table(rng, n_ref + n_cur)
    order = rng.permutation(n_ref + n_cur)
    ref = {k: np.asarray(v)[order[:n_ref]] for k, v in table.items()}
    cur = {k: np.asarray(v)[order[n_ref:]] for k, v in table.items()}
    return ref, cur


def _mean_shift(rng: np.random.Generator, cur: dict) -> str:
    cur["score"] = cur["score"] + 0.25
    return "score"


def _variance(rng: np.random.Generator, cur: dict) -> str:
    cur["score"] = cur["score"] * math.sqrt(1.5)
    return "score"


def _category_mix(rng: np.random.Generator, cur: dict) -> str:
    cur["segment"] = rng.choice(CATEGORIES, size=len(cur["segment"]), p=CATEGORY_P_MODERATE)
    return "segment"


def _new_category(rng: np.random.Generator, cur: dict, share: float = 0.02) -> str:
    values = cur["segment"].astype(object)
    values[rng.random(len(values)) < share] = "islands"
    cur["segment"] = values
    return "segment"


def _missing(rng: np.random.Generator, cur: dict) -> str:
    values = cur["income"].astype(float)
    values[rng.random(len(values)) < 0.10] = np.nan
    cur["income"] = values
    return "income"


SCENARIOS: dict[str, Callable[[np.random.Generator, dict], str]] = {
    "mean shift 0.25 sd": _mean_shift,
    "variance x1.5": _variance,
    "category mix (PSI 0.12)": _category_mix,
    "new category (2% of rows)": _new_category,
    "missing 0% -> 10%": _missing,
}


def subpopulation(rng: np.random.Generator, n: int) -> tuple[dict, dict, str]:
    """The current batch is selected on one column: customers above the reference's 90th
    income percentile are left out (as if one sales channel stopped reporting)."""
    ref, pool = split(rng, n, 3 * n)
    cutoff = float(np.quantile(ref["income"], 0.9))
    keep = np.flatnonzero(pool["income"] <= cutoff)[:n]
    return ref, {k: v[keep] for k, v in pool.items()}, "income"


_CON: list[Any] = []


def run_once(ref: dict, cur: dict) -> drift.DriftResult:
    """compare() on two Parquet files, through one long-lived DuckDB connection (opening a
    connection costs more than checking a 1,000-row table)."""
    import tempfile

    import duckdb

    if not _CON:
        _CON.append(duckdb.connect())
    con = _CON[0]
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for label, cols in (("ref", ref), ("cur", cur)):
            path = f"{tmp}/{label}.parquet"
            frame(cols).write_parquet(path)
            paths.append(path)
        return drift.compare(con.read_parquet(paths[0]), con.read_parquet(paths[1]))


def false_alarm_count(n: int, reps: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    return sum(run_once(*split(rng, n, n)).drift_detected for _ in range(reps))


def detections(name: str, n: int, reps: int, seed: int) -> tuple[int, int]:
    """(runs where the dataset drifted, runs where the changed column was the one named)."""
    rng = np.random.default_rng(seed)
    hits = right = 0
    for _ in range(reps):
        if name == "subpopulation":
            ref, cur, column = subpopulation(rng, n)
        else:
            ref, cur = split(rng, n, n)
            column = SCENARIOS[name](rng, cur)
        result = run_once(ref, cur)
        hits += result.drift_detected
        right += any(c.name == column and c.drifted for c in result.columns)
    return hits, right


# 5% allowed. With 40 runs, a true rate of 5% gives at most 5 alarms 98% of the time; a true
# rate of 15% exceeds 5 more often than not. (The engine's measured rate is 0-3%, see
# bench/drift_rates.py, so this passes reliably; the bench runs many more repetitions.)
@pytest.mark.parametrize("n,reps,limit", [(100, 40, 5), (1000, 40, 5), (100_000, 5, 1)])
def test_false_alarm_rate_at_most_five_percent(n: int, reps: int, limit: int) -> None:
    alarms = false_alarm_count(n, reps, seed=n)
    assert alarms <= limit, f"{alarms} false alarms in {reps} random splits of {n} rows"


# 90% power required. The engine's measured power on these is 100% at 1,000 rows (50/50 in
# the bench), so 14 of 15 passes reliably, and fails about half the time if the power drops
# to 90%.
@pytest.mark.parametrize("name", [*SCENARIOS, "subpopulation"])
def test_detects_required_drift_at_1000_rows(name: str) -> None:
    hits, right = detections(name, 1000, reps=15, seed=11)
    assert right >= 14, f"{name}: found in the right column {right} of 15 times"
    assert hits >= right


def test_identifier_and_datetime_never_drift() -> None:
    rng = np.random.default_rng(5)
    ref, cur = split(rng, 2000, 2000)
    cur["customer_id"] = cur["customer_id"] + 10**9  # a whole new id range
    cur["signup"] = cur["signup"] + np.timedelta64(400 * 86_400_000, "ms")  # time moved on
    result = run_once(ref, cur)
    by_name = {c.name: c for c in result.columns}
    assert not by_name["customer_id"].tested
    assert "identifier" in by_name["customer_id"].method
    assert not by_name["signup"].drifted
    assert by_name["constant"].tested
    assert not result.drift_detected


def test_large_but_negligible_shift_is_not_flagged() -> None:
    """At 200,000 rows a 0.05 sd shift is highly significant but below the effect floor."""
    rng = np.random.default_rng(8)
    ref, cur = split(rng, 200_000, 200_000)
    cur["score"] = cur["score"] + 0.05
    col = next(c for c in run_once(ref, cur).columns if c.name == "score")
    assert col.p_value is not None and col.p_value < col.threshold
    assert not col.drifted
    assert col.note and "small" in col.note


def test_a_tenth_of_a_standard_deviation_is_found_from_5000_rows() -> None:
    """PSI grows with the square of a shift (0.1 sd is PSI 0.01, under its floor); the
    location floor is a shift in standard deviations, so significant 0.1 sd shifts count."""
    rng = np.random.default_rng(21)
    found = 0
    for _ in range(5):
        ref, cur = split(rng, 5000, 5000)
        cur["score"] = cur["score"] + 0.1
        col = next(c for c in run_once(ref, cur).columns if c.name == "score")
        found += col.drifted
        assert col.statistic_name == "shift_sd" and 0.03 < col.statistic < 0.17, col.statistic
    assert found >= 4, f"a 0.1 sd shift found in {found} of 5 checks of 5,000 rows"
