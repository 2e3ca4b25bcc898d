"""The monitoring policy, the decisions its triggers raise, the challenger gate and the
project's status, as a user drives them."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.models import paired as gate
from mlcycle.models import registry, training
from mlcycle.monitor import decisions, monitoring, retraining
from mlcycle.monitor import policy as policies
from mlcycle.monitor.watch import Watcher
from mlcycle.store import events
from mlcycle.store.schema import utcnow
from mlcycle.store.workspace import open_workspace
from tests.conftest import run_cli, run_json
from tests.training_data import classification_frame, write


@pytest.fixture
def ws(clf_champion):
    return clf_champion


def _batch(folder: Path, name: str, seed: int, rows: int = 800, shift: float = 0.0,
           flip: bool = False, squeeze: bool = False) -> tuple[Path, Path]:
    frame = classification_frame(rows, seed=seed).with_columns(pl.col("x1") + shift)
    if squeeze:  # the inputs that sort rows out narrow: the estimated metric falls
        frame = frame.with_columns(pl.col("x1") * 0.1, pl.col("x2") * 0.1 + 4.5)
    if flip:  # the world changed: the outcome now follows the inputs the other way round
        frame = frame.with_columns(
            pl.when(pl.col("label") == "yes").then(pl.lit("no")).otherwise(pl.lit("yes"))
            .alias("label"))
    (folder / "labels").mkdir(exist_ok=True)
    frame.drop("label").write_csv(folder / name)
    frame.select("id", "label").write_csv(folder / "labels" / name)
    return folder / name, folder / "labels" / name


def _set_policy(ws, text: str) -> policies.Policy:
    return policies.store(ws, "clf", policies.parse(text), source="test")[0]


def _kinds(ws) -> list[str]:
    return [e["kind"] for e in events.recent(ws, "clf", limit=200)]


def test_policy_show_set_versions_and_bad_files_are_one_line(ws, tmp_path: Path) -> None:
    shown = run_json("policy", "show", "clf", workspace=ws.root)
    assert shown["default"] and shown["version"] is None
    assert shown["policy"]["mode"] == "prompt"
    assert shown["policy"]["alerts"]["max_loss"] == monitoring.MAX_LOSS
    assert shown["policy"]["alerts"]["min_labelled"] == monitoring.MIN_LABELLED
    assert "gate.margin" in shown["defaults"] and "mode" in shown["defaults"]
    text = run_cli("policy", "show", "clf", workspace=ws.root, check=True).stdout
    assert "the defaults" in text and "(default)" in text and "[gate]" in text
    # The output is a policy file: edited, it is stored as version 1.
    file = tmp_path / "policy.toml"
    file.write_text(text.replace('mode = "prompt"', 'mode = "auto"'))
    stored = run_json("policy", "set", "clf", str(file), workspace=ws.root)
    assert stored["created"] and stored["version"] == 1
    again = run_json("policy", "set", "clf", str(file), workspace=ws.root)
    assert not again["created"] and again["version"] == 1
    template = run_cli("policy", "template", check=True).stdout
    file.write_text(template.replace("margin = 0.0", "margin = 0.01"))
    assert run_json("policy", "set", "clf", str(file), workspace=ws.root)["version"] == 2
    now = run_json("policy", "show", "clf", workspace=ws.root)
    assert now["version"] == 2 and now["policy"]["gate"]["margin"] == 0.01
    assert not now["default"] and now["policy"]["mode"] == "prompt"
    assert run_json("policy", "show", "clf", "1", workspace=ws.root)["policy"]["mode"] == "auto"
    for body, expected in (
        ("[gate]\nmargin = 0.1\nmargn = 0.2\n", "line 3: [gate] margn is not a key"),
        ('mode = "sometimes"\n', 'line 1: mode must be one of "off", "prompt", "auto"'),
        ("[retrain]\n\nwindow = { weeks = 2 }\n", "line 3: [retrain] window must be"),
        ('[retrain]\non_alert = ["drift"]\n', "unknown alert kind 'drift'"),
        ("[alerts\n", "TOML syntax error"),
    ):
        file.write_text(body)
        proc = run_cli("policy", "set", "clf", str(file), workspace=ws.root)
        assert proc.returncode == 2, body
        assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
        assert expected in proc.stderr, proc.stderr
    assert [p.version for p in policies.history(ws, "clf")] == [2, 1]  # nothing stored


def test_the_policy_thresholds_are_what_the_check_uses(ws, tmp_path: Path) -> None:
    batch, _ = _batch(tmp_path, "shifted.csv", seed=12, shift=1.5)
    lenient = policies.parse("[alerts]\ndrift_share = 0.5\nprediction_drift = false\n")
    result = monitoring.check(ws, "clf", batch, policy=lenient)
    assert result["data_drift"]["drift_detected"] and result["data_drift"]["share_drifted"] < 0.5
    assert result["prediction_drift"]["drift_detected"]
    assert result["alerts"] == [] and result["decision"] is None


def test_an_alert_raises_one_pending_decision_and_a_failed_gate_leaves_a_challenger(
        ws, tmp_path: Path) -> None:
    clean, clean_labels = _batch(tmp_path, "clean.csv", seed=11)
    first = run_json("monitor", "clf", str(clean), "--labels", str(clean_labels),
                     workspace=ws.root)
    assert first["alerts"] == [] and first["decision"] is None
    # Inputs moved and the outcome turned round: performance is lost, retraining asked.
    batch, labels = _batch(tmp_path, "shifted.csv", seed=12, shift=1.5, flip=True)
    result = run_json("monitor", "clf", str(batch), "--labels", str(labels), workspace=ws.root)
    assert decisions.alert_kinds(result) >= {"data_drift", "prediction_drift"}
    assert result["retrain_recommended"]
    raised = result["decision"]
    assert raised["new"] and raised["status"] == "pending"
    # A repeat is no new check; checked again, it joins the pending decision.
    run_json("monitor", "clf", str(batch), "--labels", str(labels), workspace=ws.root)
    again = run_json("monitor", "clf", str(batch), "--labels", str(labels), "--again",
                     workspace=ws.root)
    joined = again["decision"]
    assert not joined["new"] and (joined["id"], joined["status"]) == (raised["id"], "pending")
    listed = run_json("decisions", "clf", workspace=ws.root)
    assert len(listed) == 1
    decision = listed[0]
    assert {"id", "trigger", "status", "created", "evidence", "figures", "proposal",
            "labelled_rows"} <= set(decision)
    assert decision["trigger"] == "on_alert" and decision["status"] == "pending"
    assert [f["check"] for f in decision["evidence"]["fired"]] == [result["id"], again["id"]]
    assert "x1" in decision["evidence"]["fired"][0]["figures"]["drifted"]
    proposal = decision["proposal"]
    assert [Path(b["batch"]).name for b in proposal["batches"]] == ["clean.csv", "shifted.csv"]
    assert proposal["labelled_rows"] == decision["labelled_rows"] == 1600
    assert "decision.created" in _kinds(ws) and "decision.extended" in _kinds(ws)
    # The same rule, the same rows: the candidate is no better than the margin asks.
    _set_policy(ws, "[gate]\nmargin = 0.2\n[retrain]\ntrials = 1\n")
    done = run_json("decide", "clf", decision["id"], "--approve", "--reason", "drifted",
                    workspace=ws.root)
    assert done["status"] == "done" and done["reason"] == "drifted"
    figures = done["figures"]
    assert not figures["gate"]["passed"] and figures["gate"]["rounds"] == 1000
    assert figures["promotion"] is None and "failed the gate" in figures["outcome"]
    assert registry.get(ws, "clf").version == 1
    assert registry.get(ws, "clf", "challenger").version == figures["candidate"] == 2
    assert {"decision.approved", "gate.judged", "decision.done"} <= set(_kinds(ws))
    twice = run_cli("decide", "clf", decision["id"], "--approve", "--reason", "again",
                    workspace=ws.root)
    assert twice.returncode == 2 and "was done on" in twice.stderr
    assert twice.stderr.strip().count("\n") == 0


def test_labelled_rows_and_every_batches_fire_once_and_off_only_records(ws, tmp_path) -> None:
    _set_policy(ws, "[retrain]\non_alert = []\nlabelled_rows = 1000\nevery_batches = 2\n")
    a, a_labels = _batch(tmp_path, "a.csv", seed=31)
    assert monitoring.check(ws, "clf", a, labels=a_labels)["decision"] is None  # 800 rows
    b, b_labels = _batch(tmp_path, "b.csv", seed=32)
    check = monitoring.check(ws, "clf", b, labels=b_labels)
    raised = check["decision"]
    assert raised and raised["created"]
    decision = decisions.get(ws, "clf", raised["id"])
    fired = {f["trigger"]: f["figures"] for f in decision["evidence"]["fired"]}
    assert fired == {"labelled_rows": {"labelled_rows": 1600, "threshold": 1000},
                     "every_batches": {"batches": 2, "threshold": 2}}
    # The same check seen again (a replay, a restarted watcher) decides nothing twice.
    with ws.write() as con:
        assert decisions.after_check(con, check, policies.current_with(con, "clf")) is None
    assert len(decisions.list_decisions(ws, "clf")) == 1
    # Under mode off a firing is an event, never a decision.
    off = _set_policy(ws, 'mode = "off"\n[retrain]\non_alert = []\nevery_batches = 1\n')
    with ws.write() as con:
        assert decisions.after_check(con, check, off) is None
    assert len(decisions.list_decisions(ws, "clf")) == 1
    triggered = [e for e in events.recent(ws, "clf") if e["kind"] == "policy.triggered"]
    assert len(triggered) == 1 and triggered[0]["detail"]["trigger"] == "every_batches"
    # Days: a champion older than every_days fires at the next check.
    days = _set_policy(ws, "[retrain]\non_alert = []\nevery_days = 2\n")
    with ws.write() as con:
        con.execute("UPDATE model_versions SET created_at = ? WHERE project = 'clf'",
                    [utcnow() - timedelta(days=5)])
        decisions.after_check(con, check, days)
    fired = decisions.get(ws, "clf", raised["id"])["evidence"]["fired"]
    assert fired[-1]["trigger"] == "every_days" and fired[-1]["figures"]["days"] >= 5


def test_a_manual_request_and_a_rejection_with_its_reason(ws) -> None:
    made = run_json("decide", "clf", "--request", "--reason", "new quarter",
                    workspace=ws.root)
    assert made["trigger"] == "manual" and made["status"] == "pending"
    assert made["evidence"]["fired"][0]["reason"] == "new quarter"
    second = run_cli("decide", "clf", "--request", "--reason", "again", workspace=ws.root)
    assert second.returncode == 2 and f"decision {made['id']}" in second.stderr
    # Nothing labelled has been checked: approving says so, and the decision stays open.
    empty = run_cli("decide", "clf", made["id"], "--approve", "--reason", "go",
                    workspace=ws.root)
    assert empty.returncode == 2 and "nothing to retrain on" in empty.stderr
    assert decisions.get(ws, "clf", made["id"])["status"] == "pending"
    no_reason = run_cli("decide", "clf", made["id"], "--reject", workspace=ws.root)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    rejected = run_json("decide", "clf", made["id"][:6], "--reject", "--reason", "not now",
                        workspace=ws.root)
    assert rejected["status"] == "rejected" and rejected["reason"] == "not now"
    assert rejected["decided"] is not None
    again = run_cli("decide", "clf", made["id"], "--approve", "--reason", "x",
                    workspace=ws.root)
    assert again.returncode == 2 and "was rejected" in again.stderr
    rejections = [e for e in events.recent(ws, "clf") if e["kind"] == "decision.rejected"]
    assert rejections[0]["detail"]["reason"] == "not now"
    listed = run_json("decisions", "clf", "--status", "rejected", workspace=ws.root)
    assert [d["id"] for d in listed] == [made["id"]]


def test_approving_retrains_and_a_candidate_that_passes_the_gate_waits_for_promotion(
        ws, tmp_path: Path) -> None:
    _set_policy(ws, "[retrain]\ntrials = 1\n")
    batch, labels = _batch(tmp_path, "flipped.csv", seed=13, rows=1500, flip=True)
    result = monitoring.check(ws, "clf", batch, labels=labels)
    assert decisions.alert_kinds(result) == {"concept_drift"}
    status = run_json("status", "clf", workspace=ws.root)
    assert {"champion", "batches", "open_alerts", "pending_decisions", "watchers",
            "quarantined", "policy"} <= set(status)
    assert status["champion"]["version"] == 1 and status["champion"]["age_days"] >= 0
    assert [d["id"] for d in status["pending_decisions"]] == [result["decision"]["id"]]
    assert status["open_alerts"][0]["kinds"] == ["concept_drift"]
    assert status["batches"][-1]["value"] < 0.5 and not status["batches"][-1]["estimated"]
    done = run_json("decide", "clf", result["decision"]["id"], "--approve", "--reason",
                    "labels show it", workspace=ws.root)
    verdict = done["figures"]["gate"]
    assert verdict["passed"] and verdict["low"] > 0 and verdict["difference"] > 0.3
    assert done["figures"]["retrain"]["judged_on"] == "recent"
    assert registry.get(ws, "clf").version == 1  # not yet: a second question
    assert registry.get(ws, "clf", "challenger").version == 2
    promotion = run_json("decisions", "clf", "--status", "pending", workspace=ws.root)
    assert [d["kind"] for d in promotion] == ["promote"]
    assert promotion[0]["id"] == done["figures"]["promotion"]
    assert promotion[0]["evidence"]["gate"]["difference"] == verdict["difference"]
    promoted = run_json("decide", "clf", promotion[0]["id"], "--approve", "--reason", "ship",
                        workspace=ws.root)
    assert promoted["status"] == "done" and registry.get(ws, "clf").version == 2
    after = run_json("status", "clf", workspace=ws.root)
    assert after["open_alerts"] == [] and after["pending_decisions"] == []
    kinds = _kinds(ws)
    assert {"decision.created", "decision.approved", "gate.judged", "retrain.completed",
            "decision.done"} <= set(kinds)


def test_monitor_under_auto_acts_on_its_own_check_as_the_watcher_does(ws, tmp_path) -> None:
    _set_policy(ws, 'mode = "auto"\n[retrain]\ntrials = 1\n')
    # An estimated loss without labels: nothing labelled to retrain on, so the decision
    # waits, and the user is told why in one line.
    unlabelled, _ = _batch(tmp_path, "squeezed.csv", seed=12, squeeze=True)
    waiting = run_cli("monitor", "clf", str(unlabelled), "--json", workspace=ws.root)
    assert waiting.returncode == 0, waiting.stderr
    raised = json.loads(waiting.stdout)["decision"]
    assert raised["status"] == "pending" and raised["mode"] == "auto"
    assert f"decision {raised['id']} not carried out" in waiting.stderr
    assert "it stays pending" in waiting.stderr
    # Labels that show the world changed: the check's decision is carried out at once,
    # the candidate passes the gate and becomes champion, nobody asked.
    batch, labels = _batch(tmp_path, "flipped.csv", seed=13, rows=1500, flip=True)
    proc = run_cli("monitor", "clf", str(batch), "--labels", str(labels), workspace=ws.root)
    assert proc.returncode == 0, proc.stderr
    assert "carried out under mode auto): done: champion: passed the gate" in proc.stdout
    assert registry.get(ws, "clf").version == 2
    done = decisions.list_decisions(ws, "clf", "done")
    assert [d["reason"] for d in done] == [decisions.AUTO]
    assert decisions.list_decisions(ws, "clf", "pending") == []


def test_the_gate_rejects_an_equal_candidate_and_passes_a_clearly_better_one() -> None:
    rng = np.random.default_rng(5)
    n = 4000
    y = np.where(rng.random(n) < 0.3, "yes", "no")
    signal = (y == "yes") + rng.normal(scale=1.2, size=n)
    p = 1 / (1 + np.exp(-signal))
    weak = (np.where(p > 0.5, "yes", "no"), np.column_stack([1 - p, p]))
    q = 1 / (1 + np.exp(-((y == "yes") * 2.0 + rng.normal(scale=0.8, size=n))))
    strong = (np.where(q > 0.5, "yes", "no"), np.column_stack([1 - q, q]))
    same = gate.judge("roc_auc", "classification", ["no", "yes"], y, weak, weak)
    assert not same["passed"] and same["difference"] == 0 and same["rounds"] == 1000
    better = gate.judge("roc_auc", "classification", ["no", "yes"], y, weak, strong)
    assert better["passed"] and better["low"] > 0 and better["candidate"] > better["champion"]
    worse = gate.judge("f1", "classification", ["no", "yes"], y, strong, weak)
    assert not worse["passed"] and worse["difference"] < 0
    # Seeded: the same rows give the same interval.
    assert gate.judge("roc_auc", "classification", ["no", "yes"], y, weak, strong) == better
    # Lower is better for rmse: a smaller error is a positive difference.
    truth = rng.normal(size=n)
    near, far = truth + rng.normal(scale=0.2, size=n), truth + rng.normal(scale=1.0, size=n)
    rmse = gate.judge("rmse", "regression", [], truth, (far, None), (near, None))
    assert rmse["passed"] and rmse["candidate"] < rmse["champion"]
    small = gate.judge("rmse", "regression", [], truth, (far, None), (near, None), margin=5.0)
    assert not small["passed"] and "below the margin" in small["why"]


def test_status_shows_a_live_watcher_its_staleness_and_quarantined_files(ws, tmp_path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    watcher = Watcher(ws, "clf", folder, settle=0)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        (folder / "broken.csv").write_text('id,x1\nU1,"unterminated\n')
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = run_json("status", "clf", workspace=ws.root)
            if found["watchers"] and found["quarantined"]:
                break
            time.sleep(0.5)
        assert found["watchers"][0]["state"] == "alive"
        assert found["watchers"][0]["folder"] == str(folder.resolve())
        assert Path(found["quarantined"][0]["path"]).name == "broken.csv"
    finally:
        stop.set()
        thread.join(timeout=20)
    assert run_json("status", "clf", workspace=ws.root)["watchers"] == []  # stopped: gone
    with ws.write() as con:  # a watcher killed long ago leaves its last heartbeat behind
        old = utcnow() - timedelta(minutes=5)
        con.execute("INSERT INTO watchers VALUES ('clf', '/gone', 1, 'host', ?, ?, 5.0, ?)",
                    [old, old, old])
        # and one that beats but whose loop has not moved on for a minute
        con.execute("INSERT INTO watchers VALUES ('clf', '/stuck', 2, 'host', ?, ?, 5.0, ?)",
                    [old, utcnow(), utcnow() - timedelta(minutes=1)])
    states = {w["folder"]: w["state"]
              for w in run_json("status", "clf", workspace=ws.root)["watchers"]}
    assert states == {"/gone": "stale", "/stuck": "stalled"}
    text = run_cli("status", "clf", workspace=ws.root, check=True).stdout
    assert "champion: v1" in text and "watcher stale" in text and "broken.csv" in text
    assert re.search(r"watcher stalled: /stuck \(pid 2, last heartbeat \d s ago, its loop "
                     r"stuck for 6\d s\)", text), text


def test_retraining_finds_the_new_rows_without_an_identifier(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "ws", create=True)[0]
    projects.create(ws, "clf", target="label", task="classification", metric="roc_auc")
    datasets.add(ws, "clf", write(classification_frame(300).drop("id"), tmp_path, "clf.csv"))
    training.train(ws, training.TrainConfig("clf", models=["logistic"], trials=1, cv=2))
    registry.promote(ws, "clf", "1", reason="first")
    flipped = classification_frame(1500, seed=21).drop("id").with_columns(
        pl.when(pl.col("label") == "yes").then(pl.lit("no")).otherwise(pl.lit("yes"))
        .alias("label"))
    batch = write(flipped, tmp_path, "new.csv")  # the batch holds its target
    result = retraining.retrain(ws, "clf", [(batch, None)], trials=1,
                                gate=policies.DEFAULT.gate)
    assert result["judged_on"] == "recent"
    assert result["gate"]["passed"] and result["gate"]["rows"] >= retraining.MIN_RECENT
    assert json.loads(json.dumps(result["gate"]))["rounds"] == 1000


def _sample_story(tmp_path: Path, policy: str):
    """The sample's churn project, its logistic champion, ``policy`` and the first three
    monthly batches (the price rise is in March) in a folder, with their labels."""
    from mlcycle import demo

    ws = open_workspace(tmp_path / "ws", create=True)[0]
    demo.build(ws)
    training.train(ws, training.TrainConfig("churn", models=["logistic"], trials=1, cv=2))
    registry.promote(ws, "churn", "1", reason="first")
    policies.store(ws, "churn", policies.parse(policy))
    sample = demo.sample_dir()
    folder, labels = tmp_path / "batches", tmp_path / "labels"
    folder.mkdir()
    labels.mkdir()
    for month in ("2026-01", "2026-02", "2026-03"):
        shutil.copy(sample / "batches" / f"{month}.csv", folder)
        shutil.copy(sample / "labels" / f"{month}.csv", labels)
    return ws, folder, labels


@pytest.mark.slow  # the sample's 12,000 reference rows, three monthly checks and a retraining
def test_the_sample_story_a_price_rise_prompts_and_approving_goes_through_the_gate(
        tmp_path: Path) -> None:
    ws, folder, labels = _sample_story(tmp_path, "[retrain]\ntrials = 1\n")  # else defaults
    outcomes = {o.path.name: o for o in Watcher(ws, "churn", folder, labels=labels,
                                                settle=0).scan()}
    assert outcomes["2026-01.csv"].check["alerts"] == []
    assert outcomes["2026-02.csv"].check["alerts"] == []
    march = outcomes["2026-03.csv"].check
    assert "data_drift" in decisions.alert_kinds(march)
    assert "monthly_charges" in march["alerts"][0]
    # The price rise moved an input but cost the model nothing measurable: no question.
    assert "no action needed: no clear loss (roc_auc" in march["alerts"][0]
    assert not march["retrain_recommended"] and march["decision"] is None
    assert decisions.list_decisions(ws, "churn", "pending") == []
    # Asked by hand, a retraining on the three months goes through the gate all the same.
    decisions.request(ws, "churn", reason="price rise")
    pending = decisions.list_decisions(ws, "churn", "pending")
    assert len(pending) == 1 and len(pending[0]["proposal"]["batches"]) == 3
    done = decisions.decide(ws, "churn", pending[0]["id"], approve=True, reason="price rise")
    verdict = done["figures"]["gate"]
    assert done["status"] == "done" and {"difference", "low", "high", "passed"} <= set(verdict)
    assert registry.get(ws, "churn").version == 1  # promoted only by a second decision
    follow_up = decisions.list_decisions(ws, "churn", "pending")
    assert [d["kind"] for d in follow_up] == (["promote"] if verdict["passed"] else [])


@pytest.mark.slow  # as the story above, with the retraining inside the watcher
def test_the_sample_story_unattended_under_auto(tmp_path: Path) -> None:
    # The price rise costs nothing measurable (no alert asks for retraining): the third
    # batch is what triggers a retraining here.
    ws, folder, labels = _sample_story(
        tmp_path, 'mode = "auto"\n[retrain]\ntrials = 1\nevery_batches = 3\n')
    proc = run_cli("--workspace", str(ws.root), "watch", "churn", str(folder), "--labels",
                   str(labels), "--once", "--settle", "0", "--json", check=True, timeout=300)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    checked = {Path(o["path"]).name: o["check"] for o in lines if o["status"] == "checked"}
    assert checked["2026-01.csv"]["alerts"] == []
    assert checked["2026-02.csv"]["alerts"] == []
    march = checked["2026-03.csv"]
    assert "data_drift" in decisions.alert_kinds(march)
    assert "monthly_charges" in march["alerts"][0]
    assert not march["retrain_recommended"]
    assert march["decision"]["mode"] == "auto" and march["decision"]["created"]  # as raised
    # The watcher carried the decision out itself, after March's check: nobody was asked.
    carried = [o for o in lines if o["status"] == "decision"]
    assert [Path(o["path"]).name for o in carried] == ["2026-03.csv"]
    assert carried[0]["error"] is None
    done = decisions.get(ws, "churn", march["decision"]["id"])
    assert carried[0]["decision"]["id"] == done["id"] and done["status"] == "done"
    assert done["reason"] == decisions.AUTO
    assert decisions.list_decisions(ws, "churn", "pending") == []  # no second question
    assert len(done["proposal"]["batches"]) == 3
    # The gate's figures are recorded, on the decision and in the audit trail ...
    verdict = done["figures"]["gate"]
    assert {"difference", "low", "high", "passed", "rounds"} <= set(verdict)
    judged = [e for e in events.recent(ws, "churn", limit=200) if e["kind"] == "gate.judged"]
    assert len(judged) == 1 and judged[0]["detail"]["decision"] == done["id"]
    assert {k: judged[0]["detail"][k] for k in verdict} == verdict
    assert verdict["passed"] == (verdict["difference"] >= verdict["margin"]
                                 and verdict["low"] > 0)
    # ... and the candidate is champion exactly when the gate passed, else it shadows.
    candidate = done["figures"]["candidate"]
    assert candidate == 2
    if verdict["passed"]:
        assert registry.get(ws, "churn").version == candidate
        assert done["figures"]["outcome"] == "champion: passed the gate"
    else:
        assert registry.get(ws, "churn").version == 1
        assert registry.get(ws, "churn", "challenger").version == candidate
        assert done["figures"]["outcome"] == "challenger: failed the gate"
