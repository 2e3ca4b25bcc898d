"""The deployment view, on a workspace that has exported, scored and compared."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from textual.widgets import DataTable

from mlcycle import deploy
from mlcycle.app.ui import MlcycleApp
from mlcycle.deploy import scoring
from mlcycle.models import registry
from tests.deploy_fixtures import classification_workspace
from tests.test_tui import settle, visible_text
from tests.training_data import classification_frame


async def test_deploy_view_shows_parity_serving_shadow_and_scoring(tmp_path: Path) -> None:
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
    scoring.compare(ws, "clf", labels)

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
