"""A project's card: the problem, the target, and how success is measured."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from mlcycle.projects.card import Project


def card_renderable(project: Project) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    goal = "no goal set" if project.goal is None else f"{project.goal:g}"
    direction = "higher is better" if project.greater_is_better else "lower is better"
    table.add_row("project", Text(project.name, style="bold"))
    # A rich Table reads a str cell as markup: what the user typed goes in as Text.
    table.add_row("problem", Text(project.description or "–"))
    table.add_row("predict", Text(f"{project.target} ({project.task})"))
    table.add_row("metric", f"{project.metric} ({direction})")
    table.add_row("goal", goal)
    table.add_row("KPI", Text(project.kpi or "–"))
    table.add_row("created", f"{project.created_at:%Y-%m-%d %H:%M} UTC")
    # Data handling, once the user has set it ('mlcycle project edit').
    if project.retention_days is not None:
        table.add_row("retention", f"{project.retention_days} days")
    if project.lawful_basis:
        table.add_row("lawful basis", Text(project.lawful_basis))
    return table


class ProjectCard(Static):
    def show_project(self, project: Project | None) -> None:
        if project is None:
            self.update(Text("No project selected.", style="dim"))
        else:
            self.update(card_renderable(project))
