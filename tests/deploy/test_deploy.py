"""Export with parity, bundles, batch scoring, shadowing and comparison."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from mlcycle import deploy
from mlcycle.deploy import bundle as bundles
from mlcycle.deploy import runs, scoring
from mlcycle.models import catalog, parity, registry
from mlcycle.store.errors import InvalidInput
from tests.conftest import run_cli, run_json
from tests.deploy_fixtures import classification_workspace, regression_workspace
from tests.training_data import classification_frame


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory):
    """Every catalog classifier trained and registered (baseline excluded)."""
    root = tmp_path_factory.mktemp("clf")
    return classification_workspace(root, catalog.names("classification"))


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("reg")
    return regression_workspace(root, catalog.names("regression"))


def test_every_catalog_classifier_exports_with_parity(clf) -> None:
    versions = registry.versions(clf, "clf")
    assert {v.summary["model"] for v in versions} == set(catalog.names("classification"))
    for v in versions:
        export = deploy.build(clf, "clf", str(v.version))
        p = export.parity
        assert p["passed"] and p["label_mismatches"] == 0, (v.summary["model"], p)
        assert p["max_abs_proba_diff"] <= p["tolerance"] and p["rows"] == 80
        assert export.size_bytes < 50 * 2**20
    # stored, so shown again without converting
    assert len(deploy.exports(clf, "clf")) == len(versions)


def test_every_catalog_regressor_exports_with_parity(reg) -> None:
    versions = registry.versions(reg, "reg")
    assert {v.summary["model"] for v in versions} == set(catalog.names("regression"))
    for v in versions:
        p = deploy.build(reg, "reg", str(v.version)).parity
        assert p["passed"] and p["max_abs_diff"] <= p["tolerance"], (v.summary["model"], p)


def test_export_refuses_when_parity_fails_and_says_by_how_much(
    clf, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with clf.write() as con:  # forget the stored export so it converts again
        con.execute("DELETE FROM onnx_exports WHERE project = 'clf' AND version = 1")
    # float32 as exact as float64: no graph's arithmetic is within a zero bound.
    monkeypatch.setattr(parity, "U32", 0.0)
    with pytest.raises(InvalidInput, match=r"refused.*probabilities by up to .* \(allowed 0\)"):
        deploy.export(clf, "clf", "1", tmp_path / "b")
    assert not (tmp_path / "b").exists() and deploy.get_export(clf, "clf", 1) is None


def test_bundle_scored_by_plain_onnxruntime_matches_mlcycle_predict(clf, tmp_path: Path) -> None:
    ws = clf.root
    bundle = tmp_path / "bundle"
    out = run_json("export", "clf", "1", "--out", str(bundle), workspace=ws)
    assert out["parity"]["passed"]
    assert sorted(p.name for p in bundle.iterdir()) == sorted(
        [*bundles.BUNDLE_FILES, *bundles.SERVER_FILES, bundles.MANIFEST])
    meta = json.loads((bundle / "metadata.json").read_text())
    assert meta["reference_profile"]["n_rows"] == 320 and meta["lineage"]["dataset"]
    sig = json.loads((bundle / "signature.json").read_text())
    plan = next(i for i in sig["inputs"] if i["name"] == "plan")
    assert plan["type"] == "string" and plan["categories"] == ["basic", "plus", "pro"]
    assert run_json("bundle", "verify", str(bundle), workspace=ws)["hashes"] == "ok"

    rows = classification_frame(50, seed=9)
    rows.write_csv(tmp_path / "rows.csv")
    run_cli("predict", "clf", str(tmp_path / "rows.csv"), "--model", "1", "--no-shadow",
            "--out", str(tmp_path / "pred.csv"), workspace=ws, check=True)
    predicted = pl.read_csv(tmp_path / "pred.csv")
    # The README's recipe, in a process that never imports mlcycle.
    script = """
import json, sys, numpy as np, onnxruntime as ort, csv
folder, data = sys.argv[1], sys.argv[2]
sig = json.load(open(folder + "/signature.json"))
sess = ort.InferenceSession(folder + "/model.onnx", providers=["CPUExecutionProvider"])
rows = list(csv.DictReader(open(data)))
def num(v):
    return float("nan") if v == "" else 1.0 if v == "true" else 0.0 if v == "false" else float(v)
feeds = {i["name"]: np.array([[num(r[i["name"]]) if i["type"] == "float32" else r[i["name"]]]
         for r in rows], dtype=np.float32 if i["type"] == "float32" else object)
         for i in sig["inputs"]}
