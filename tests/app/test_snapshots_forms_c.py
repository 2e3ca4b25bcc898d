"""Pictures of the deploy and monitor views' forms, small and large terminal (update:
pytest --snapshot-update)."""

from __future__ import annotations

import shutil

import pytest

from mlcycle import demo
from mlcycle.app.ui import MlcycleApp
from mlcycle.store.workspace import open_workspace
from tests.app.test_snapshots import FIXED, SNAPSHOT_WS
from tests.app.test_tui import settle

# view key, the key that opens the form
FORMS = {
    "export": ("5", "x"),
    "verify": ("5", "v"),
    "score": ("5", "p"),
    "serve": ("5", "s"),
    "compare": ("5", "m"),
    "abtest": ("5", "a"),
    "check": ("6", "c"),
    "watch": ("6", "w"),
    "retrain": ("6", "R"),
}
SIZES = {"small": (80, 24), "large": (160, 48)}


@pytest.fixture
def churn_app(request: pytest.FixtureRequest) -> MlcycleApp:
    # A fixed path per test and fixed clocks, as in tests/app/test_snapshots.py.
    root = SNAPSHOT_WS / request.node.name.replace("[", "-").replace("]", "")
    shutil.rmtree(root, ignore_errors=True)
    ws = open_workspace(root, create=True)[0]
    demo.build(ws)
    with ws.write() as con:
        con.execute("UPDATE projects SET created_at = ?", [FIXED])
        con.execute("UPDATE events SET ts = ?", [FIXED])
    return MlcycleApp(ws, project="churn")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("form", FORMS)
def test_form(snap_compare, churn_app: MlcycleApp, form: str, size: str) -> None:
    view, key = FORMS[form]

    async def open_form(pilot) -> None:
        await settle(pilot)
        await pilot.press(view)
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        await pilot.pause(0.5)

    assert snap_compare(churn_app, terminal_size=SIZES[size], run_before=open_form)
