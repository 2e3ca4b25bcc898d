"""Every registered model can be scored: each catalog family, on every kind of task, exports
with parity and is scored by predict; a family whose graph fails is never registered."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlcycle import projects
from mlcycle.app.screens.train import outcome
from mlcycle.data import datasets
from mlcycle.deploy import scoring
from mlcycle.models import catalog, exportable, judging, parity, registry, tracking, training
from mlcycle.monitor.status import status as loop_status
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace, open_workspace
from tests.conftest import run_cli, run_json

# Column names a graph input cannot carry as they are.
NUMBERS = ["taille (cm)", "prix/€ %", "l'âge", 'q"uote']
KINDS = {"binary": 2, "3-class": 3, "10-class": 10, "regression": 0}
# Small, fixed settings: each family's graph as it computes, at a fraction of the search's cost.
PARAMS = {
    "logistic": {"model__C": 1.0},
    "random_forest": {"model__n_estimators": 30, "model__max_depth": 6},
    "extra_trees": {"model__n_estimators": 30, "model__max_depth": 6},
    "hist_gradient_boosting": {"model__learning_rate": 0.2, "model__max_leaf_nodes": 15,
                               "model__max_iter": 40},
    "knn": {"model__n_neighbors": 5},
    "ridge": {"model__alpha": 1.0},
}
BOUND_KIND = {"logistic": "linear", "linear": "linear", "ridge": "linear", "knn": "neighbours",
              "random_forest": "forest", "extra_trees": "forest",
              "hist_gradient_boosting": "boosting"}


def _frame(kind: str, rows: int) -> pl.DataFrame:
    from sklearn.datasets import make_classification, make_regression

    if kind == "regression":
        x, y = make_regression(rows, len(NUMBERS), n_informative=3, noise=5.0, random_state=4)
        target = pl.Series("cible", y.round(3))
    else:
        x, y = make_classification(rows, len(NUMBERS), n_informative=4, n_redundant=0,
                                   n_classes=KINDS[kind], n_clusters_per_class=1,
                                   random_state=4)
        target = pl.Series("cible", [f"classe {v}" for v in y])
    frame = pl.DataFrame({name: x[:, i].round(4) for i, name in enumerate(NUMBERS)})
    plan = np.where(x[:, 0] > 0, "plus", "basic")
    return frame.with_columns(pl.Series("plan / type", plan), target)


def _project(root: Path, kind: str, rows: int = 1000) -> tuple[Workspace, Path]:
    ws = open_workspace(root / "ws", create=True)[0]
    task = "regression" if kind == "regression" else "classification"
    projects.create(ws, "p", target="cible", task=task,
                    metric="rmse" if kind == "regression" else "accuracy")
    path = root / "data.csv"
    _frame(kind, rows).write_csv(path)
    datasets.add(ws, "p", path)
    return ws, path


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory: pytest.TempPathFactory):
    made: dict[str, tuple[Workspace, Path, training.Prepared]] = {}

    def get(kind: str) -> tuple[Workspace, Path, training.Prepared]:
        if kind not in made:
            ws, path = _project(tmp_path_factory.mktemp(kind.replace("-", "")), kind)
            made[kind] = (ws, path, training.prepare(ws, "p", "latest", 2, None))
        return made[kind]

    return get


CELLS = [(kind, name) for kind in KINDS
         for name in catalog.names("regression" if kind == "regression" else "classification")]


@pytest.mark.parametrize(("kind", "name"), CELLS)
def test_each_family_registers_a_model_that_exports_and_predict_scores(
    workspaces, kind: str, name: str, tmp_path: Path
) -> None:
    ws, path, prepared = workspaces(kind)
    entry = catalog.get(name, prepared.project.task)
    run = tracking.start_run(ws, "p", name=name, kind="trial", tags={
        "mlcycle.model": name, "mlcycle.dataset": prepared.version.id})
    _, verdict = judging.evaluate_on_holdout(ws, prepared, entry, PARAMS.get(name, {}), 0,
                                              run.id, analyse=False)
    figures = verdict.figures
    assert verdict.passed, (name, kind, figures)
    assert figures["bound"]["kind"] == BOUND_KIND[name] and figures["rows"] == 200
    if kind == "regression":
        assert figures["max_abs_diff"] <= figures["tolerance"]
    else:
        assert figures["label_mismatches_at_ties"] == figures["label_mismatches"]
        assert figures["max_abs_proba_diff"] <= figures["tolerance"] < 1e-3
    # The verdict is recorded on the run: figures and tags.
    stored = tracking.get_run(ws, run.id)
    assert stored.tags[exportable.TAG] == exportable.PASSED
    recorded = tracking.artifact_path(ws, stored, "parity.json").read_text(encoding="utf-8")
    assert json.loads(recorded)["tolerance"] == figures["tolerance"]

    version = registry.register(ws, "p", run.id, reason="test").version
    out = tmp_path / "scored.csv"
    scoring.predict_file(ws, "p", path, ref=str(version), out=out, shadow=False)
    scored = pl.read_csv(out)
    _, pipeline = registry.load(ws, "p", str(version))
    expected = pipeline.predict(prepared.inputs)
    if kind == "regression":
        np.testing.assert_allclose(scored["prediction"].to_numpy(), expected,
                                   atol=figures["tolerance"] * 10, rtol=0)
    else:
        assert (scored["prediction"].to_numpy().astype(str) == expected.astype(str)).mean() > 0.99
    assert exportable.of_version(ws, registry.get(ws, "p", str(version))) is None


def test_a_family_whose_graph_fails_parity_is_named_and_the_next_best_registered(
    tmp_path: Path,
) -> None:
    ws, _ = _project(tmp_path, "3-class", rows=1000)
    # A zero bound asks boosting's float32 sums to equal float64's: its graph cannot pass.
    config = training.TrainConfig("p", models=["logistic", "hist_gradient_boosting"],
                                  trials=1, cv=2, parity_scale={"hist_gradient_boosting": 0.0})
    result = training.train(ws, config)
    [failed] = result.unexportable
    boosting = next(m for m in result.models if m["model"] == "hist_gradient_boosting")
    assert failed["model"] == "hist_gradient_boosting" and failed["run"] == boosting["run"]
    assert not boosting["exportable"] and failed["parity"]["tolerance"] == 0.0
    assert "probabilities by up to" in failed["reason"] and "(allowed 0)" in failed["reason"]
    [version] = registry.versions(ws, "p")
    assert version.summary["model"] == "logistic" and result.registered_version == 1
    assert result.best_run == version.run_id and result.not_registered is None
    line = outcome(result, "accuracy")  # what the terminal UI's train screen shows
    assert "graph failed parity: hist_gradient_boosting" in line
    passed_over = result.models[0]["model"] != "logistic"
    assert f"registered as version 1{' (logistic, the best that scores)' * passed_over}" in line
    # Its run is refused by hand too, saying why.
    with pytest.raises(InvalidInput, match="cannot be registered: its model could not be scored"):
        registry.register(ws, "p", failed["run"])


def test_when_no_judged_graph_keeps_parity_nothing_is_registered_and_the_summary_says_why(
    tmp_path: Path,
) -> None:
    ws, _ = _project(tmp_path, "binary", rows=1000)
    result = training.train(ws, training.TrainConfig(
        "p", models=["logistic"], trials=1, cv=2, parity_scale={"logistic": 0.0}))
    assert result.registered_version is None and registry.versions(ws, "p") == []
    assert result.not_registered.startswith("nothing registered: no judged model's ONNX graph "
                                            "keeps parity (logistic)")
    assert [u["model"] for u in result.unexportable] == ["logistic"]


def test_train_then_predict_end_to_end_and_an_unscorable_version_is_flagged(
    tmp_path: Path,
) -> None:
    ws, path = _project(tmp_path, "3-class", rows=1000)
    trained = run_json("train", "p", "--models", "logistic", "--trials", "1", "--cv", "2",
                       workspace=ws.root)
    assert trained["registered_version"] == 1 and trained["unexportable"] == []
    logistic = next(m for m in trained["models"] if m["model"] == "logistic")
    assert logistic["exportable"] and logistic["parity"]["bound"]["kind"] == "linear"
    registry.promote(ws, "p", "1", reason="first")
    scored = run_json("predict", "p", str(path), "--out", str(tmp_path / "out.csv"),
                      workspace=ws.root)
    assert scored["rows"] == 1000

    # A workspace from before training checked exportability: the baseline registered by
    # hand (its verdict unknown) has no ONNX converter, so it can never be scored.
    baseline = next(r for r in tracking.runs(ws, "p") if r.kind == "baseline")
    tracking.resume_run(ws, baseline.id).set_tags({exportable.TAG: None})
    registry.register(ws, "p", baseline.id, reason="kept for comparison")
    registry.promote(ws, "p", "2", reason="comparison")
    listed = run_cli("models", "p", workspace=ws.root)
    assert listed.returncode == 0
    text = " ".join(listed.stdout.split())
    assert ("warning: version 2 cannot be scored: it does not convert to ONNX" in text
            and "retrain ('mlcycle train p') or promote a version that scores" in text), text
    assert list(exportable.problems(ws, "p")) == [2]
    # The verdict was worked out once and kept on the run.
    assert tracking.get_run(ws, baseline.id).tags[exportable.TAG] == exportable.FAILED
    champion = loop_status(ws, "p")["champion"]
    assert champion["cannot_score"].startswith("version 2 cannot be scored")
    with pytest.raises(InvalidInput, match=r"cannot convert version 2 to ONNX: .*; retrain"):
        scoring.predict_file(ws, "p", path, out=tmp_path / "again.csv")


def test_a_label_may_differ_only_where_the_two_likeliest_classes_are_within_twice_the_bound(
    workspaces,
) -> None:
    _, _, prepared = workspaces("3-class")
    hold = prepared.inputs.filter(prepared.holdout)
    train = ~prepared.holdout
    pipeline = catalog.pipeline(catalog.get("logistic", "classification"), prepared.signature,
                                0, PARAMS["logistic"])
    pipeline.fit(prepared.inputs.filter(train), prepared.y[train])
    proba = pipeline.predict_proba(hold)
    top_two = np.sort(proba, axis=1)[:, -2:]
    gaps = top_two[:, 1] - top_two[:, 0]
    close, far = int(np.argmin(gaps)), int(np.argmax(gaps))
    labels = pipeline.predict(hold).astype(str)
    second = pipeline.classes_[np.argsort(proba, axis=1)[:, -2]].astype(str)

    def judged(row: int, scale: float) -> dict:
        flipped = labels.copy()
        flipped[row] = second[row]
        return parity.compare(pipeline, [flipped, proba.astype(np.float32)], hold,
                              prepared.signature, scale)

    base = parity.bound(pipeline, hold, proba).tolerance
    # A bound wide enough that the closest row's order is undecided: its flip is allowed...
    wide = gaps[close] / base
    at_tie = judged(close, wide)
    assert at_tie["passed"] and at_tie["label_mismatches_at_ties"] == 1, at_tie
    # ...but a flip where the pipeline is sure fails, whatever the probabilities say.
    away = judged(far, wide)
    assert not away["passed"] and away["label_mismatches_at_ties"] == 0
    assert "1 of 200 labels differ away from near-ties" in parity.failure(away)
