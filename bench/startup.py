"""Start-up: `mlcycle --help` and the TUI's first screen, against plain Textual.

Goals: `mlcycle --help` within 2x of `python -c 'import textual'`; the TUI draws its first
screen (projects loaded from the demo workspace) within 3x of a minimal Textual app.
"""

from __future__ import annotations

import shutil
import sys

from timing import BIN, DATA, measure, report

MINIMAL_APP = """
from textual.app import App
from textual.widgets import Label

class Minimal(App):
    def compose(self):
        yield Label("hello")
    def on_mount(self):
        self.call_after_refresh(self.exit)

Minimal().run(headless=True)
"""

MLCYCLE_FIRST_SCREEN = """
import sys
from mlcycle.app.ui import MlcycleApp
from mlcycle.store.workspace import open_workspace

class FirstScreen(MlcycleApp):
    def on_mount(self):
        super().on_mount()
        self.set_interval(0.005, self._done)
    def _done(self):
        # The projects view has drawn the project list loaded from the workspace.
        if self.screen.query("#projects") and self.screen.query_one("#projects").row_count:
            self.exit()

FirstScreen(open_workspace(sys.argv[1])[0]).run(headless=True)
"""


def main() -> None:
    python = sys.executable
    ws = DATA / "startup-ws"
    shutil.rmtree(ws, ignore_errors=True)
    measure([str(BIN / "mlcycle"), "--workspace", str(ws), "demo", "--no-ui"], runs=1, warmup=0)

    print("mlcycle --help vs importing textual (whole process):")
    report(
        [
            ("python -c 'import textual'", measure([python, "-c", "import textual"], runs=10)),
            ("mlcycle --help", measure([str(BIN / "mlcycle"), "--help"], runs=10)),
        ],
        baseline="python -c 'import textual'",
        goal="mlcycle --help at most 2x",
    )
    print("\nfirst screen: mlcycle TUI vs a minimal Textual app (headless, whole process):")
    report(
        [
            ("minimal Textual app", measure([python, "-c", MINIMAL_APP], runs=7)),
            (
                "mlcycle projects view",
                measure([python, "-c", MLCYCLE_FIRST_SCREEN, str(ws)], runs=7),
            ),
        ],
        baseline="minimal Textual app",
        goal="mlcycle first screen at most 3x",
    )


if __name__ == "__main__":
    main()
