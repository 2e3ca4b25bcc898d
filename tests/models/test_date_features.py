"""Date columns reach the model: the default feature set, scoring parity, what train reports."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import onnxruntime as ort
import polars as pl
import pytest
from vega_datasets import data as vega

import mlcycle
from mlcycle.models import training
from mlcycle.prep import features
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import open_workspace
from tests.conftest import run_cli, run_json

DERIVED = ["Year_year", "Year_month", "Year_weekday", "Year_day_of_year", "Year_days"]


@pytest.fixture
def cars(tmp_path: Path) -> tuple[Path, Path]:
    """A workspace with vega_datasets' cars (Year is a date) and a batch to score."""
    ws = tmp_path / "ws"
    vega.cars().to_csv(tmp_path / "cars.csv", index=False)
    frame = pl.read_csv(tmp_path / "cars.csv")
    frame.filter(pl.col("Miles_per_Gallon").is_not_null()).sample(40, seed=3).drop(
        "Miles_per_Gallon").write_csv(tmp_path / "batch.csv")
    run_cli("project", "create", "cars", "--target", "Miles_per_Gallon", "--task",
            "regression", workspace=ws, check=True)
    run_cli("data", "add", "cars", str(tmp_path / "cars.csv"), workspace=ws, check=True)
    return ws, tmp_path


def _plain_onnxruntime(bundle: Path, raw: pl.DataFrame) -> np.ndarray:
    """Score with onnxruntime alone, computing the date parts as the bundle's README says."""
    sig = json.loads((bundle / "signature.json").read_text(encoding="utf-8"))
    year = raw.get_column("Year").str.to_datetime().dt.date()
    rows = raw.with_columns(
        Year_year=year.dt.year(), Year_month=year.dt.month(), Year_weekday=year.dt.weekday(),
        Year_day_of_year=year.dt.ordinal_day(), Year_days=year.cast(pl.Int64))
    sess = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = {}
    for i in sig["inputs"]:
        column = rows.get_column(i["column"])
        if i["type"] == "float32":
            feeds[i["name"]] = column.cast(pl.Float32).fill_null(np.nan).to_numpy().reshape(-1, 1)
        else:
            feeds[i["name"]] = np.asarray(column.to_list(), dtype=object).reshape(-1, 1)
    return np.asarray(sess.run(None, feeds)[0]).ravel()


def test_a_date_reaches_the_model_and_every_face_scores_it_alike(cars) -> None:
    ws, root = cars
    out = run_cli("train", "cars", "--models", "ridge", "--trials", "1", "--cv", "2",
                  workspace=ws, check=True).stdout
    inputs = ("inputs (11): Cylinders, Displacement, Horsepower, Weight_in_lbs, Acceleration, "
              + ", ".join(DERIVED) + ", Origin")
    assert inputs in out
    assert f"derived by feature set dates: {', '.join(DERIVED)}" in out
    assert "left out (target): Miles_per_Gallon" in out
    assert "left out (free text): Name" in out

    run_cli("promote", "cars", "1", "--reason", "dates", workspace=ws, check=True)
    bundle = root / "bundle"
    run_cli("export", "cars", "champion", "--out", str(bundle), workspace=ws, check=True)
    sig = json.loads((bundle / "signature.json").read_text(encoding="utf-8"))
    assert {i["column"] for i in sig["inputs"]} >= set(DERIVED)
    assert "feature set `dates`" in (bundle / "README.md").read_text(encoding="utf-8")
    # the bundle's reference profile holds the date as monitoring compares it, not its parts
    metadata = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    profiled = {c["name"]: c for c in metadata["reference_profile"]["columns"]}
    assert "Year" in profiled and profiled["Year"]["mode"] == "datetime"
    assert not set(DERIVED) & set(profiled)

    run_cli("predict", "cars", str(root / "batch.csv"), "--out", str(root / "scores.parquet"),
            workspace=ws, check=True)
    served = pl.read_parquet(root / "scores.parquet").get_column("prediction").to_numpy()
    plain = _plain_onnxruntime(bundle, pl.read_csv(root / "batch.csv"))
    np.testing.assert_allclose(served, plain, rtol=1e-6)
    # rows that carry the date as text (JSON, a frame read without date parsing) score alike
    text_rows = pl.read_csv(root / "batch.csv")
    assert text_rows.schema["Year"] == pl.Utf8
    api = mlcycle.predict("cars", text_rows, workspace=str(ws)).get_column("prediction")
    np.testing.assert_allclose(api.to_numpy(), plain, rtol=1e-6)
    with pytest.raises(InvalidInput, match="'Year' must hold dates"):
        mlcycle.predict("cars", text_rows.with_columns(Year=pl.lit("spring")),
                        workspace=str(ws))
    # the date's parts move the prediction: another year, another score
    later = pl.read_csv(root / "batch.csv").with_columns(pl.lit("1982-06-01").alias("Year"))
    assert not np.allclose(_plain_onnxruntime(bundle, later), plain)


