"""The jobs panel: every job of this session with its progress, and the selected one's detail.

One key (J) from every view. A running job can be cancelled here; a finished one leads to what
it produced (Enter).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Label, ProgressBar, Static

from mlcycle.app.jobs import CANCELLED, DONE, FAILED, RUNNING, Job
from mlcycle.app.widgets.footer import AppFooter
from mlcycle.app.widgets.table import VimTable

STATE_STYLE = {RUNNING: "bold cyan", DONE: "green", FAILED: "bold red", CANCELLED: "yellow"}


COLUMNS = ("#", "job", "state", "progress", "elapsed", "ETA", "outcome")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = round(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def progress_text(job: Job) -> str:
    fraction = job.fraction
    if job.total:
        shown = f"{job.done:g}/{job.total:g}"
        return f"{shown} ({fraction:.0%})" if fraction is not None else shown
    return "–" if job.state != RUNNING else "…"


class JobsScreen(Screen):
    BINDINGS = [
        Binding("escape,J", "back", "Back"),
        Binding("c", "cancel_job", "Cancel job"),
        Binding("enter", "open_result", "Open result"),
    ]
    AUTO_FOCUS = "#jobs-table"

    def __init__(self, select: int | None = None) -> None:
        super().__init__()
        self._select = select
        self._rows_shown: dict[int, int] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="jobs-pane", classes="pane"):
            yield Label("Jobs of this session", classes="pane-title")
            yield VimTable(id="jobs-table", cursor_type="row")
        with Vertical(id="job-detail", classes="pane"):
            yield Static(id="job-title")
            yield ProgressBar(id="job-progress", show_eta=False)
            yield Static(id="job-message")
            yield VimTable(id="job-rows", cursor_type="none", show_cursor=False)
        yield AppFooter()

    def on_mount(self) -> None:
        self._redraw()
        if self._select is not None:
            self._move_to(self._select)
        # Elapsed time and ETA move on their own: redraw while the panel shows.
        self.set_interval(0.5, self._redraw)

    def job_changed(self, job: Job) -> None:
        self._redraw()

    def _jobs(self) -> list[Job]:
        return list(reversed(self.app.jobs.all))  # newest first

    def _redraw(self) -> None:
        table = self.query_one("#jobs-table", DataTable)
        jobs = self._jobs()
        keep = table.cursor_row
        # Columns too: a column keeps the width of the widest value it ever held, so a
        # state once "cancelling" would keep "done" that wide for good.
        table.clear(columns=True)
        table.add_columns(*COLUMNS)
        if not jobs:
            self.query_one("#job-title", Static).update(
                "No jobs yet. Long work you start (training, adding data, exporting, a check, "
                "a ':' command) runs here, with its progress and a way to cancel it.")
            return
        for job in jobs:
            table.add_row(
                str(job.id), Text(job.title), Text(job.state, style=STATE_STYLE[job.state]),
                progress_text(job), duration(job.elapsed), duration(job.eta),
                Text(job.outcome or job.message), key=str(job.id))
        table.move_cursor(row=min(keep, len(jobs) - 1))
        self._show_detail()

    def _move_to(self, job_id: int) -> None:
        for index, job in enumerate(self._jobs()):
            if job.id == job_id:
                self.query_one("#jobs-table", DataTable).move_cursor(row=index)
        self._show_detail()

    def selected(self) -> Job | None:
        jobs = self._jobs()
        row = self.query_one("#jobs-table", DataTable).cursor_row
        return jobs[row] if jobs and 0 <= row < len(jobs) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "jobs-table":
            self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "jobs-table":
            self.action_open_result()

    def _show_detail(self) -> None:
        job = self.selected()
        if job is None:
            return
        title = Text(f"{job.title}  ", style="bold")
        title.append(job.state, style=STATE_STYLE[job.state])
        title.append(f"   elapsed {duration(job.elapsed)}   ETA {duration(job.eta)}")
        if job.lead and job.state == DONE:
            title.append(f"   Enter: {job.lead.label or 'open ' + job.lead.view}")
        if job.state == RUNNING:
            title.append("   c: cancel")
        self.query_one("#job-title", Static).update(title)
        bar = self.query_one("#job-progress", ProgressBar)
        if job.total:
            bar.update(total=job.total, progress=job.done)
        elif job.state == RUNNING:
            bar.update(total=None)  # size unknown: the bar pulses
        else:
            bar.update(total=1, progress=1 if job.state == DONE else 0)
        line = job.outcome if job.state != RUNNING else job.message
        self.query_one("#job-message", Static).update(Text(line or ""))
        self._show_rows(job)

    def _show_rows(self, job: Job) -> None:
        rows = self.query_one("#job-rows", DataTable)
        rows.display = bool(job.columns)
        if not job.columns:
            return
        if self._rows_shown.get(-1) != job.id:  # another job selected: start the table again
            rows.clear(columns=True)
            rows.add_columns(*job.columns)
            self._rows_shown = {-1: job.id, job.id: 0}
        shown = self._rows_shown[job.id]
        for cells in job.rows[shown:]:
            rows.add_row(*(c if isinstance(c, Text) else Text(str(c)) for c in cells))
        self._rows_shown[job.id] = len(job.rows)
        if len(job.rows) > shown:
            rows.move_cursor(row=rows.row_count - 1)  # follow the newest row
            rows.scroll_end(animate=False)

    def action_cancel_job(self) -> None:
        job = self.selected()
        if job is None or job.state != RUNNING:
            self.notify("no running job selected", severity="warning")
            return
        self.app.jobs.cancel(job)
        self._redraw()

    def action_open_result(self) -> None:
        job = self.selected()
        if job is None or job.state != DONE or job.lead is None:
            return
        self.dismiss()
        if job.lead.project:
            self.app.select_project(job.lead.project)
        self.app.switch_mode(job.lead.view)

    def action_back(self) -> None:
        self.dismiss()
