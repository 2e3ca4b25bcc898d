"""Alerts that say why: each alert of a check names its cause, its figures and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlcycle import monitor, projects
from mlcycle.data import datasets
from mlcycle.models import registry, training
from mlcycle.monitor import monitoring
from mlcycle.store.workspace import open_workspace
from tests.conftest import run_cli, run_json
from tests.deploy_fixtures import classification_workspace, register_all
from tests.training_data import classification_frame


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory):
    ws = classification_workspace(tmp_path_factory.mktemp("alerts"), ["logistic"], rows=600)
    registry.promote(ws, "clf", "1", reason="test")
    return ws


def _write(frame: pl.DataFrame, path: Path) -> Path:
    frame.write_csv(path)
    return path


def _kinds(result: dict) -> list[str]:
    return [a["kind"] for a in result["alert_details"]]


def test_a_missing_burst_or_unknown_codes_are_a_system_issue_not_drift(clf, tmp_path) -> None:
    frame = classification_frame(800, seed=31).drop("label")
    rng = np.random.default_rng(31)
    burst = frame.with_columns(  # the feed of x2 breaks for 40 % of the rows
        pl.when(pl.Series(rng.random(800) < 0.4)).then(None).otherwise(pl.col("x2")).alias("x2"))
    result = monitoring.check(clf, "clf", _write(burst, tmp_path / "burst.csv"))
    assert _kinds(result) == ["system"]
    assert not result["retrain_recommended"]  # retraining on broken data is no fix
    (alert,) = result["alert_details"]
    assert alert["message"] in result["alerts"] and "x2 missing" in alert["message"]
    (broken,) = alert["evidence"]["inputs"]
    assert broken["input"] == "x2" and broken["missing_current"] > 0.35
    assert broken["missing_reference"] < 0.1
    assert any("do not retrain" in step for step in alert["playbook"])
    # A retyped input that still scores: plan arrives as codes, never-seen categories.
    codes = frame.with_columns(pl.col("plan").replace_strict(
        {"basic": 1, "plus": 2, "pro": 3}, return_dtype=pl.Int64))
    result = monitoring.check(clf, "clf", _write(codes, tmp_path / "codes.csv"))
    system = [a for a in result["alert_details"] if a["kind"] == "system"]
    assert system and system[0]["evidence"]["inputs"][0]["input"] == "plan"
    assert system[0]["evidence"]["inputs"][0]["new_value_rows"] == 800
    drifted = [m["input"] for a in result["alert_details"] if a["kind"] == "data_drift"
               for m in a["evidence"].get("inputs", [])]
    assert "plan" not in drifted


def test_a_batch_missing_an_input_is_refused_and_set_aside(clf, tmp_path) -> None:
    # Scoring cannot go on without an input: a one-line refusal, not a check.
    batch = _write(classification_frame(300, seed=32).drop("label", "x1"), tmp_path / "b.csv")
    before = len(monitoring.history(clf, "clf", limit=1000))
    proc = run_cli("monitor", "clf", str(batch), workspace=clf.root)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "missing column(s) the model needs: x1" in proc.stderr
    assert len(monitoring.history(clf, "clf", limit=1000)) == before
    folder = tmp_path / "in"
    folder.mkdir()
    batch.rename(folder / "b.csv")
    out = run_cli("watch", "clf", str(folder), "--once", "--json", workspace=clf.root,
                  check=True).stdout
    (outcome,) = map(json.loads, out.splitlines())
    assert outcome["status"] == "rejected" and "x1" in outcome["error"]
    assert (folder / "rejected" / "b.csv").exists()


def test_lost_performance_with_unchanged_inputs_is_concept_drift(clf, tmp_path) -> None:
    frame = classification_frame(1000, seed=33)
    flip = pl.Series(np.random.default_rng(33).random(1000) < 0.5)  # half the outcomes turn
    frame = frame.with_columns(
        pl.when(flip & (pl.col("label") == "yes")).then(pl.lit("no"))
        .when(flip).then(pl.lit("yes")).otherwise(pl.col("label")).alias("label"))
    batch = _write(frame.drop("label"), tmp_path / "flip.csv")
    labels = _write(frame.select("id", "label"), tmp_path / "flip_labels.csv")
    result = monitoring.check(clf, "clf", batch, labels=labels)
    assert _kinds(result) == ["concept_drift"] and result["retrain_recommended"]
    (alert,) = result["alert_details"]
    assert alert["message"].startswith("roc_auc fell to")
    assert alert["evidence"]["inputs_moved"] == []
    assert alert["evidence"]["relative_loss"] > 0.2 and alert["evidence"]["rows"] == 1000
    assert any("Revise the features or the model" in step for step in alert["playbook"])
    assert any(f"--labels {labels}" in step for step in alert["playbook"])


@pytest.fixture(scope="module")
def ranked(tmp_path_factory: pytest.TempPathFactory):
    """A model whose outcome hangs on ``signal`` alone; ``noise`` is an input it barely uses."""
    root = tmp_path_factory.mktemp("ranked")
    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "rank", target="label", task="classification", metric="roc_auc")
    datasets.add(ws, "rank", _write(_signal_frame(1500, seed=1), root / "train.csv"))
    result = training.train(ws, training.TrainConfig("rank", models=["logistic"], trials=1,
                                                     cv=2))
    register_all(ws, "rank", result.group)
    registry.promote(ws, "rank", "1", reason="test")
    return ws


def _signal_frame(rows: int, seed: int, signal: float = 0.0, noise: float = 0.0
                  ) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=rows), rng.normal(size=rows)
    y = rng.random(rows) < 1 / (1 + np.exp(-2.0 * x))
    return pl.DataFrame({"id": [f"R{seed}-{i}" for i in range(rows)], "signal": x + signal,
                         "noise": z + noise, "label": np.where(y, "yes", "no")})


def test_a_harmless_shift_ranks_below_a_small_shift_of_the_main_input(ranked, tmp_path) -> None:
    reference = monitoring.reference(ranked, "rank")
    assert reference.importance["signal"] > 0.9 > 0.05 > reference.importance["noise"]
    # noise moves by a whole standard deviation, signal by a quarter of one.
    batch = _signal_frame(3000, seed=2, signal=0.25, noise=1.0).drop("label")
    result = monitoring.check(ranked, "rank", _write(batch, tmp_path / "shift.csv"),
                              cached=reference)
    (drift,) = [a for a in result["alert_details"] if a["kind"] == "data_drift"]
    first, second = drift["evidence"]["inputs"]
    assert (first["input"], second["input"]) == ("signal", "noise")
    assert second["drift"] > 3 * first["drift"]  # the bigger shift ...
    assert first["impact"] > 2 * second["impact"]  # ... matters less to this model
    assert first["impact"] == pytest.approx(first["drift"] * first["importance"])
    assert drift["message"].startswith("data drift in 2 of 2 inputs: signal, noise; "
                                       "no action needed: no clear loss")
    assert "signal (impact" in drift["playbook"][1]


def test_json_and_report_carry_each_alert_with_evidence_and_playbook(clf, tmp_path) -> None:
    frame = classification_frame(800, seed=12).with_columns(pl.col("x1") + 1.5).drop("label")
    batch = _write(frame, tmp_path / "shifted.csv")
    report = tmp_path / "check.md"
    result = run_json("monitor", "clf", str(batch), "--report", str(report),
                      workspace=clf.root)
    assert result["alerts"] == [a["message"] for a in result["alert_details"]]
    by_kind = {a["kind"]: a for a in result["alert_details"]}
    assert {"data_drift", "prediction_drift"} <= set(by_kind)
    # The estimate holds: real drift, no retraining asked.
    assert not result["retrain_recommended"] and result["decision"] is None
    assert by_kind["data_drift"]["action"] == "none"
    moved = by_kind["data_drift"]["evidence"]["inputs"][0]
    assert moved["input"] == "x1" and moved["impact"] > 0 and 0 < moved["importance"] < 1
    assert f"Retrain only if labels show a loss: mlcycle monitor clf {batch} --labels FILE" in (
        by_kind["data_drift"]["playbook"])
    explained = by_kind["prediction_drift"]["evidence"]["explained_by"]
    assert explained[0]["input"] == "x1"
    stored = monitoring.get_check(clf, "clf", result["id"])
    assert stored["alert_details"] == result["alert_details"]
    typed = monitor.Check.from_dict({**stored, "project": "clf"})
    assert typed.alert_details[0].kind == "data_drift" and typed.alert_details[0].playbook
    assert typed.advice == result["advice"] and not typed.retrain_recommended
    text = report.read_text()
    assert "  - kind: data_drift" in text and "evidence: x1: impact" in text
    assert "playbook: No action needed: no clear loss" in text
    repeat = run_json("monitor", "clf", str(batch), workspace=clf.root)
    assert repeat["repeat_of"] == result["id"]
    assert repeat["alert_details"] == result["alert_details"]


def test_drift_flags_a_column_whose_every_value_is_new(tmp_path) -> None:
    from mlcycle import drift

    rng = np.random.default_rng(35)
    names = pl.DataFrame({"plan": rng.choice(["basic", "plus", "pro"], 500)})
    codes = pl.DataFrame({"plan": rng.choice(["1", "2", "3"], 500)})
    result = drift.compare(names, codes)
    (column,) = result.columns
    assert result.drift_detected and column.statistic_name == "new_values_h"
    assert {v["value"] for v in column.new_values} == {"1", "2", "3"}
    assert not drift.compare(names, names.sample(300, seed=1)).drift_detected
