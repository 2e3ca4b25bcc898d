"""What users and their data name things is shown as typed: never read as Textual/Rich markup.

A column called ``[/x]``, a description with ``[bold]`` or an error quoting ``[link=x]`` would
otherwise be styled, or stop the whole app with a MarkupError.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, TextArea

from mlcycle import projects
from mlcycle.app.screens.workspace_prompt import CreateWorkspaceApp
from mlcycle.app.ui import MlcycleApp
from mlcycle.data import datasets
from mlcycle.models import registry, training
from mlcycle.store import journal
from mlcycle.store.workspace import Workspace, exists
from tests.app.test_tui import settle, visible_text
from tests.training_data import classification_frame

COLUMNS = ["[/x]", "[bold]b", "[link=x]c", "plan"]
DESCRIPTION = "Churn [/x] with [bold]no bold[/bold] and [link=x]no link"


@pytest.fixture
def markup_ws(ws: Workspace, tmp_path: Path) -> Workspace:
    projects.create(ws, "p", target="label", task="classification",
                    description=DESCRIPTION, kpi="[red]retained revenue")
    frame = classification_frame(200).drop("id").rename(
        dict(zip(["x1", "x2", "flag", "plan"], COLUMNS, strict=True)))
    frame.write_csv(tmp_path / "p.csv")
    datasets.add(ws, "p", tmp_path / "p.csv")
    training.train(ws, training.TrainConfig("p", models=["logistic"], trials=1, cv=2))
    registry.promote(ws, "p", "1", reason="first [/x] of [bold]many")
    journal.fold(ws)  # so the app starts on a settled workspace
    return ws


async def test_names_descriptions_and_reasons_render_literally(markup_ws: Workspace) -> None:
    app = MlcycleApp(markup_ws, project="p")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        text = visible_text(app)
        assert DESCRIPTION in text and "[red]retained revenue" in text

        await pilot.press("2")
        await settle(pilot)
        text = visible_text(app)
        for name in COLUMNS:
            assert name in text
        assert "[/x]  " in text  # the first column's detail, its name in bold

        await pilot.press("4")
        await settle(pilot)
        assert "first [/x] of [bold]many" in visible_text(app)
    # Leaving the context re-raises anything that stopped the app, a MarkupError included.


async def test_an_error_quoting_markup_is_shown_and_the_editor_stays_open(
    markup_ws: Workspace,
) -> None:
    app = MlcycleApp(markup_ws, project="p")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        area = app.screen.query_one(TextArea)
        area.text = '[[step]]\nop = "drop"\ncolumns = ["[/nope]"]\n'
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "TextEditorScreen"
        status = str(app.screen.query_one("#editor-status").content)
        assert status.startswith("not saved:") and "'[/nope]'" in status
        await pilot.press("escape")  # the edits are thrown away once the user says so
        await settle(pilot)
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        await pilot.click("#confirm-yes")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "DataScreen"


async def test_a_missing_workspace_is_created_only_when_the_user_says_so(tmp_path: Path) -> None:
    root = tmp_path / "[bold]new ws"
    declined = CreateWorkspaceApp(root)
    async with declined.run_test() as pilot:
        shown = "".join(visible_text(declined).split())  # the long path wraps
        assert "".join(f"no mlcycle workspace at {root}".split()) in shown
        await pilot.press("n")
    assert declined.return_value is None and not root.exists()

    accepted = CreateWorkspaceApp(root)
    async with accepted.run_test() as pilot:
        await pilot.click(Button, offset=(2, 1))  # the first button: Create
        await pilot.pause()
    assert isinstance(accepted.return_value, Workspace) and exists(root)
    assert accepted.return_value.root == root


async def test_a_workspace_that_cannot_be_created_says_why_and_lets_the_user_quit(
    tmp_path: Path,
) -> None:
    taken = tmp_path / "a file"
    taken.write_text("not a folder")
    app = CreateWorkspaceApp(taken)
    async with app.run_test() as pilot:
        await pilot.press("y")
        await pilot.pause()
        assert "it is a file" in visible_text(app)
        await pilot.press("q")
    assert app.return_value is None and taken.read_text() == "not a folder"



def test_the_cli_prints_the_same_names_literally(markup_ws: Workspace) -> None:
    from tests.conftest import run_cli

    shown = run_cli("data", "show", "p", workspace=markup_ws.root, check=True).stdout
    for name in COLUMNS:
        assert name in shown
    card = run_cli("project", "show", "p", workspace=markup_ws.root, check=True).stdout
    assert DESCRIPTION in card and "[red]retained revenue" in card
