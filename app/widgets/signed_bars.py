"""Bars around a centre line for signed values such as correlations (-1 to 1)."""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from mlcycle.app.widgets.bar_chart import bar, unique_labels


def signed_lines(width: int, title: str, note: str, rows: list[tuple[str, float]],
                 top: float) -> list[Text]:
    """The chart as lines of at most ``width`` cells: bars left of the axis for negative
    values, right for positive, both scaled to ``top`` (stated on the scale line)."""
    lines = [Text(part, style="bold") for line in title.split("\n")
             for part in (textwrap.wrap(line, max(width, 8)) or [""])]
    lines += [Text(part, style="dim") for part in textwrap.wrap(note, max(width, 8))]
    if not rows:
        return [*lines, Text("nothing to chart", style="dim")]
    labels, label_width = unique_labels([label for label, _ in rows], max(width * 2 // 5, 8))
    half = max((width - label_width - 9) // 2, 3)
    left, right = f"-{top:.2f}", f"+{top:.2f}"
    lines.append(Text(" " * (label_width + 1) + left.ljust(half) + "0" + right.rjust(half),
                      style="dim"))
    for label, (_, value) in zip(labels, rows):
        line = Text(label.rjust(label_width) + " ", style="dim")
        drawn = bar(abs(value), top, half)
        if value < 0:
            line.append(drawn.rjust(half), style="magenta")
            line.append("│" + " " * half)
        else:
            line.append(" " * half + "│")
            line.append(drawn.ljust(half), style="cyan")
        line.append(f" {value:+.2f}")
        lines.append(line)
    return lines


class SignedBars(Widget):
    """One labelled line per value: negative bars grow left of the axis, positive ones right."""

    DEFAULT_CSS = "SignedBars { height: auto; }"
    rows: reactive[list[tuple[str, float]]] = reactive(list, layout=True)

    def __init__(self, title: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.note = ""
        self.top = 1.0

    def plot(self, title: str, rows: list[tuple[str, float]], note: str = "",
             top: float = 1.0) -> None:
        """``top``: the value a full half-bar stands for (1 for correlations)."""
        self.title, self.note, self.top = title, note, top
        self.rows = rows
        self.refresh(layout=True)

    def lines(self, width: int) -> list[Text]:
        return signed_lines(width, self.title, self.note, self.rows, self.top)

    def render(self) -> Text:
        text = Text("\n").join(self.lines(self.size.width))
        text.no_wrap = True
        return text

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(len(self.lines(width)), 1)
