"""Focus is never lost and escape goes back one level: in every view, each dialog, form and
editor closed with escape gives the focus back to the table it was opened from, the next `j`
moves that table's cursor (even typed while the view reloads), and the same view stays.
Escape with nothing open leaves the user where they are; side panes follow the cursor."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from textual.widgets import DataTable, Static, TextArea

from mlcycle import projects
from mlcycle.app.screens.confirm import ConfirmScreen
from mlcycle.app.screens.text_editor import TextEditorScreen
from mlcycle.app.ui import MlcycleApp
from mlcycle.deploy import scoring
from mlcycle.models import registry
from mlcycle.monitor import monitoring
from mlcycle.prep import recipes
from mlcycle.store.workspace import Workspace, open_workspace
from tests.app.test_tui import settle, visible_text
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame
from tests.tui_keys import recorded, until

SIZES = [(160, 48), (80, 24)]

# Each view's keys that open a dialog, a form or an editor on this workspace (the app's
# own ?, : and J too), in the order pressed. Projects last: its cursor picks the project.
OPENERS = {
    "data": "2", "experiments": "3", "models": "4", "deploy": "5", "monitor": "6",
    "projects": "1",
}
KEYS = {
    "data": ["a", "s", "c", "p", "r", "f", "x", "enter", "question_mark", "colon", "J"],
    "experiments": ["t", "r", "enter", "question_mark"],
    "models": ["p", "b", "a", "x", "A", "enter", "question_mark"],
    "deploy": ["x", "v", "p", "s", "m", "e", "a", "question_mark"],
    "monitor": ["c", "w", "P", "enter", "question_mark"],
    "projects": ["n", "e", "question_mark", "colon"],
}


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every view with at least two rows in the table it focuses: two projects, two runs
    and versions, two scoring runs, two monitoring checks."""
    root = tmp_path_factory.mktemp("focus")
    ws = classification_workspace(root, models=["logistic", "knn"])
    registry.promote(ws, "clf", "1", reason="first")
    registry.promote(ws, "clf", "2", alias="challenger", reason="shadow it")
    projects.create(ws, "prices", target="price", task="regression")
    for seed in (41, 42):
        frame = classification_frame(200, seed=seed)
        batch, labels = root / f"batch {seed}.csv", root / f"labels {seed}.csv"
        frame.drop("label").write_csv(batch)
        frame.select("id", pl.col("label")).write_csv(labels)
        scoring.predict_file(ws, "clf", batch, out=root / f"scores {seed}.csv")
        monitoring.check(ws, "clf", batch, labels=labels)
    return ws.root


