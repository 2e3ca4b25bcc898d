"""An in-app editor for recipe and feature-set TOML: checked before it is saved."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static, TextArea

from mlcycle.store.errors import MlcycleError


class TextEditorScreen(ModalScreen[str | None]):
    """Edit ``text``; ctrl+s runs ``save`` (which checks, then stores, or raises), escape
    leaves without saving, asking first when there are edits to throw away. A failed check
    shows its one-line error and keeps the draft."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Check and save"),
        Binding("escape", "cancel", "Cancel"),
    ]
    TYPE_AHEAD = True  # what is typed as it opens goes into the text (app/type_ahead.py)

    def __init__(self, title: str, text: str, save: Callable[[str], str]) -> None:
        super().__init__()
        self._title = title
        self._text = text
        self._save = save

    def compose(self) -> ComposeResult:
        with Vertical(id="editor"):
            yield Label(Text(f"{self._title}   ctrl+s check and save · escape cancel"),
                        classes="pane-title")
            yield TextArea(self._text, id="editor-text", show_line_numbers=True)
            yield Static("", id="editor-status")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        text = self.query_one(TextArea).text
        status = self.query_one("#editor-status", Static)
        try:
            message = self._save(text)
        except MlcycleError as exc:
            # The message quotes the draft, which may hold '[/x]': a Text, never markup.
            status.update(Text(f"not saved: {exc}", style="red"))
            self._show_line(str(exc))
            return
        self.dismiss(message)

    def _show_line(self, message: str) -> None:
        """Put the cursor on the line an error names ('policy line 3: …'), selected."""
        import re

        found = re.search(r"\bline (\d+)", message)
        area = self.query_one(TextArea)
        if found and 1 <= int(found.group(1)) <= area.document.line_count:
            area.select_line(int(found.group(1)) - 1)
            area.scroll_cursor_visible()

    def action_cancel(self) -> None:
        if self.query_one(TextArea).text == self._text:
            self.dismiss(None)
            return
        from mlcycle.app.screens.confirm import ConfirmScreen

        def answered(answer: str | None) -> None:
            if answer is not None:
                self.dismiss(None)

        # Cancel has the focus: a second escape or a stray Enter keeps the edits.
        self.app.push_screen(ConfirmScreen(f"Throw away your edits to the {self._title}?",
                                           ask_reason=False), answered)
