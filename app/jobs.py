"""The app's one job runner: long work off the UI thread, with progress, cancel and outcome.

Every action that takes more than a moment (training, adding data, exporting, checking a
batch, a ``:`` command) is a ``Job``. The work is a function of the job: it reads
``job.cancel`` (a core ``CancelToken``, handed to the engine) and reports through
``job.progress``, ``job.say`` and ``job.add_row``; what it returns is the job's result. A
failure never ends the app: an ``MlcycleError`` ends the job with its one-line message, and
anything else also writes its traceback to ``logs/tui.log`` in the workspace.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

from mlcycle.store.cancel import Cancelled, CancelToken
from mlcycle.store.errors import MlcycleError, error_line

if TYPE_CHECKING:
    from mlcycle.app.ui import MlcycleApp

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"


@dataclass
class Lead:
    """Where a finished job's product is shown: a view, and the project to pick there."""

    view: str
    project: str | None = None
    label: str = ""


@dataclass
class Job:
    id: int
    title: str  # namespaced as in the palette: "train: churn"
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    state: str = RUNNING
    done: float = 0.0
    total: float | None = None  # None while the size of the work is unknown
    message: str = ""  # the latest thing the work said
    outcome: str = ""  # one line once it ended: what it made, or why it failed
    columns: tuple[str, ...] = ()  # the live table's header, when the work keeps one
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    # The work's own estimate of the seconds left, and when it was given (time.monotonic()).
    estimate: tuple[float, float] | None = None
    lead: Lead | None = None
    result: Any = None
    cancel: CancelToken = field(default_factory=CancelToken)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _changed: Callable[[Job], None] = field(default=lambda _job: None, repr=False)

    # Called by the work, from its thread.
    def progress(self, done: float, total: float | None = None, message: str | None = None) -> None:
        with self._lock:
            self.done = done
            if total is not None:
                self.total = total
            if message is not None:
                self.message = message
        self._changed(self)

    def expect(self, seconds: float) -> None:
        """The work knows better than its pace how long it has left (a training under a
        time budget): the ETA counts down from ``seconds``."""
        with self._lock:
            self.estimate = (seconds, time.monotonic())
        self._changed(self)

    def say(self, message: str) -> None:
        with self._lock:
            self.message = message
        self._changed(self)

    def add_row(self, *cells: Any) -> None:
        with self._lock:
            self.rows.append(cells)
        self._changed(self)

    # Read by the UI.
    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    @property
    def eta(self) -> float | None:
        """Seconds left: the work's own estimate, counted down, or from the pace so far;
        None until there is either."""
        if self.state != RUNNING:
            return None
        if self.estimate is not None:
            seconds, given = self.estimate
            return max(seconds - (time.monotonic() - given), 0.0)
        if not self.total or self.done <= 0:
            return None
        return self.elapsed / self.done * max(self.total - self.done, 0)

    @property
    def fraction(self) -> float | None:
        if self.state == DONE:
            return 1.0
        return min(self.done / self.total, 1.0) if self.total else None


class JobChanged(Message):
    """A job made progress or ended; posted to the app, throttled for progress."""

    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job


class Jobs:
    """The jobs of one app session, newest last."""

    def __init__(self, app: MlcycleApp) -> None:
        self.app = app
        self.all: list[Job] = []
        self._ids = itertools.count(1)
        self._posted: dict[int, float] = {}
        self._ui_thread = threading.get_ident()  # the app is made where it runs

    def start(self, title: str, work: Callable[[Job], Any], *,
              done: Callable[[Job], str] | None = None,
              lead: Lead | None = None, columns: tuple[str, ...] = ()) -> Job:
        """Run ``work(job)`` in a thread. ``done(job)`` gives the outcome line of a job that
        finished (default: 'done'); it runs on the UI thread and may refresh views."""
        job = Job(next(self._ids), title, lead=lead, columns=columns, _changed=self._post)
        self.all.append(job)
        self.app.run_worker(lambda: self._run(job, work, done), thread=True,
                            exit_on_error=False, group="jobs", name=title)
        self.app.post_message(JobChanged(job))
        return job

    def cancel(self, job: Job) -> None:
        if job.state == RUNNING:
            job.cancel.cancel()
            job.say("cancelling…")

    @property
    def running(self) -> list[Job]:
        return [j for j in self.all if j.state == RUNNING]

    def _run(self, job: Job, work: Callable[[Job], Any], done: Callable[[Job], str] | None
             ) -> None:
        try:
            # Work that stops early because it was cancelled raises Cancelled itself; work
            # that finished despite a late cancel is done, and says what it made.
            job.result = work(job)
        except Cancelled as exc:
            self._end(job, CANCELLED, error_line(exc))
        except MlcycleError as exc:
            self._end(job, FAILED, error_line(exc))
        except Exception as exc:  # a bug: keep the app, keep the traceback
            where = self.app.log_error(exc)
            self._end(job, FAILED, f"{error_line(exc)} (details in {where})")
        else:
            self.app.call_from_thread(self._finish, job, done)

    def _finish(self, job: Job, done: Callable[[Job], str] | None) -> None:
        try:
            outcome = done(job) if done else "done"
        except Exception as exc:  # showing the outcome failed, the work did not
            outcome = f"done; {error_line(exc)}"
            self.app.log_error(exc)
        self._end(job, DONE, outcome)

    def _end(self, job: Job, state: str, outcome: str) -> None:
        job.ended, job.state, job.outcome = time.monotonic(), state, outcome
        if job.total is not None and state == DONE:
            job.done = job.total
        self._posted.pop(job.id, None)

        def tell() -> None:
            severity = {DONE: "information", CANCELLED: "warning"}.get(state, "error")
            self.app.notify(f"{job.title}: {outcome}", severity=severity, markup=False,
                            timeout=8 if state == FAILED else 4)
            self.app.post_message(JobChanged(job))

        self._on_ui(tell)

    def _post(self, job: Job) -> None:
        # Progress can come many times a second; the panel redraws at most 10 times a second.
        now = time.monotonic()
        if now - self._posted.get(job.id, 0.0) < 0.1:
            return
        self._posted[job.id] = now
        self._on_ui(lambda: self.app.post_message(JobChanged(job)))

    def _on_ui(self, call: Callable[[], None]) -> None:
        if threading.get_ident() == self._ui_thread:
            call()
        else:
            self.app.call_from_thread(call)


def traceback_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
