"""Training and the registry's changes from the TUI: a form, a watched job, a cancel that keeps
what finished, aliases and archiving with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from mlcycle import projects
from mlcycle.app.jobs import CANCELLED, DONE, Job
from mlcycle.app.ui import MlcycleApp
from mlcycle.data import datasets
from mlcycle.models import registry, tracking
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle, visible_text
from tests.training_data import classification_frame, logistic_workspace, write
from tests.tui_keys import recorded, until


@pytest.fixture
def clf_ws(ws: Workspace, tmp_path: Path) -> Workspace:
    """A project with data and nothing trained yet."""
    projects.create(ws, "clf", target="label", task="classification", metric="roc_auc")
    datasets.add(ws, "clf", write(classification_frame(300), tmp_path, "clf.csv"))
    return ws


async def fill(pilot, field: str, text: str) -> None:
    """Type ``text`` into a form field as a user does: focus it, erase, type."""
    box = pilot.app.screen.query_one(f"#field-{field}", Input)
    box.focus()
    await pilot.press("end", *["backspace"] * len(box.value), *text)


async def open_train_form(pilot, models: str, trials: int, folds: int) -> None:
    await pilot.press("3")
    await settle(pilot)
    await pilot.press("t")
    await pilot.pause()
    assert pilot.app.screen.__class__.__name__ == "FormScreen"
    await fill(pilot, "models", models)
    await fill(pilot, "trials", str(trials))
    await fill(pilot, "cv", str(folds))


def training_job(app: MlcycleApp) -> Job:
    return next(j for j in app.jobs.all if j.title == "train: clf")


async def test_train_from_the_form_watch_the_trials_and_open_the_version(
        clf_ws: Workspace) -> None:
    app = MlcycleApp(clf_ws, project="clf")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        text = visible_text(app)
        assert "no runs yet: press t to train" in text and "mlcycle train" not in text
        await open_train_form(pilot, "logistic", 2, 2)
        await pilot.press("enter")
        await pilot.pause()
        # The jobs panel opens on the training: its progress and one row per trial.
        assert app.screen.__class__.__name__ == "JobsScreen"
        job = training_job(app)
        await until(pilot, lambda: job.state != "running")
        assert job.state == DONE, job.outcome
        await pilot.pause(0.6)
        rows = app.screen.query_one("#job-rows", DataTable)
        # The baseline and two logistic trials, then each family's best with its figures.
        assert rows.row_count == 5
        cells = [str(c) for c in rows.get_row_at(2)]
        assert cells[:2] == ["3", "logistic"] and "(logistic)" in cells[3]
        best = [str(c) for c in rows.get_row_at(4)]
        assert best[:2] == ["best", "logistic"] and best[3].startswith("holdout roc_auc 0.")
        header = [str(c.label) for c in rows.columns.values()]
        assert header == ["#", "model", "cv roc_auc", "best so far"]
        assert job.outcome.startswith("best logistic (run ")
        assert "holdout roc_auc 0." in job.outcome and "registered as version 1" in job.outcome
        await pilot.press("enter")  # the job leads to the Models view
        await settle(pilot)
        assert app.current_mode == "models"
        versions = app.screen.query_one("#versions-table", DataTable)
        assert versions.row_count == 1
        assert [str(c) for c in versions.get_row_at(0)][:3] == ["1", "", "logistic"]


async def test_the_form_refuses_bad_input_before_any_work(clf_ws: Workspace) -> None:
    app = MlcycleApp(clf_ws, project="clf")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await open_train_form(pilot, "logistic, nonsense", 2, 2)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "FormScreen"
        assert "unknown model 'nonsense'" in visible_text(app)
        await fill(pilot, "models", "logistic")
        await fill(pilot, "cv", "1")
        await pilot.press("enter")
        await pilot.pause()
        assert "at least 2 folds" in visible_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not app.jobs.all and not tracking.runs(clf_ws, "clf")


async def test_cancelling_a_training_keeps_its_trials_and_registers_nothing(
        clf_ws: Workspace) -> None:
    app = MlcycleApp(clf_ws, project="clf")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await open_train_form(pilot, "logistic", 400, 2)
        await pilot.press("enter")
        await pilot.pause()
        job = training_job(app)
        # The baseline and at least one real trial have finished and shown as rows.
        await until(pilot, lambda: len(job.rows) >= 2)
        await pilot.pause(0.6)
        assert app.screen.query_one("#job-rows", DataTable).row_count >= 2
        assert "running" in visible_text(app)
        await pilot.press("c")
        await until(pilot, lambda: job.state != "running")
        assert job.state == CANCELLED
        kept = len(job.rows)
        assert 2 <= kept < 401
        assert job.outcome == f"cancelled: {kept} trials kept, nothing registered"
        await pilot.pause(0.6)
        assert "cancelled" in visible_text(app)
        # Every finished trial is a run, none is left running, nothing was registered.
        runs = tracking.runs(clf_ws, "clf")
        assert len(runs) == kept
        assert {r.status for r in runs} == {"finished"}
        assert registry.versions(clf_ws, "clf") == []
        # The app still answers: back to the experiments, which list the kept runs.
        await pilot.press("escape")
        await settle(pilot)
        assert f"clf: rows 1–{kept} of {kept} runs" in visible_text(app)
        await pilot.press("4")
        await settle(pilot)
        assert app.current_mode == "models" and "0 registered versions" in visible_text(app)


async def test_reproduce_and_register_the_selected_run(tmp_path: Path) -> None:
    ws = logistic_workspace(tmp_path)
    app = MlcycleApp(ws, project="clf")
    notices = recorded(app)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one("#runs", DataTable)
        # The baseline run was evaluated too but not registered: it has no ONNX graph, so
        # registering it by hand is refused in one line, and nothing changes.
        baseline = next(r for r in tracking.runs(ws, "clf") if r.kind == "baseline")
        row = next(i for i in range(table.row_count)
                   if str(table.get_row_at(i)[1]) == baseline.id)
        table.move_cursor(row=row)
        await pilot.press("R")
        await pilot.pause()
        job = app.jobs.all[-1]
        assert job.title == f"reproduce: clf run {baseline.id}"
        await until(pilot, lambda: job.state != "running")
        assert job.state == DONE and "reproduced exactly" in job.outcome, job.outcome
        assert all(r[3] == "yes" for r in job.rows)
        await pilot.press("r")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        await pilot.press("end", *["backspace"] * 30, *"baseline for comparison", "enter")
        await settle(pilot)
        assert any(f"run {baseline.id} cannot be registered: its model could not be scored, "
                   "it does not convert to ONNX" in n for n in notices), notices
        assert len(registry.versions(ws, "clf")) == 1
        names = [name for name, _call, _help in app.screen.palette_commands()]
        assert f"reproduce: clf run {baseline.id}" in names and "train: clf" in names


async def test_aliases_and_archiving_ask_why_and_keep_it(tmp_path: Path) -> None:
    ws = logistic_workspace(tmp_path)
    app = MlcycleApp(ws, project="clf")
    notices = recorded(app)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("a")  # set an alias on version 1
        await pilot.pause()
        await fill(pilot, "alias", "shadow")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        assert "alias shadow" in visible_text(app)
        await pilot.press(*"compare it quietly", "enter")
        await settle(pilot)
        assert registry.get(ws, "clf", "shadow").version == 1
        versions = app.screen.query_one("#versions-table", DataTable)
        assert str(versions.get_row_at(0)[1]) == "shadow"
        versions.focus()
        # Archiving a version that holds an alias is refused, in one line, and changes nothing.
        await pilot.press("A", *"old", "enter")
        refusal = "version 1 is shadow; promote another version first"
        await until(pilot, lambda: refusal in notices)  # it comes back from a worker
        assert not registry.get(ws, "clf", "1").archived
        await pilot.press("x")  # clear the alias
        await pilot.pause()
        assert "Take the alias shadow off version 1" in visible_text(app)
        await pilot.press(*"done comparing", "enter")
        await settle(pilot)
        assert registry.get(ws, "clf", "1").aliases == []
        await pilot.press("A", *"superseded", "enter")
        await until(pilot, lambda: registry.get(ws, "clf", "1").archived)
        await settle(pilot)
        assert str(versions.get_row_at(0)[1]) == "archived"
        trail = registry.history(ws, "clf")
        assert [(h["alias"], h["action"], h["reason"]) for h in trail] == [
            ("shadow", "promote", "compare it quietly"),
            ("shadow", "clear", "done comparing"),
        ]
        history = app.screen.query_one("#alias-history", DataTable)
        assert history.row_count == 2
        assert "done comparing" in visible_text(app)
        # The palette names what each action acts on.
        names = [name for name, _call, _help in app.screen.palette_commands()]
        assert "roll back: clf" in names and "promote: clf v1" not in names  # archived


def test_the_train_form_starts_from_the_defaults_of_mlcycle_train() -> None:
    from mlcycle.app.commands.train import train as command
    from mlcycle.app.screens.train import form_fields

    shown = {f.name: f.default for f in form_fields(["logistic"])}
    flags = {p.name: p.default for p in command.params}
    for name in ("trials", "cv", "seed", "time_budget"):
        assert shown[name] == flags[name], name
    assert shown["time_budget"] > 0  # a budget by default, as the command has
