"""Tables fit their width: at 80 columns the key columns stay whole, free text is cut with an
ellipsis, low-value columns give way, and a wider terminal shows them again."""

from __future__ import annotations

from rich.text import Text

from mlcycle.app.ui import MlcycleApp
from mlcycle.app.widgets.column_fit import FLOOR, plan
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle


def _labels(table) -> list[str]:
    return [c.label.plain for c in table.ordered_columns]


def _cells(table, row: int) -> list[str]:
    return [c.plain if isinstance(c, Text) else str(c) for c in table.get_row_at(row)]


def test_a_plan_cuts_free_text_before_it_hides_a_column() -> None:
    labels, needs = ["when", "what", "reason"], [11, 8, 30]
    assert plan(needs, labels, 80, pad=2) == ((0, None), (1, None), (2, None))
    # 55 cells wanted, 49 there: the reason is cut by 6, nothing hidden.
    assert plan(needs, labels, 49, pad=2, shrink=["reason"], drop=["what"]) == (
        (0, None), (1, None), (2, 24))


def test_a_plan_hides_in_the_order_given_once_cutting_is_not_enough() -> None:
    labels, needs = ["file", "version", "rows", "drifted"], [11, 7, 5, 7]
    # 30 + 8 padding = 38: two short; the first named gives way, the second stays.
    assert plan(needs, labels, 36, pad=2, drop=["version", "rows"]) == (
        (0, None), (2, None), (3, None))
    # Cut (to its floor at most) before a second column hides...
    assert FLOOR == 8
    assert plan(needs, labels, 26, pad=2, shrink=["file"], drop=["version", "rows"]) == (
        (0, 8), (2, None), (3, None))
    # ... and once the floor is not enough, the next one hides and the file is whole again.
    assert plan(needs, labels, 24, pad=2, shrink=["file"], drop=["version", "rows"]) == (
        (0, None), (3, None))


def test_a_plan_that_cannot_fit_keeps_the_key_columns() -> None:
    # Nothing left to hide: the table scrolls sideways, every key column whole.
    assert plan([20, 20], ["a", "b"], 10, pad=2, drop=["b"]) == ((0, None),)


async def test_the_data_view_keeps_its_key_columns_whole_at_80(churn_ws: Workspace) -> None:
    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        columns = app.screen.query_one("#columns")
        assert _labels(columns) == ["column", "kind", "missing"]
        names = [_cells(columns, i)[0] for i in range(columns.row_count)]
        assert "avg_session_minutes" in names  # the longest name, whole
        assert sum(c.get_render_width(columns) for c in columns.ordered_columns) <= \
            columns.scrollable_content_region.width
        await pilot.resize_terminal(160, 48)
        await settle(pilot)
        assert _labels(columns) == ["column", "kind", "role", "missing", "distinct", "summary"]
        assert "0 … 72" in [_cells(columns, i)[5] for i in range(columns.row_count)]
        # The filter still narrows the rows of a fitted table, cells whole.
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        columns.apply_filter("charges")
        assert [_cells(columns, i)[:2] for i in range(columns.row_count)] == [
            ["monthly_charges", "numeric"], ["total_charges", "numeric"]]


async def test_the_projects_view_shows_its_activity_at_80x24(churn_ws: Workspace) -> None:
    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        projects = app.screen.query_one("#projects")
        assert _labels(projects) == ["project", "metric", "stage"]  # the card says the task
        activity = app.screen.query_one("#activity")
        assert activity.row_count >= 2 and activity.region.height >= 4
        assert "data.added" in [_cells(activity, i)[1] for i in range(activity.row_count)]
