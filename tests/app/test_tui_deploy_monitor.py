"""The deploy and monitor views run the lifecycle's last stages: export, verify, score,
serve, check, watch and retrain, each from a key, with no shell in between."""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from pathlib import Path

import polars as pl
import pytest
from textual.widgets import DataTable, Input, Static

from mlcycle.app.jobs import DONE, RUNNING, Job
from mlcycle.app.screens.form import FormScreen
from mlcycle.app.ui import MlcycleApp
from mlcycle.models import registry
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle, visible_text
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame, labelled_batch
from tests.tui_keys import put_off_decision, until


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained workspace for the module; each test works on a copy of it."""
    root = tmp_path_factory.mktemp("trained")
    ws = classification_workspace(root, models=["logistic"])
    registry.promote(ws, "clf", "1", reason="first")
    return ws.root


@pytest.fixture
def clf(trained: Path, tmp_path: Path) -> Workspace:
    from mlcycle.store.workspace import open_workspace

    shutil.copytree(trained, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")[0]



async def _fill(pilot, **values: object) -> None:
    """Type into the open form's fields (by name) and submit it."""
    form = pilot.app.screen
    assert isinstance(form, FormScreen), type(form)
    for name, value in values.items():
        widget = form.query_one(f"#field-{name}")
        if isinstance(widget, Input):
            widget.value = str(value)
        else:
            widget.value = value
    await pilot.press("ctrl+s")
    await pilot.pause(0.1)


