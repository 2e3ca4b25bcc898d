"""Pictures of the screens, compared with the committed ones (update: pytest --snapshot-update)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mlcycle import demo
from mlcycle.app.ui import MlcycleApp
from mlcycle.store.workspace import open_workspace
from tests.app.test_tui import settle

FIXED = "2026-01-05 09:30:00"
SNAPSHOT_WS = Path("/tmp/mlcycle-snapshot-workspace")


@pytest.fixture
def fixed_app(request: pytest.FixtureRequest) -> MlcycleApp:
    # A fixed path per test (tests may run in parallel) and fixed clocks, so the picture
    # only changes when the UI does.
    # Brackets of a parametrized test's name would read as a glob in DuckDB's paths.
    root = SNAPSHOT_WS / re.sub(r"[^\w.-]", "_", request.node.name)
    shutil.rmtree(root, ignore_errors=True)
    ws = open_workspace(root, create=True)[0]
    demo.build(ws)
    with ws.write() as con:
        con.execute("UPDATE projects SET created_at = ?", [FIXED])
        con.execute("UPDATE events SET ts = ?", [FIXED])
        con.execute(
            "UPDATE project_datasets SET added_at = ?, source = 'churn_reference.csv'", [FIXED]
        )
    return MlcycleApp(ws)


async def _drawn(pilot) -> None:
    """Loaded, the tables' columns fitted to their rows, and then long enough for them to
    be drawn so: on a busy machine a fit could land after a form had opened on top, and the
    picture showed a header of the old widths over rows of the new."""
    from mlcycle.app.widgets.table import VimTable

    await settle(pilot)
    for _ in range(100):
        if not any(table.fitting for table in pilot.app.screen.query(VimTable)):
            break
        await pilot.pause(0.05)
    await pilot.pause(0.5)
    # A table's header can be drawn before its rows' widths are measured (on idle), and a
    # screen opened at once on top keeps that header: draw the tables whole once more.
    for table in pilot.app.screen.query(VimTable):
        table.refresh()
    await pilot.pause(0.1)


def test_data_view(snap_compare, fixed_app: MlcycleApp) -> None:
    async def open_data(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await _drawn(pilot)

    assert snap_compare(fixed_app, terminal_size=(160, 44), run_before=open_data)
