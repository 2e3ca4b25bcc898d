"""``mlcycle drift`` on files whose columns differ: training data against a scoring batch."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlcycle import drift
from mlcycle.store.errors import InvalidInput
from tests.conftest import run_cli


def _files(tmp_path: Path) -> tuple[Path, Path]:
    """Training data (with its target and an identifier) and a batch without them."""
    rng = np.random.default_rng(5)
    n = 400
    train = pl.DataFrame({
        "customer id": [f"C{i}" for i in range(n)],
        "tenure": rng.integers(1, 60, n),
        "plan %": rng.choice(["a", "b"], n).tolist(),
        "churned": rng.choice(["yes", "no"], n).tolist(),
    })
    batch = train.drop("customer id", "churned").with_columns(
        pl.Series("scored at", ["2026-12-01"] * n))
    train.write_csv(tmp_path / "train.csv")
    batch.write_parquet(tmp_path / "batch.parquet")
    return tmp_path / "train.csv", tmp_path / "batch.parquet"


def _error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    return proc.stderr.strip()


def test_columns_select_from_both_files_when_the_reference_has_more(tmp_path: Path) -> None:
    ref, cur = _files(tmp_path)
    proc = run_cli("drift", str(ref), str(cur), "--columns", "tenure,plan %", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [c["name"] for c in out["columns"]] == ["tenure", "plan %"]
    assert all(c["tested"] for c in out["columns"]) and out["n_tested"] == 2
    assert out["only_in_reference"] == ["customer id", "churned"]
    assert out["only_in_current"] == ["scored at"]


def test_without_columns_the_common_ones_are_compared_and_the_rest_reported(
    tmp_path: Path,
) -> None:
    ref, cur = _files(tmp_path)
    proc = run_cli("drift", str(ref), str(cur))
    assert proc.returncode == 0, proc.stderr
    assert "No drift detected in 2 tested columns" in proc.stdout
    assert "not compared, only in the reference: customer id, churned" in proc.stdout
    assert "not compared, only in the current: scored at" in proc.stdout
    report = tmp_path / "r.md"
    assert run_cli("drift", str(ref), str(cur), "--report", str(report)).returncode == 0
    assert "- not compared, only in the current: scored at" in report.read_text()


def test_a_column_asked_for_that_one_file_lacks_names_that_file(tmp_path: Path) -> None:
    ref, cur = _files(tmp_path)
    assert _error(run_cli("drift", str(ref), str(cur), "--columns", "tenure,churned")) == (
        f"error: {cur} has no column 'churned'")
    assert _error(run_cli("drift", str(ref), str(cur), "--columns", "scored at")) == (
        f"error: {ref} has no column 'scored at'")
    assert _error(run_cli("drift", str(ref), str(cur), "--columns", "nope")) == (
        f"error: no column 'nope' in {ref} or {cur}")


def test_files_with_no_column_in_common_are_refused(tmp_path: Path) -> None:
    pl.DataFrame({"a": [1, 2]}).write_csv(tmp_path / "a.csv")
    pl.DataFrame({"b": [1, 2]}).write_csv(tmp_path / "b.csv")
    with pytest.raises(InvalidInput, match="have no column in common"):
        drift.compare(tmp_path / "a.csv", tmp_path / "b.csv")
