"""Opening the terminal UI where there is no workspace: ask before creating one.

The CLI refuses to work on a missing workspace (only ``init`` and write commands create one),
so the UI does not create one silently either: a mistyped ``--workspace`` or the wrong folder
would otherwise leave an empty workspace behind.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Static

from mlcycle.store.errors import MlcycleError
from mlcycle.store.workspace import Workspace


class CreateWorkspaceApp(App[Workspace | None]):
    """Offers to create a workspace at ``root``; returns it once created, or None if declined."""

    CSS_PATH = Path(__file__).parent.parent / "styles" / "app.tcss"
    DEFAULT_CSS = "CreateWorkspaceApp Screen { align: center middle; }"
    BINDINGS = [
        Binding("y", "create", "Create"),
        Binding("n,q,escape", "decline", "Quit"),
    ]

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Label(Text(f"There is no mlcycle workspace at {self.root}."),
                        id="confirm-question")
            yield Label("Create one there (y), or quit (n)?")
            yield Static("", id="create-error")
            with Horizontal(id="confirm-buttons"):
                yield Button("Create", variant="primary", id="create-yes")
                yield Button("Quit", id="create-no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "create-yes":
            self.action_create()
        else:
            self.action_decline()

    def action_create(self) -> None:
        from mlcycle.store.workspace import open_workspace

        try:
            ws, _ = open_workspace(self.root, create=True)
        except MlcycleError as exc:  # e.g. the path is a file: say so and let the user quit
            self.query_one("#create-error", Static).update(Text(str(exc), style="red"))
            return
        self.exit(ws)

    def action_decline(self) -> None:
        self.exit(None)
