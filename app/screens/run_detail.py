"""A run in full (Enter on a run in the Experiments view): its parameters and metrics, and
every metric it logged over steps, drawn."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Header, Label, Sparkline, Static

from mlcycle.app.screens.base import DetailScreen
from mlcycle.app.widgets.footer import AppFooter
from mlcycle.app.words import plural
from mlcycle.models.tracking import RunRecord


def run_grid(run: RunRecord) -> Table:
    """The run's identity, status, parameters and metrics, as a two-column grid."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_row("run", Text(f"{run.id}  {run.name or ''}", style="bold"))
    grid.add_row(
        "status",
        f"{run.kind}, {run.status}"
        + (f", {run.duration:.1f}s" if run.duration is not None else ""),
    )
    if run.group:
        grid.add_row("session", run.group)
    # Names and values a run logged go in as Text: a rich Table reads a str as markup.
    for key, value in sorted(run.params.items()):
        grid.add_row(Text(f"param {key}"), Text(str(value)))
    for key, value in sorted(run.metrics.items()):
        if not key.endswith(".std"):
            grid.add_row(Text(key), f"{value:.4g}")
    return grid


def history_line(key: str, values: list[float]) -> Text:
    return Text(f"{key} over {plural(len(values), 'step')}: {values[0]:.4g} → {values[-1]:.4g} "
                f"(min {min(values):.4g}, max {max(values):.4g})")


class RunScreen(DetailScreen):
    AUTO_FOCUS = "#run-full"

    def __init__(self, project: str, run: RunRecord) -> None:
        super().__init__()
        self.project = project
        self.run = run

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="run-full", classes="pane"):
            yield Label(Text(f"{self.project} run {self.run.id} (escape: back to the runs)"),
                        classes="pane-title")
            yield Static(run_grid(self.run), id="run-grid")
            yield Label("Metric history", classes="pane-title spaced")
            yield Static("reading…", id="run-histories-note")
        yield AppFooter()

    def on_mount(self) -> None:
        self.run_worker(self._read, thread=True, exit_on_error=False)

    def _read(self) -> None:
        from mlcycle.models import tracking

        found = tracking.step_histories(self.app.workspace, self.run.id)
        self.app.call_from_thread(self._show, found)

    def _show(self, histories: dict[str, list[float]]) -> None:
        stepped = {k: v for k, v in sorted(histories.items()) if len(v) > 1}
        note = self.query_one("#run-histories-note", Static)
        if not stepped:
            note.update(Text("no metric logged over steps", style="dim"))
            return
        note.update(Text(f"{plural(len(stepped), 'metric')} logged over steps", style="dim"))
        scroll = self.query_one("#run-full", VerticalScroll)
        for key, values in stepped.items():
            scroll.mount(Label(history_line(key, values)))
            scroll.mount(Sparkline(values, classes="run-history"))