def test_train_json_lists_inputs_and_left_out_columns(cars) -> None:
    ws, _ = cars
    run_cli("data", "role", "cars", "Origin", "ignored", workspace=ws, check=True)
    result = run_json("train", "cars", "--models", "ridge", "--trials", "1", "--cv", "2",
                      "--no-register", "--features", "none", workspace=ws)
    assert result["feature_set"] is None and result["derived"] == []
    assert result["inputs"] == ["Cylinders", "Displacement", "Horsepower", "Weight_in_lbs",
                                "Acceleration"]
    assert result["left_out"] == [
        {"reason": "target", "columns": ["Miles_per_Gallon"]},
        {"reason": "free text", "columns": ["Name"]},
        {"reason": "role ignored", "columns": ["Origin"]},
        {"reason": "a date no feature derives from", "columns": ["Year"]},
    ]


def test_the_default_reads_awkward_date_names_and_skips_taken_names() -> None:
    name = "Model 'year' é/%"
    frame = pl.DataFrame({name: [date(1970, 1, 2), date(2024, 3, 1)],
                          f"{name}_month": [1, 2], "y": [1.0, 2.0]})
    dictionary = [{"name": c, "role": "feature", "kind": "datetime", "sensitive": None}
                  for c in frame.columns]
    schema = {name: "date", f"{name}_month": "integer", "y": "float"}
    fs = features.default_for(dictionary, schema, "y")
    assert fs is not None
    assert [d.name for d in fs.derived] == [
        f"{name}_year", f"{name}_weekday", f"{name}_day_of_year", f"{name}_days"]
    out = features.apply(fs, frame)
    assert out.get_column(f"{name}_days").to_list() == [1, 19783]
    assert out.get_column(f"{name}_day_of_year").to_list() == [2, 61]
    assert out.get_column(f"{name}_month").to_list() == [1, 2]  # the data's own column stays
    personal = [{**c, "sensitive": "date_of_birth", "privacy": None} for c in dictionary]
    assert features.default_for(personal, schema, "y") is None


def test_a_run_made_with_the_default_names_it_after_the_project_stores_its_own(cars) -> None:
    ws_path, _ = cars
    ws = open_workspace(ws_path)[0]
    default = training.prepare(ws, "cars", "latest", 2).signature.feature_set
    assert default is not None and default["name"] == "dates"
    features.store(ws, "cars", 'name = "mine"\n\n[select]\ndrop = ["Year"]\n')
    assert training.prepare(ws, "cars", "latest", 2).signature.feature_set["name"] == "mine"
    again = training.prepare(ws, "cars", "latest", 2, default["id"]).signature
    assert again.feature_set == default  # what reproduce and retrain pass: the run's id
    assert [c for c in again.inputs if c.startswith("Year_")] == DERIVED
