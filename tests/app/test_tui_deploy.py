"""The deployment view, on a workspace that has exported, scored and compared; then its
strategies: a canary stepped and blue/green slots switched from the keyboard."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from textual.widgets import DataTable

from mlcycle import deploy
from mlcycle.app.ui import MlcycleApp
from mlcycle.deploy import comparison, scoring, strategies
from mlcycle.deploy import config as configs
from mlcycle.models import registry
from mlcycle.store import events
from tests.app.test_tui import settle, visible_text
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame


async def test_deploy_view_shows_parity_serving_shadow_scoring_and_strategies(
        tmp_path: Path) -> None:
    ws = classification_workspace(tmp_path, models=["logistic", "knn"])
    registry.promote(ws, "clf", "1", reason="first")
    registry.promote(ws, "clf", "2", alias="challenger", reason="shadow it")
    deploy.build(ws, "clf")
    fresh = classification_frame(200, seed=8)
    batch = tmp_path / "batch.csv"
    fresh.drop("label").write_csv(batch)
    scoring.predict_file(ws, "clf", batch, out=tmp_path / "scores.csv")
    labels = tmp_path / "labels.csv"
    fresh.select("id", pl.col("label").cast(pl.Utf8).str.replace("yes", "true")
                 .str.replace("no", "false")).write_csv(labels)
    comparison.compare(ws, "clf", labels)

    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        text = visible_text(app)
        assert "champion: version 1, challenger version 2 (scored in its shadow)" in text
        # No server runs: nothing claims to serve.
        assert "serving" not in text and "server: not running" in text
        exports = app.screen.query_one("#exports", DataTable)
        # Both champion and challenger were converted to score in shadow; both agree exactly.
        assert exports.row_count == 2
        assert {str(exports.get_row_at(i)[3]) for i in range(2)} == {"0"}
        assert app.screen.query_one("#scoring-runs", DataTable).row_count == 1
        assert "shadow comparison on 200 labelled rows" in text
        assert "predicted classes" in text
        assert "strategy: shadow: champion v1 answers, challenger v2 recorded" in text
        assert "No A/B test yet" in text

        # A canary, stepped with c (confirmed with its reason), then blue/green with w.
        configs.store(ws, "clf", configs.parse('strategy = "canary"\n'), "test")
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("enter")  # the reason offered: "canary step"
        await settle(pilot)
        assert "strategy: canary v2 at 5% (step 1 of 5) beside champion v1 — c steps it" in \
            visible_text(app)
        event = next(e for e in events.recent(ws, "clf") if e["kind"] == "deploy.canary_step")
        assert event["detail"]["reason"] == "canary step"
        configs.store(ws, "clf", configs.parse('strategy = "blue_green"\n'), "test")
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        await pilot.press("escape")  # cancelled: nothing changes
        await settle(pilot)
        assert strategies.state(ws, "clf").active == "blue"
        await pilot.press("w")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert "green slot live (v2), blue idle (v1) — w switches" in visible_text(app)
