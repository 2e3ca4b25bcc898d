"""The projects overview: every project's card and how far through the lifecycle it is."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Label, Static

from mlcycle.app.screens.base import ViewScreen
from mlcycle.app.widgets.project_card import ProjectCard
from mlcycle.app.widgets.stage_bar import StageBar
from mlcycle.projects.lifecycle import Overview

EMPTY_HINT = (
    "No projects yet.\n\nDefine one from a shell:\n"
    "  mlcycle project create churn --target churned --task classification\n"
    "or build the demo workspace with 'mlcycle demo'."
)


class ProjectsScreen(ViewScreen):
    shows_one_project = False
    BINDINGS = [Binding("enter", "open_data", "Open data", priority=False)]

    def __init__(self) -> None:
        super().__init__()
        self._overview: Overview | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="projects-pane", classes="pane"):
                yield Label("Projects", classes="pane-title")
                yield DataTable(id="projects", cursor_type="row", zebra_stripes=True)
                yield Static(EMPTY_HINT, id="empty-hint")
            with Vertical(id="card-pane", classes="pane"):
                yield ProjectCard(id="card")
                yield Label("Lifecycle", classes="pane-title spaced")
                yield StageBar(id="stages")
                yield Label("Recent activity", classes="pane-title spaced")
                yield DataTable(id="activity", cursor_type="none", show_cursor=False)
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#projects", DataTable)
        table.add_columns("project", "task", "metric", "stage")
        self.query_one("#activity", DataTable).add_columns("when", "project", "what", "subject")

    def fetch(self) -> Overview:
        from mlcycle.projects.lifecycle import overview

        return overview(self.app.workspace)

    def show(self, data: Overview) -> None:
        from mlcycle.projects.lifecycle import current_label

        self._overview = data
        table = self.query_one("#projects", DataTable)
        table.clear()
        for p in data.projects:
            table.add_row(p.name, p.task, p.metric, current_label(data.stages[p.name]), key=p.name)
        self.query_one("#empty-hint").display = not data.projects
        table.display = bool(data.projects)
        names = [p.name for p in data.projects]
        if names:
            if self.app.project not in names:
                self.app.project = names[0]
            table.move_cursor(row=names.index(self.app.project))
        self._show_card()
        activity = self.query_one("#activity", DataTable)
        activity.clear()
        for e in data.activity:
            activity.add_row(
                f"{e['ts']:%m-%d %H:%M}", e["project"] or "", e["kind"], Text(e["subject"] or "")
            )

    def _show_card(self) -> None:
        data = self._overview
        chosen = (
            next((p for p in data.projects if p.name == self.app.project), None) if data else None
        )
        self.query_one(ProjectCard).show_project(chosen)
        self.query_one(StageBar).show_stages(data.stages[chosen.name] if chosen else [])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "projects" and event.row_key.value:
            if self.app.project != event.row_key.value:
                self.app.project = event.row_key.value
            self._show_card()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "projects":
            self.action_open_data()

    def action_open_data(self) -> None:
        if self.app.project:
            self.app.switch_mode("data")
