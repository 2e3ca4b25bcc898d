"""Horizontal bar charts: histograms of numeric columns, counts of categories."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

_EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(value: float, maximum: float, width: int) -> str:
    """A bar of ``width`` cells at most, drawn to an eighth of a cell."""
    if maximum <= 0 or width <= 0:
        return ""
    eighths = round(value / maximum * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")


class BarChart(Widget):
    """Labelled bars, one per line, scaled to the widget's width."""

    DEFAULT_CSS = "BarChart { height: auto; }"
    rows: reactive[list[tuple[str, float]]] = reactive(list, layout=True)

    def __init__(self, title: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title

    def plot(self, title: str, rows: list[tuple[str, float]]) -> None:
        self.title = title
        self.rows = rows

    def render(self) -> Text:
        text = Text()
        if self.title:
            text.append(self.title + "\n", style="bold")
        if not self.rows:
            text.append("nothing to chart", style="dim")
            return text
        label_width = min(max(len(label) for label, _ in self.rows), 18)
        counts = all(float(v).is_integer() for _, v in self.rows)
        shown = [f"{v:,.0f}" if counts else f"{v:.4g}" for _, v in self.rows]
        value_width = max(len(s) for s in shown)
        room = max(self.size.width - label_width - value_width - 3, 4)
        top = max(v for _, v in self.rows)
        for i, (label, value) in enumerate(self.rows):
            text.append(label[:label_width].rjust(label_width) + " ", style="dim")
            text.append(bar(value, top, room).ljust(room), style="cyan")
            text.append(f" {shown[i]}".rjust(value_width + 1))
            if i < len(self.rows) - 1:
                text.append("\n")
        return text

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self.rows) + (1 if self.title else 0) or 2
