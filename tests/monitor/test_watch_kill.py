"""kill -9 of the watcher at random moments, then a restart: no batch is lost, none is checked
twice, no decision is made twice.

A real `mlcycle watch PROJECT FOLDER --labels LABELS --json` process watches a folder; batches
land in it, some shifted with their outcome turned round, so that their checks measure a
loss and raise a retraining decision. The watcher is
killed (SIGKILL, seeded random delays) while it checks a file, right after it printed a
verdict, while it is idle and, under mode ``auto``, while it retrains; each time it is started
again. At the end the workspace's own records are counted: one check per batch and model
version (by content hash), every batch checked, one decision per trigger, and under ``auto``
each decision approved, judged and done once, with one model version each.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from mlcycle.models import registry
from mlcycle.monitor import policy as policies
from tests.conftest import MLCYCLE, ROOT
from tests.training_data import classification_frame


@pytest.fixture
def ws(clf_champion):
    return clf_champion


class Watch:
    """A watcher process; its JSON lines arrive on a queue as they are printed."""

    def __init__(self, ws, folder: Path, labels: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "MLCYCLE_WORKSPACE"}
        self.proc = subprocess.Popen(
            [*MLCYCLE, "--workspace", str(ws.root), "watch", "clf", str(folder), "--labels",
             str(labels), "--settle", "0.1", "--json"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[dict] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._stdout, daemon=True).start()
        threading.Thread(target=self._stderr, daemon=True).start()
        deadline = time.monotonic() + 60
        while not any("watching" in line for line in self.stderr):
            assert self.proc.poll() is None, "".join(self.stderr)
            assert time.monotonic() < deadline, "the watcher did not start"
            time.sleep(0.02)

    def _stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def _stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def until(self, wanted, timeout: float = 60) -> dict:
        """The next line ``wanted(line)`` accepts (the others are passed over)."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            assert line["status"] != "error" or "not checked" not in (line["error"] or ""), line
            if wanted(line):
                return line

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)


def _drop(folder: Path, labels: Path, name: str, seed: int, shift: float) -> str:
    """Write a batch and its labels (labels first: the batch is checked with them); the
    batch's content hash. A shifted batch's outcome is turned round too: the loss its
    labels show is what asks for retraining (drift alone does not)."""
    frame = classification_frame(500, seed=seed).with_columns(pl.col("x1") + shift)
    if shift:
        frame = frame.with_columns(
            pl.when(pl.col("label") == "yes").then(pl.lit("no")).otherwise(pl.lit("yes"))
            .alias("label"))
    frame.select("id", "label").write_csv(labels / name)
    data = frame.drop("label").write_csv().encode()
    (folder / name).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _checks(ws) -> Counter:
    with ws.read() as con:
        return Counter(con.execute("SELECT sha256, version FROM monitor_checks "
                                   "WHERE project = 'clf'").fetchall())


def _versions(ws) -> int:
    with ws.read() as con:
        return con.execute("SELECT count(*) FROM model_versions").fetchone()[0]


def _decision_events(ws) -> Counter:
    with ws.read() as con:
        return Counter(con.execute("SELECT kind, subject FROM events WHERE project = 'clf' "
                                   "AND (kind LIKE 'decision.%' OR kind = 'gate.judged')"
                                   ).fetchall())


def _run_rounds(ws, tmp_path: Path, rounds: list[tuple[str, list[float]]],
                seed: int) -> dict[str, str]:
    """Each round starts a watcher, drops its batches (a shift each) and kills the watcher
    at the round's moment; a last watcher then takes what is left and is stopped."""
    rng = random.Random(seed)
    folder, labels = tmp_path / "incoming", tmp_path / "labels"
    folder.mkdir()
    labels.mkdir()
    hashes: dict[str, str] = {}
    for moment, shifts in rounds:
        watch = Watch(ws, folder, labels)
        try:
            names = []
            for shift in shifts:
                name = f"batch-{len(hashes):02d}.csv"
                hashes[name] = _drop(folder, labels, name, seed=100 + len(hashes), shift=shift)
                names.append(name)
            if moment == "check":  # somewhere in reading, scoring or storing the check
                time.sleep(rng.uniform(0.0, 0.8))
            elif moment == "verdict":  # the check just stored, its decision not acted on
                watch.until(lambda line: line["status"] in ("checked", "seen"))
            elif moment == "idle":
                for name in names:
                    watch.until(lambda line, n=name: Path(line["path"]).name == n
                                and line["status"] in ("checked", "seen"))
                time.sleep(rng.uniform(0.0, 0.5))
            elif moment == "retraining":  # a decision the watcher carries out (mode auto)
                watch.until(lambda line: line["status"] == "checked"
                            and (line["check"]["decision"] or {}).get("mode") == "auto")
                time.sleep(rng.uniform(0.0, 2.5))
            elif moment == "registered":  # a candidate registered, its decision not done
                known = _versions(ws)
                deadline = time.monotonic() + 60
                while _versions(ws) == known:
                    assert time.monotonic() < deadline, "no candidate was registered"
                    time.sleep(0.05)
        finally:
            watch.kill()
        if moment == "registered":  # killed in time: the restart must not train again
            assert _approved(ws) == 1
    final = Watch(ws, folder, labels)
    try:
        deadline = time.monotonic() + 90
        while not _settled(ws, set(hashes.values())):
            assert time.monotonic() < deadline, "the batches were not all checked"
            assert final.proc.poll() is None, "".join(final.stderr)
            time.sleep(0.2)
    finally:
        final.stop()
    return hashes


