"""The ``:`` line, as in k9s and vim: type a CLI command, Enter runs it as a job.

Tab (or the right arrow) takes the completion shown; Up and Down walk the history; Escape
closes the line. The command's output is the job's live table in the jobs panel.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Label

from mlcycle.app import command_line
from mlcycle.store.errors import MlcycleError


class CommandSuggester(Suggester):
    def __init__(self, projects: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.projects = projects

    async def get_suggestion(self, value: str) -> str | None:
        return command_line.complete(value, self.projects)


class CommandLineScreen(ModalScreen[None]):
    TYPE_AHEAD = True  # `:train churn` pasted at once lands in the line (app/type_ahead.py)
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("up", "history(-1)", "Older", show=False),
        Binding("down", "history(1)", "Newer", show=False),
        Binding("tab", "accept", "Complete", show=False, priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._history = command_line.load_history()
        self._at = len(self._history)
        self._projects: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="command-line"):
            yield Label("", id="command-error", markup=False)
            with Horizontal(id="command-row"):
                yield Label(":", id="command-prompt")
                yield Input(placeholder="train churn --trials 20   (Tab completes, Up: history, "
                            "Esc closes)", id="command-input",
                            suggester=CommandSuggester(self._projects))

    def on_mount(self) -> None:
        self.run_worker(self._load_projects, thread=True, exit_on_error=False)

    def _load_projects(self) -> None:
        from mlcycle import projects

        self._projects[:] = [p.name for p in projects.list_all(self.app.workspace)]

    def on_input_submitted(self, event: Input.Submitted) -> None:
        line = event.value.strip()
        try:
            words = command_line.parse(line)
        except MlcycleError as exc:
            self.query_one("#command-error", Label).update(str(exc))
            return
        if not self._history or self._history[-1] != line:
            self._history.append(line)
            command_line.save_history(self._history)
        root = self.app.workspace.root
        job = self.app.jobs.start(command_line.title(words),
                                  lambda job: command_line.run(job, words, root),
                                  done=lambda job: job.result, columns=("output",))
        self.dismiss()
        self.app.notify(f"running {job.title} (J: jobs)", markup=False)

    def action_history(self, step: int) -> None:
        if not self._history:
            return
        self._at = max(0, min(len(self._history), self._at + step))
        value = self._history[self._at] if self._at < len(self._history) else ""
        box = self.query_one("#command-input", Input)
        box.value = value
        box.cursor_position = len(value)

    def action_accept(self) -> None:
        box = self.query_one("#command-input", Input)
        box.action_cursor_right()  # at the end of the line, takes the suggestion

    def action_close(self) -> None:
        self.dismiss()
