"""A picture of every view at the smallest terminal and a large one (update: pytest
--snapshot-update), on a workspace that has been through the lifecycle once, so each view
shows real rows: what is cut or lost at 80x24 shows here."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mlcycle import demo
from mlcycle.app.ui import MlcycleApp
from mlcycle.app.views import VIEWS
from mlcycle.store.workspace import open_workspace
from tests import trained_demo
from tests.app.test_snapshots import FIXED, SNAPSHOT_WS, _drawn

SIZES = [(80, 24), (160, 48)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained demo workspace with fixed clocks and ids, built once; each test draws a
    copy of it."""
    ws = trained_demo.build(tmp_path_factory.mktemp("views"))
    trained_demo.steady(ws)
    return ws.root


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_view(snap_compare, built: Path, view, size: tuple[int, int],
              monkeypatch: pytest.MonkeyPatch) -> None:
    from mlcycle.monitor import status

    # The Monitor view tells the champion's age: seen a day after the fixed clocks.
    a_day_later = datetime.fromisoformat(FIXED) + timedelta(days=1)
    monkeypatch.setattr(status, "utcnow", lambda: a_day_later)
    # A fixed path per picture (the header shows it; tests may run in parallel).
    root = SNAPSHOT_WS / f"view_{view.name}_{size[0]}x{size[1]}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(built, root)
    app = MlcycleApp(open_workspace(root)[0], project=demo.PROJECT)

    async def show(pilot) -> None:
        # March's drift costs the champion nothing: no decision comes up to put off.
        await _drawn(pilot)
        await pilot.press(view.key)
        await _drawn(pilot)

    assert snap_compare(app, terminal_size=size, run_before=show)
