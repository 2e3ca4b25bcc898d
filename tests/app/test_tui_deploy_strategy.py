"""No dead end in the deployment view: the strategy is edited in the UI (checked as
'mlcycle deploy set' checks it), the canary steps forward and back, the blue/green slots
switch and switch back, each with its reason; a key the strategy does not allow says which
key changes it, before asking anything."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import TextArea

from mlcycle.app.screens.confirm import ConfirmScreen
from mlcycle.app.screens.text_editor import TextEditorScreen
from mlcycle.app.ui import MlcycleApp
from mlcycle.deploy import config as configs
from mlcycle.deploy import strategies
from mlcycle.models import registry
from mlcycle.store import events
from mlcycle.store.workspace import Workspace, open_workspace
from tests.app.test_tui import settle, visible_text
from tests.deploy_fixtures import classification_workspace
from tests.tui_keys import recorded, until


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = classification_workspace(tmp_path_factory.mktemp("strategy"),
                                  models=["logistic", "knn"])
    registry.promote(ws, "clf", "1", reason="first")
    registry.promote(ws, "clf", "2", alias="challenger", reason="try it")
    return ws.root


@pytest.fixture
def ws(two_versions: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(two_versions, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")[0]


async def _set_strategy(pilot, line: str) -> None:
    """In the open editor, replace the `strategy = …` line with ``line`` and save."""
    area = pilot.app.screen.query_one(TextArea)
    row = next(i for i, text in enumerate(area.text.splitlines())
               if text.startswith("strategy ="))
    area.select_line(row)  # the whole line: at 80 columns it wraps, and `end` stops short
    await pilot.press(*line, "ctrl+s")
    await settle(pilot)


async def _confirm_with_default_reason(pilot) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), seconds=10)
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(pilot.app.screen, ConfirmScreen), seconds=10)
    await settle(pilot)


def _reason(ws: Workspace, kind: str) -> str:
    return next(e for e in events.recent(ws, "clf") if e["kind"] == kind)["detail"]["reason"]


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_strategy_edited_canary_stepped_and_back_slots_switched_and_back(
        ws: Workspace, size: tuple[int, int]) -> None:
    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=size) as pilot:
        shown = recorded(app)
        await pilot.press("5")
        await settle(pilot)
        verbs = {name.split(":")[0] for name, _run, _about in app.screen.palette_commands()}
        assert {"strategy", "canary step", "canary back", "switch slots",
                "switch back"} <= verbs

        # Shadow: `c` says how to get a canary, here, and asks nothing.
        await pilot.press("c")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert ('clf deploys with shadow, not canary: press e to set strategy = "canary" '
                "in its deployment config") in shown

        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, TextEditorScreen), seconds=10)
        await _set_strategy(pilot, 'strategy = "canaryy"')  # refused as 'deploy set' does
        assert isinstance(app.screen, TextEditorScreen)
        assert "not saved" in visible_text(app) and "canaryy" in visible_text(app)
        assert configs.current(ws, "clf").version is None
        await _set_strategy(pilot, 'strategy = "canary"')
        await until(pilot, lambda: app.current_mode == "deploy" and len(app.screen_stack) == 1)
        await settle(pilot)
        assert "stored deployment config v1 of clf (strategy canary)" in shown
        assert configs.current(ws, "clf").strategy == "canary"

        await pilot.press("c")
        await _confirm_with_default_reason(pilot)
        assert strategies.state(ws, "clf").share == 0.05
        assert "canary v2 at 5%" in visible_text(app)
        await pilot.press("C")
        await _confirm_with_default_reason(pilot)
        assert strategies.state(ws, "clf").share == 0.0
        assert _reason(ws, "deploy.canary_back") == "canary back"

        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, TextEditorScreen), seconds=10)
        await _set_strategy(pilot, 'strategy = "blue_green"')
        await until(pilot, lambda: len(app.screen_stack) == 1)
        await settle(pilot)
        await pilot.press("w")
        await _confirm_with_default_reason(pilot)
        assert strategies.state(ws, "clf").active == "green"
        await pilot.press("W")
        await _confirm_with_default_reason(pilot)
        assert strategies.state(ws, "clf").active == "blue"
        assert _reason(ws, "deploy.switched") == "blue/green switch back"
        assert app.current_mode == "deploy"
