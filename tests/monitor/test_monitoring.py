"""Monitoring, the watched folder and retraining, as a user drives them."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcycle.data import datasets
from mlcycle.deploy import runs
from mlcycle.models import registry
from mlcycle.monitor import monitoring
from mlcycle.monitor.watch import Watcher
from mlcycle.projects import lifecycle
from mlcycle.store import events
from tests.conftest import copy_workspace, run_cli, run_json
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame


@pytest.fixture(scope="module")
def clf(clf_champion_root: Path, tmp_path_factory: pytest.TempPathFactory):
    return copy_workspace(clf_champion_root, tmp_path_factory.mktemp("monitor"))


def _batch(folder: Path, name: str, seed: int, rows: int = 800, shift: float = 0.0,
           flip: bool = False) -> tuple[Path, Path]:
    """A batch without its target, and its labels in a file of the same name elsewhere."""
    frame = classification_frame(rows, seed=seed).with_columns(pl.col("x1") + shift)
    if flip:
        frame = frame.with_columns(
            pl.when(pl.col("label") == "yes").then(pl.lit("no")).otherwise(pl.lit("yes"))
            .alias("label"))
    (folder / "labels").mkdir(exist_ok=True)
    batch, labels = folder / name, folder / "labels" / name
    frame.drop("label").write_csv(batch)
    frame.select("id", "label").write_csv(labels)
    return batch, labels


def test_a_batch_like_training_raises_no_alert_and_is_logged(clf, tmp_path: Path) -> None:
    batch, labels = _batch(tmp_path, "2026-01.csv", seed=11)
    result = run_json("monitor", "clf", str(batch), "--labels", str(labels),
                      workspace=clf.root)
    assert result["rows"] == 800
    assert result["alerts"] == [] and not result["retrain_recommended"]
    assert not result["data_drift"]["drift_detected"]
    assert not result["prediction_drift"]["drift_detected"]
    assert result["performance"]["labelled_rows"] == 800
    assert result["performance"]["value"] > 0.7
    history = run_json("monitor", "clf", workspace=clf.root)
    assert result["id"] in [c["id"] for c in history]
    stages = {s["key"]: s["reached"] for s in lifecycle.reached(clf, "clf")}
    assert stages["monitor"]


def test_a_shifted_batch_alerts_on_inputs_and_scores(clf, tmp_path: Path) -> None:
    batch, _ = _batch(tmp_path, "shifted.csv", seed=12, shift=1.5)
    report = tmp_path / "check.html"
    proc = run_cli("monitor", "clf", str(batch), "--fail-on-alert", "--report", str(report),
                   workspace=clf.root)
    assert proc.returncode == 1, proc.stderr
    assert "ALERT data drift in 1 of" in proc.stdout and "x1" in proc.stdout
    assert "ALERT prediction drift" in proc.stdout
    # The model copes with this shift (its estimate holds): no retraining asked.
    assert "no action needed: no clear loss (estimated roc_auc" in proc.stdout
    assert "retraining recommended" not in proc.stdout
    text = report.read_text()
    assert "<html" in text and "Monitoring check of shifted.csv" in text
    assert "ALERT: data drift in 1 of" in text and "x1" in text
    check = monitoring.get_check(clf, "clf")
    assert check["prediction_drift"]["drift_detected"] and check["data_drift"]["n_drifted"] == 1


def test_labels_reveal_lost_performance_the_inputs_hide(clf, tmp_path: Path) -> None:
    # Concept drift: the same inputs, the opposite outcomes. Only labels can show it.
    batch, labels = _batch(tmp_path, "flipped.csv", seed=13, flip=True)
    result = monitoring.check(clf, "clf", batch, labels=labels)
    assert not result["data_drift"]["drift_detected"]
    assert result["performance"]["relative_loss"] > 0.2
    assert any(a.startswith("roc_auc fell to") for a in result["alerts"])


def test_bad_monitor_input_is_one_line_and_exit_2(clf, tmp_path: Path) -> None:
    missing = run_cli("monitor", "clf", str(tmp_path / "nope.csv"), workspace=clf.root)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    batch, _ = _batch(tmp_path, "b.csv", seed=14)
    nolabel = tmp_path / "nolabel.csv"
    nolabel.write_text("id,other\nU00001,1\n")
    runs_before = len(runs.recent_runs(clf, "clf", limit=1000))
    proc = run_cli("monitor", "clf", str(batch), "--labels", str(nolabel), workspace=clf.root)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no target column 'label'" in proc.stderr
    assert len(runs.recent_runs(clf, "clf", limit=1000)) == runs_before  # nothing scored


def test_watch_once_checks_good_files_and_sets_malformed_ones_aside(clf, tmp_path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    _batch(folder, "2026-02.csv", seed=15, rows=300)
    (folder / "broken.csv").write_text('id,x1,x2,plan,flag\nU1,"unterminated,1,basic,true\n')
    (folder / "notes.txt").write_text("not data")
    lines = run_cli("watch", "clf", str(folder), "--labels", str(folder / "labels"), "--once",
                    "--json", workspace=clf.root, check=True).stdout.splitlines()
    import json

    outcomes = {Path(o["path"]).name: o for o in map(json.loads, lines)}
    assert set(outcomes) == {"2026-02.csv", "broken.csv", "notes.txt"}
    assert outcomes["notes.txt"]["status"] == "ignored"  # reported, left in place
    assert outcomes["2026-02.csv"]["status"] == "checked"
    assert outcomes["2026-02.csv"]["check"]["performance"]["labelled_rows"] == 300
    assert outcomes["broken.csv"]["status"] == "rejected"
    assert (folder / "rejected" / "broken.csv").exists()
    assert (folder / "rejected" / "broken.csv.error.txt").read_text().strip()
    assert not (folder / "broken.csv").exists() and (folder / "notes.txt").exists()
    again = run_cli("watch", "clf", str(folder), "--once", workspace=clf.root, check=True)
    checked = outcomes["2026-02.csv"]["check"]["id"]
    assert f"2026-02.csv: already checked by v1 (check {checked}), skipped" in again.stderr
    kinds = [e["kind"] for e in events.recent(clf, "clf")]
    assert "monitor.rejected" in kinds


def test_a_running_watcher_takes_new_files_and_survives_bad_ones(clf, tmp_path) -> None:
    folder = tmp_path / "live"
    folder.mkdir()
    seen: list[tuple[str, str]] = []
    watcher = Watcher(clf, "clf", folder, report=lambda o: seen.append((o.path.name, o.status)))
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        (folder / "garbage.parquet").write_bytes(b"PAR1 not really parquet")
        _batch(tmp_path, "after.csv", seed=16, rows=200)
        (folder / "after.csv").write_bytes((tmp_path / "after.csv").read_bytes())
        deadline = time.monotonic() + 60
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # later events of the same writes must not be reported as repeats
    finally:
        stop.set()
        thread.join(timeout=10)
    assert sorted(seen) == [("after.csv", "checked"), ("garbage.parquet", "rejected")]
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def fuzz_watcher(clf, tmp_path_factory: pytest.TempPathFactory) -> Watcher:
    return Watcher(clf, "clf", tmp_path_factory.mktemp("fuzz"), settle=0)


@settings(max_examples=15, deadline=None)
@given(content=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".parquet", ".ndjson"]))
def test_any_file_is_checked_or_set_aside_never_crashes_the_watcher(fuzz_watcher, content,
                                                                    suffix) -> None:
    path = fuzz_watcher.folder / f"{uuid.uuid4().hex}{suffix}"
    path.write_bytes(content)
    outcome = fuzz_watcher.take(path)
    assert outcome.status in ("rejected", "seen", "checked")
    if outcome.status == "rejected":
        assert outcome.error and "\n" not in outcome.error
        assert outcome.moved_to is not None and outcome.moved_to.exists()


def test_retrain_on_new_labelled_rows_replaces_a_champion_that_lost_touch(tmp_path) -> None:
    ws = classification_workspace(tmp_path, ["logistic"], rows=300)
    registry.promote(ws, "clf", "1", reason="first")
    old = datasets.get(ws, "clf", registry.get(ws, "clf").summary["lineage"]["dataset"])
    # The world changed: the outcome now follows x1 the other way round.
    batch, labels = _batch(tmp_path, "new.csv", seed=21, rows=1500, flip=True)
    partial = pl.read_csv(labels).with_columns(
        pl.when(pl.int_range(pl.len()) < 100).then(None).otherwise(pl.col("label"))
        .alias("label"))
    partial.write_csv(labels)
    result = run_json("retrain", "clf", "--with", str(batch), "--labels", str(labels),
                      "--trials", "1", "--promote", workspace=ws.root)
    assert result["rows_added"] == 1400 and result["unlabelled_rows_skipped"] == 100
    new = datasets.get(ws, "clf", result["dataset"])
    assert new.n_rows == old.n_rows + 1400
    champion, candidate = result["champion"], result["candidate"]
    assert candidate["version"] == 2 and result["candidate_better"]
    assert result["judged_on"] == "recent"
    assert candidate["recent"]["roc_auc"] > champion["recent"]["roc_auc"]
    assert set(candidate) == {"version", "recent", "holdout"}
    assert registry.get(ws, "clf").version == 2
    history = registry.history(ws, "clf")
    assert any("retrained on" in (h.get("reason") or "") for h in history)
    assert {s["key"]: s["reached"] for s in lifecycle.reached(ws, "clf")}["retrain"]
    again = run_cli("retrain", "clf", "--with", str(batch), "--labels", str(labels), "--labels",
                    str(labels), workspace=ws.root)
    assert again.returncode == 2 and "1 batch but 2 label files" in again.stderr


def test_score_frame_is_the_positive_class_probability(clf) -> None:
    ref = monitoring.reference(clf, "clf")
    assert ref.scores.columns[0].name == monitoring.SCORE
    assert ref.holdout_value is not None
    pred = {"label": np.array(["no", "yes"]), "proba": np.array([[0.9, 0.1], [0.2, 0.8]])}
    frame = monitoring.score_frame(pred, ref.signature)
    assert frame.get_column(monitoring.SCORE).to_list() == [0.1, 0.8]


def test_retrain_refuses_a_batch_without_the_training_columns(clf, tmp_path) -> None:
    batch, labels = _batch(tmp_path, "thin.csv", seed=22, rows=200)
    pl.read_csv(batch).drop("x2").write_csv(batch)
    proc = run_cli("retrain", "clf", "--with", str(batch), "--labels", str(labels),
                   workspace=clf.root)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "thin.csv lacks column(s) of the training data: x2" in proc.stderr
    assert len(registry.versions(clf, "clf")) == 1  # nothing was trained or registered


def test_a_window_that_drops_the_old_rows_trains_on_the_new_rows_alone(clf_champion,
                                                                          tmp_path) -> None:
    from mlcycle.monitor import policy as policies
    from mlcycle.monitor import retraining

    assert policies.parse('[retrain]\nold_rows = "drop"\n').retrain.old_rows == "drop"
    assert policies.Policy().retrain.old_rows == "keep"
    batch, labels = _batch(tmp_path, "new.csv", seed=23, rows=900, flip=True)
    result = retraining.retrain(clf_champion, "clf", [(batch, labels)], trials=1,
                                old_rows="drop")
    new = datasets.get(clf_champion, "clf", result["dataset"])
    assert new.n_rows == 900  # the champion's 600 rows are gone
    kept = retraining.retrain(clf_champion, "clf", [(batch, labels)], trials=1)
    assert datasets.get(clf_champion, "clf", kept["dataset"]).n_rows == 600 + 900
    assert result["dataset"] != kept["dataset"]
