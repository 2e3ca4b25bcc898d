"""The experiments view: a project's tracked runs, two side by side, and metric charts;
training (t), and reproducing (R) or registering (r) the selected run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Header, Input, Label, Sparkline, Static

from mlcycle.app.screens import run_actions, run_detail, train
from mlcycle.app.screens.base import ViewScreen
from mlcycle.app.screens.form import FormScreen
from mlcycle.app.widgets.bar_chart import BarChart
from mlcycle.app.widgets.footer import AppFooter
from mlcycle.app.widgets.table import VimTable
from mlcycle.models.tracking import RunRecord


@dataclass
class Experiments:
    project: str
    task: str
    metric: str
    greater_is_better: bool
    runs: list[RunRecord]
    histories: dict[str, dict[str, list[float]]]  # run -> metric -> values by step
    model_names: list[str]  # the catalog's, for the project's task


def _value(run: RunRecord, key: str) -> float | None:
    return run.metrics.get(key)


class ExperimentsScreen(ViewScreen):
    BINDINGS = [
        Binding("t", "train", "Train"),
        Binding("R", "reproduce", "Reproduce", key_display="R"),
        Binding("r", "register", "Register"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
    ]
    SORTS = ("newest", "cv", "holdout")
    AUTO_FOCUS = "#runs"

    def __init__(self) -> None:
        super().__init__()
        self._data: Experiments | None = None
        self._sort = "newest"
        self._marked: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="runs-summary")
        with Horizontal():
            with Vertical(id="runs-left", classes="pane"):
                yield Label("Runs", classes="pane-title")
                yield Input(placeholder="filter by name, kind or status", id="runs-filter")
                yield VimTable(id="runs", cursor_type="row", zebra_stripes=True, own_filter=True)
            with VerticalScroll(id="runs-right", classes="pane"):
                yield Static(id="run-detail")
                yield Label("", id="history-title")
                yield Sparkline([], id="history")
                yield BarChart(id="runs-chart")
        yield AppFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#runs-filter").display = False

    def fetch(self) -> Experiments | None:
        from mlcycle import projects
        from mlcycle.models import catalog, tracking

        project = self.app.project
        if project is None:
            return None
        ws = self.app.workspace
        card = projects.get(ws, project)
        return Experiments(
            project, card.task, card.metric, card.greater_is_better,
            tracking.runs(ws, project), {}, catalog.names(card.task),
        )

    def show(self, data: Experiments | None) -> None:
        self._data = data
        summary = self.query_one("#runs-summary", Static)
        if data is None or not data.runs:
            self._clear_detail()  # another project's run must not stay on show
        if data is None:
            summary.update("No project selected: pick one in the projects view (1).")
            return
        if not data.runs:
            summary.update(Text(f"{data.project}: no runs yet: press t to train."))
        else:
            best = self._best(f"holdout.{data.metric}") or self._best(f"cv.{data.metric}")
            text = Text(f"{data.project}: {len(data.runs)} runs", style="bold")
            if best:
                text.append(
                    f"   best {best[1]} {best[2]:.4f} (run {best[0].id}, "
                    f"{best[0].name or best[0].kind})"
                )
            text.append(f"   sort: {self._sort}", style="dim")
            summary.update(text)
        self._fill()
        self._chart()

    def _best(self, key: str) -> tuple[RunRecord, str, float] | None:
        data = self._data
        scored = [r for r in data.runs if _value(r, key) is not None and r.kind != "baseline"]
        if not scored:
            return None
        pick = max if data.greater_is_better else min
        run = pick(scored, key=lambda r: r.metrics[key])
        return run, key, run.metrics[key]

    def _visible(self) -> list[RunRecord]:
        data = self._data
        if data is None:
            return []
        needle = self.query_one("#runs-filter", Input).value.strip().lower()
        runs = [
            r
            for r in data.runs
            if not needle or needle in f"{r.name} {r.kind} {r.status} {r.id}".lower()
        ]
        if self._sort != "newest":
            key = f"{self._sort}.{data.metric}"
            sign = -1 if data.greater_is_better else 1
            runs.sort(
                key=lambda r: (r.metrics.get(key) is None, sign * (r.metrics.get(key) or 0.0))
            )
        return runs

    def _fill(self) -> None:
        table = self.query_one("#runs", DataTable)
        data = self._data
        keep = self._highlighted()  # a reload (a job ended) keeps the run the user is on
        table.clear(columns=True)
        if data is None:
            return
        table.add_columns(
            "",
            "run",
            "name",
            "kind",
            "status",
            f"cv {data.metric}",
            f"holdout {data.metric}",
            "started",
        )
        for r in self._visible():
            cv, hold = _value(r, f"cv.{data.metric}"), _value(r, f"holdout.{data.metric}")
            table.add_row(
                "●" if r.id in self._marked else "",
                r.id,
                Text(r.name or ""),
                r.kind,
                r.status,
                "–" if cv is None else f"{cv:.4f}",
                "–" if hold is None else f"{hold:.4f}",
                f"{r.started_at:%m-%d %H:%M:%S}",
                key=r.id,
            )
        if table.row_count:
            table.move_cursor(row=table.get_row_index(keep) if keep in table.rows else 0)
            self._detail(str(table.coordinate_to_cell_key(table.cursor_coordinate)
                             .row_key.value))

    def _chart(self) -> None:
        data = self._data
        chart = self.query_one("#runs-chart", BarChart)
        if not data:
            chart.plot("", [])
            return
        key = f"cv.{data.metric}"
        scored = [r for r in data.runs if _value(r, key) is not None][:15]
        chart.plot(
            f"{key} across runs (newest first)",
            [(f"{r.name or r.kind} {r.id[:4]}", r.metrics[key]) for r in scored],
        )

    def _detail(self, run_id: str) -> None:
        data = self._data
        run = next((r for r in data.runs if r.id == run_id), None) if data else None
        if run is None:
            return
        grid = run_detail.run_grid(run)
        self.query_one("#run-detail", Static).update(grid)
        self._history(run)

    def _clear_detail(self) -> None:
        self.query_one("#run-detail", Static).update("")
        self.query_one("#history-title", Label).update("")
        self.query_one("#history", Sparkline).display = False

    def _history(self, run: RunRecord) -> None:
        histories = self._data.histories.get(run.id) if self._data else None
        if histories is None:
            self._load_history(run.id)
            return
        stepped = {k: v for k, v in histories.items() if len(v) > 1}
        title = self.query_one("#history-title", Label)
        spark = self.query_one("#history", Sparkline)
        spark.display = bool(stepped)
        if stepped:
            key = sorted(stepped)[0]
            values = stepped[key]
            title.update(run_detail.history_line(key, values))
            spark.data = values
        else:
            title.update("no metric logged over steps")

    def _load_history(self, run_id: str) -> None:
        def fetch() -> None:
            from mlcycle.models import tracking

            found = tracking.step_histories(self.app.workspace, run_id)
            if self._data is not None:
                self._data.histories[run_id] = found
            self.app.call_from_thread(self._detail, run_id)

        self.run_worker(fetch, thread=True, group="history", exclusive=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self._detail(event.row_key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter on a run: the run in full, with every metric it logged over steps.
        run = self._selected_run() if event.data_table.id == "runs" else None
        if run is not None:
            self.app.push_screen(run_detail.RunScreen(self._data.project, run))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#runs", DataTable).focus()

    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.display = True
        box.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            # No filter open: escape goes on to the app, back to the view shown before.
            return bool(self.query_one("#runs-filter", Input).display)
        return True

    def action_clear_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.value = ""
        box.display = False
        self.query_one("#runs", DataTable).focus()

    def action_cycle_sort(self) -> None:
        self._sort = self.SORTS[(self.SORTS.index(self._sort) + 1) % len(self.SORTS)]
        if self._data:
            self.show(self._data)

    def action_train(self) -> None:
        data = self._data
        if data is None:
            self.notify("pick a project first (projects view: 1)", severity="warning")
            return
        self.app.push_screen(
            FormScreen(f"Train {data.project}: search the model catalog, register the best",
                       train.form_fields(data.model_names), submit="Train",
                       check=train.form_check(data.project, data.task)),
            lambda values: values and train.start(self, data.project, values, data.metric,
                                                  data.greater_is_better),
        )

    def _selected_run(self) -> RunRecord | None:
        run_id = self._highlighted()
        if run_id is None or self._data is None:
            self.notify("no run selected", severity="warning")
            return None
        return next(r for r in self._data.runs if r.id == run_id)

    def action_reproduce(self) -> None:
        run = self._selected_run()
        if run is not None:
            run_actions.reproduce(self, self._data.project, run)

    def action_register(self) -> None:
        run = self._selected_run()
        if run is not None:
            run_actions.register(self, self._data.project, run)

    def palette_commands(self) -> list[tuple[str, Any, str]]:
        # Reproduce and register act on the selected run: the palette names it.
        run_id = self._highlighted()
        out = []
        for verb, command, about in super().palette_commands():
            if verb.startswith(("reproduce:", "register:")):
                if run_id is None:
                    continue
                verb = f"{verb.split(':')[0]}: {self._data.project} run {run_id}"
            out.append((verb, command, about))
        return out

    def _highlighted(self) -> str | None:
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_mark(self) -> None:
        run_id = self._highlighted()
        if run_id is None:
            return
        if run_id in self._marked:
            self._marked.remove(run_id)
        else:
            self._marked = [*self._marked[-1:], run_id]
        self._fill()

    def action_compare(self) -> None:
        if len(self._marked) != 2 or self._data is None:
            self.notify("mark two runs with space first", severity="warning")
            return
        from mlcycle.models.tracking import compare

        runs = {r.id: r for r in self._data.runs}
        result = compare(runs[self._marked[0]], runs[self._marked[1]])
        table = Table("", result["a"], result["b"], title="side by side (differences first)")
        for section in ("params", "metrics"):
            for row in result[section]:
                if section == "metrics" and row["key"].endswith(".std"):
                    continue
                table.add_row(
                    Text(row["key"]),
                    Text(_cell(row["a"])),
                    Text(_cell(row["b"])),
                    style="" if row["same"] else "bold",
                )
        self.query_one("#run-detail", Static).update(table)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
