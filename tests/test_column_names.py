"""Column names as real tables have them work in every path: train, export, predict, serve.

The ONNX graph's inputs are plain identifiers (``model_input.graph_names``); the bundle's
signature maps each data column to its graph input, and every scorer feeds by that mapping.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mlcycle import deploy, projects
from mlcycle.data import datasets
from mlcycle.deploy import scoring, serve
from mlcycle.models import model_input, training
from mlcycle.prep import features
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace, open_workspace
from tests.conftest import run_cli, run_json
from tests.training_data import classification_frame

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters real headers hold: spaces, punctuation, quotes, accents, other scripts, digits.
ALPHABET = ("abcXYZ019 _%/\\-.,;:'\"()[]{}#&+*=<>?!@$^|~`"
            "éüßøÅλЖж日本€°²½")


def _name() -> st.SearchStrategy[str]:
    # DuckDB (which reads the data when it is added) trims a header's surrounding spaces and
    # tells names apart ignoring case; the test keeps to names it stores unchanged.
    return st.text(alphabet=ALPHABET, min_size=1, max_size=10).filter(
        lambda s: s == s.strip())


@st.composite
def _column_names(draw: st.DrawFn) -> list[str]:
    """Four feature names; often two of them spell the same identifier once sanitised."""
    names: list[str] = []
    if draw(st.booleans()):
        stem = draw(st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True))
        mark = draw(st.sampled_from(" %/-.'\"é"))
        names += [f"{stem}{mark}x", f"{stem}_x"]
    while len(names) < 4:
        names.append(draw(_name()))
    folded = [n.casefold() for n in names]
    assume(len(set(folded)) == 4 and "label" not in folded)
    return draw(st.permutations(names))


def _frame(names: list[str], rows: int, seed: int) -> pl.DataFrame:
    """The classification table with its four features (two numbers, a category and a
    boolean) under ``names``; the target stays ``label``."""
    frame = classification_frame(rows, seed).drop("id")
    return frame.rename(dict(zip(["x1", "x2", "plan", "flag"], names, strict=True)))


def _plain_onnxruntime(bundle: Path, rows: pl.DataFrame) -> tuple[list[str], np.ndarray]:
    """Score ``rows`` with the bundle and onnxruntime alone, fed by the signature's names."""
    sig = json.loads((bundle / "signature.json").read_text(encoding="utf-8"))
    sess = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = {}
    for i in sig["inputs"]:
        # polars runs some Series methods as pl.col(name), which reads '^…$' as a pattern
        column = rows.get_column(i["column"]).rename("value")
        if i["type"] == "float32":
            feeds[i["name"]] = column.cast(pl.Float32).fill_null(np.nan).to_numpy().reshape(-1, 1)
        else:
            feeds[i["name"]] = np.asarray(column.to_list(), dtype=object).reshape(-1, 1)
    assert [i.name for i in sess.get_inputs()] == [i["name"] for i in sig["inputs"]]
    label, proba = sess.run(None, feeds)
    return label.tolist(), np.asarray(proba)


def _trained(root: Path, names: list[str], feature_set: str | None = None) -> Workspace:
    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "p", target="label", task="classification", metric="roc_auc")
    _frame(names, 200, seed=1).write_csv(root / "train.csv")
    datasets.add(ws, "p", root / "train.csv")
    if feature_set:
        features.store(ws, "p", feature_set)
    training.train(ws, training.TrainConfig("p", models=["logistic"], trials=1, cv=2))
    return ws


@given(st.lists(st.text(min_size=0, max_size=8), min_size=1, max_size=8, unique=True))
def test_graph_names_are_unique_identifiers_and_keep_plain_names(columns: list[str]) -> None:
    names = model_input.graph_names(columns)
    assert list(names) == columns
    assert len(set(names.values())) == len(columns)
    assert all(IDENTIFIER.fullmatch(n) for n in names.values())
    assert not set(names.values()) & set(model_input.GRAPH_OUTPUTS)
    for column in columns:
        if IDENTIFIER.fullmatch(column) and column not in model_input.GRAPH_OUTPUTS:
            assert names[column] == column
    assert model_input.graph_names(columns) == names  # the same at every export


def test_names_that_collide_once_sanitised_get_suffixes_in_column_order() -> None:
    assert model_input.graph_names(["a b", "a_b", "a/b", "od280/od315", "1st", "prénom",
                                    "label"]) == {
        "a b": "a_b_2", "a_b": "a_b", "a/b": "a_b_3", "od280/od315": "od280_od315",
        "1st": "_1st", "prénom": "prenom", "label": "label_2"}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_column_names())
