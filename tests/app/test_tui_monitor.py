"""The monitoring view, on a workspace whose champion has checked a calm and a drifted batch."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from mlcycle.app.ui import MlcycleApp
from mlcycle.app.widgets.bar_chart import BarChart
from mlcycle.app.widgets.line_plot import LinePlot
from mlcycle.models import registry
from mlcycle.monitor import monitoring
from tests.app.test_tui import settle, visible_text
from tests.deploy_fixtures import classification_workspace
from tests.training_data import labelled_batch
from tests.tui_keys import put_off_decision


async def test_monitor_view_shows_checks_alerts_and_drift_charts(tmp_path: Path,
                                                                 monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # where 'e' writes the report
    ws = classification_workspace(tmp_path, models=["logistic"])
    registry.promote(ws, "clf", "1", reason="first")
    for name, seed, shift in (("calm.csv", 31, 0.0), ("moved.csv", 32, 2.0)):
        batch, labels = labelled_batch(tmp_path, name, seed, shift)
        monitoring.check(ws, "clf", batch, labels=labels)

    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await put_off_decision(pilot)  # the drifted batch raised one: the monitor lists it
        await pilot.press("6")
        await settle(pilot)
        text = visible_text(app)
        assert "2 checks; the newest, of moved.csv by v1:" in text
        assert "ALERT" not in text and "data drift in 1 of" in text
        assert "retraining recommended" in text
        checks = app.screen.query_one("#checks", DataTable)
        assert checks.row_count == 2
        assert [str(checks.get_row_at(i)[2]) for i in range(2)] == ["moved.csv", "calm.csv"]
        columns = app.screen.query_one("#check-columns", BarChart)
        assert "moved.csv" in columns.title
        assert columns.rows[0][0] == "* x1"  # the drifted input leads the chart
        history = app.screen.query_one("#metric-history", LinePlot)
        assert [(s.label, s.xs) for s in history.series] == [("measured", [1, 2])]
        assert [name for name, _ in history.references] == ["champion", "alert"]

        await pilot.press("down")  # highlight the calm batch: its columns are charted
        await settle(pilot)
        assert "calm.csv" in columns.title
        assert not any(label.startswith("*") for label, *_ in columns.rows)

        await pilot.press("e")  # export the highlighted check
        await pilot.pause()
        calm_id = str(checks.coordinate_to_cell_key((1, 0)).row_key.value)
        report = (tmp_path / f"clf-check-{calm_id}.html").read_text()
        assert "Monitoring check of calm.csv" in report and "no alerts" in report
