"""A model version's card on the whole screen (Enter on a version in the Models view)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Header, Markdown

from mlcycle.app.screens.base import DetailScreen
from mlcycle.app.widgets.footer import AppFooter


class CardScreen(DetailScreen):
    AUTO_FOCUS = "#card-full"

    def __init__(self, card: str) -> None:
        super().__init__()
        self.card = card

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="card-full", classes="pane"):
            yield Markdown(self.card)
        yield AppFooter()
