"""Two distributions bin by bin: the reference's share and the current batch's, on one scale,
so a bin that grew or shrank shows as two bars of different lengths."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from mlcycle.app.widgets.bar_chart import bar


class PairedBars(Widget):
    DEFAULT_CSS = "PairedBars { height: auto; }"
    bins: reactive[list[tuple[str, float, float]]] = reactive(list, layout=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = ""

    def plot(self, title: str, bins: list[tuple[str, float, float]]) -> None:
        """``bins``: (label, reference share, current share) per bin."""
        self.title = title
        self.bins = bins

    def render(self) -> Text:
        text = Text(self.title + "\n", style="bold") if self.title else Text()
        if not self.bins:
            text.append("no histogram stored for this input", style="dim")
            return text
        text.append("█ reference", style="blue")
        text.append("  █ current", style="magenta")
        text.append("  (share of rows per bin, one scale)", style="dim")
        width = max(len(label) for label, _, _ in self.bins)
        room = max(self.size.width - width - 9, 4)
        top = max(max(r, c) for _, r, c in self.bins)
        for label, ref, cur in self.bins:
            text.append("\n" + label.rjust(width) + " ", style="dim")
            text.append(bar(ref, top, room).ljust(room), style="blue")
            text.append(f" {ref:6.1%}")
            text.append("\n" + " " * (width + 1))
            text.append(bar(cur, top, room).ljust(room), style="magenta")
            text.append(f" {cur:6.1%}")
        return text

    def get_content_height(self, container, viewport, width: int) -> int:
        # Title, legend, then two lines a bin: never a bin left out.
        return (1 if self.title else 0) + 1 + 2 * len(self.bins)
