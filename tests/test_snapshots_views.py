"""A picture of every view at the smallest terminal and a large one (update: pytest
--snapshot-update): what is cut or lost at 80x24 shows here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlcycle import demo
from mlcycle.app.ui import MlcycleApp
from mlcycle.app.views import VIEWS
from mlcycle.store.workspace import open_workspace
from tests.test_snapshots import FIXED, SNAPSHOT_WS, _drawn

SIZES = [(80, 24), (160, 48)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace with fixed clocks, built once; each test draws a copy of it."""
    root = tmp_path_factory.mktemp("views") / "ws"
    ws = open_workspace(root, create=True)[0]
    demo.build(ws)
    with ws.write() as con:
        con.execute("UPDATE projects SET created_at = ?", [FIXED])
        con.execute("UPDATE events SET ts = ?", [FIXED])
        con.execute(
            "UPDATE project_datasets SET added_at = ?, source = 'churn_reference.csv'", [FIXED]
        )
    return root


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_view(snap_compare, built: Path, view, size: tuple[int, int]) -> None:
    # A fixed path per picture (the header shows it; tests may run in parallel).
    root = SNAPSHOT_WS / f"view_{view.name}_{size[0]}x{size[1]}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(built, root)
    app = MlcycleApp(open_workspace(root)[0], project=demo.PROJECT)

    async def show(pilot) -> None:
        await _drawn(pilot)
        await pilot.press(view.key)
        await _drawn(pilot)

    assert snap_compare(app, terminal_size=size, run_before=show)
