"""A data column's profile (Enter on a column in the Data view): its type, role, missing and
distinct values, quantiles, and its distribution or most common values, none cut."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Header, Label, Static

from mlcycle.app.screens.base import DetailScreen
from mlcycle.app.widgets.bar_chart import BarChart
from mlcycle.app.widgets.column_chart import plot_column
from mlcycle.app.widgets.footer import AppFooter


def number(value: Any) -> str:
    return "–" if value is None else f"{value:.4g}"


def profile_text(s: dict[str, Any], entry: dict[str, Any]) -> Text:
    """The column's summary lines, as the Data view's side pane and this screen show them."""
    text = Text()
    text.append(entry["name"], style="bold")
    text.append(f"  {s['dtype']}, {entry['kind']}, {entry['role']}\n")
    if entry["description"]:
        text.append(entry["description"] + "\n", style="italic")
    if entry.get("sensitive"):
        text.append(privacy_line(entry) + "\n", style="yellow")
    text.append(
        f"missing {s['missing']:,} ({s['missing_share']:.1%}), distinct {s['distinct']:,}"
    )
    if s.get("mean") is not None:
        q = s.get("quantiles") or {}
        text.append(
            f"\nmin {number(s['min'])}  p25 {number(q.get('p25'))}  "
            f"median {number(q.get('p50'))}  p75 {number(q.get('p75'))}  "
            f"max {number(s['max'])}\nmean {number(s['mean'])}  std {number(s['std'])}"
        )
        if s.get("quantiles_every"):
            text.append(f"  (quantiles from 1 row in {s['quantiles_every']:,}, by a hash "
                        "of the row)", style="dim")
    elif s.get("min") is not None:
        text.append(f"\nfrom {s['min']} to {s['max']}")
    return text


def privacy_line(entry: dict[str, Any]) -> str:
    """Why the column counts as personal data, and whether it may be used."""
    from mlcycle.store.masking import LABELS

    found = entry["privacy"]
    use = (f"opted in: {found['allowed']}" if found["allowed"]
           else "left out of features, values masked")
    return (f"personal data: {LABELS[entry['sensitive']]} ({found['confidence']:.0%}), "
            f"{found['reason']}; {use}")


class ColumnScreen(DetailScreen):
    AUTO_FOCUS = "#column-full"

    def __init__(self, project: str, entry: dict[str, Any], stats: dict[str, Any]) -> None:
        super().__init__()
        self.project = project
        self.entry = entry
        self.stats = stats

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="column-full", classes="pane"):
            yield Label(Text(f"{self.project}: column {self.entry['name']} "
                             "(escape: back to the columns)"), classes="pane-title")
            yield Static(profile_text(self.stats, self.entry), id="column-profile")
            yield BarChart(id="column-full-chart", classes="spaced")
            top = self.stats.get("top") or []
            if top:
                # Every value counted, in full: the side pane's summary cuts the list.
                lines = Text("values counted\n", style="bold")
                for t in top:
                    lines.append(Text(f"{t['count']:>10,}  {t['value']}\n"))
                yield Static(lines, id="column-values", classes="spaced")
        yield AppFooter()

    def on_mount(self) -> None:
        plot_column(self.query_one("#column-full-chart", BarChart), self.stats)
