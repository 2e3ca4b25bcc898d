"""The ':' command line: the CLI's grammar typed in the UI, completed, remembered, run as a job."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcycle.app import command_line
from mlcycle.app.jobs import CANCELLED, DONE, FAILED
from mlcycle.app.ui import MlcycleApp
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle, visible_text


@pytest.fixture(autouse=True)
def _own_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


async def _wait(pilot, job, states=(DONE, FAILED, CANCELLED), seconds: float = 60) -> None:
    for _ in range(int(seconds / 0.05)):
        if job.state in states:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.1)


async def test_typed_command_completes_runs_as_a_job_and_is_remembered(churn_ws: Workspace
                                                                      ) -> None:
    app = MlcycleApp(churn_ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        await pilot.press(*"proj")
        await pilot.pause(0.2)
        await pilot.press("tab")  # takes the suggestion: 'project'
        await pilot.press(*" li", "tab")  # 'project list'
        box = app.screen.query_one("#command-input")
        assert box.value == "project list"
        await pilot.press("enter")
        job = app.jobs.all[-1]
        assert job.title == "project: list"
        await _wait(pilot, job)
        assert job.state == DONE, job.outcome
        assert any("churn" in row[0] for row in job.rows)
        await pilot.press("J")
        await pilot.pause(0.3)
        assert "project: list" in visible_text(app)
        await pilot.press("escape", "colon", "up")
        assert app.screen.query_one("#command-input").value == "project list"
    assert command_line.load_history() == ["project list"]


async def test_a_refused_command_says_why_and_starts_nothing(churn_ws: Workspace) -> None:
    app = MlcycleApp(churn_ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"nosuch churn", "enter")
        await pilot.pause(0.1)
        assert "no command 'nosuch'" in str(app.screen.query_one("#command-error").content)
        assert app.jobs.all == []


async def test_a_failing_command_ends_with_its_message(churn_ws: Workspace) -> None:
    app = MlcycleApp(churn_ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"train nosuch --trials 1", "enter")
        job = app.jobs.all[-1]
        await _wait(pilot, job)
        assert job.state == FAILED and "nosuch" in job.outcome
        assert "Traceback" not in job.outcome


async def test_cancel_stops_a_command_and_keeps_what_it_finished(churn_ws: Workspace) -> None:
    from mlcycle.models import registry, tracking

    app = MlcycleApp(churn_ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"train churn --models logistic --trials 200 --cv 2",
                          "enter")
        job = app.jobs.all[-1]
        for _ in range(1200):  # until a trial has finished
            if tracking.runs(churn_ws, "churn"):
                break
            await pilot.pause(0.05)
        await pilot.press("J", "c")
        await _wait(pilot, job)
        assert job.state == CANCELLED, (job.outcome, job.rows)
    runs = tracking.runs(churn_ws, "churn")
    assert 1 <= len(runs) < 201
    assert all(r.status != "running" for r in runs)
    assert registry.versions(churn_ws, "churn") == []


@pytest.mark.parametrize("line, why", [
    ("", "type a command"),
    ("ui", "needs the terminal"),
    ("recipe edit churn", "needs the terminal"),
    ("train churn -w /tmp/other", "UI's workspace"),
    ("train 'churn", "cannot read"),
])
def test_lines_the_ui_cannot_run(line: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        command_line.parse(line)


def test_completion_knows_commands_subcommands_options_and_projects() -> None:
    assert command_line.complete("tra", []) == "train"
    assert command_line.complete("alias c", []) == "alias clear"
    assert command_line.complete("train churn --tri", []) == "train churn --trials"
    assert command_line.complete("train ch", ["churn"]) == "train churn"
    assert command_line.complete("zz", []) is None
    assert command_line.parse("demo") == ["demo", "--no-ui"]
