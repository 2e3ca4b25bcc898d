"""A classifier's labels keep the target's type: integer classes come back as integers,
boolean ones as booleans and text as text, from every face that predicts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import polars as pl
import pytest
from sklearn.datasets import load_wine

import mlcycle
from mlcycle import deploy, projects
from mlcycle.data import datasets
from mlcycle.deploy import predictions, scoring, serve, standalone
from mlcycle.models import model_input, onnx_graph, registry, training
from mlcycle.store.workspace import Workspace, open_workspace
from tests.conftest import run_cli, run_json
from tests.deploy.test_oip import Server, _start
from tests.training_data import classification_frame


def _workspace(root: Path, frame: pl.DataFrame, target: str) -> Workspace:
    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "clf", target=target, task="classification", metric="accuracy")
    frame.write_parquet(root / "train.parquet")
    datasets.add(ws, "clf", root / "train.parquet")
    training.train(ws, training.TrainConfig("clf", models=["logistic"], trials=1, cv=2))
    registry.promote(ws, "clf", "1", reason="serve")
    return ws


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path, pl.DataFrame]:
    """scikit-learn's wine: three cultivars 0, 1, 2, and headers like od280/od315."""
    root = tmp_path_factory.mktemp("wine")
    data = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar n°"})
    frame = pl.from_pandas(data).with_columns(pl.col("cultivar n°").cast(pl.Int64))
    ws = _workspace(root, frame, "cultivar n°")
    deploy.export(ws, "clf", "1", root / "bundle")
    return ws, root, frame.drop("cultivar n°")


@pytest.fixture(scope="module")
def served(wine) -> Iterator[Server]:
    serving = serve.Serving(wine[0], "clf", "champion", "127.0.0.1", 0, shadow=False)
    thread = threading.Thread(target=serving.serve, daemon=True)
    thread.start()
    yield Server(serving.port)
    serving.stop()
    thread.join(30)


def _v2_label(server: Server, bundle: Path, rows: pl.DataFrame) -> dict:
    sig = json.loads((bundle / "signature.json").read_text(encoding="utf-8"))
    status, answer = server.infer(standalone.infer_body(rows.to_dicts(), sig, "r1"))
    assert status == 200, answer
    return next(o for o in answer["outputs"] if o["name"] == "label")


def test_integer_classes_are_integers_in_files_json_and_the_api(wine) -> None:
    ws, root, rows = wine
    rows.head(20).write_csv(root / "rows.csv")
    result = run_json("predict", "clf", str(root / "rows.csv"), "--no-shadow",
                      workspace=ws.root)
    assert {type(r["prediction"]) for r in result["preview"]} == {int}
    assert {r["prediction"] for r in result["preview"]} <= {0, 1, 2}

    run_json("predict", "clf", str(root / "rows.csv"), "--out", str(root / "out.parquet"),
             "--no-shadow", workspace=ws.root)
    written = pl.read_parquet(root / "out.parquet")
    assert written.schema["prediction"] == pl.Int64

    predicted = mlcycle.predict("clf", rows, workspace=ws)
    assert predicted.schema["prediction"] == pl.Int64
    assert set(predicted["prediction"].unique()) == {0, 1, 2}  # a fitted model finds all three
    assert list(predicted.columns[1:]) == ["probability_0", "probability_1", "probability_2"]


