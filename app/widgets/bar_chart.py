"""Horizontal bar charts that state their scale: histograms, counts, metrics across runs.

Every chart draws a scale line (where the bars start and end, in the chart's unit), marks
such as a goal or a threshold at their place on that scale with a legend, labels shortened
only as far as they stay distinct, and every row: the widget is as tall as its lines (its
title wrapped), so a scrolling parent shows them all at any size.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

_EIGHTHS = " ▏▎▍▌▋▊▉█"
MARK_GLYPHS = "│┆╎"


def bar(value: float, maximum: float, width: int) -> str:
    """A bar of ``width`` cells at most, drawn to an eighth of a cell."""
    if maximum <= 0 or width <= 0:
        return ""
    eighths = round(min(max(value / maximum, 0.0), 1.0) * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")


def shorten(label: str, width: int) -> str:
    """``label`` in ``width`` cells, its middle elided: the start and the end tell most."""
    if len(label) <= width:
        return label
    if width < 4:
        return label[:width]
    head = (width - 1) * 2 // 3
    return label[:head] + "…" + label[len(label) - (width - 1 - head):]


def unique_labels(labels: list[str], width: int) -> tuple[list[str], int]:
    """Labels in at most ``width`` cells, widened until two different labels never read the
    same; returns them and the width used."""
    longest = max((len(label) for label in labels), default=0)
    width = min(width, longest)
    distinct = len(set(labels))
    while True:
        short = [shorten(label, width) for label in labels]
        if len(set(short)) == distinct or width >= longest:
            return short, width
        width += 1


def number(value: float) -> str:
    """A value as charts print it: counts with separators, other values to 4 digits."""
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4g}"


@dataclass(frozen=True)
class Mark:
    """A reference drawn across every bar (a goal, a baseline, a threshold)."""

    name: str
    value: float


def axis_range(values: list[float], marks: list[Mark], start: float | None,
               end: float | None) -> tuple[float, float]:
    """Where the bars start and end: ``start``/``end`` when given, else just outside the
    data and the marks near it, so that close values (0.788 and 0.827) look different; a
    mark far from the data (a weak baseline) is drawn at the edge, said to be off scale."""
    span = (max(values) - min(values)) if values else 0.0
    near = [m.value for m in marks
            if not values or min(values) - 2 * span <= m.value <= max(values) + 2 * span]
    seen = [*values, *near]
    lo, hi = min(seen, default=0.0), max(seen, default=1.0)
    if start is not None:  # counts and shares: from their zero, to the largest
        lo, hi = start, hi if end is None else max(end, hi)
        return lo, hi if hi > lo else lo + 1.0
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad if end is None else max(end, hi)
    return lo, hi if hi > lo else lo + 1.0


def chart_lines(width: int, title: str, rows: list[tuple[str, float, str]],
                marks: list[Mark], lo: float, hi: float, unit: str) -> list[Text]:
    """The chart as lines of at most ``width`` cells (for the widget and for tests)."""
    lines = [Text(part, style="bold") for part in textwrap.wrap(title, max(width, 8))]
    if not rows:
        return [*lines, Text("nothing to chart", style="dim")]
    labels, label_width = unique_labels([label for label, _, _ in rows], max(width * 2 // 5, 8))
    value_width = max(len(shown) for _, _, shown in rows)
    room = max(width - label_width - value_width - 3, 4)
    scale = Text(" " * (label_width + 1), style="dim")
    left, right = number(lo), f"{number(hi)}{' ' + unit if unit else ''}"
    scale.append(left + right.rjust(max(room + value_width + 1 - len(left), len(right) + 1)),
                 style="dim")
    lines.append(scale)
    glyphs = {MARK_GLYPHS[i % len(MARK_GLYPHS)]: m for i, m in enumerate(marks)}
    columns = {min(max(round((m.value - lo) / (hi - lo) * room), 0), room - 1): g
               for g, m in glyphs.items()}
    for label, (_, value, shown) in zip(labels, rows):
        line = Text(label.rjust(label_width) + " ", style="dim")
        drawn, at = bar(value - lo, hi - lo, room).ljust(room), 0
        for column, glyph in sorted(columns.items()):
            line.append(drawn[at:column], style="cyan")
            line.append(glyph, style="bold yellow")
            at = column + 1
        line.append(drawn[at:], style="cyan")
        line.append(" " + shown.rjust(value_width))
        lines.append(line)
    legend = "   ".join(
        f"{g} {m.name} {number(m.value)}" + ("" if lo <= m.value <= hi else " (off scale)")
        for g, m in glyphs.items())
    for part in textwrap.wrap(legend, max(width - label_width - 1, 8)):
        lines.append(Text(" " * (label_width + 1)) + Text(part, style="yellow"))
    return lines


class BarChart(Widget):
    """Labelled bars, one per line, on a stated scale; as tall as its lines."""

    DEFAULT_CSS = "BarChart { height: auto; }"
    rows: reactive[list[tuple[str, float, str]]] = reactive(list, layout=True)

    def __init__(self, title: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.marks: list[Mark] = []
        self.unit = ""
        self._range = (0.0, 1.0)

    def plot(self, title: str, rows: list[tuple[str, float]] | list[tuple[str, float, str]],
             *, unit: str = "", start: float | None = 0.0, end: float | None = None,
             marks: list[Mark] | None = None) -> None:
        """Bars from ``start`` (None: just below the data) to ``end`` (None: the largest
        value); rows may carry the text to print instead of their value."""
        self.title, self.unit, self.marks = title, unit, list(marks or [])
        full = [(r[0], float(r[1]), r[2] if len(r) > 2 else number(r[1])) for r in rows]
        self._range = axis_range([v for _, v, _ in full], self.marks, start, end)
        self.rows = full
        self.refresh(layout=True)

    def lines(self, width: int) -> list[Text]:
        return chart_lines(width, self.title, self.rows, self.marks, *self._range, self.unit)

    def render(self) -> Text:
        text = Text("\n").join(self.lines(self.size.width))
        text.no_wrap = True
        return text

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(len(self.lines(width)), 1)
