"""The footer of every view: its keys from the left, and Help and Quit held at the right edge
so no width cuts them (an 80-column footer cuts the tail of the rest)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widgets import Footer

PINNED = ("help", "quit")  # the app's actions kept visible at every width


class AppFooter(Footer):
    DEFAULT_CSS = """
    AppFooter #pinned-keys {
        dock: right;
        width: auto;
        height: 1;
        background: $footer-background;
    }
    """

    def __init__(self) -> None:
        # The palette is one key away (ctrl+p) and listed in help: its room goes to Help/Quit.
        super().__init__(show_command_palette=False, compact=True)

    def compose(self) -> ComposeResult:
        pinned = []
        for widget in super().compose():
            # A key of the footer carries its action (Textual's FooterKey, not exported).
            if getattr(widget, "action", None) in PINNED:
                pinned.append(widget)
            else:
                yield widget
        with HorizontalGroup(id="pinned-keys"):
            yield from pinned