def test_the_bundle_graph_gives_int64_to_plain_onnxruntime(wine) -> None:
    ws, root, rows = wine
    bundle = root / "bundle"
    sig = json.loads((bundle / "signature.json").read_text(encoding="utf-8"))
    assert sig["label_type"] == "integer" and sig["classes"] == ["0", "1", "2"]
    session = ort.InferenceSession(str(bundle / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    feeds = {i["name"]: rows[i["column"]].to_numpy().astype(np.float32).reshape(-1, 1)
             for i in sig["inputs"]}
    label, proba = session.run(None, feeds)
    assert label.dtype == np.int64
    np.testing.assert_array_equal(label, proba.argmax(axis=1))
    predicted = mlcycle.predict("clf", rows, workspace=ws)
    assert label.tolist() == predicted["prediction"].to_list()


def test_serve_answers_integers_on_predict_and_int64_on_v2(wine, served: Server) -> None:
    ws, root, rows = wine
    status, one = served.request("POST", "/predict", json.dumps(
        rows.head(3).to_dicts()[0]).encode())
    assert status == 200 and isinstance(one["prediction"]["prediction"], int), one
    expected = mlcycle.predict("clf", rows.head(12), workspace=ws)["prediction"].to_list()
    label = _v2_label(served, root / "bundle", rows.head(12))
    assert label["datatype"] == "INT64" and label["data"] == expected
    meta = served.request("GET", "/v2/models/clf")[1]
    assert {o["name"]: o["datatype"] for o in meta["outputs"]}["label"] == "INT64"
    spec = served.request("GET", "/openapi.json")[1]
    assert "integer" in json.dumps(spec["paths"]["/predict"])


def test_the_bundle_server_answers_int64(wine, server_python: Path) -> None:
    ws, root, rows = wine
    proc, port = _start(server_python, root / "bundle")
    try:
        label = _v2_label(Server(port), root / "bundle", rows.head(12))
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    expected = mlcycle.predict("clf", rows.head(12), workspace=ws)["prediction"].to_list()
    assert label["datatype"] == "INT64" and label["data"] == expected


def test_boolean_classes_are_booleans(tmp_path: Path) -> None:
    frame = classification_frame(200, seed=2).with_columns(
        (pl.col("label") == "yes").alias("renewed?")).drop("label", "id")
    ws = _workspace(tmp_path, frame, "renewed?")
    rows = frame.drop("renewed?").head(40)
    predicted = mlcycle.predict("clf", rows, workspace=ws)
    assert predicted.schema["prediction"] == pl.Boolean
    assert predicted["prediction"].n_unique() == 2
    assert "probability_true" in predicted.columns
    rows.write_csv(tmp_path / "rows.csv")
    shown = run_cli("predict", "clf", str(tmp_path / "rows.csv"), "--no-shadow",
                    workspace=ws.root, check=True).stdout
    assert "true" in shown and "True" not in shown and "False" not in shown

    serving = serve.Serving(ws, "clf", "champion", "127.0.0.1", 0, shadow=False)
    thread = threading.Thread(target=serving.serve, daemon=True)
    thread.start()
    try:
        server = Server(serving.port)
        status, one = server.request("POST", "/predict", json.dumps(rows.to_dicts()[0]).encode())
        assert status == 200 and isinstance(one["prediction"]["prediction"], bool), one
        deploy.export(ws, "clf", "1", tmp_path / "bundle")
        label = _v2_label(server, tmp_path / "bundle", rows)
    finally:
        serving.stop()
        thread.join(30)
    assert label["datatype"] == "BOOL" and label["data"] == predicted["prediction"].to_list()


def test_text_classes_stay_text(tmp_path: Path) -> None:
    frame = classification_frame(200, seed=4).drop("id")
    ws = _workspace(tmp_path, frame, "label")
    predicted = mlcycle.predict("clf", frame.drop("label").head(30), workspace=ws)
    assert predicted.schema["prediction"] == pl.Utf8
    assert set(predicted["prediction"]) <= {"yes", "no"}


def test_a_version_from_before_label_types_still_predicts_text(wine) -> None:
    """A signature stored without ``label_type`` (every version trained before) converts and
    scores exactly as it did: a string label, a text prediction column."""
    ws, _, rows = wine
    version = registry.get(ws, "clf", "1")
    stored = deploy.signature_of(ws, version).to_dict()
    assert stored.pop("label_type") == "integer"
    old = model_input.Signature.from_dict(stored)
    _, pipeline = registry.load(ws, "clf", "1")
    session = onnx_graph.session(onnx_graph.to_onnx(pipeline, old))
    inputs = model_input.frame(rows, old)
    label, _ = onnx_graph.run(session, inputs, old)
    assert label.dtype == object and set(label.tolist()) == {"0", "1", "2"}
    scorer = scoring.Scorer(version, old, session, None)
    frame = predictions.prediction_frame(scorer.predict(inputs), old)
    assert frame.schema["prediction"] == pl.Utf8
    assert frame["prediction"].to_list() == label.tolist()
