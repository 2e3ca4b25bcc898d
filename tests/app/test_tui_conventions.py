"""The keys every view shares, pressed as a user presses them: j/k/g/G, Enter to drill down,
escape back one level, / to filter, y to copy the id, ? for every key, a footer that keeps
Help and Quit."""

from __future__ import annotations

import pytest

from mlcycle import projects
from mlcycle.app.ui import MlcycleApp
from mlcycle.models import registry
from mlcycle.monitor import monitoring
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle, visible_text
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame


@pytest.fixture(scope="module")
def lived_in(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One workspace for the module: runs, two versions (one champion), one calm check."""
    root = tmp_path_factory.mktemp("conventions")
    ws = classification_workspace(root, models=["logistic", "knn"])
    registry.promote(ws, "clf", "1", reason="first")
    frame = classification_frame(300, seed=41)
    frame.drop("label").write_csv(root / "batch.csv")
    frame.select("id", "label").write_csv(root / "labels.csv")
    monitoring.check(ws, "clf", root / "batch.csv", labels=root / "labels.csv")
    projects.create(ws, "empty", target="label", task="classification")
    return ws


def _printed(renderable) -> str:
    import io

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(renderable)
    return out.getvalue()


def _table(app: MlcycleApp, selector: str):
    return app.screen.query_one(selector)


async def test_vim_keys_move_in_every_table(lived_in: Workspace) -> None:
    app = MlcycleApp(lived_in, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        runs = _table(app, "#runs")
        assert runs.row_count >= 3 and app.focused is runs
        await pilot.press("j", "j")
        assert runs.cursor_row == 2
        await pilot.press("k")
        assert runs.cursor_row == 1
        await pilot.press("G")
        assert runs.cursor_row == runs.row_count - 1
        await pilot.press("g")
        assert runs.cursor_row == 0
        await pilot.press("4")  # the same keys in another view's table
        await settle(pilot)
        versions = _table(app, "#versions-table")
        await pilot.press("j")
        assert versions.cursor_row == 1


async def test_enter_drills_down_and_escape_goes_back_one_level(lived_in: Workspace) -> None:
    app = MlcycleApp(lived_in, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        run_id = _table(app, "#runs").highlighted_key()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "RunScreen"
        assert run_id in visible_text(app) and "Metric history" in visible_text(app)
        await pilot.press("escape")
        assert app.screen.__class__.__name__ == "ExperimentsScreen"

        await pilot.press("6")
        await settle(pilot)
        await pilot.press("enter")  # on the check
        await settle(pilot)
        assert app.screen.__class__.__name__ == "CheckScreen"
        from mlcycle.app.widgets.paired_bars import PairedBars

        text = visible_text(app)
        assert "x1" in text and "p-value" in text
        histogram = app.screen.query_one(PairedBars)
        assert histogram.title == "reference vs current" and len(histogram.bins) >= 2
        assert "█ reference" in histogram.render().plain
        await pilot.press("escape")
        assert app.screen.__class__.__name__ == "MonitorScreen"

        await pilot.press("2")
        await settle(pilot)
        columns = _table(app, "#columns")
        columns.focus()
        await pilot.press("j", "enter")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "ColumnScreen"
        assert "distinct" in visible_text(app)
        await pilot.press("escape")
        assert app.screen.__class__.__name__ == "DataScreen"

        # At a view's top, escape has nothing to close: the view stays, never another.
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert app.current_mode == "data"


async def test_slash_filters_a_table_and_escape_clears_it(lived_in: Workspace) -> None:
    app = MlcycleApp(lived_in, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        versions = _table(app, "#versions-table")
        assert versions.row_count == 2
        await pilot.press("slash", "k", "n", "n")
        await pilot.pause()
        assert versions.row_count == 1
        assert "knn" in str(versions.get_row_at(0)[2])
        await pilot.press("enter")  # back to the table, still filtered
        assert app.focused is versions and versions.row_count == 1
        await pilot.press("escape")
        assert versions.row_count == 2
        assert app.current_mode == "models"  # escape cleared the filter; it did not leave

        await pilot.press("3")  # the runs' own filter box takes / there
        await settle(pilot)
        await pilot.press("slash", *"baseline")
        await pilot.pause()
        assert _table(app, "#runs").row_count == 1


async def test_y_copies_the_highlighted_id(lived_in: Workspace) -> None:
    app = MlcycleApp(lived_in, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("j")
        run_id = _table(app, "#runs").highlighted_key()
        await pilot.press("y")
        assert app.clipboard == run_id
        assert any(n.message == f"copied {run_id}" for n in app._notifications)


async def test_question_mark_lists_every_key_of_the_view(lived_in: Workspace) -> None:
    app = MlcycleApp(lived_in, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = visible_text(app)
        for shown in ("Train", "experiments.train", "Down", "table.cursor_down", "Copy id",
                      "Filter", "Quit", "app.quit", "ctrl+p"):
            assert shown in text, shown


@pytest.mark.parametrize("width", [80, 160])
async def test_the_footer_keeps_help_and_quit(lived_in: Workspace, width: int) -> None:
    from textual.widgets._footer import FooterKey

    app = MlcycleApp(lived_in, project="clf")
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.press("2")  # the view with the most keys
        await settle(pilot)
        pinned = app.screen.query_one("#pinned-keys")
        keys = {k.action: k for k in pinned.query(FooterKey)}
        assert {"help", "quit"} <= set(keys)  # and the view keys, when all do not fit
        for key in keys.values():
            assert key.region.right <= width and key.region.width > 0


async def test_the_view_keys_show_at_80_columns(lived_in: Workspace) -> None:
    from textual.widgets._footer import FooterKey

    from mlcycle.app.views import VIEWS

    app = MlcycleApp(lived_in, project="clf")
    async with app.run_test(size=(80, 24)) as pilot:
        for view in VIEWS:
            await pilot.press(view.key)
            await settle(pilot)
            footer = app.screen.query_one("AppFooter")
            shown = {k.key: k for k in footer.query(FooterKey) if k.region.width > 0
                     and k.region.right <= 80}
            assert {v.key for v in VIEWS} | {"question_mark", "q"} <= set(shown), view.name
            # The current view's key is the marked one.
            marked = [k.key for k in footer.query(FooterKey) if k.has_class("-current-view")]
            assert marked == [view.key]
        await pilot.press("3")  # a view key in the compact footer switches views
        await settle(pilot)
        assert app.current_mode == "experiments"
    # With room, each view is named.
    wide = MlcycleApp(lived_in, project="clf")
    async with wide.run_test(size=(200, 48)) as pilot:
        await settle(pilot)
        names = {k.description for k in wide.screen.query(FooterKey)}
        assert {v.title for v in VIEWS} <= names


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_no_footer_label_is_cut_mid_word(lived_in: Workspace, size) -> None:
    from rich.cells import cell_len
    from textual.widgets._footer import FooterKey

    from mlcycle.app.views import VIEWS

    app = MlcycleApp(lived_in, project="clf")
    async with app.run_test(size=size) as pilot:
        for view in VIEWS:
            await pilot.press(view.key)
            await settle(pilot)
            footer = app.screen.query_one("AppFooter")
            pinned = footer.query_one("#pinned-keys")
            free = [k for k in footer.query(FooterKey) if k not in pinned.query(FooterKey)]
            assert free, view.name  # the view's own keys show, the first ones first
            for key in footer.query(FooterKey):
                whole = cell_len(key.key_display) + (
                    1 + cell_len(key.description) if key.description else 0)
                assert key.region.width >= whole, (view.name, key.key, key.description)
                assert key.region.right <= size[0], (view.name, key.key)
            for key in free:  # none hides behind Help and Quit
                assert key.region.right <= pinned.region.x, (view.name, key.description)


async def test_views_show_no_stale_state(lived_in: Workspace) -> None:
    from textual.widgets import Static

    app = MlcycleApp(lived_in, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        run_id = _table(app, "#runs").highlighted_key()
        detail = app.screen.query_one("#run-detail", Static)
        assert run_id in _printed(detail.content)
        app.select_project("empty")  # a project without runs: no run of clf stays shown
        await settle(pilot)
        assert run_id not in _printed(detail.content)

        app.select_project("clf")
        await pilot.press("4")
        await settle(pilot)
        versions = _table(app, "#versions-table")
        champion = next(i for i in range(versions.row_count)
                        if "champion" in str(versions.get_row_at(i)[1]))
        versions.move_cursor(row=champion)
        await pilot.press("p")  # on the version that already is champion
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ModelsScreen"
        assert any("already is the champion" in n.message for n in app._notifications)

        await pilot.press("5")
        await settle(pilot)
        text = visible_text(app)
        assert "champion: version 1" in text and "serving" not in text
