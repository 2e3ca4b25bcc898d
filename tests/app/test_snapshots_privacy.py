"""Pictures of the data view over a column holding personal data (its role says so, its
profile says why, its top values are masked) and of its privacy actions' form and
confirmation at 80x24, none showing a planted value."""

from __future__ import annotations

import random
import shutil

import pytest
from textual.widgets import DataTable

from mlcycle import projects
from mlcycle.app.screens.confirm import ConfirmScreen
from mlcycle.app.ui import MlcycleApp
from mlcycle.data import datasets
from mlcycle.store.workspace import Workspace, open_workspace
from tests.app.test_snapshots import FIXED, SNAPSHOT_WS
from tests.app.test_tui import settle
from tests.app.test_tui_projects_data import _form
from tests.privacy_data import FIRST, LAST
from tests.tui_keys import until


def _privacy_workspace(name: str) -> tuple[Workspace, set[str]]:
    """Project shop over 300 rows of surnames and emails, dated FIXED; the planted values."""
    root = SNAPSHOT_WS / name
    shutil.rmtree(root, ignore_errors=True)
    ws = open_workspace(root, create=True)[0]
    rng = random.Random(2)
    rows = [(rng.choice(LAST), f"{rng.choice(FIRST).lower()}{i}@example.com",
             rng.choice(["basic", "pro"]), rng.randint(20, 90), rng.choice(["true", "false"]))
            for i in range(300)]
    lines = ["surname,email,plan,monthly_charges,churned"] + [
        ",".join(str(v) for v in row) for row in rows]
    csv = root.parent / f"{name}.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    projects.create(ws, "shop", target="churned", task="classification")
    datasets.add(ws, "shop", csv)
    with ws.write() as con:
        con.execute("UPDATE projects SET created_at = ?", [FIXED])
        con.execute("UPDATE project_datasets SET added_at = ?, source = 'privacy.csv'", [FIXED])
    return ws, {row[0] for row in rows} | {row[1] for row in rows}


def test_data_view_masks_a_column_of_personal_data(snap_compare) -> None:
    ws, _ = _privacy_workspace("privacy")

    async def open_data(pilot) -> None:
        await pilot.press("2")
        await settle(pilot)
        await pilot.pause(0.5)

    assert snap_compare(MlcycleApp(ws, project="shop"), terminal_size=(160, 48),
                        run_before=open_data)


async def _on_email(pilot) -> None:
    await pilot.press("2")
    await settle(pilot)
    pilot.app.screen.query_one("#columns", DataTable).focus()
    await pilot.press("down")  # surname, then email
    await settle(pilot)


async def _redact_form(pilot) -> None:
    await _on_email(pilot)
    await pilot.press("x")
    await _form(pilot)


async def _opt_in_form(pilot) -> None:
    await _on_email(pilot)
    await pilot.press("o")
    await _form(pilot)


async def _purge_confirmation(pilot) -> None:
    await pilot.press("2")
    await settle(pilot)
    await pilot.press("P")
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))


OPEN = {"redact": _redact_form, "opt_in": _opt_in_form, "purge": _purge_confirmation}


@pytest.mark.parametrize("action", list(OPEN))
def test_privacy_action_at_80x24_shows_no_personal_value(snap_compare, action: str) -> None:
    ws, planted = _privacy_workspace(f"privacy-{action}")
    projects.update(ws, "shop", retention_days=30)  # the version, added FIXED, is past it
    drawn: list[str] = []

    async def open_action(pilot) -> None:
        await OPEN[action](pilot)
        await pilot.pause(0.3)
        drawn.append(pilot.app.export_screenshot())

    assert snap_compare(MlcycleApp(ws, project="shop"), terminal_size=(80, 24),
                        run_before=open_action)
    assert drawn and not [v for v in planted if v in drawn[0]]
