"""The help screen: every key live in the current view (its own, its tables', the app's),
with the action name that remaps it in config.toml, and what each view shows."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from mlcycle.app.views import VIEWS


def _place(action: str) -> int:
    # The view's own keys first, then the tables' (and other widgets'), then the app's.
    if action.startswith("app."):
        return 2
    return 1 if not action or action.startswith("table.") else 0


def help_content(bindings: list[tuple[str, str, str]]) -> Group:
    keys = Table.grid(padding=(0, 2))
    keys.add_column(style="bold")
    keys.add_column()
    keys.add_column(style="dim")
    seen = set()
    for key, text, action in sorted(bindings, key=lambda b: _place(b[2])):
        if (key, text) not in seen:
            seen.add((key, text))
            keys.add_row(Text(key), Text(text), Text(action))
    keys.add_row("ctrl+p", "command palette: views, projects, this view's actions, "
                 "Theme, Screenshot", "")
    views = Table.grid(padding=(0, 2))
    views.add_column(style="bold")
    views.add_column()
    for v in VIEWS:
        views.add_row(v.key, Text(f"{v.title}: {v.about}"))
    return Group(
        Text("Keys of this view", style="bold underline"), keys, Text(),
        Text("Remap a key in config.toml's [keys] by its action name, e.g. "
             '"experiments.train" = "T" (mlcycle config path says where the file is).',
             style="dim"), Text(),
        Text("Views", style="bold underline"), views, Text(),
        Text("escape closes", style="dim"))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, bindings: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.keys_shown = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_content(self.keys_shown), id="help-keys")
