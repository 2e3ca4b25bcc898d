"""The experiments and models views, driven with keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Markdown

from mlcycle import projects
from mlcycle.app.ui import MlcycleApp
from mlcycle.data import datasets
from mlcycle.models import registry, tracking, training
from mlcycle.store import journal
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle, visible_text
from tests.training_data import classification_frame, write


@pytest.fixture
def trained_ws(ws: Workspace, tmp_path: Path) -> Workspace:
    projects.create(ws, "clf", target="label", task="classification")
    datasets.add(ws, "clf", write(classification_frame(), tmp_path, "clf.csv"))
    for model in ("logistic", "knn"):
        training.train(ws, training.TrainConfig("clf", models=[model], trials=2, cv=2))
    with tracking.start_run(ws, "clf", name="hand-logged") as run:
        for step in range(10):
            run.log_metric("loss", 1 / (step + 1), step=step)
    journal.fold(ws)  # so the app starts on a settled workspace
    return ws


async def test_experiments_view_sorts_filters_and_compares(trained_ws: Workspace) -> None:
    app = MlcycleApp(trained_ws, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one("#runs", DataTable)
        assert table.row_count == 7
        text = visible_text(app)
        assert "clf: rows 1–7 of 7 runs" in text
        assert "no training session to chart" in text  # the hand-logged run has none
        # The newest run is the hand-logged one: its loss curve is charted.
        assert "loss over 10 steps: 1 → 0.1" in text
        await pilot.press("s")  # sort by cross-validated metric, best first
        await settle(pilot)
        metric = [c.label.plain for c in table.ordered_columns].index("cv roc_auc")
        values = [str(table.get_row_at(i)[metric]) for i in range(table.row_count)]
        scored = [float(v) for v in values if v != "–"]
        assert scored == sorted(scored, reverse=True)
        await pilot.press("slash", *"knn", "enter")
        await settle(pilot)
        assert table.row_count == 2
        table.focus()
        await pilot.press("space", "down", "space", "c")
        await settle(pilot)
        text = visible_text(app)
        assert "side by side" in text and "n_neighbors" in text


async def test_models_view_promotes_with_a_reason_and_rolls_back(trained_ws: Workspace) -> None:
    app = MlcycleApp(trained_ws, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        table = app.screen.query_one("#versions-table", DataTable)
        assert table.row_count == 2
        assert "Model card: clf version 2" in app.screen.query_one(Markdown).source
        await pilot.press("p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        await pilot.press("enter")  # no reason yet: refused
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        await pilot.press(*"neighbours win", "enter")
        await settle(pilot)
        assert registry.get(trained_ws, "clf", "champion").version == 2
        assert "champion: version 2" in visible_text(app)
        table.focus()
        await pilot.press("down", "p", *"try logistic", "enter")
        await settle(pilot)
        assert registry.get(trained_ws, "clf", "champion").version == 1
        await pilot.press("b")
        await pilot.pause()
        await pilot.press("enter")  # the reason defaults to "rollback"
        await settle(pilot)
        assert registry.get(trained_ws, "clf", "champion").version == 2
        history = app.screen.query_one("#alias-history", DataTable)
        assert history.row_count == 3
        await pilot.press("escape")
