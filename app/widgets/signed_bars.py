"""Bars around a centre line for signed values such as correlations (-1 to 1)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from mlcycle.app.widgets.bar_chart import bar


class SignedBars(Widget):
    """One labelled line per value: negative bars grow left of the axis, positive ones right."""

    DEFAULT_CSS = "SignedBars { height: auto; }"
    rows: reactive[list[tuple[str, float]]] = reactive(list, layout=True)

    def __init__(self, title: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.note = ""

    def plot(self, title: str, rows: list[tuple[str, float]], note: str = "") -> None:
        self.title = title
        self.note = note
        self.rows = rows

    def render(self) -> Text:
        text = Text()
        if self.title:
            text.append(self.title + "\n", style="bold")
        if self.note:
            text.append(self.note + "\n", style="dim")
        if not self.rows:
            text.append("nothing to chart", style="dim")
            return text
        label_width = min(max(len(label) for label, _ in self.rows), 20)
        half = max((self.size.width - label_width - 9) // 2, 3)
        top = max(max(abs(v) for _, v in self.rows), 1e-9)
        for i, (label, value) in enumerate(self.rows):
            text.append(label[:label_width].rjust(label_width) + " ", style="dim")
            drawn = bar(abs(value), top, half)
            if value < 0:
                text.append(drawn.rjust(half), style="magenta")
                text.append("│" + " " * half)
            else:
                text.append(" " * half + "│")
                text.append(drawn.ljust(half), style="cyan")
            text.append(f" {value:+.2f}")
            if i < len(self.rows) - 1:
                text.append("\n")
        return text

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self.rows) + (1 if self.title else 0) + (1 if self.note else 0) or 2
