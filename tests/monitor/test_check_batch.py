"""Checking a batch ends in the same decision state whichever face it came through: the CLI,
the Python API, the watcher and the TUI all call ``mlcycle.monitor.batch.check_batch``."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import mlcycle
from mlcycle.models import registry
from mlcycle.monitor import decisions
from mlcycle.monitor import policy as policies
from mlcycle.monitor.watch import Watcher
from mlcycle.store.workspace import Workspace
from tests.conftest import run_cli
from tests.training_data import classification_frame

AUTO = 'mode = "auto"\n[retrain]\ntrials = 1\n'


def _world_changed(folder: Path) -> tuple[Path, Path]:
    """A labelled batch whose outcome now follows the inputs the other way round: worth a
    retraining, which passes the gate."""
    frame = classification_frame(1500, seed=13).with_columns(
        pl.when(pl.col("label") == "yes").then(pl.lit("no")).otherwise(pl.lit("yes"))
        .alias("label"))
    (folder / "batches").mkdir()
    (folder / "labels").mkdir()
    batch, labels = folder / "batches" / "flipped.csv", folder / "labels" / "flipped.csv"
    frame.drop("label").write_csv(batch)
    frame.select("id", "label").write_csv(labels)
    return batch, labels


def _by_cli(ws: Workspace, batch: Path, labels: Path) -> str:
    proc = run_cli("monitor", "clf", str(batch), "--labels", str(labels), "--json",
                   workspace=ws.root, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["decision"]["id"]


def _by_api(ws: Workspace, batch: Path, labels: Path) -> str:
    check = mlcycle.monitor.check("clf", batch, labels, workspace=ws)
    assert check.decision is not None and check.decision.status == "done"
    return check.decision.id


def _by_watcher(ws: Workspace, batch: Path, labels: Path) -> str:
    outcomes = []
    Watcher(ws, "clf", batch.parent, labels=labels.parent, settle=0,
            report=outcomes.append).scan()
    carried = [o for o in outcomes if o.status == "decision"]
    assert len(carried) == 1 and carried[0].error is None, outcomes
    return carried[0].decision["id"]


async def _by_tui(ws: Workspace, batch: Path, labels: Path) -> str:
    from mlcycle.app.ui import MlcycleApp
    from tests.app.test_tui import settle
    from tests.app.test_tui_deploy_monitor import _fill, _job

    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        await pilot.press("c")
        await _fill(pilot, file=batch, labels=labels)
        job = await _job(pilot, "check: clf flipped.csv", timeout=300)
        assert "done" in job.outcome, job.outcome
        return job.result["decision"]["id"]


@pytest.mark.parametrize("face", ["cli", "api", "watcher", "tui"])
async def test_under_auto_every_face_carries_the_decision_out(
        face: str, clf_champion: Workspace, tmp_path: Path) -> None:
    ws = clf_champion
    policies.store(ws, "clf", policies.parse(AUTO), source="test")
    batch, labels = _world_changed(tmp_path)
    faces = {"cli": _by_cli, "api": _by_api, "watcher": _by_watcher}
    decision_id = (await _by_tui(ws, batch, labels) if face == "tui"
                   else faces[face](ws, batch, labels))
    decision = decisions.get(ws, "clf", decision_id)
    assert (decision["status"], decision["reason"]) == ("done", decisions.AUTO)
    assert decisions.list_decisions(ws, "clf", "pending") == []
    assert registry.get(ws, "clf").version == 2


@pytest.mark.parametrize("face", ["cli", "api"])
async def test_under_prompt_every_face_leaves_the_decision_pending(
        face: str, clf_champion: Workspace, tmp_path: Path) -> None:
    ws = clf_champion
    policies.store(ws, "clf", policies.parse(AUTO.replace("auto", "prompt")), source="test")
    batch, labels = _world_changed(tmp_path)
    if face == "cli":
        proc = run_cli("monitor", "clf", str(batch), "--labels", str(labels), "--json",
                       workspace=ws.root)
        raised = json.loads(proc.stdout)["decision"]
    else:
        raised = mlcycle.monitor.check("clf", batch, labels, workspace=ws).decision.__dict__
    assert (raised["status"], raised["kind"], raised["mode"]) == ("pending", "retrain", "prompt")
    assert registry.get(ws, "clf").version == 1


def test_a_decision_a_later_promotion_answered_is_closed_everywhere(
        clf_champion: Workspace, tmp_path: Path) -> None:
    from tests.conftest import run_json

    ws = clf_champion
    batch, labels = _world_changed(tmp_path)
    raised = mlcycle.monitor.check("clf", batch, labels, workspace=ws).decision
    assert raised is not None and raised.status == "pending"
    # Meanwhile a person retrains by hand and promotes the result.
    run_cli("retrain", "clf", "--with", str(batch), "--labels", str(labels), "--trials", "1",
            "--promote", workspace=ws.root, check=True, timeout=300)
    assert registry.get(ws, "clf").version == 2
    listed = run_json("decisions", "clf", workspace=ws.root)
    assert [(d["id"], d["status"]) for d in listed] == [(raised.id, "superseded")]
    assert listed[0]["reason"].startswith("answered by a later action: v2 became champion")
    assert run_json("decisions", "clf", "--status", "pending", workspace=ws.root) == []
    assert run_json("status", "clf", workspace=ws.root)["pending_decisions"] == []
    text = run_cli("decisions", "clf", workspace=ws.root, check=True).stdout
    assert "superseded: answered by a later action" in text


async def test_one_drifted_batch_reads_the_same_through_every_face(
        clf_champion_root: Path, tmp_path: Path) -> None:
    from mlcycle.app.ui import MlcycleApp
    from mlcycle.monitor.verdict import Check
    from tests.app.test_tui import settle, visible_text
    from tests.app.test_tui_deploy_monitor import _fill, _job
    from tests.conftest import copy_workspace

    folder = tmp_path / "batches"
    folder.mkdir()
    batch = folder / "moved.csv"
    classification_frame(600, seed=41).with_columns(pl.col("x1") + 2.5).drop(
        "label").write_csv(batch)
    spaces = {face: copy_workspace(clf_champion_root, tmp_path / face)
              for face in ("cli", "api", "watcher", "tui")}
    seen: dict[str, Check] = {}
    proc = run_cli("monitor", "clf", str(batch), "--json", workspace=spaces["cli"].root)
    assert proc.returncode == 0, proc.stderr
    seen["cli"] = Check.from_dict(json.loads(proc.stdout))
    seen["api"] = mlcycle.monitor.check("clf", batch, workspace=spaces["api"])
    outcomes = []
    Watcher(spaces["watcher"], "clf", folder, settle=0, report=outcomes.append).scan()
    seen["watcher"] = Check.from_dict(next(o.check for o in outcomes if o.status == "checked"))
    app = MlcycleApp(spaces["tui"], project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        await pilot.press("c")
        await _fill(pilot, file=batch)
        job = await _job(pilot, "check: clf moved.csv", timeout=300)
        seen["tui"] = Check.from_dict(job.result)
        await settle(pilot)
        inputs = seen["tui"].inputs
        shown = " ".join(visible_text(app).split())
        assert f"{len(inputs.drifted)}/{inputs.tested}" in shown  # checks table
        assert seen["tui"].advice in shown  # the monitoring header
    first = seen["cli"]
    assert first.inputs is not None and "x1" in first.inputs.drifted
    for face, check in seen.items():
        assert check.inputs == first.inputs, face
        assert [a.kind for a in check.alert_details] == [a.kind for a in first.alert_details]
        assert check.alerts == first.alerts, face
        # The estimate holds: drift that costs nothing asks no question of retraining.
        assert check.advice == first.advice, face
        assert not check.retrain_recommended and check.decision is None, face
    assert first.advice.startswith("no action needed: no clear loss (estimated")
    # The alert's count is the inputs' count.
    drift = next(a for a in first.alert_details if a.kind == "data_drift")
    assert drift.message.startswith(
        f"data drift in {len(first.inputs.drifted)} of {first.inputs.tested} inputs")
