"""config.toml and the remembered state, as a user meets them: a remapped key works, a bad
one is one message and no crash, the theme picked persists, the last view and project come
back, exports and screenshots land in the export folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcycle.app import settings
from mlcycle.app.ui import MlcycleApp
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle
from tests.conftest import run_json
from tests.deploy_fixtures import classification_workspace


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return classification_workspace(tmp_path_factory.mktemp("settings"), models=["logistic"])


def _config(text: str) -> Path:
    path = settings.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _messages(app: MlcycleApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_a_remapped_key_works(trained: Workspace) -> None:
    _config('[keys]\n"experiments.train" = "T"\n')
    app = MlcycleApp(trained, project="clf")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("t")  # the old key does nothing now
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ExperimentsScreen"
        await pilot.press("T")
        await pilot.pause(0.2)
        assert app.screen.__class__.__name__ == "FormScreen"


async def test_a_bad_binding_is_one_message_and_the_default_stays(trained: Workspace) -> None:
    _config('theme = "no-such-theme"\n[keys]\n"models.promote" = "ctrl+@@"\n'
            '"app.quit" = "j"\n"nothing.here" = "z"\n')
    app = MlcycleApp(trained, project="clf")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        said = _messages(app)
        assert any("keys.models.promote = 'ctrl+@@': 'ctrl+@@' is not a key" in m for m in said)
        assert any("keys.app.quit = 'j': that key is already table.cursor_down" in m
                   for m in said)
        assert any("keys.nothing.here: no such action" in m for m in said)
        assert any("theme 'no-such-theme' is not a theme" in m for m in said)
        assert all("\n" not in m for m in said)
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("p")  # the default key still promotes (it asks first)
        await pilot.pause(0.2)
        assert app.screen.__class__.__name__ in ("ConfirmScreen", "ModelsScreen")
        assert app.is_running


async def test_theme_view_and_project_come_back(trained: Workspace) -> None:
    app = MlcycleApp(trained)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.theme = "nord"  # as the palette's Theme command sets it
        await pilot.press("4")
        await settle(pilot)
    again = MlcycleApp(trained)
    async with again.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert again.theme == "nord"
        assert again.current_mode == "models" and again.project == "clf"
    # A theme written in config.toml after the pick is the newer choice.
    _config('theme = "gruvbox"\n')
    third = MlcycleApp(trained)
    async with third.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert third.theme == "gruvbox"


async def test_exports_and_screenshots_land_in_the_export_folder(trained: Workspace,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "exports here"
    _config(f'export_folder = "{folder}"\n')
    app = MlcycleApp(trained, project="clf")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.pause(0.3)  # the card loads
        await pilot.press("e")
        await pilot.pause(0.2)
        assert (folder / "clf-v1-model-card.md").is_file()
        app.action_screenshot()
        await pilot.pause()
        shots = list(folder.glob("mlcycle_*.svg"))
        assert len(shots) == 1 and any(str(shots[0]) in m for m in _messages(app))
    # A folder inside the workspace is refused, and the notice says why.
    _config(f'export_folder = "{trained.root / "inside"}"\n')
    inside = MlcycleApp(trained, project="clf")
    async with inside.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        inside.action_screenshot()
        await pilot.pause()
        assert any(m.startswith("screenshot not saved:") and "inside the workspace" in m
                   for m in _messages(inside))


def test_config_show_lists_every_default_and_the_problems(tmp_path: Path) -> None:
    _config('refresh_interval = "soon"\nproject = "clf"\n[keys.experiments]\ntrain = "T"\n')
    found = run_json("config", "show")
    assert found["project"] == "clf" and found["refresh_interval"] == 2.0
    assert found["theme"] == settings.DEFAULT_THEME and found["export_folder"]
    keys = {k["action"]: k for k in found["keys"]}
    assert keys["experiments.train"]["keys"] == "T" and keys["app.quit"]["keys"] == "q"
    assert any("refresh_interval must be a number" in p for p in found["problems"])


def test_settings_read_never_fails(tmp_path: Path) -> None:
    broken = tmp_path / "config.toml"
    broken.write_text("theme = [unclosed\n", encoding="utf-8")
    read = settings.load(broken)
    assert read.theme == settings.DEFAULT_THEME and "cannot read it" in read.problems[0]
    assert settings.load(tmp_path / "missing.toml").problems == []


def test_the_default_workspace_is_used_without_flag_or_variable(tmp_path: Path) -> None:
    _config(f'workspace = "{tmp_path / "from config"}"\n')
    found = run_json("init")
    assert found["workspace"] == str(tmp_path / "from config") and found["created"]
    # The flag still comes first.
    assert run_json("init", workspace=tmp_path / "flag")["workspace"] == str(tmp_path / "flag")