async def _job(pilot, title: str, state: str = DONE, timeout: float = 120) -> Job:
    """The job titled ``title`` once it reaches ``state``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        jobs = [j for j in pilot.app.jobs.all if j.title == title]
        if jobs and jobs[-1].state != RUNNING:
            break
        await pilot.pause(0.05)
    assert jobs, [j.title for j in pilot.app.jobs.all]
    job = jobs[-1]
    assert job.state == state, (job.state, job.outcome)
    await pilot.pause(0.1)
    return job


async def test_export_shows_parity_and_names_the_bundle_then_verify_passes(
        clf: Workspace, tmp_path: Path) -> None:
    app = MlcycleApp(clf, project="clf")
    bundle = tmp_path / "bundle"
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("x")
        await _fill(pilot, out=bundle)
        job = await _job(pilot, "export: clf v1")
        assert str(bundle) in job.outcome and "parity passed" in job.outcome
        rows = dict(job.rows)
        assert rows["rows compared (holdout)"] == "80"  # the holdout of 400 rows
        assert rows["labels that differ"] == "0" and rows["parity"] == "pass"
        assert (bundle / "manifest.json").is_file() and (bundle / "model.onnx").is_file()
        await settle(pilot)
        assert app.screen.query_one("#exports", DataTable).row_count == 1
        await pilot.press("J")
        await pilot.pause(0.5)
        assert "max probability difference" in visible_text(app)
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("v")  # the form offers the bundle just written
        assert app.screen.query_one("#field-folder", Input).value == str(bundle)
        await _fill(pilot)
        job = await _job(pilot, "verify: bundle")
        assert job.outcome.startswith("ok: clf v1, hashes ok, smoke test ok on 5 rows")

        (bundle / "README.md").write_text("changed")
        await pilot.press("v")
        await _fill(pilot)
        job = await _job(pilot, "verify: bundle", state="failed")
        assert "README.md does not match its hash" in job.outcome


async def test_export_refuses_a_folder_inside_the_workspace_in_the_form(
        clf: Workspace) -> None:
    app = MlcycleApp(clf, project="clf")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("x")
        await _fill(pilot, out=clf.root / "bundle")
        assert isinstance(app.screen, FormScreen)  # still open, saying why
        assert "inside the workspace" in str(app.screen.query_one("#form-error").render())
        assert not app.jobs.all and not (clf.root / "bundle").exists()


async def test_score_a_file_to_an_output_path(clf: Workspace, tmp_path: Path) -> None:
    batch, _ = labelled_batch(tmp_path, "batch.csv", 8, 0.0)
    out = tmp_path / "scores.csv"
    app = MlcycleApp(clf, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        assert "press p to score a file" in visible_text(app)
        await pilot.press("p")
        await _fill(pilot, file=batch, out=batch)  # over its own input: refused in the form
        assert "is the command's input" in str(app.screen.query_one("#form-error").render())
        await _fill(pilot, out=out)
        job = await _job(pilot, "score: clf batch.csv")
        assert job.outcome.startswith("scored 400 rows with v1") and str(out) in job.outcome
        assert job.done == job.total == 400
        scores = pl.read_csv(out)
        assert scores.height == 400 and "prediction" in scores.columns
        await settle(pilot)
        assert app.screen.query_one("#scoring-runs", DataTable).row_count == 1


async def test_serve_from_the_view_answers_then_stops(clf: Workspace) -> None:
    app = MlcycleApp(clf, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("s")
        await _fill(pilot, port=0)  # any free port: the view shows which
        await _job(pilot, "serve: clf")
        status = app.screen.query_one("#serve-status", Static)
        await until(pilot, lambda: "http://127.0.0.1:" in str(status.render()))
        url = re.search(r"http://127\.0\.0\.1:\d+", str(status.render())).group(0)
        assert "serving clf v1 (champion)" in str(status.render())
        with urllib.request.urlopen(url + "/health", timeout=10) as answer:
            health = json.loads(answer.read())
        assert health["status"] == "ok" and health["version"] == 1
        row = classification_frame(1, seed=5).drop("label").to_dicts()[0]
        request = urllib.request.Request(url + "/predict", data=json.dumps(row).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.loads(answer.read())["model_version"] == 1

        await pilot.press("s")  # stops it
        await until(pilot, lambda: app.background.running("serve: clf") is None)
        await until(pilot, lambda: "not running" in str(status.render()))
        with pytest.raises(OSError):
            urllib.request.urlopen(url + "/health", timeout=2)
    # What it scored was logged when it stopped.
    from mlcycle.deploy import runs

    assert [r.source for r in runs.recent_runs(clf, "clf")] == ["serve"]


async def test_the_server_stops_when_the_ui_quits(clf: Workspace) -> None:
    app = MlcycleApp(clf, project="clf")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("s")
        await _fill(pilot, port=0)
        await _job(pilot, "serve: clf")
        service = app.background.running("serve: clf")
        assert service is not None
        url = re.search(r"http://[\d.]+:\d+", service.about).group(0)
    assert not service.running
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/health", timeout=2)


async def test_check_a_drifted_batch_shows_its_alert_and_offers_to_retrain(
        clf: Workspace, tmp_path: Path) -> None:
    batch, labels = labelled_batch(tmp_path, "moved.csv", 32, 3.0)
    app = MlcycleApp(clf, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        assert "press c to check a batch" in visible_text(app)
        await pilot.press("c")
        await _fill(pilot, file=batch, labels=labels)
        job = await _job(pilot, "check: clf moved.csv")
        assert job.outcome.startswith("400 rows by v1:") and "ALERT data drift in" in job.outcome
        await put_off_decision(pilot)  # the alert raised a decision; retrain by hand here
        await settle(pilot)
        text = visible_text(app)
        assert "data drift in 1 of" in text
        assert "retraining recommended: press R to retrain with moved.csv" in text
        assert not re.search(r"mlcycle (monitor|watch|retrain)", text)  # no shell offered
        assert app.screen.query_one("#checks", DataTable).row_count == 1

        await pilot.press("R")  # prefilled with the batch that was checked and its labels
        form = app.screen
        assert form.query_one("#field-batches", Input).value == str(batch)
        assert form.query_one("#field-labels", Input).value == str(labels)
        await _fill(pilot, trials=1)
        job = await _job(pilot, "retrain: clf")
        assert "v2 is" in job.outcome and "retrained on" in job.outcome
        moved = job.outcome.startswith("v2 is now the")
        assert moved or job.outcome.startswith("v2 is registered but not better; no alias")
        aliases = registry.get(clf, "clf", "2").aliases
        assert moved == bool(aliases), (job.outcome, aliases)
        await settle(pilot)
        assert "v2" in visible_text(app)  # the retraining pane lists it


async def test_watch_a_folder_from_the_view(clf: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    app = MlcycleApp(clf, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        await pilot.press("w")
        await _fill(pilot, folder=inbox)
        status = app.screen.query_one("#watch-status", Static)
        await until(pilot, lambda: f"watching {inbox} for clf" in str(status.render()))
        labelled_batch(tmp_path, "moved.csv", 33, 3.0)
        shutil.move(tmp_path / "moved.csv", inbox / "moved.csv")
        checks = app.screen.query_one("#checks", DataTable)
        await until(pilot, lambda: checks.row_count == 1, seconds=60)
        assert str(checks.get_row_at(0)[2]) == "moved.csv"
        await until(pilot, lambda: "moved.csv: 400 rows, v1: data drift"
                     in str(status.render()))
        # Without labels the estimate holds: the line says so, and no decision is raised.
        assert "no action needed: no clear loss" in str(status.render())
        await pilot.press("w")  # stops it
        await until(pilot, lambda: app.background.running("watch: clf") is None)
        await until(pilot, lambda: "not watching" in str(status.render()))
