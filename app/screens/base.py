"""What every view shares: loading from the workspace off the UI thread, and errors as notices."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import work
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from mlcycle.app.jobs import RUNNING, Job
from mlcycle.store.errors import MlcycleError


class ViewScreen(Screen):
    """A view over the workspace. Subclasses implement ``fetch`` (worker thread) and ``show``.

    A view loads when it is shown (including the first time) and, if it shows one project,
    again when another project is picked.
    """

    shows_one_project = True

    def on_mount(self) -> None:
        if self.shows_one_project:
            self.watch(self.app, "project", lambda _old, _new: self.reload(), init=False)

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self) -> None:
        # The workspace may be busy with another process's write: wait here, not in the UI.
        # A failure is the app's to show (on_worker_state_changed below).
        from textual.worker import get_current_worker

        worker = get_current_worker()
        data = self.fetch()

        def show() -> None:
            # A newer load replaced this one while it read: what it read is older, never shown.
            if not worker.is_cancelled:
                self.show(data)

        self.app.call_from_thread(show)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Textual tells only the worker's own node that it failed: hand it to the app.
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.show_error(event.worker.error)

    def job_changed(self, job: Job) -> None:
        """A job made progress or ended; a view that shows what jobs make reloads when one
        it did not start itself finishes."""
        if job.state != RUNNING and self.is_current:
            self.reload()

    def start_job(self, title: str, work: Callable[[Job], Any], **how: Any) -> Job:
        """Start long work as one of the app's jobs (see ``mlcycle.app.jobs.Jobs.start``)."""
        return self.app.jobs.start(title, work, **how)

    def stop_service(self, key: str, what: str) -> bool:
        """Stop a background service (a server, a watcher) off the UI thread, if it runs;
        stopping waits for its work in progress, so the view reloads once it is over."""
        background = self.app.background
        if not background.running(key):
            return False

        def stop() -> None:
            background.stop(key)
            self.app.call_from_thread(self.reload)

        self.notify(f"stopping {what}", markup=False)
        self.run_worker(stop, thread=True, exit_on_error=False, group=key)
        return True

    def export(self, name: str, write: Callable[[Path], object], what: str = "report") -> None:
        """Write an export named ``name`` into the current folder, through the same guard as
        the CLI's outputs (never into the workspace), and say where it went or why not."""
        from mlcycle.store import safety

        try:
            target = safety.output_path(Path.cwd() / name, "export",
                                        workspace=self.app.workspace.root)
            write(target)
        except MlcycleError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.notify(f"{what} written to {target}", markup=False)

    def palette_commands(self) -> list[tuple[str, Callable[[], object], str]]:
        """This view's actions for the command palette, namespaced by what they act on
        ('train: churn'). By default each action in the footer, on the selected project;
        a view whose actions act on a row (a version, a run) names it by overriding this."""
        from textual.binding import Binding

        subject = self.app.project or "no project"
        out = []
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.show and binding.description:
                verb = binding.description.lower()
                out.append((f"{verb}: {subject}",
                            lambda action=binding.action: self.run_action(action),
                            f"{binding.description} (key {binding.key_display or binding.key})"))
        return out

    def fetch(self) -> Any:
        raise NotImplementedError

    def show(self, data: Any) -> None:
        raise NotImplementedError