@pytest.fixture
def ws(lifecycle: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(lifecycle, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")[0]


def _text(widget: Static) -> str:
    """What a Static shows (a table, a grid), as plain text."""
    import io

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(widget.content)
    return out.getvalue()


async def _top_with_rows(pilot, view: str) -> DataTable:
    """The view's focused table, on its first row, with a second row to move to."""
    app = pilot.app
    await pilot.press(OPENERS[view])
    await settle(pilot)
    table = app.focused
    assert isinstance(table, DataTable), f"{view}: focus on {table!r}, not a table"
    assert table.row_count >= 2, f"{view}: {table.id} has {table.row_count} rows"
    await pilot.press("g")
    await settle(pilot)
    return table


# Every dialog at 80x24, where layouts are tightest; the first of each view at 160x48 (each
# dialog costs seconds on a small machine, and the focus logic is the same at both sizes).
SWEEPS = [((80, 24), KEYS), ((160, 48), {view: keys[:1] for view, keys in KEYS.items()})]


@pytest.mark.parametrize(("size", "sweep"), SWEEPS, ids=lambda s: f"{s[0]}x{s[1]}"
                         if isinstance(s, tuple) else "")
async def test_every_dialog_gives_the_focus_back_and_j_moves_the_cursor(
        ws: Workspace, size: tuple[int, int], sweep: dict[str, list[str]]) -> None:
    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for view, keys in sweep.items():
            for key in keys:
                table = await _top_with_rows(pilot, view)
                depth = len(app.screen_stack)
                await pilot.press(key)
                try:
                    await until(pilot, lambda d=depth: len(app.screen_stack) > d, seconds=10)
                except AssertionError:
                    raise AssertionError(f"{view}: {key} opened nothing") from None
                await settle(pilot)
                await pilot.press("escape")
                await until(pilot, lambda d=depth: len(app.screen_stack) == d, seconds=10)
                # Typed at once, while the view reloads: the reload must not undo it.
                await pilot.press("j")
                await settle(pilot)
                where = f"{view}, after {key} and escape"
                assert app.current_mode == view, where
                assert app.focused is table, f"{where}: focus on {app.focused!r}"
                assert table.cursor_row == 1, f"{where}: cursor on row {table.cursor_row}"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_escape_with_nothing_open_stays_in_the_view(ws: Workspace,
                                                          size: tuple[int, int]) -> None:
    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        shown = recorded(app)
        for view in OPENERS:
            await pilot.press(OPENERS[view])
            await settle(pilot)
            await pilot.press("escape", "escape")
            await settle(pilot)
            assert app.current_mode == view
        assert "nothing open to close here (1-6 switch views, q quits)" in shown


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_escape_closes_the_comparison_first_and_the_pane_follows_the_cursor(
        ws: Workspace, size: tuple[int, int]) -> None:
    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = await _top_with_rows(pilot, "experiments")
        detail = app.screen.query_one("#run-detail", Static)

        def highlighted() -> str:
            return str(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)

        await pilot.press("space", "j", "space", "c")
        await settle(pilot)
        assert "side by side" in visible_text(app)
        await pilot.press("escape")  # the comparison closes; the view stays
        await settle(pilot)
        assert app.current_mode == "experiments"
        assert "side by side" not in visible_text(app)
        assert highlighted() in _text(detail)
        # After a reload, and after each move, the pane shows the run under the cursor.
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert table.cursor_row == 1 and highlighted() in _text(detail)
        await pilot.press("k")
        await settle(pilot)
        assert highlighted() in _text(detail)


async def test_models_card_follows_the_cursor_through_a_reload(ws: Workspace) -> None:
    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        table = await _top_with_rows(pilot, "models")
        await pilot.press("j", "ctrl+r")
        await settle(pilot)
        version = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        assert table.cursor_row == 1
        card = app.screen.query_one("#model-card")
        await until(pilot, lambda: f"clf version {version}" in card.source)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_editor_asks_before_throwing_edits_away(ws: Workspace,
                                                          size: tuple[int, int]) -> None:
    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=size) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, TextEditorScreen))
        await pilot.press("ctrl+end", "enter", *"# mine")
        edited = app.screen.query_one(TextArea).text
        await pilot.press("escape")  # edits: a question, not a loss
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Throw away your edits to the recipe of clf?" in visible_text(app)
        await pilot.press("escape")  # no: back in the editor, the edits kept
        await until(pilot, lambda: isinstance(app.screen, TextEditorScreen))
        assert app.screen.query_one(TextArea).text == edited
        assert isinstance(app.focused, TextArea)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#confirm-yes")
        await until(pilot, lambda: app.current_mode == "data" and len(app.screen_stack) == 1)
        assert recipes.latest(ws, "clf") is None  # nothing stored


def _marked(widget) -> bool:
    """Whether the focus on ``widget`` shows without colour: a heavy bar of its own, or a
    table's row cursor inside a pane drawn heavy."""
    if widget.styles.border_left[0] == "heavy":
        return True
    pane = next((a for a in widget.ancestors_with_self if a.has_class("pane")), None)
    return (isinstance(widget, DataTable) and widget.show_cursor and pane is not None
            and pane.styles.border_left[0] == "heavy")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_tab_stop_shows_it_has_the_focus(ws: Workspace,
                                                     size: tuple[int, int]) -> None:
    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=size) as pilot:
        for view in OPENERS:
            await pilot.press(OPENERS[view])
            await settle(pilot)
            stops = []
            while app.focused not in stops:
                stops.append(app.focused)
                assert _marked(app.focused), f"{view}: {app.focused!r} shows no focus"
                await pilot.press("tab")
                await pilot.pause()
