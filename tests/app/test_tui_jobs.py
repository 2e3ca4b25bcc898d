"""The job runner and its panel: progress, cancel, and failures that never end the app."""

from __future__ import annotations

import threading

from mlcycle.app.jobs import CANCELLED, DONE, FAILED, Job
from mlcycle.app.ui import MlcycleApp
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle, visible_text
from tests.tui_keys import recorded, until


async def _until(pilot, job: Job, state: str) -> None:
    await until(pilot, lambda: job.state == state, seconds=10)
    assert job.state == state, (job.state, job.outcome)
    await pilot.pause(0.1)


async def test_an_unexpected_exception_ends_the_job_not_the_app(ws: Workspace) -> None:
    app = MlcycleApp(ws)
    notices = recorded(app)

    def broken(job: Job) -> None:
        job.say("about to break")
        raise ZeroDivisionError("an injected bug")

    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        job = app.jobs.start("broken: demo", broken)
        await _until(pilot, job, FAILED)
        assert "an injected bug" in job.outcome and "tui.log" in job.outcome
        assert any("broken: demo" in m and "an injected bug" in m for m in notices)
        log = (ws.root / "logs" / "tui.log").read_text()
        assert "ZeroDivisionError: an injected bug" in log and "Traceback" in log
        # The app still answers keys: the jobs panel opens and lists the failure.
        await pilot.press("J")
        await pilot.pause(0.2)
        text = visible_text(app)
        assert "broken: demo" in text and "failed" in text
        assert app.is_running


async def test_a_typed_error_is_one_line_and_writes_no_log(ws: Workspace) -> None:
    app = MlcycleApp(ws)

    def refused(job: Job) -> None:
        raise InvalidInput("--trials must be at least 1")

    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        job = app.jobs.start("train: churn", refused)
        await _until(pilot, job, FAILED)
        assert job.outcome == "--trials must be at least 1"
        assert not (ws.root / "logs" / "tui.log").exists()


async def test_a_job_reports_progress_and_can_be_cancelled_from_the_panel(ws: Workspace) -> None:
    app = MlcycleApp(ws)
    halfway = threading.Event()

    def steps(job: Job) -> int:
        done = 0
        for step in range(1, 1001):
            job.cancel.check()
            job.progress(step, 1000, f"step {step}")
            job.add_row(step, step * step)
            done = step
            if step == 3:
                halfway.set()
            job.cancel.wait(0.05)  # a step's work, cut short by a cancel
        return done

    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        job = app.jobs.start("count: squares", steps, columns=("step", "square"))
        await pilot.press("J")
        while not halfway.is_set():
            await pilot.pause(0.02)
        await pilot.pause(0.6)  # the panel redraws on its own
        text = visible_text(app)
        assert "count: squares" in text and "running" in text and "/1000" in text
        assert "step" in text and "square" in text  # the live table
        await pilot.press("c")
        await _until(pilot, job, CANCELLED)
        kept = len(job.rows)
        assert 3 <= kept < 1000
        await pilot.pause(0.6)
        assert "cancelled" in visible_text(app)


async def test_a_finished_job_leads_to_what_it_produced(churn_ws: Workspace) -> None:
    from mlcycle.app.jobs import Lead

    app = MlcycleApp(churn_ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        job = app.jobs.start("noop: churn", lambda job: None,
                             lead=Lead("models", "churn", "open the models view"),
                             done=lambda job: "nothing to do")
        await _until(pilot, job, DONE)
        await pilot.press("J")
        await pilot.pause(0.2)
        assert "nothing to do" in visible_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "models" and app.project == "churn"


def test_mlcycle_exits_non_zero_when_the_app_itself_crashes(ws: Workspace, monkeypatch) -> None:
    import pytest

    from mlcycle.app.commands.ui import run_ui
    from mlcycle.app.output import Context

    def crash(self) -> None:
        raise RuntimeError("a bug in the app itself")

    real_run = MlcycleApp.run
    monkeypatch.setattr(MlcycleApp, "on_mount", crash)
    monkeypatch.setattr(MlcycleApp, "run", lambda self: real_run(self, headless=True))
    with pytest.raises(SystemExit) as ended:
        run_ui(Context(str(ws.root)))
    assert ended.value.code == 1


async def test_a_view_whose_load_breaks_says_so_and_the_app_runs_on(churn_ws: Workspace,
                                                                   monkeypatch) -> None:
    from mlcycle.app.screens.models import ModelsScreen

    def broken(self) -> None:
        raise KeyError("a bug while loading")

    monkeypatch.setattr(ModelsScreen, "fetch", broken)
    app = MlcycleApp(churn_ws, project="churn")
    notices = recorded(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        assert any("a bug while loading" in m and "tui.log" in m for m in notices), notices
        await pilot.press("1")
        await settle(pilot)
        assert app.is_running and "churn" in visible_text(app)
