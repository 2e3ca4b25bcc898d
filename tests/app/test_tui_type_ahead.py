"""Keys typed in the same burst as the key that opens a form or the `:` line (a paste, `tmux
send-keys -l`) land in it: none is lost, none runs a binding of the view underneath."""

from __future__ import annotations

from textual.widgets import Input

from mlcycle.app.screens.command_line import CommandLineScreen
from mlcycle.app.screens.form import FormScreen
from mlcycle.app.ui import MlcycleApp
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle
from tests.tui_keys import burst


async def test_a_command_typed_with_the_colon_lands_in_the_line(churn_ws: Workspace,
                                                                 monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        # "2" would switch to the data view, "q" would quit, were they the view's.
        await burst(pilot, ":", "2", "q", " ", "d", "a", "t", "a")
        assert isinstance(app.screen, CommandLineScreen)
        assert app.screen.query_one("#command-input", Input).value == "2q data"
        assert app.current_mode == "projects" and app.is_running


async def test_a_name_typed_with_the_key_that_opens_the_form_lands_in_it(
        churn_ws: Workspace) -> None:
    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        # "e" would open the card editor and "3" the experiments view, were they the view's.
        await burst(pilot, "n", "e", "3", "x")
        assert isinstance(app.screen, FormScreen)
        assert app.focused is app.screen.query_one("#field-name", Input)
        assert app.focused.value == "e3x"
        assert app.current_mode == "projects" and len(app.screen_stack) == 2
        # Keys typed after the burst go on to the form as well.
        await pilot.press("y")
        assert app.focused.value == "e3xy"


async def test_a_reason_typed_with_the_key_that_asks_for_it_lands_in_it(tmp_path) -> None:
    from mlcycle.app.screens.confirm import ConfirmScreen
    from mlcycle.models import registry
    from tests.training_data import logistic_workspace

    ws = logistic_workspace(tmp_path)
    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        # In the models view "p" would promote and "a" set an alias, were they the view's.
        await burst(pilot, "A", "p", "a", "s", "t")
        assert isinstance(app.screen, ConfirmScreen) and len(app.screen_stack) == 2
        assert app.screen.query_one("#confirm-reason", Input).value == "past"
        assert registry.get(ws, "clf", "1").aliases == []


async def test_a_long_question_scrolls_and_its_answer_stays_on_an_80x24_screen(
        churn_ws: Workspace) -> None:
    from textual.widgets import Button

    from mlcycle.app.screens.confirm import ConfirmScreen

    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        question = "\n".join(f"  version {i:08x}: deletes datasets/{i:08x}.parquet"
                             for i in range(40))
        app.push_screen(ConfirmScreen(question))
        await settle(pilot)
        screen = app.screen
        for widget in (screen.query_one("#confirm-reason", Input),
                       screen.query_one("#confirm-yes", Button)):
            assert widget.region.height and widget.region.bottom <= 24, widget
        assert app.focused is screen.query_one("#confirm-reason", Input)
        await pilot.press(*"old", "enter")
        assert not isinstance(app.screen, ConfirmScreen)
