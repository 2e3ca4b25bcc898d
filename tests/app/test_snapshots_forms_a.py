"""Pictures of the projects and data views' forms, at the smallest supported terminal and a
large one (update: pytest --snapshot-update)."""

from __future__ import annotations

import pytest

from mlcycle.app.ui import MlcycleApp
from tests.app.test_snapshots import _drawn, fixed_app  # noqa: F401  (a fixture)
from tests.app.test_tui_projects_data import _form, _type
from tests.conftest import SAMPLE

SIZES = [(80, 24), (160, 48)]


async def _new_project_second(pilot) -> None:
    await pilot.press("n")
    await _form(pilot)
    await _type(pilot, "name", "prices")
    await _type(pilot, "data", str(SAMPLE / "churn_reference.csv"))
    await pilot.press("ctrl+s")


async def _in_data(pilot, key: str) -> None:
    await pilot.press("2")
    await _drawn(pilot)
    await pilot.press(key)


OPEN = {
    "new_project": lambda pilot: pilot.press("n"),
    "new_project_second": _new_project_second,
    "edit_card": lambda pilot: pilot.press("e"),
    "add_data": lambda pilot: _in_data(pilot, "a"),
    "collect_source": lambda pilot: _in_data(pilot, "s"),
    "column": lambda pilot: _in_data(pilot, "c"),
    "apply_recipe": lambda pilot: _in_data(pilot, "p"),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("form", list(OPEN))
def test_form(snap_compare, fixed_app: MlcycleApp, form: str, size: tuple[int, int]) -> None:  # noqa: F811
    async def open_form(pilot) -> None:
        await _drawn(pilot)
        await OPEN[form](pilot)
        await _form(pilot)
        await pilot.pause(0.3)

    assert snap_compare(fixed_app, terminal_size=size, run_before=open_form)
