"""The help screen: every key, and what each view shows."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from mlcycle.app.views import VIEWS


def help_markdown(screen_bindings: list[tuple[str, str]]) -> str:
    lines = ["# mlcycle keys", "", "| key | does |", "|---|---|"]
    lines += [f"| `{v.key}` | {v.title}: {v.about} |" for v in VIEWS]
    lines += [
        "| `ctrl+p` | command palette: `view: …`, `project: …` |",
        "| `ctrl+r` | reload from the workspace (it also reloads by itself when it changes) |",
        "| `?` | this help |",
        "| `q` | quit |",
    ]
    lines += [f"| `{key}` | {text} (this view) |" for key, text in screen_bindings]
    lines += ["", "Press `escape` to close."]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, view_bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.view_bindings = view_bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(help_markdown(self.view_bindings))
