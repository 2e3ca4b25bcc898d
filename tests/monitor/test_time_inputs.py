"""A model's date inputs are monitored through the date, not the parts derived from it: a calm
batch from later months raises no data drift, a date feed that breaks still alerts."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from tests.conftest import run_cli

DATE = "Signed up 'on' é/%"  # names matter here: the feature set quotes them
PARTS = [f"{DATE}_{p}" for p in ("year", "month", "weekday", "day_of_year", "days")]


def _rows(n: int, seed: int, first: date, days: int) -> pl.DataFrame:
    """Rows whose outcome follows ``x`` and the plan, signed up over ``days`` from ``first``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    plan = rng.choice(["basic", "plus", "pro"], size=n)
    return pl.DataFrame({
        "x": x, "plan": plan,
        DATE: [first + timedelta(days=int(d)) for d in rng.integers(0, days, size=n)],
        "y": 2 * x + (plan == "pro") + rng.normal(scale=0.5, size=n),
    })


def _check(ws: Path, batch: Path) -> dict:
    proc = run_cli("monitor", "t", str(batch), "--json", workspace=ws, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_calm_batch_of_later_dates_raises_no_drift_from_them(ws_path: Path,
                                                               tmp_path: Path) -> None:
    _rows(1500, 1, date(2024, 1, 1), 366).write_csv(tmp_path / "train.csv")
    run_cli("project", "create", "t", "--target", "y", "--task", "regression",
            workspace=ws_path, check=True)
    run_cli("data", "add", "t", str(tmp_path / "train.csv"), workspace=ws_path, check=True)
    run_cli("train", "t", "--models", "ridge", "--trials", "1", "--cv", "2",
            workspace=ws_path, check=True)
    run_cli("promote", "t", "1", "--reason", "dates", workspace=ws_path, check=True)
    # March of the next year: every row signed up after the last training row
    calm = _rows(800, 2, date(2025, 3, 1), 31).drop("y")
    calm.write_csv(tmp_path / "march.csv")

    check = _check(ws_path, tmp_path / "march.csv")
    assert not [a for a in check["alert_details"] if a["kind"] in ("data_drift", "system")]
    assert check["inputs"]["drifted"] == [] and check["inputs"]["broken"] == []
    assert check["inputs"]["left_out"] == [{
        "reason": "derived from a date: time moves on between batches "
                  "(the date's missing rate is tested)",
        "columns": PARTS}]
    columns = {c["name"]: c for c in check["data_drift"]["columns"]}
    assert not set(PARTS) & set(columns)
    signed = columns[DATE]
    assert signed["tested"] and [t["test"] for t in signed["tests"]] == ["missing"]
    assert signed["summary"]["current_min"] > signed["summary"]["reference_max"]

    # the date is still watched: a feed that stops sending it is a system issue
    broken = calm.with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(None).otherwise(pl.col(DATE))
        .alias(DATE))
    broken.write_csv(tmp_path / "april.csv")
    assert _check(ws_path, tmp_path / "april.csv")["inputs"]["broken"] == [DATE]
