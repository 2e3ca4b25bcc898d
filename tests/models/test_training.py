"""Training, evaluation, the registry and reproducibility, on small generated data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.models import registry, tracking, training
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace
from tests.conftest import run_cli, run_json
from tests.training_data import classification_frame, regression_frame, write


@pytest.fixture
def clf_ws(ws: Workspace, tmp_path: Path) -> Workspace:
    projects.create(ws, "clf", target="label", task="classification", metric="roc_auc", goal=0.7)
    datasets.add(ws, "clf", write(classification_frame(), tmp_path, "clf.csv"))
    return ws


def _train(ws: Workspace, **kw) -> training.TrainResult:
    config = {"models": ["logistic", "random_forest"], "trials": 2, "cv": 3, **kw}
    return training.train(ws, training.TrainConfig("clf", **config))


def test_train_beats_the_baseline_and_registers_the_best(clf_ws: Workspace) -> None:
    result = _train(clf_ws)
    assert result.trials_finished == 1 + 2 * 2
    best = result.models[0]
    assert best["holdout.roc_auc"] > result.baseline["holdout.roc_auc"] + 0.15
    assert result.registered_version == 1
    version = registry.get(clf_ws, "clf", "1")
    assert version.run_id == result.best_run and version.summary["model"] == best["model"]
    # DuckDB reads yes/no as booleans: the classes are what the stored version holds.
    assert json.loads(
        tracking.artifact_path(
            clf_ws, tracking.get_run(clf_ws, result.best_run), "signature.json"
        ).read_text()
    )["classes"] == ["false", "true"]
    runs = tracking.runs(clf_ws, "clf", group=result.group)
    assert len(runs) == 5 and {r.kind for r in runs} == {"baseline", "trial"}
    evaluated = tracking.get_run(clf_ws, result.best_run)
    for key in ("cv.roc_auc", "cv.roc_auc.std", "holdout.f1", "holdout.log_loss"):
        assert key in evaluated.metrics
    analysis = json.loads(tracking.artifact_path(clf_ws, evaluated, "evaluation.json").read_text())
    assert sum(map(sum, analysis["confusion_matrix"]["counts"])) == analysis["rows"] == 120
    assert {p["feature"] for p in analysis["permutation_importance"]} == {
        "x1",
        "x2",
        "plan",
        "flag",
    }
    assert analysis["permutation_importance"][0]["feature"] == "x1"  # the strongest signal
    assert set(analysis["segments"]) == {"plan"} and analysis["worst_rows"][0]["id"].startswith("U")
    assert "bins" in analysis["calibration"]
    card = projects.get(clf_ws, "clf")
    assert card.goal == 0.7


def test_every_model_is_judged_on_the_same_stored_holdout(clf_ws: Workspace) -> None:
    first = _train(clf_ws, models=["logistic"], trials=1)
    second = _train(clf_ws, models=["logistic"], trials=1, seed=5)
    a = tracking.get_run(clf_ws, first.best_run)
    b = tracking.get_run(clf_ws, second.best_run)
    rows_a = json.loads(tracking.artifact_path(clf_ws, a, "evaluation.json").read_text())["rows"]
    rows_b = json.loads(tracking.artifact_path(clf_ws, b, "evaluation.json").read_text())["rows"]
    assert rows_a == rows_b == 120
    with clf_ws.read() as con:
        assert con.execute("SELECT count(*) FROM holdouts").fetchall() == [(1,)]


def test_regression_trains_and_beats_the_mean(ws: Workspace, tmp_path: Path) -> None:
    projects.create(ws, "reg", target="price", task="regression")
    datasets.add(ws, "reg", write(regression_frame(), tmp_path, "reg.csv"))
    result = training.train(
        ws, training.TrainConfig("reg", models=["ridge", "knn"], trials=2, cv=3)
    )
    assert result.models[0]["holdout.rmse"] < 0.3 * result.baseline["holdout.rmse"]
    assert result.models[0]["holdout.r2"] > 0.9


def test_a_trial_reproduces_exactly(clf_ws: Workspace) -> None:
    result = _train(clf_ws, models=["random_forest"], trials=1)
    again = training.reproduce(clf_ws, result.best_run)
    assert again["identical"], again["metrics"]
    assert {r["metric"] for r in again["metrics"]} >= {"cv.roc_auc", "holdout.roc_auc"}


def test_ctrl_c_keeps_the_finished_trials(clf_ws: Workspace, monkeypatch) -> None:
    real = training.cross_validate
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "cross_validate", interrupted)
    result = _train(clf_ws)
    assert result.stopped == "interrupted" and result.trials_finished == 2
    statuses = sorted(r.status for r in tracking.runs(clf_ws, "clf"))
    assert statuses == ["finished", "finished", "killed"]
    assert registry.versions(clf_ws, "clf") == []


@pytest.mark.parametrize(
    ("frame", "task", "config", "message"),
    [
        ({"x": [1, 2, 3, 4, 5, 6], "label": ["a"] * 6}, "classification", {}, "one class"),
        (
            {"x": [1.0] * 6, "label": ["a", "b", "c", "d", "e", "f"]},
            "regression",
            {},
            "must be numeric",
        ),
        (
            {"x": [1, 2, 3, 4], "label": ["a", "b", "a", "b"]},
            "classification",
            {"cv": 5},
            "too few",
        ),
        (
            {
                "x": list(range(12)),
                "label": ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b", "a", "b"],
            },
            "classification",
            {"models": ["xgboost"]},
            "unknown model 'xgboost'",
        ),
    ],
)
def test_bad_training_input_fails_before_any_work(
    ws: Workspace, tmp_path: Path, frame, task, config, message
) -> None:
    import polars as pl

    projects.create(ws, "bad", target="label", task=task)
    path = tmp_path / "bad.csv"
    pl.DataFrame(frame).write_csv(path)
    datasets.add(ws, "bad", path)
    with pytest.raises(InvalidInput, match=message):
        training.train(ws, training.TrainConfig("bad", **{"trials": 1, "cv": 3, **config}))
    assert tracking.runs(ws, "bad") == []


def test_registry_aliases_audit_trail_and_rollback(clf_ws: Workspace) -> None:
    first = _train(clf_ws, models=["logistic"], trials=1)
    second = _train(clf_ws, models=["random_forest"], trials=1)
    assert (first.registered_version, second.registered_version) == (1, 2)
    with pytest.raises(InvalidInput, match="reason"):
        registry.promote(clf_ws, "clf", "1", reason="")
    registry.promote(clf_ws, "clf", "1", reason="first model")
    registry.promote(clf_ws, "clf", "2", reason="better forest")
    registry.promote(clf_ws, "clf", "1", alias="challenger", reason="shadow the old one")
    assert registry.get(clf_ws, "clf", "champion").version == 2
    assert registry.rollback(clf_ws, "clf").version == 1
    with pytest.raises(InvalidInput, match="first champion"):
        registry.rollback(clf_ws, "clf")
    trail = registry.history(clf_ws, "clf")
    assert [(h["alias"], h["action"], h["version"], h["previous"]) for h in trail] == [
        ("champion", "promote", 1, None),
        ("champion", "promote", 2, 1),
        ("challenger", "promote", 1, None),
        ("challenger", "clear", None, 1),  # one alias per version: champion again, v1 leaves it
        ("champion", "rollback", 1, 2),
    ]
    assert trail[1]["reason"] == "better forest" and "holdout.roc_auc" in trail[1]["figures"]
    with pytest.raises(InvalidInput, match="promote another"):
        registry.archive(clf_ws, "clf", "1")
    assert registry.archive(clf_ws, "clf", "2").archived


def test_a_tampered_model_file_is_never_loaded(clf_ws: Workspace) -> None:
    from mlcycle.models import model_input

    result = _train(clf_ws, models=["logistic"], trials=1)
    version, model = registry.load(clf_ws, "clf", str(result.registered_version))
    signature = model_input.Signature.from_dict(
        json.loads(
            tracking.artifact_path(
                clf_ws, tracking.get_run(clf_ws, version.run_id), "signature.json"
            ).read_text()
        )
    )
    frame = model_input.frame(classification_frame(20, seed=9), signature)
    assert set(model.predict(frame)) <= set(signature.classes) and len(signature.classes) == 2
    path = clf_ws.artifact_path(version.path)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(InvalidInput, match="is corrupted"):
        registry.load(clf_ws, "clf", "1")


def test_the_whole_cycle_from_the_command_line(clf_ws: Workspace) -> None:
    root = clf_ws.root
    result = run_json(
        "train", "clf", "--models", "logistic", "--trials", "2", "--cv", "3", workspace=root
    )
    assert result["registered_version"] == 1 and result["trials_finished"] == 3
    runs = run_json("runs", "clf", "--sort", "cv.roc_auc", workspace=root)
    assert runs[0]["metrics"]["cv.roc_auc"] >= runs[-1]["metrics"]["cv.roc_auc"]
    shown = run_json("run", "show", result["best_run"], workspace=root)
    assert shown["artifacts"]["model.skops"]["size"] > 0
    diff = run_json("runs", "compare", runs[0]["id"], runs[1]["id"], workspace=root)
    assert {row["key"] for row in diff["metrics"]} >= {"cv.roc_auc"}
    again = run_json("run", "reproduce", result["best_run"], workspace=root)
    assert again["identical"] is True
    promoted = run_json("promote", "clf", "1", "--reason", "good enough", workspace=root)
    assert promoted["aliases"] == ["champion"]
    listed = run_json("models", "clf", workspace=root)
    assert listed[0]["version"] == 1 and listed[0]["lineage"]["run"] == result["best_run"]
    trail = run_json("models", "clf", "--history", workspace=root)
    assert trail[0]["reason"] == "good enough"
    card = run_cli("model", "card", "clf", "champion", workspace=root, check=True).stdout
    assert card.startswith("# Model card: clf version 1") and "Beats the baseline: yes" in card
    bad = run_cli("rollback", "clf", workspace=root)
    assert bad.returncode == 2 and "nothing to roll back" in bad.stderr
    shown = run_json("project", "show", "clf", workspace=root)
    reached = {s["key"] for s in shown["stages"] if s["reached"]}
    assert {"train", "evaluate", "register"} <= reached


def test_training_uses_the_feature_set_and_scoring_recomputes_it(clf_ws: Workspace) -> None:
    from mlcycle.models import model_input
    from mlcycle.prep import features

    features.store(clf_ws, "clf", 'name = "ratio"\n\n[[derive]]\nname = "x1_per_x2"\n'
                   'expr = "x1 / x2"\n\n[select]\ndrop = ["flag"]\n')
    result = _train(clf_ws, models=["logistic"], trials=1)
    run = tracking.get_run(clf_ws, result.best_run)
    fs = features.resolve(clf_ws, "clf")
    assert run.tags["mlcycle.features"] == fs.id
    signature = model_input.Signature.from_dict(
        json.loads(tracking.artifact_path(clf_ws, run, "signature.json").read_text()))
    assert "x1_per_x2" in signature.numeric and "flag" not in signature.inputs
    # Scoring starts from raw rows: the derived column is computed by the same function.
    _, model = registry.load(clf_ws, "clf", "1")
    inputs = model_input.frame(classification_frame(30, seed=4), signature)
    assert "x1_per_x2" in inputs.columns and len(model.predict(inputs)) == 30
    assert training.reproduce(clf_ws, result.best_run)["identical"]
    raw = training.train(clf_ws, training.TrainConfig("clf", models=["logistic"], trials=1,
                                                      cv=3, features=None))
    assert tracking.get_run(clf_ws, raw.best_run).tags.get("mlcycle.features") is None
