"""A refused retrain, predict or monitor leaves the workspace as it was; what a killed scoring
left behind is swept once stale.

Each command is run as a user runs it (a subprocess), and the workspace is counted before
and after: dataset versions, runs, exports, scoring runs and every file under artifacts/.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import polars as pl
import pytest

from mlcycle.deploy.scoring import CHALLENGER
from mlcycle.models import registry, training
from mlcycle.store.workspace import Workspace
from tests.conftest import copy_workspace, run_cli
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame

TABLES = ("datasets", "holdouts", "runs", "model_versions", "onnx_exports", "scoring_runs",
          "monitor_checks", "events")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Project ``clf``: champion v1 and challenger v2, neither converted to ONNX yet."""
    root = tmp_path_factory.mktemp("refusals")
    ws = classification_workspace(root, ["logistic"], rows=600)
    training.train(ws, training.TrainConfig("clf", models=["logistic"], trials=1, cv=2,
                                            seed=1))
    registry.promote(ws, "clf", "1", reason="test")
    registry.promote(ws, "clf", "2", CHALLENGER, reason="test")
    return ws.root


@pytest.fixture
def ws(built: Path, tmp_path: Path) -> Workspace:
    """A fresh copy of the built workspace, in a folder named as users name them."""
    return copy_workspace(built, tmp_path, "my ws [1] é")


def state(ws: Workspace) -> dict[str, object]:
    """Rows of every table a scoring or a training writes, and every artifact file."""
    with ws.read() as con:
        counts: dict[str, object] = {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in TABLES}
    counts["files"] = sorted(p.relative_to(ws.artifacts).as_posix()
                             for p in ws.artifacts.rglob("*") if p.is_file())
    return counts


def batch(tmp_path: Path, name: str, **cells: object) -> Path:
    """New labelled rows, with ``cells`` ({column: value}) written into row 5."""
    frame = classification_frame(300, seed=41)
    for column, value in cells.items():
        frame = frame.with_columns(pl.col(column).cast(pl.Utf8 if isinstance(value, str)
                                                       else pl.Float64))
        frame[5, column] = value
    path = tmp_path / name
    frame.write_csv(path)
    return path


def test_retrain_with_an_infinite_number_is_refused_before_anything_is_stored(
        ws: Workspace, tmp_path: Path) -> None:
    bad = batch(tmp_path, "new rows.csv", x1=float("inf"))
    assert "inf" in bad.read_text()
    before = state(ws)
    proc = run_cli("retrain", "clf", "--with", str(bad), "--trials", "1", workspace=ws.root)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert "'x1'" in proc.stderr and "infinite" in proc.stderr
    assert state(ws) == before


def test_a_missing_value_is_what_models_impute_and_is_not_refused(ws: Workspace) -> None:
    from mlcycle.deploy import signature_of
    from mlcycle.models import model_input
    from mlcycle.store.errors import InvalidInput

    signature = signature_of(ws, registry.get(ws, "clf", "1"))
    rows = classification_frame(20, seed=3).with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(float("nan")).otherwise(pl.col("x1"))
        .alias("x1"))
    assert model_input.frame(rows, signature).get_column("x1").is_nan().sum() == 3
    too_big = rows.with_columns(pl.lit(1e39).alias("x2"))  # beyond float32: infinite
    with pytest.raises(InvalidInput, match="column 'x2' holds 20 infinite"):
        model_input.frame(too_big, signature)


@pytest.mark.parametrize(("name", "cells", "said"), [
    ("no x2.csv", None, "missing column(s) the model needs: x2"),
    ("inf.csv", {"x1": float("-inf")}, "column 'x1' holds 1 infinite"),
    ("text.csv", {"x1": "twelve"}, "column 'x1' must be numeric"),
])
def test_predict_refuses_a_file_before_converting_any_version(
        ws: Workspace, tmp_path: Path, name: str, cells: dict | None, said: str) -> None:
    if cells is None:
        path = tmp_path / name
        classification_frame(50, seed=8).drop("x2").write_csv(path)
    else:
        path = batch(tmp_path, name, **cells)
    before = state(ws)
    assert before["onnx_exports"] == 0  # so a conversion would be the first write
    proc = run_cli("predict", "clf", str(path), workspace=ws.root)
    assert proc.returncode == 2 and said in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert state(ws) == before


def test_monitor_refuses_a_file_before_converting_any_version(
        ws: Workspace, tmp_path: Path) -> None:
    path = batch(tmp_path, "month.csv", x1=float("inf"))
    before = state(ws)
    proc = run_cli("monitor", "clf", str(path), workspace=ws.root)
    assert proc.returncode == 2 and "column 'x1' holds 1 infinite" in proc.stderr
    assert state(ws) == before


def test_a_stale_unreferenced_shadow_file_is_swept_and_nothing_else(
        ws: Workspace, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    classification_frame(80, seed=12).drop("label").write_csv(rows)
    shown = run_cli("predict", "clf", str(rows), workspace=ws.root, check=True)
    assert "U00000" in shown.stdout and "first 20 rows shown" in shown.stderr  # a preview
    folder = ws.artifacts / "scoring" / "clf"
    (kept,) = folder.glob("*.parquet")  # the challenger's shadow pairs, named by their run
    # A monitor killed between storing its pairs and recording its run left this one.
    orphan, young = folder / "0123456789ab.parquet", folder / "ba9876543210.parquet"
    shutil.copy(kept, orphan)
    shutil.copy(kept, young)
    two_hours_ago = time.time() - 7200
    for path in (kept, orphan):
        os.utime(path, (two_hours_ago, two_hours_ago))
    run_cli("predict", "clf", str(rows), workspace=ws.root, check=True)
    left = {p.name for p in folder.glob("*.parquet")}
    assert orphan.name not in left
    assert {kept.name, young.name} <= left  # recorded, or perhaps a running process's
    assert len(left) == 3  # and the second run's own pairs
    assert run_cli("compare", "clf", str(_labels(tmp_path)), workspace=ws.root).returncode == 0


def _labels(tmp_path: Path) -> Path:
    path = tmp_path / "labels.csv"
    classification_frame(80, seed=12).select("id", "label").write_csv(path)
    return path


def test_a_check_that_fails_to_be_recorded_leaves_no_shadow_file(
        ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlcycle.monitor import monitoring
    from mlcycle.monitor.batch_file import Batch

    rows = tmp_path / "month.csv"
    classification_frame(80, seed=13).drop("label").write_csv(rows)
    base = monitoring.reference(ws, "clf")  # converts both versions
    monitoring.check(ws, "clf", rows, cached=base)
    before = state(ws)
    assert any(f.startswith("scoring/") for f in before["files"])

    def refuse(*_args):  # the last step of the recording transaction fails
        raise RuntimeError("not this time")

    other = tmp_path / "other.csv"
    classification_frame(80, seed=14).drop("label").write_csv(other)
    watched = Batch(other, digest=hashlib.sha256(other.read_bytes()).hexdigest(), watched=True)
    monkeypatch.setattr(monitoring, "record_watched", refuse)
    with pytest.raises(RuntimeError, match="not this time"):
        monitoring.check(ws, "clf", watched, cached=base)
    assert state(ws) == before
