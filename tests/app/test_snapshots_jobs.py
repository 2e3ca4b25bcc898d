"""Pictures of the ':' command line and the jobs panel at the smallest and a large terminal."""

from __future__ import annotations

import pytest

from mlcycle.app.ui import MlcycleApp
from mlcycle.store.errors import InvalidInput
from tests.app.test_snapshots import _drawn, fixed_app  # noqa: F401  (a fixture)

SIZES = [(80, 24), (160, 48)]


@pytest.fixture(autouse=True)
def _no_history(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_command_line(snap_compare, fixed_app: MlcycleApp, size) -> None:  # noqa: F811
    async def type_command(pilot) -> None:
        await _drawn(pilot)
        await pilot.press("colon", *"train churn --tri")
        await pilot.pause(0.3)

    assert snap_compare(fixed_app, terminal_size=size, run_before=type_command)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_jobs_panel(snap_compare, fixed_app: MlcycleApp, size) -> None:  # noqa: F811
    def refused(job) -> None:
        job.progress(2, 5, "checking")
        raise InvalidInput("cannot read batch.csv: line 3 has 4 fields, the header 5")

    async def finished_jobs(pilot) -> None:
        await _drawn(pilot)
        app = pilot.app
        first = app.jobs.start("check: churn batch.csv", refused)
        second = app.jobs.start("count: rows", lambda job: job.add_row(1, "a") or 42,
                                done=lambda job: f"counted {job.result} rows",
                                columns=("n", "letter"))
        while second.state == "running" or first.state == "running":
            await pilot.pause(0.05)
        app.clear_notifications()
        await pilot.press("J")
        await pilot.pause(0.6)

    assert snap_compare(fixed_app, terminal_size=size, run_before=finished_jobs)
