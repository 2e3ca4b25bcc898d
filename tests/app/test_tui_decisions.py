"""Decisions as the terminal UI asks them: a pending decision raised anywhere (here, by a
check another process made) comes up as a modal over whatever view shows; y retrains
through the gate, n records why not, escape leaves it pending in the monitoring view. The
monitoring view shows where the loop stands, a watcher in another process included, and
edits the policy."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from textual.widgets import DataTable, Static, TextArea

from mlcycle.app.screens.decision import DecisionScreen
from mlcycle.app.screens.text_editor import TextEditorScreen
from mlcycle.app.ui import MlcycleApp
from mlcycle.models import registry
from mlcycle.monitor import decisions, monitoring
from mlcycle.monitor import policy as policies
from mlcycle.store.schema import utcnow
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle, visible_text
from tests.conftest import MLCYCLE, ROOT
from tests.training_data import classification_frame
from tests.tui_keys import asked, until

FAST = "[retrain]\ntrials = 1\n\n[gate]\nrounds = 200\n"  # tiny retrainings, a quick gate


@pytest.fixture
def ws(clf_champion: Workspace) -> Workspace:
    policies.store(clf_champion, "clf", policies.parse(FAST), source="test")
    return clf_champion


def _batch(folder: Path, name: str, seed: int, flip: bool = False) -> tuple[Path, Path]:
    """A batch whose x1 moved (a data-drift alert), with its labels; ``flip``: the outcome
    now follows the inputs the other way round, so a retrained model is clearly better."""
    frame = classification_frame(800, seed=seed).with_columns(pl.col("x1") + 1.5)
    if flip:
        frame = frame.with_columns(
            pl.when(pl.col("label") == "yes").then(pl.lit("no")).otherwise(pl.lit("yes"))
            .alias("label"))
    frame.drop("label").write_csv(folder / name)
    frame.select("id", "label").write_csv(folder / f"labels-{name}")
    return folder / name, folder / f"labels-{name}"


async def _asked(pilot) -> None:
    """Until the decision's modal is up and drawn."""
    await until(pilot, lambda: asked(pilot.app) is not None)
    await pilot.pause()


async def _checked_elsewhere(ws: Workspace, batch: Path, labels: Path | None) -> dict:
    """A check made outside the UI (as a watcher or a shell would), off the event loop."""
    return await asyncio.to_thread(monitoring.check, ws, "clf", batch, labels=labels)


async def test_a_decision_comes_up_over_another_view_and_y_retrains_through_the_gate(
        ws: Workspace, tmp_path: Path) -> None:
    batch, labels = _batch(tmp_path, "flipped.csv", seed=12, flip=True)
    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert not isinstance(app.screen, DecisionScreen)
        result = await _checked_elsewhere(ws, batch, labels)
        raised = result["decision"]["id"]
        await _asked(pilot)
        assert type(app.screen_stack[-2]).__name__ == "ProjectsScreen"  # where the user was
        text = visible_text(app)
        assert f"Retrain clf?  decision {raised}" in text
        assert "on alert (flipped.csv): data drift" in text
        assert re.search(r"\d+ of \d+ inputs drifted \(x1", text)
        assert "Labelled rows available: 800" in text
        assert "flipped.csv + labels labels-flipped.csv  800 rows" in text
        assert "y approve: retrain · n reject · escape later (stays pending)" in text

        await pilot.press("y")
        await until(pilot, lambda: app.jobs.all and app.jobs.all[-1].state != "running",
                     seconds=180)
        job = app.jobs.all[-1]
        assert job.state == "done", job.outcome
        done = decisions.get(ws, "clf", raised)
        assert done["status"] == "done" and done["reason"] == "approved in the terminal UI"
        gate = done["figures"]["gate"]
        assert gate["passed"] and gate["low"] > 0 and gate["rounds"] == 200
        assert job.outcome.startswith(f"decision {raised} done: v2 is now the challenger; "
                                      "gate passed: roc_auc")
        # The candidate passed: the same modal asks the second question, with the gate.
        await pilot.pause(0.2)
        assert isinstance(app.screen, DecisionScreen)
        text = visible_text(app)
        assert "Promote v2 of clf to champion?  (replaces v1)" in text
        assert "The gate passed" in text and f"interval [{gate['low']:.4f}" in text
        assert job.outcome in text.replace("\n", " ") or "v2 is now the challenger" in text
        promotion = done["figures"]["promotion"]
        await pilot.press("y")
        await until(pilot, lambda: decisions.get(ws, "clf", promotion)["status"] == "done")
        await until(pilot, lambda: "v2 is now the champion" in visible_text(app))
        assert registry.get(ws, "clf", registry.CHAMPION).version == 2
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, DecisionScreen)