label, proba = sess.run(None, feeds)
print(json.dumps({"label": label.tolist(), "proba": proba.tolist()}))
"""
    proc = subprocess.run([sys.executable, "-I", "-c", script, str(bundle),
                           str(tmp_path / "rows.csv")], capture_output=True, text=True,
                          check=True)
    plain = json.loads(proc.stdout)
    # The target (yes/no) is stored as a boolean: the graph's labels are booleans too.
    assert plain["label"] == predicted["prediction"].to_list()
    classes = sig["classes"]
    for i, cls in enumerate(classes):
        got = predicted[f"probability_{cls}"].to_list()
        assert max(abs(a - b[i]) for a, b in zip(got, plain["proba"])) < 1e-6


def test_tampered_bundle_fails_verification(clf, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    deploy.export(clf, "clf", "1", bundle)
    (bundle / "signature.json").write_text("{}")
    proc = run_cli("bundle", "verify", str(bundle), workspace=clf.root)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: bundle {bundle} fails verification: "
                                   "signature.json does not match its hash")
    # A folder that is not empty is not replaced without --force.
    proc = run_cli("export", "clf", "1", "--out", str(bundle), workspace=clf.root)
    assert proc.returncode == 2 and "not empty" in proc.stderr


def test_predict_checks_input_against_the_signature(clf, tmp_path: Path) -> None:
    ws = clf.root
    data = classification_frame(30, seed=4)
    data.drop("x2").write_csv(tmp_path / "missing.csv")
    proc = run_cli("predict", "clf", str(tmp_path / "missing.csv"), "--model", "1", workspace=ws)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "missing column(s) the model needs: x2" in proc.stderr

    bad = data.with_columns(pl.col("x1").cast(pl.Utf8)).with_columns(
        pl.when(pl.int_range(pl.len()) == 6).then(pl.lit("lots")).otherwise(pl.col("x1"))
        .alias("x1"))
    bad.write_csv(tmp_path / "bad.csv")
    proc = run_cli("predict", "clf", str(tmp_path / "bad.csv"), "--model", "1", workspace=ws)
    assert proc.returncode == 2
    assert "column 'x1' must be numeric, but row 7 of the batch holds 'lots'" in proc.stderr
    assert "Traceback" not in proc.stderr

    odd = data.with_columns(
        pl.lit("extra").alias("comment"),
        pl.when(pl.int_range(pl.len()) < 3).then(pl.lit("enterprise")).otherwise(pl.col("plan"))
        .alias("plan"),
        pl.col("flag").cast(pl.Utf8),  # "true"/"false" text is cast to 1/0
    )
    odd.write_csv(tmp_path / "odd.csv")
    proc = run_cli("predict", "clf", str(tmp_path / "odd.csv"), "--model", "1", "--json",
                   workspace=ws)
    assert proc.returncode == 0, proc.stderr
    assert "ignoring 1 column(s) the model does not use: comment" in proc.stderr
    result = json.loads(proc.stdout)
    assert result["rows"] == 30 and result["unseen_categories"] == {"plan": 3}
    assert abs(sum(result["summary"]["class_shares"].values()) - 1) < 1e-9


def test_batches_are_bounded_and_logged(clf, tmp_path: Path) -> None:
    data = classification_frame(1000, seed=5)
    data.write_parquet(tmp_path / "rows.parquet")
    out = tmp_path / "pred.parquet"
    result = scoring.predict_file(clf, "clf", tmp_path / "rows.parquet", "1", out,
                                  shadow=False, batch_rows=128)
    written = pl.read_parquet(out)
    assert written.height == 1000 and written["id"].to_list() == data["id"].to_list()
    whole = scoring.predict_file(clf, "clf", tmp_path / "rows.parquet", "1", shadow=False)
    assert whole.summary.class_shares == result.summary.class_shares
    assert whole.summary.mean_probability == pytest.approx(result.summary.mean_probability)
    logged = runs.recent_runs(clf, "clf")
    assert logged[0].rows == 1000 and logged[0].version == 1


def test_shadow_scoring_then_compare_and_promote(reg, tmp_path: Path) -> None:
    ws = reg.root
    versions = sorted(v.version for v in registry.versions(reg, "reg"))
    champion, challenger = versions[0], versions[1]
    registry.promote(reg, "reg", str(champion), reason="first")
    registry.promote(reg, "reg", str(challenger), "challenger", reason="try")
    from tests.training_data import regression_frame

    rows = regression_frame(200, seed=11).with_row_index("house").with_columns(
        pl.col("house").cast(pl.Utf8))
    rows.drop("price").write_csv(tmp_path / "batch.csv")
    result = run_json("predict", "reg", str(tmp_path / "batch.csv"), workspace=ws)
    assert result["version"] == champion and result["shadow_version"] == challenger
    # No identifier in the training data: rows are keyed by a hash of the model inputs.
    rows.write_csv(tmp_path / "labels.csv")
    report = run_json("compare", "reg", str(tmp_path / "labels.csv"), workspace=ws)
    # rows with identical inputs share a key
    assert report["rows"] == rows.select("size", "rooms", "area").unique().height
    assert set(report["champion"]["metrics"]) >= {"rmse", "mae"}
    better = report["challenger_better"]
    proc = run_cli("compare", "reg", str(tmp_path / "labels.csv"), "--promote",
                   "--reason", "shadow test", workspace=ws)
    if better:
        assert proc.returncode == 0
        assert registry.get(reg, "reg").version == challenger
        assert "shadow test: rmse" in registry.history(reg, "reg")[-1]["reason"]
    else:
        assert proc.returncode == 2 and "not promoted" in proc.stderr
        assert registry.get(reg, "reg").version == champion
