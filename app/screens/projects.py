"""The projects overview: every project's card and how far through the lifecycle it is."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, Label, Static

from mlcycle.app.screens.base import ViewScreen
from mlcycle.app.widgets.footer import AppFooter
from mlcycle.app.widgets.project_card import ProjectCard
from mlcycle.app.widgets.stage_bar import StageBar
from mlcycle.app.widgets.table import VimTable
from mlcycle.projects.card import Project
from mlcycle.projects.lifecycle import Overview

EMPTY_HINT = (
    "No projects yet.\n\n"
    "Press n to create a project: its name, its data, the column to predict.\n"
    "Press d to build the demo workspace: a customer-churn project with its data."
)


class ProjectsScreen(ViewScreen):
    shows_one_project = False
    BINDINGS = [
        Binding("enter", "open_data", "Open data", priority=False),
        Binding("n", "new_project", "New project"),
        Binding("e", "edit_card", "Edit card"),
        Binding("X", "delete_project", "Delete", key_display="X"),
        Binding("d", "demo", "Demo"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._overview: Overview | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="projects-pane", classes="pane"):
                yield Label("Projects", classes="pane-title")
                yield VimTable(id="projects", cursor_type="row", zebra_stripes=True,
                               drop=("task",))  # the card says the task
                yield Static(EMPTY_HINT, id="empty-hint")
                # The workspace's activity, every project's: the card beside is one project's
                # and fills a short screen by itself.
                yield Label("Recent activity", classes="pane-title spaced")
                yield VimTable(id="activity", cursor_type="none", show_cursor=False,
                               drop=("project", "subject"), shrink=("subject",))
            with Vertical(id="card-pane", classes="pane"):
                yield ProjectCard(id="card")
                yield Label("Lifecycle", classes="pane-title spaced")
                yield StageBar(id="stages")
        yield AppFooter()

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

    def _chosen(self) -> Project | None:
        data = self._overview
        return (
            next((p for p in data.projects if p.name == self.app.project), None) if data else None
        )

    def _show_card(self) -> None:
        chosen = self._chosen()
        self.query_one(ProjectCard).show_project(chosen)
        self.query_one(StageBar).show_stages(self._overview.stages[chosen.name] if chosen else [])

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

    def action_new_project(self) -> None:
        from mlcycle.app.screens.project_actions import NewProject

        NewProject(self).start()

    def action_edit_card(self) -> None:
        from mlcycle.app.screens.project_actions import edit_card

        chosen = self._chosen()
        if chosen is None:
            self.notify("no project to edit: press n to create one", severity="warning")
            return
        edit_card(self, chosen)

    def action_delete_project(self) -> None:
        from mlcycle.app.screens.project_actions import delete_project

        chosen = self._chosen()
        if chosen is None:
            self.notify("no project to delete", severity="warning")
            return
        delete_project(self, chosen)

    def action_demo(self) -> None:
        from mlcycle.app.screens.project_actions import build_demo

        build_demo(self)

    def palette_commands(self) -> list[tuple[str, Callable[[], object], str]]:
        # Creating and the demo act on no project yet; the rest on the selected one.
        subject = self.app.project
        out = [
            ("create: project", self.action_new_project,
             "a new project from its name, data and target (key n)"),
            ("build: demo", self.action_demo,
             "the customer-churn demo project with its data (key d)"),
        ]
        if subject:
            out += [
                (f"edit card: {subject}", self.action_edit_card,
                 "target (until trained), metric, goal, description, KPI (key e)"),
                (f"open data: {subject}", self.action_open_data, "the data view (key enter)"),
                (f"delete project: {subject}", self.action_delete_project,
                 "with its data, runs and models, after a confirmation (key X)"),
            ]
        return out