def _approved(ws) -> int:
    with ws.read() as con:
        return con.execute("SELECT count(*) FROM decisions WHERE project = 'clf' AND "
                           "status = 'approved'").fetchone()[0]


def _settled(ws, hashes: set[str]) -> bool:
    """Every batch checked, and no decision half carried out."""
    return hashes <= {sha for sha, _version in _checks(ws)} and _approved(ws) == 0


def _assert_each_batch_checked_once(ws, hashes: dict[str, str]) -> None:
    checks = _checks(ws)
    assert {sha for sha, _ in checks} == set(hashes.values())  # none lost, nothing else
    twice = {key: n for key, n in checks.items() if n > 1}
    assert twice == {}, f"checked twice by the same version: {twice}"


def test_kill_9_under_prompt_loses_no_batch_and_raises_each_decision_once(ws, tmp_path):
    rounds = [("check", [0.0, 1.5]), ("verdict", [1.5]), ("idle", [0.0, 1.5]),
              ("check", [1.5, 0.0])]
    hashes = _run_rounds(ws, tmp_path, rounds, seed=14)
    _assert_each_batch_checked_once(ws, hashes)
    shifted = {hashes[f"batch-{i:02d}.csv"] for i, shift in
               enumerate(s for _, shifts in rounds for s in shifts) if shift}
    with ws.read() as con:
        alerted = dict(con.execute(
            "SELECT id, sha256 FROM monitor_checks WHERE project = 'clf' AND "
            "json_array_length(alerts) > 0").fetchall())
        triggers = con.execute("SELECT key, decision_id, check_id FROM decision_triggers "
                               "WHERE project = 'clf'").fetchall()
        decisions = con.execute("SELECT id, status FROM decisions WHERE project = 'clf'"
                                ).fetchall()
    assert set(alerted.values()) == shifted
    # One firing per alerted check, each joined to the one pending question.
    assert sorted(c for _, _, c in triggers) == sorted(alerted)
    assert all(key == f"on_alert:{check}" for key, _, check in triggers)
    assert decisions == [(decisions[0][0], "pending")]
    assert {d for _, d, _ in triggers} == {decisions[0][0]}
    made = _decision_events(ws)
    assert made[("decision.created", decisions[0][0])] == 1
    assert made[("decision.extended", decisions[0][0])] == len(alerted) - 1
    assert registry.get(ws, "clf").version == 1


def test_kill_9_under_auto_carries_each_decision_out_once(ws, tmp_path):
    # A gate no candidate passes: the champion stays, so each later batch is judged by it
    # (a new champion would check every batch anew and retrain on them again).
    policies.store(ws, "clf", policies.parse(
        'mode = "auto"\n[retrain]\ntrials = 1\n[gate]\nmargin = 0.9\n'), source="test")
    # Killed while retraining, once its candidate is registered (the restart carries the
    # decision on and reuses it), right after the check that raises the next decision, and
    # while the restart carries that one out.
    rounds = [("retraining", [1.5]), ("registered", []), ("verdict", [1.5]),
              ("check", [0.0])]
    hashes = _run_rounds(ws, tmp_path, rounds, seed=9)
    _assert_each_batch_checked_once(ws, hashes)
    with ws.read() as con:
        decisions = con.execute("SELECT id, status, figures FROM decisions WHERE project = "
                                "'clf' ORDER BY created_at").fetchall()
        versions = [v for (v,) in con.execute("SELECT version FROM model_versions WHERE "
                                               "project = 'clf' ORDER BY version").fetchall()]
        triggers = con.execute("SELECT count(*), count(DISTINCT decision_id) FROM "
                               "decision_triggers WHERE project = 'clf'").fetchone()
    assert len(decisions) >= 2 and all(status == "done" for _, status, _ in decisions)
    assert triggers[1] == len(decisions) and triggers[0] >= len(decisions)
    made = _decision_events(ws)
    for decision_id, _, _ in decisions:
        for kind in ("decision.created", "decision.approved", "decision.done"):
            assert made[(kind, decision_id)] == 1, (kind, decision_id, made)
        assert made[("decision.failed", decision_id)] == 0
        assert made[("decision.interrupted", decision_id)] == 0
    assert sum(n for (kind, _), n in made.items() if kind == "decision.resumed") >= 2
    judged = Counter(subject for (kind, subject) in made.elements() if kind == "gate.judged")
    # One candidate per decision: no retraining was done twice, not even half of one.
    candidates = [json.loads(figures)["candidate"] for _, _, figures in decisions]
    assert versions == [1, *sorted(candidates)]
    assert judged == Counter(f"v{c}" for c in candidates)
