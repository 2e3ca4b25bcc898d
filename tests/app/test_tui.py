"""The terminal UI, driven with keys as a user drives it."""

from __future__ import annotations

import time
from pathlib import Path

from textual.widgets import DataTable, Input

from mlcycle import projects
from mlcycle.app.ui import MlcycleApp
from mlcycle.data import datasets
from mlcycle.store.workspace import Workspace


def visible_text(app: MlcycleApp) -> str:
    """What the current screen's tables and text widgets show, as plain text."""
    import io

    from rich.console import Console
    from textual.widgets import Label, Static

    from mlcycle.app.widgets.bar_chart import BarChart

    parts = []
    for widget in app.screen.query("*"):
        if not widget.display:
            continue
        if isinstance(widget, DataTable):
            for row in range(widget.row_count):
                parts.append(" ".join(str(c) for c in widget.get_row_at(row)))
        elif isinstance(widget, (Static, Label, BarChart)):
            shown = widget.render() if isinstance(widget, BarChart) else widget.content
            out = io.StringIO()
            Console(file=out, width=max(widget.size.width, 40), color_system=None).print(shown)
            parts.append(out.getvalue())
    return "\n".join(parts)


async def settle(pilot) -> None:
    """Wait until the loads have started, finished and been drawn."""
    from textual.worker import WorkerState

    busy = (WorkerState.PENDING, WorkerState.RUNNING)
    started = time.monotonic()
    seen = False
    while time.monotonic() - started < 10:
        await pilot.pause()  # the key's handlers have run: a load they start exists now
        if any(w.state in busy for w in pilot.app.workers):
            seen = True
            await pilot.pause(0.02)
            continue
        # Finished workers leave the app's list, so an empty list after a busy one means
        # done; a key that started no load gets a short grace for a load queued behind it.
        if seen or time.monotonic() - started > 0.25:
            break
        await pilot.pause(0.02)
    # Tables size their columns on the refresh after rows arrive: let that happen too.
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def test_empty_workspace_shows_how_to_start(ws: Workspace) -> None:
    app = MlcycleApp(ws)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        text = visible_text(app)
        assert "No projects yet" in text and "Press n to create a project" in text
        assert "mlcycle project" not in text  # the way to start is a key, not a shell


async def test_projects_view_shows_the_card_and_stages(churn_ws: Workspace) -> None:
    projects.create(
        churn_ws,
        "prices",
        target="price",
        task="regression",
        goal=5.0,
        description="Forecast prices",
    )
    app = MlcycleApp(churn_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        text = visible_text(app)
        assert "churn" in text and "prices" in text
        assert "Predict which subscribers cancel" in text
        assert "✓ problem" in text and "✓ data" in text and "· train" in text
        assert "data.added" in text  # recent activity
        # Moving down selects the next project and shows its card.
        await pilot.press("down")
        await settle(pilot)
        text = visible_text(app)
        assert app.project == "prices" and "Forecast prices" in text and "rmse" in text


async def test_enter_opens_the_data_view_with_dictionary_quality_and_charts(
    churn_ws: Workspace,
) -> None:
    app = MlcycleApp(churn_ws)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        text = visible_text(app)
        assert "12,000 rows × 14 columns" in text
        assert "customer_id text identifier" in text
        assert "class balance" in text
        columns = app.screen.query_one("#columns", DataTable)
        columns.focus()
        names = [str(columns.get_row_at(i)[0]) for i in range(columns.row_count)]
        await pilot.press(*["down"] * names.index("monthly_charges"))
        await settle(pilot)
        text = visible_text(app)
        assert "monthly_charges" in text and "distribution" in text and "█" in text
        await pilot.press(*["down"] * (names.index("contract") - names.index("monthly_charges")))


async def test_slash_filters_columns_and_escape_clears(churn_ws: Workspace) -> None:
    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("slash", *"charges")
        await settle(pilot)
        columns = app.screen.query_one("#columns", DataTable)
        assert [str(columns.get_row_at(i)[0]) for i in range(columns.row_count)] == [
            "monthly_charges",
            "total_charges",
        ]
        await pilot.press("enter", "escape")
        await pilot.press("slash")
        box = app.screen.query_one("#column-filter", Input)
        assert box.has_focus
        await pilot.press("escape")
        assert columns.row_count == 14 and not box.display


async def test_new_versions_from_another_process_appear_without_a_keypress(
    churn_ws: Workspace, tmp_path: Path
) -> None:
    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        versions = app.screen.query_one("#versions", DataTable)
        assert versions.row_count == 1
        extra = tmp_path / "more.csv"
        extra.write_text("customer_id,tenure_months,churned\nX1,3,true\nX2,5,false\n")
        datasets.add(churn_ws, "churn", extra)  # as a CLI or watcher would
        await pilot.pause(2.5)
        await settle(pilot)
        assert versions.row_count == 2


async def test_help_lists_the_keys_and_closes_with_escape(churn_ws: Workspace) -> None:
    app = MlcycleApp(churn_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "HelpScreen"
        source = visible_text(app)
        assert "command palette" in source and "Open data" in source
        await pilot.press("escape")
        assert app.screen.__class__.__name__ == "ProjectsScreen"


async def test_palette_switches_view(churn_ws: Workspace) -> None:
    app = MlcycleApp(churn_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"view: data")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "data"
