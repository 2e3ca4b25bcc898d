"""The mlcycle terminal UI. This class only composes: each view is its own screen module."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, SystemCommand
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from mlcycle.app import settings as prefs
from mlcycle.app.background import Background
from mlcycle.app.decisions_prompt import DecisionPrompt
from mlcycle.app.jobs import JobChanged, Jobs, traceback_text
from mlcycle.app.palette import ViewCommands
from mlcycle.app.type_ahead import TypeAhead
from mlcycle.app.views import VIEWS
from mlcycle.store.errors import MlcycleError, error_line
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
    # Screens get -narrow below 120 columns and -short below 36 rows: the styles give
    # lists the room there (app.tcss), and Enter opens what a side pane would show.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]
    # Each binding's id is its action name in config.toml's [keys] (see app/keymap.py).
    BINDINGS = [
        *(Binding(view.key, f"switch_mode('{view.name}')", view.title, id=f"app.{view.name}")
          for view in VIEWS),
        Binding("J", "jobs", "Jobs", key_display="J", id="app.jobs"),
        Binding("colon", "command_line", "Command", key_display=":", id="app.command_line"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("escape", "back", "Back", show=False, id="app.back"),
        Binding("ctrl+r", "refresh", "Refresh", show=False, id="app.refresh"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    project: reactive[str | None] = reactive(None)

    def __init__(self, workspace: Workspace, project: str | None = None,
                 settings: prefs.Settings | None = None) -> None:
        self.settings = settings or prefs.load()
        state = prefs.load_state()
        place = prefs.last_place(state, workspace.root)
        views = {view.name for view in VIEWS}
        # The view and project last shown come back; a project named at start wins.
        if place.get("view") in views:
            self.DEFAULT_MODE = place["view"]
        super().__init__()
        self.workspace = workspace
        self.set_reactive(MlcycleApp.project,
                          project or place.get("project") or self.settings.project)
        self._theme_at_start = prefs.chosen_theme(self.settings, state)
        self._db_stamp = self._stamp()
        self.jobs = Jobs(self)
        self.background = Background()  # the server and watchers; they stop with the app
        self.decision_prompt = DecisionPrompt(self)  # pending decisions, asked as modals
        self.type_ahead = TypeAhead(self)  # keys typed while a form is being pushed

    def on_mount(self) -> None:
        self.sub_title = str(self.workspace.root)
        self._apply_settings()
        # Other processes (a watcher, CLI commands) change the workspace: refresh when they do.
        self.set_interval(self.settings.refresh_interval, self._refresh_if_changed)
        self.decision_prompt.start()
        if not self.is_headless:
            self.set_interval(2.0, self._leave_if_terminal_gone)

    def _apply_settings(self) -> None:
        """Theme and keys from the settings; each problem is one notice, never a crash."""
        from mlcycle.app import keymap

        problems = list(self.settings.problems)
        if self._theme_at_start in self.available_themes:
            self.theme = self._theme_at_start
        else:
            problems.append(f"theme {self._theme_at_start!r} is not a theme (choose one with "
                            f"ctrl+p, Theme); using {self.theme!r}")
        remaps, bad = {}, []
        if self.settings.keys:  # checking imports every view: only when there is a remap
            remaps, bad = keymap.check(self.settings.keys, keymap.actions())
            self.set_keymap(remaps)
        for line in problems + bad:
            self.notify(line, severity="error", timeout=12, markup=False)
        # From here on, a theme picked in the palette is remembered for the next start.
        self.watch(self, "theme", lambda name: prefs.remember_theme(self.settings, name),
                   init=False)
        self.watch(self, "project", lambda _name: self._remember_place(), init=False)

    def _remember_place(self) -> None:
        prefs.remember_place(self.workspace.root, self.current_mode, self.project)

    def switch_mode(self, mode: str) -> AwaitComplete:
        """Switch views, remembering the view shown for the next start."""
        done = super().switch_mode(mode)
        self._remember_place()
        return done

    def push_screen(self, screen: Screen | str, *args: Any, **kwargs: Any) -> Any:
        """Push a screen; keys typed while it mounts wait for it (app/type_ahead.py)."""
        self.type_ahead.expect(screen)
        return super().push_screen(screen, *args, **kwargs)

    async def on_event(self, event: events.Event) -> None:
        if not self.type_ahead.hold(event):
            await super().on_event(event)

    def action_back(self) -> None:
        """Escape with nothing open to close: the view stays (escape goes back one level,
        never sideways into another view, where the next keys would act unseen)."""
        self.notify("nothing open to close here (1-6 switch views, q quits)", timeout=3)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen into the export folder and say where, or why not."""
        import datetime

        from mlcycle.store import safety

        stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        folder = Path(path) if path else self.settings.exports()
        try:
            target = safety.output_path(folder / (filename or f"mlcycle_{stamp}.svg"),
                                        "screenshot", workspace=self.workspace.root)
            folder.mkdir(parents=True, exist_ok=True)
            safety.write_text(target, self.export_screenshot())
        except (MlcycleError, OSError) as exc:
            self.notify(f"screenshot not saved: {error_line(exc)}", severity="error",
                        markup=False)
            return
        self.notify(f"screenshot saved to {target}", markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":  # Textual's saves to the current folder
                command = SystemCommand("Screenshot", "Save an SVG of the screen into the "
                                        f"export folder ({self.settings.exports()})",
                                        lambda: self.set_timer(0.1, self.action_screenshot))
            yield command

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
            self.notify(error_line(exc), severity="error", timeout=6, markup=False)
        else:
            where = self.log_error(exc)
            self.notify(f"{error_line(exc)} (details in {where})", severity="error",
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

        # Every key live here: the focused table's, the view's and the app's, as remapped;
        # and the view's own that a table's key of the same name shadows (enter).
        live = [b for _node, b, _enabled, _tip in self.screen.active_bindings.values()]
        ids = {b.id for b in live}
        own = [b for b in getattr(self.screen, "BINDINGS", [])
               if isinstance(b, Binding) and b.id and b.id not in ids]
        bindings = [(self.get_key_display(b), b.description, b.id or "")
                    for b in live + own if b.description]
        self.push_screen(HelpScreen(bindings))

    def select_project(self, name: str) -> None:
        self.project = name