def test_any_column_names_train_export_predict_and_score_in_plain_onnxruntime(
    names: list[str],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = _trained(root, names)
        bundle = root / "bundle"
        deploy.export(ws, "p", "1", bundle)
        sig = json.loads((bundle / "signature.json").read_text(encoding="utf-8"))
        assert sorted(i["column"] for i in sig["inputs"]) == sorted(names)
        assert all(IDENTIFIER.fullmatch(i["name"]) for i in sig["inputs"])
        # The standalone server on such names: tests/deploy/test_oip.py.
        assert deploy.verify(bundle, server=False).smoke_test.ok

        rows = _frame(names, 40, seed=7).drop("label")
        rows.write_csv(root / "score.csv")
        scoring.predict_file(ws, "p", root / "score.csv", ref="1", out=root / "pred.csv",
                             shadow=False)
        predicted = pl.read_csv(root / "pred.csv")
        labels, proba = _plain_onnxruntime(bundle, rows)
        assert predicted["prediction"].to_list() == labels  # typed as the target, both
        for i, cls in enumerate(sig["classes"]):
            np.testing.assert_allclose(predicted[f"probability_{cls}"].to_numpy(), proba[:, i],
                                       atol=1e-6)


def test_serve_names_the_missing_data_column_not_the_feature_derived_from_it(
    tmp_path: Path,
) -> None:
    names = ["od280/od315_of_diluted_wines", "a b", "Plan %", "a_b"]
    fs = ('name = "ratios"\n[[derive]]\nname = "double_ab"\n'
          'expr = "`a b` * 2 + `od280/od315_of_diluted_wines`"\n')
    ws = _trained(tmp_path, names, feature_set=fs)
    service = serve.Service(ws, "p", "1", shadow=False)
    rows = _frame(names, 3, seed=5).drop("label").to_dicts()
    assert len(service.predict(rows)["predictions"]) == 3
    spec = service.openapi()["paths"]["/predict"]["post"]["requestBody"]["content"]
    required = spec["application/json"]["schema"]["oneOf"][0]["required"]
    assert sorted(required) == sorted(names) and "double_ab" not in required

    without = [rows[0], {k: v for k, v in rows[1].items() if k != "a b"}]
    needs = r"is missing column\(s\) the model needs: a b$"
    with pytest.raises(InvalidInput, match=r"^row 2 " + needs):
        service.predict(without)
    with pytest.raises(InvalidInput, match=r"^the row " + needs):
        service.predict(without[1:])


# -- the same, as a user runs it --------------------------------------------------------

_PLAIN = """
import csv, json, sys, numpy as np, onnxruntime as ort
folder, data = sys.argv[1], sys.argv[2]
sig = json.load(open(folder + "/signature.json"))
sess = ort.InferenceSession(folder + "/model.onnx", providers=["CPUExecutionProvider"])
rows = list(csv.DictReader(open(data, newline="", encoding="utf-8")))
def num(v):
    return float("nan") if v == "" else 1.0 if v == "true" else 0.0 if v == "false" else float(v)
feeds = {i["name"]: np.array([[num(r[i["column"]]) if i["type"] == "float32" else r[i["column"]]]
         for r in rows], dtype=np.float32 if i["type"] == "float32" else object)
         for i in sig["inputs"]}
label, proba = sess.run(None, feeds)
print(json.dumps({"label": label.tolist(), "proba": proba.tolist()}))
"""


def test_wine_style_names_and_a_collision_through_the_cli(tmp_path: Path) -> None:
    names = ["od280/od315_of_diluted_wines", "a b", "colour \"intensity\" %", "a_b"]
    ws = tmp_path / "ws"
    _frame(names, 200, seed=1).write_csv(tmp_path / "wine.csv")
    run_cli("init", workspace=ws, check=True)
    run_cli("project", "create", "wine", "--target", "label", "--task", "classification",
            workspace=ws, check=True)
    run_cli("data", "add", "wine", str(tmp_path / "wine.csv"), workspace=ws, check=True)
    run_cli("train", "wine", "--models", "logistic", "--trials", "1", "--cv", "2",
            workspace=ws, check=True)

    bundle = tmp_path / "bundle"
    assert run_json("export", "wine", "1", "--out", str(bundle), workspace=ws)["parity"][
        "passed"]
    sig = json.loads((bundle / "signature.json").read_text(encoding="utf-8"))
    assert {i["column"]: i["name"] for i in sig["inputs"]} == {
        "od280/od315_of_diluted_wines": "od280_od315_of_diluted_wines", "a b": "a_b_2",
        "a_b": "a_b", "colour \"intensity\" %": "colour__intensity___"}
    readme = (bundle / "README.md").read_text(encoding="utf-8")
    assert "'od280/od315_of_diluted_wines':" in readme and 'r[i["column"]]' in readme
    assert run_json("bundle", "verify", str(bundle), workspace=ws)["smoke_test"]["ok"]

    rows = _frame(names, 30, seed=9).drop("label")
    rows.write_csv(tmp_path / "rows.csv")
    run_cli("predict", "wine", str(tmp_path / "rows.csv"), "--model", "1", "--no-shadow",
            "--out", str(tmp_path / "pred.csv"), workspace=ws, check=True)
    predicted = pl.read_csv(tmp_path / "pred.csv")
    plain = json.loads(subprocess.run(
        [sys.executable, "-I", "-c", _PLAIN, str(bundle), str(tmp_path / "rows.csv")],
        capture_output=True, text=True, check=True).stdout)
    assert plain["label"] == predicted["prediction"].to_list()
    for i, cls in enumerate(sig["classes"]):
        got = predicted[f"probability_{cls}"].to_numpy()
        np.testing.assert_allclose(got, np.asarray(plain["proba"])[:, i], atol=1e-6)

    # A labelled batch: monitored against training, then used to retrain.
    _frame(names, 60, seed=11).write_csv(tmp_path / "batch.csv")
    run_cli("promote", "wine", "1", "--reason", "first", workspace=ws, check=True)
    checked = run_json("monitor", "wine", str(tmp_path / "batch.csv"), workspace=ws)
    assert {c["name"] for c in checked["data_drift"]["columns"]} == set(names)
    retrained = run_json("retrain", "wine", "--with", str(tmp_path / "batch.csv"), "--trials",
                         "1", workspace=ws)
    assert retrained["candidate"]["version"] == 2

    rows.drop("a b").write_csv(tmp_path / "short.csv")
    proc = run_cli("predict", "wine", str(tmp_path / "short.csv"), "--model", "1",
                   workspace=ws)
    assert proc.returncode == 2
    assert proc.stderr == "error: short.csv is missing column(s) the model needs: a b\n"
