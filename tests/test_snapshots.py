"""Pictures of the screens, compared with the committed ones (update: pytest --snapshot-update)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mlcycle import demo
from mlcycle.app.ui import MlcycleApp
from mlcycle.store.workspace import open_workspace
from tests.test_tui import settle

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
    """Loaded, and then long enough for tables to settle their column widths."""
    await settle(pilot)
    await pilot.pause(0.5)


def test_data_view(snap_compare, fixed_app: MlcycleApp) -> None:
    async def open_data(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await _drawn(pilot)

    assert snap_compare(fixed_app, terminal_size=(160, 44), run_before=open_data)
