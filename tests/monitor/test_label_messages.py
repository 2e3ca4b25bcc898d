"""Labels are joined, or refused with the same one-line message, by monitor, watch and retrain."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from mlcycle.models import registry
from tests.conftest import run_cli
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame


def _error(*args: str, ws: Path) -> str:
    proc = run_cli(*args, workspace=ws)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    return proc.stderr.strip().splitlines()[-1].removeprefix("error: ")


@pytest.mark.slow
@pytest.mark.parametrize("broken", ["no key", "no match"])
def test_monitor_watch_and_retrain_refuse_bad_labels_alike(tmp_path: Path, broken: str) -> None:
    ws = classification_workspace(tmp_path, models=["logistic"])
    registry.promote(ws, "clf", "1", reason="first")
    frame = classification_frame(300, seed=77)
    batch, labels = tmp_path / "batch.csv", tmp_path / "labels" / "batch.csv"
    labels.parent.mkdir()
    frame.drop("label").write_csv(batch)
    truth = frame.select("id", "label")
    if broken == "no key":
        truth = truth.rename({"id": "key"})
    else:
        truth = truth.with_columns((pl.lit("other-") + pl.col("id").cast(pl.Utf8)).alias("id"))
    truth.write_csv(labels)

    monitor = _error("monitor", "clf", str(batch), "--labels", str(labels), ws=ws.root)
    retrain = _error("retrain", "clf", "--with", str(batch), "--labels", str(labels),
                     ws=ws.root)
    assert monitor == retrain
    assert ("needs the identifier column 'id'" if broken == "no key"
            else "none of the rows in batch.csv match the rows of batch.csv on 'id'") in monitor

    folder = tmp_path / "watched"
    folder.mkdir()
    shutil.copy(batch, folder)
    watched = run_cli("watch", "clf", str(folder), "--labels", str(labels.parent), "--once",
                      workspace=ws.root)
    assert monitor in watched.stdout + watched.stderr
