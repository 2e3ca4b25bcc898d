"""The experiments view: a project's tracked runs, two side by side, and metric charts;
training (t), and reproducing (R) or registering (r) the selected run.

A project may hold 100,000 runs: the table shows pages of them, sorted and filtered in the
workspace's database (``mlcycle.models.run_search``), and fetches the next page as the
cursor or the scroll nears the last loaded row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Header, Input, Label, Static

from mlcycle.app.screens import run_actions, run_detail, train
from mlcycle.app.screens.base import ViewScreen
from mlcycle.app.screens.form import FormScreen
from mlcycle.app.widgets.bar_chart import BarChart, Mark
from mlcycle.app.widgets.footer import AppFooter
from mlcycle.app.widgets.line_plot import LinePlot, Series
from mlcycle.app.widgets.table import VimTable
from mlcycle.app.words import plural
from mlcycle.models.run_search import RunPage
from mlcycle.models.tracking import RunRecord

PAGE = 200  # rows fetched at a time: the table loads more as the cursor nears its end
CHART_ROWS = 40  # bars in the session chart; the title says when a session has more


@dataclass
class Experiments:
    project: str
    task: str
    metric: str
    greater_is_better: bool
    goal: float | None
    page: RunPage  # the rows loaded so far, with the total that match
    best: tuple[RunRecord, str, float] | None  # the project's best scored run
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
        Binding("escape", "close_compare", "Close comparison", show=False),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
    ]
    SORTS = ("newest", "cv", "holdout", "session")
    AUTO_FOCUS = "#runs"

    def __init__(self) -> None:
        super().__init__()
        self._data: Experiments | None = None
        self._sort = "newest"
        self._marked: list[str] = []
        self._by_id: dict[str, RunRecord] = {}
        self._loading_more = False
        self._charted: tuple[str | None, str] | None = None  # (session, filter) on the chart
        self._comparing = False  # the side pane shows the two marked runs, not the cursor's

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="runs-summary")
        with Horizontal():
            with Vertical(id="runs-left", classes="pane"):
                yield Label("Runs", classes="pane-title")
                yield Input(placeholder="filter by name, kind, status or session",
                            id="runs-filter")
                # Names never cut: two runs must not read the same.
                yield VimTable(id="runs", cursor_type="row", zebra_stripes=True, own_filter=True,
                               drop=("status", "kind", "started"))
            with VerticalScroll(id="runs-right", classes="pane"):
                yield Static(id="run-detail")
                yield Label("", id="history-title")
                yield LinePlot(id="history")
                yield BarChart(id="runs-chart")
        yield AppFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#runs-filter").display = False
        table = self.query_one("#runs", DataTable)
        self.watch(table, "scroll_y", lambda _old, _new: self._near_end(), init=False)

    def _needle(self) -> str:
        return self.query_one("#runs-filter", Input).value.strip()

    def _query(self, project: str, metric: str, greater_is_better: bool,
               offset: int) -> RunPage:
        """One page of runs as the view sorts and filters them (worker thread)."""
        from mlcycle.models import run_search

        sort = None if self._sort in ("newest", "session") else f"{self._sort}.{metric}"
        return run_search.page(
            self.app.workspace, project, sort=sort, descending=greater_is_better,
            limit=PAGE, offset=offset, text=self._needle() or None, best_by=f"cv.{metric}",
            greater_is_better=greater_is_better, by_session=self._sort == "session")

    def fetch(self) -> Experiments | None:
        from mlcycle import projects
        from mlcycle.models import catalog, run_search

        project = self.app.project
        if project is None:
            return None
        ws = self.app.workspace
        card = projects.get(ws, project)
        page = self._query(project, card.metric, card.greater_is_better, 0)
        best = None
        scored = run_search.Clause("attributes", "kind", "!=", "baseline")
        for key in (f"holdout.{card.metric}", f"cv.{card.metric}"):
            top = run_search.page(ws, project, sort=key, descending=card.greater_is_better,
                                  limit=1, where=[scored]).records
            if top and key in top[0].metrics:
                best = (top[0], key, top[0].metrics[key])
                break
        return Experiments(project, card.task, card.metric, card.greater_is_better, card.goal,
                           page, best, {}, catalog.names(card.task))

    def show(self, data: Experiments | None) -> None:
        self._data = data
        self._charted = None
        if data is None or not data.page.records:
            self._clear_detail()  # another project's run must not stay on show
        if data is None:
            self.query_one("#runs-summary", Static).update(
                "No project selected: pick one in the projects view (1).")
            self.query_one("#runs", DataTable).clear(columns=True)
            return
        self._show_page(data.page)

    def _summary(self) -> None:
        data = self._data
        summary = self.query_one("#runs-summary", Static)
        page = data.page
        if not page.total and not self._needle():
            summary.update(Text(f"{data.project}: no runs yet: press t to train."))
            return
        text = Text(f"{data.project}: ", style="bold")
        text.append(f"rows {min(1, page.end)}–{page.end:,} of {plural(page.total, 'run')}"
                    if page.total else "no runs", style="bold")
        if self._needle():
            text.append(f" matching {self._needle()!r}")
        if data.best:
            run, key, value = data.best
            text.append(f"   best {key} {value:.4f} (run {run.id}, {run.name or run.kind})")
        text.append(f"   sort: {self._sort}   ★ best of its session", style="dim")
        summary.update(text)

    def _show_page(self, page: RunPage, append: bool = False) -> None:
        """Show a freshly queried first page, or append the next one."""
        data = self._data
        if data is None:
            return
        if append:
            page = RunPage(data.page.records + page.records, page.total, 0,
                           data.page.best_of_session | page.best_of_session)
        data.page = page
        self._by_id = {r.id: r for r in page.records}
        self._summary()
        self._fill(append)

    def _near_end(self) -> None:
        """Fetch the next page when the cursor or the scroll nears the loaded rows' end."""
        data, table = self._data, self.query_one("#runs", DataTable)
        if data is None or self._loading_more or data.page.end >= data.page.total:
            return
        near_cursor = table.cursor_row >= table.row_count - 20
        near_scroll = table.scroll_y >= table.max_scroll_y - 5
        if not (near_cursor or near_scroll):
            return
        self._loading_more = True
        project, metric, better, offset = (data.project, data.metric, data.greater_is_better,
                                           data.page.end)

        def fetch() -> None:
            try:
                more = self._query(project, metric, better, offset)
                self.app.call_from_thread(self._more, more, project)
            finally:
                self._loading_more = False

        self.run_worker(fetch, thread=True, group="more", exclusive=True)

    def _more(self, page: RunPage, project: str) -> None:
        data = self._data
        if data is not None and data.project == project and page.offset == data.page.end:
            self._show_page(page, append=True)

    def _requery(self) -> None:
        """Sort or filter changed: query the first page again, off the UI thread."""
        data = self._data
        if data is None:
            return
        project, metric, better = data.project, data.metric, data.greater_is_better

        def fetch() -> None:
            page = self._query(project, metric, better, 0)
            self.app.call_from_thread(self._requeried, page, project)

        self.run_worker(fetch, thread=True, group="page", exclusive=True)

    def _requeried(self, page: RunPage, project: str) -> None:
        if self._data is not None and self._data.project == project:
            self._charted = None
            self._show_page(page)

    def _fill(self, append: bool = False) -> None:
        table = self.query_one("#runs", DataTable)
        data = self._data
        keep = self._highlighted()  # a reload (a job ended) keeps the run the user is on
        if not append:
            table.clear(columns=True)
            table.add_columns("", "run", "session", "name", "kind", "status",
                              f"cv {data.metric}", f"holdout {data.metric}", "started")
        best = data.page.best_of_session
        for r in data.page.records[table.row_count:]:
            cv, hold = _value(r, f"cv.{data.metric}"), _value(r, f"holdout.{data.metric}")
            table.add_row(
                "●" if r.id in self._marked else "",
                r.id,
                Text((r.group or "")[:8] + (" ★" if r.id in best else "")),
                Text(r.name or ""),
                r.kind,
                r.status,
                "–" if cv is None else f"{cv:.4f}",
                "–" if hold is None else f"{hold:.4f}",
                f"{r.started_at:%m-%d %H:%M:%S}",
                key=r.id,
            )
        if append or not table.row_count:
            if not table.row_count:
                self._chart(None)
            return
        table.move_cursor(row=table.get_row_index(keep) if keep in table.rows else 0)
        self._detail(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    def _chart(self, run: RunRecord | None) -> None:
        """The cv metric of the runs of ``run``'s training session that the filter keeps,
        best first, on an axis near their values, with the goal and the session's baseline."""
        data = self._data
        chart = self.query_one("#runs-chart", BarChart)
        wanted = (run.group if run else None, self._needle())
        if data is None or run is None or not run.group:
            self._charted = wanted
            chart.plot("no training session to chart: the run was logged by hand"
                       if run else "", [])
            return
        if wanted == self._charted:
            return
        self._charted = wanted
        project, metric, better, needle = (data.project, data.metric, data.greater_is_better,
                                           self._needle() or None)

        def fetch() -> None:
            from mlcycle.models import run_search

            runs = run_search.page(self.app.workspace, project, group=run.group, text=needle,
                                   sort=f"cv.{metric}", descending=better, limit=None).records
            self.app.call_from_thread(self._draw_chart, run.group, runs)

        self.run_worker(fetch, thread=True, group="chart", exclusive=True)

    def _draw_chart(self, session: str, runs: list[RunRecord]) -> None:
        data = self._data
        if data is None:
            return
        key = f"cv.{data.metric}"
        baseline = next((r.metrics[key] for r in runs
                         if r.kind == "baseline" and key in r.metrics), None)
        scored = [r for r in runs if key in r.metrics and r.kind != "baseline"]
        shown = scored[:CHART_ROWS]
        marks = [Mark(name, value) for name, value in (("goal", data.goal),
                                                        ("baseline", baseline))
                 if value is not None]
        title = f"{key} of session {session[:8]}, best first"
        if self._needle():
            title += f", runs matching {self._needle()!r}"
        if len(shown) < len(scored):
            title += f" (the best {len(shown)} of {len(scored)})"
        self.query_one("#runs-chart", BarChart).plot(
            title, [(f"{r.name or r.kind} {r.id[:4]}", r.metrics[key], f"{r.metrics[key]:.4f}")
                    for r in shown], start=None, marks=marks)

    def _detail(self, run_id: str) -> None:
        # The side pane shows the highlighted run: what a load or a highlight event names
        # for a row the cursor has left since (a reload's way through row 0) is not shown.
        run = self._by_id.get(run_id)
        if run is None or run_id != self._highlighted():
            return
        self._comparing = False
        grid = run_detail.run_grid(run)
        self.query_one("#run-detail", Static).update(grid)
        self._history(run)
        self._chart(run)

    def _clear_detail(self) -> None:
        self._comparing = False
        self.query_one("#run-detail", Static).update("")
        self.query_one("#history-title", Label).update("")
        self.query_one("#history", LinePlot).display = False

    def _history(self, run: RunRecord) -> None:
        histories = self._data.histories.get(run.id) if self._data else None
        if histories is None:
            self._load_history(run.id)
            return
        stepped = {k: v for k, v in histories.items() if len(v) > 1}
        title = self.query_one("#history-title", Label)
        plot = self.query_one("#history", LinePlot)
        plot.display = bool(stepped)
        if stepped:
            key = sorted(stepped)[0]
            values = stepped[key]
            title.update(run_detail.history_line(key, values))
            plot.draw("", [Series(key, list(range(len(values))), values)], [], "step", key)
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
        self._near_end()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter on a run: the run in full, with every metric it logged over steps.
        run = self._selected_run() if event.data_table.id == "runs" else None
        if run is not None:
            self.app.push_screen(run_detail.RunScreen(self._data.project, run))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._requery()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#runs", DataTable).focus()

    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.display = True
        box.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Escape closes what is open, the filter first, then the comparison; with nothing
        # open it goes on to the app, which stays in this view.
        if action == "clear_filter":
            return bool(self.query_one("#runs-filter", Input).display)
        if action == "close_compare":
            return self._comparing
        return True

    def action_close_compare(self) -> None:
        self._comparing = False
        run_id = self._highlighted()
        if run_id is not None:
            self._detail(run_id)

    def action_clear_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.value = ""
        box.display = False
        self.query_one("#runs", DataTable).focus()

    def action_cycle_sort(self) -> None:
        self._sort = self.SORTS[(self.SORTS.index(self._sort) + 1) % len(self.SORTS)]
        self._requery()

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
        return self._by_id[run_id]

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
        from mlcycle.models.tracking import compare, get_run

        # A marked run the filter now hides is read again by id.
        a, b = (self._by_id.get(i) or get_run(self.app.workspace, i) for i in self._marked)
        result = compare(a, b)
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
        self._comparing = True


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
