"""The mlcycle terminal UI. This class only composes: each view is its own screen module."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from mlcycle.app.background import Background
from mlcycle.app.decisions_prompt import DecisionPrompt
from mlcycle.app.jobs import JobChanged, Jobs, traceback_text
from mlcycle.app.palette import ViewCommands
from mlcycle.app.views import VIEWS
from mlcycle.store.errors import MlcycleError, first_line
from mlcycle.store.workspace import Workspace


def _screen_factory(path: str) -> Callable[[], Screen]:
    module_name, cls_name = path.split(":")
    return lambda: getattr(importlib.import_module(module_name), cls_name)()


class MlcycleApp(App[None]):
    """mlcycle: the machine-learning lifecycle in the terminal."""

    TITLE = "mlcycle"
    CSS_PATH = Path(__file__).parent / "styles" / "app.tcss"
    COMMANDS = App.COMMANDS | {ViewCommands}
    MODES = {view.name: _screen_factory(view.screen) for view in VIEWS}
    DEFAULT_MODE = VIEWS[0].name
    BINDINGS = [
        *(Binding(view.key, f"switch_mode('{view.name}')", view.title) for view in VIEWS),
        Binding("J", "jobs", "Jobs", key_display="J"),
        Binding("colon", "command_line", "Command", key_display=":"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+r", "refresh", "Refresh", show=False),
        Binding("q", "quit", "Quit"),
    ]

    project: reactive[str | None] = reactive(None)

    def __init__(self, workspace: Workspace, project: str | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.set_reactive(MlcycleApp.project, project)
        self._db_stamp = self._stamp()
        self.jobs = Jobs(self)
        self.background = Background()  # the server and watchers; they stop with the app
        self.decision_prompt = DecisionPrompt(self)  # pending decisions, asked as modals

    def on_mount(self) -> None:
        self.sub_title = str(self.workspace.root)
        # Other processes (a watcher, CLI commands) change the workspace: refresh when they do.
        self.set_interval(2.0, self._refresh_if_changed)
        self.decision_prompt.start()
        if not self.is_headless:
            self.set_interval(2.0, self._leave_if_terminal_gone)

    def on_unmount(self) -> None:
        # Quitting the UI stops what it started: no port or folder stays held.
        self.background.stop_all()

    def _stamp(self) -> tuple[float, int]:
        stamps = []
        for path in (self.workspace.db_path, Path(f"{self.workspace.db_path}.wal")):
            try:
                st = path.stat()
                stamps.append((st.st_mtime, st.st_size))
            except FileNotFoundError:
                stamps.append((0.0, 0))
        return max(s[0] for s in stamps), sum(s[1] for s in stamps)

    def _refresh_if_changed(self) -> None:
        stamp = self._stamp()
        if stamp != self._db_stamp:
            self._db_stamp = stamp
            self.action_refresh()
            self.decision_prompt.poll()

    def _leave_if_terminal_gone(self) -> None:
        # A terminal that hung up (a dropped SSH session, a closed tmux) can leave the input
        # thread spinning on a dead descriptor at full CPU: leave instead.
        try:
            os.tcgetpgrp(sys.__stdin__.fileno())
        except OSError:
            self.exit()
        except (AttributeError, ValueError):  # no stdin at all
            pass

    def show_error(self, exc: BaseException) -> None:
        """The one place an error is shown: one line, typed as the user typed it (never as
        markup), never by quitting the app; a bug's traceback goes to the workspace's log."""
        if isinstance(exc, MlcycleError):
            self.notify(str(exc), severity="error", timeout=6, markup=False)
        else:
            where = self.log_error(exc)
            self.notify(f"{first_line(exc)} (details in {where})", severity="error",
                        timeout=8, markup=False)

    def log_error(self, exc: BaseException) -> Path:
        """Append ``exc`` with its traceback to ``logs/tui.log`` in the workspace."""
        import datetime

        log = self.workspace.root / "logs" / "tui.log"
        try:
            log.parent.mkdir(exist_ok=True)
            stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            with log.open("a", encoding="utf-8") as out:  # one append per entry
                out.write(f"--- {stamp}\n{traceback_text(exc)}")
        except OSError:
            pass  # a read-only workspace still gets the notice
        return log

    def on_job_changed(self, event: JobChanged) -> None:
        for screen in self.screen_stack:
            handler = getattr(screen, "job_changed", None)
            if callable(handler):
                handler(event.job)

    def action_jobs(self) -> None:
        from mlcycle.app.screens.jobs import JobsScreen

        if not isinstance(self.screen, JobsScreen):
            self.push_screen(JobsScreen())

    def action_command_line(self) -> None:
        from mlcycle.app.screens.command_line import CommandLineScreen

        if not isinstance(self.screen, CommandLineScreen):
            self.push_screen(CommandLineScreen())

    def action_refresh(self) -> None:
        reload = getattr(self.screen, "reload", None)
        if callable(reload):
            reload()

    def action_help(self) -> None:
        from mlcycle.app.screens.help import HelpScreen

        bindings = [
            (b.key_display or b.key, b.description)
            for b in getattr(self.screen, "BINDINGS", [])
            if isinstance(b, Binding) and b.description
        ]
        self.push_screen(HelpScreen(bindings))

    def select_project(self, name: str) -> None:
        self.project = name
