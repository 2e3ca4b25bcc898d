"""A confirmation that asks for the reason the audit trail will keep (or, for an action that
keeps none, only for a yes)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


class ConfirmScreen(ModalScreen[str | None]):
    """Returns the reason typed ("" when ``ask_reason`` is False), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    # The reason is typed at once: a key typed while the prompt opens must reach it, never
    # the view below, where `p` promotes and `A` archives (app/type_ahead.py).
    TYPE_AHEAD = True
    AUTO_FOCUS = "#confirm-reason"  # not the question's scroll: typing starts in the reason

    def __init__(self, question: str, default_reason: str = "", *,
                 ask_reason: bool = True) -> None:
        super().__init__()
        self.question = question
        self.default_reason = default_reason
        self.ask_reason = ask_reason

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            # A long question (a purge naming each version) scrolls; the answer stays in view.
            with VerticalScroll(id="confirm-scroll"):
                yield Label(self.question, id="confirm-question", markup=False)
            if self.ask_reason:
                yield Input(value=self.default_reason, placeholder="reason (required)",
                            id="confirm-reason")
            with Horizontal(id="confirm-buttons"):
                yield Button("Confirm", variant="primary", id="confirm-yes")
                yield Button("Cancel", id="confirm-no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm-yes":
            self._submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_mount(self) -> None:
        if not self.ask_reason:
            # Nothing to type: Cancel has the focus, so a stray Enter deletes nothing.
            self.query_one("#confirm-no", Button).focus()

    def _submit(self) -> None:
        if not self.ask_reason:
            self.dismiss("")
            return
        reason = self.query_one("#confirm-reason", Input).value.strip()
        if not reason:
            self.notify("a reason is required: the audit trail keeps it", severity="warning")
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)