async def test_escape_leaves_it_pending_in_the_monitoring_view_and_n_rejects_with_why(
        ws: Workspace) -> None:
    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        # Someone asked for a retraining from a shell ('mlcycle decide clf --request').
        raised = (await asyncio.to_thread(decisions.request, ws, "clf",
                                          "prices rose in March"))["id"]
        await _asked(pilot)
        assert "• manual: prices rose in March" in visible_text(app)
        assert "no batch was checked with its labels yet" in visible_text(app)
        assert "n reject · escape later" in visible_text(app)
        await pilot.press("y")  # nothing to retrain on: y does nothing but say so
        await pilot.pause(0.1)
        assert isinstance(app.screen, DecisionScreen)
        assert decisions.get(ws, "clf", raised)["status"] == "pending"
        await pilot.press("escape")  # later
        await pilot.pause(0.1)
        assert not isinstance(app.screen, DecisionScreen)
        app.decision_prompt.poll()  # read again: put off this session, not asked again
        await pilot.pause(1.5)
        assert not isinstance(app.screen, DecisionScreen)
        assert decisions.get(ws, "clf", raised)["status"] == "pending"

        table = app.screen.query_one("#decisions", DataTable)
        await until(pilot, lambda: table.row_count == 1)
        row = [str(c) for c in table.get_row_at(0)]
        assert row[:3] == [raised, "manual", "pending"]
        # The outcome is free text: whole, or cut with an ellipsis where the pane ends.
        outcome = "retrain? manual (adds 0 labelled batches)"
        assert row[4] == outcome or (row[4].endswith("…") and outcome.startswith(row[4][:-1]))
        assert "pending decisions: 1 (D answers)" in visible_text(app)

        await pilot.press("D")
        await _asked(pilot)
        await pilot.press("n")
        await pilot.pause(0.1)
        assert "Reject retraining clf" in visible_text(app)
        await pilot.press(*"the batch came from a broken export", "enter")
        await until(pilot, lambda: decisions.get(ws, "clf", raised)["status"] == "rejected")
        assert decisions.get(ws, "clf", raised)["reason"] == "the batch came from a broken export"
        await until(pilot, lambda: type(app.screen).__name__ == "MonitorScreen")
        await until(pilot, lambda: "rejected" in str(table.get_row_at(0)[2]))
        assert "pending decisions: 0" in visible_text(app)


async def test_the_policy_editor_stores_a_valid_policy_and_refuses_a_bad_one(
        ws: Workspace) -> None:
    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        await until(pilot, lambda: "policy v1, mode prompt" in visible_text(app))
        await pilot.press("P")
        await pilot.pause(0.2)
        assert isinstance(app.screen, TextEditorScreen)
        area = app.screen.query_one(TextArea)
        assert 'mode = "prompt"' in area.text and "(default)" in area.text
        assert "[gate]" in area.text and "mlcycle policy set" not in area.text  # no shell
        area.text = '[gate]\nmargin = 0.01\nmargn = 0.2\n'
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        status = str(app.screen.query_one("#editor-status", Static).render())
        assert status == ("not saved: policy line 3: [gate] margn is not a key of a policy; "
                          "[gate] has margin, confidence, rounds")
        assert area.cursor_location[0] == 2 and area.selected_text.startswith("margn")
        assert [p.version for p in policies.history(ws, "clf")] == [1]  # nothing stored

        area.text = 'mode = "off"\n\n[gate]\nmargin = 0.01\n'
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, TextEditorScreen)
        stored = policies.current(ws, "clf")
        assert stored.version == 2 and stored.mode == "off" and stored.gate.margin == 0.01
        await until(pilot, lambda: "policy v2, mode off" in visible_text(app))


async def test_the_status_shows_a_watcher_running_in_another_process(
        ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "broken.csv").write_text('id,x1\nU1,"unterminated\n')
    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        status = app.screen.query_one("#loop-status", Static)
        assert "watcher: none running" in str(status.render())
        proc = subprocess.Popen([*MLCYCLE, "--workspace", str(ws.root), "watch", "clf",
                                 str(inbox)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            await until(pilot, lambda: f"watcher: alive (pid {proc.pid}/"
                         in str(status.render()), seconds=60)
            line = str(status.render())
            assert "s ago)" in line and str(inbox.resolve()) in line
            await until(pilot, lambda: "quarantined: 1 file, newest broken.csv"
                         in str(status.render()), seconds=60)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        await until(pilot, lambda: "watcher: none running" in str(status.render()),
                     seconds=30)
        with ws.write() as con:  # one killed long ago leaves its last heartbeat behind
            old = utcnow() - timedelta(minutes=5)
            con.execute("INSERT INTO watchers VALUES ('clf', '/gone', 1, 'far', ?, ?, 5.0, ?)",
                        [old, old, old])
        stale = re.compile(r"watcher: stale \(pid 1/far, last heartbeat 30\d s ago\) /gone")
        await until(pilot, lambda: stale.search(str(status.render())), seconds=30)


@pytest.mark.parametrize(("loss", "words"), [(0.012, "(1.2% worse)"), (-0.012, "(1.2% better)"),
                                             (0.0, "(no change)")])
def test_the_modal_words_a_gain_as_better_and_a_loss_as_worse(loss, words) -> None:
    from mlcycle.app.screens.decision import describe

    firing = {"trigger": "on_alert", "kinds": ["concept_drift"], "alerts": [],
              "figures": {"share_drifted": 0.0, "metric": "f1", "value": 0.7,
                          "reference": 0.71, "relative_loss": loss}}
    decision = {"project": "churn", "kind": "retrain", "id": 1,
                "created": "2026-12-02T05:00:00", "evidence": {"fired": [firing]},
                "proposal": {"batches": [], "labelled_rows": 0, "describe": "all data"}}
    assert words in describe(decision).plain
