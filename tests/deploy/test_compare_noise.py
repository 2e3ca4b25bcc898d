"""`mlcycle compare` judges champion against challenger against noise, with the gate's paired
bootstrap: two models that score alike read "no clear difference" and are not promoted."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mlcycle.models import registry, training
from tests.conftest import run_cli, run_json
from tests.deploy_fixtures import register_all, regression_workspace
from tests.training_data import regression_frame


def test_two_equal_models_compare_as_no_clear_difference(tmp_path: Path) -> None:
    ws = regression_workspace(tmp_path, ["ridge"])
    # The same search again: the same model, registered as a second version.
    again = training.train(ws, training.TrainConfig("reg", models=["ridge"], trials=1, cv=2))
    versions = register_all(ws, "reg", again.group)
    first, second = sorted(v.version for v in registry.versions(ws, "reg"))[:1] + versions[-1:]
    registry.promote(ws, "reg", str(first), reason="first")
    registry.promote(ws, "reg", str(second), "challenger", reason="same model again")
    rows = regression_frame(300, seed=5).with_row_index("house").with_columns(
        pl.col("house").cast(pl.Utf8))
    rows.drop("price").write_csv(tmp_path / "batch.csv")
    run_json("predict", "reg", str(tmp_path / "batch.csv"), workspace=ws.root)
    rows.write_csv(tmp_path / "labels.csv")
    report = run_json("compare", "reg", str(tmp_path / "labels.csv"), workspace=ws.root)
    assert report["challenger_better"] is None
    assert report["verdict"].startswith("no clear difference: rmse")
    spread = report["difference"]
    assert spread["low"] <= 0 <= spread["high"] and spread["confidence"] == 0.95
    text = run_cli("compare", "reg", str(tmp_path / "labels.csv"), workspace=ws.root,
                   check=True).stdout
    assert "no clear difference" in text and "95% interval" in text
    refused = run_cli("compare", "reg", str(tmp_path / "labels.csv"), "--promote",
                      "--reason", "try", workspace=ws.root)
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith("error: not promoted: no clear difference")
    assert registry.get(ws, "reg").version == first
