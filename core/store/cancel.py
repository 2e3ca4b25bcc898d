"""Cooperative cancellation for long work.

A worker thread never receives Ctrl-C, so long work in the engine (training, retraining,
export, prediction, monitoring checks, adding a large file) takes a ``CancelToken`` and calls
``check`` between steps. A step that has finished stays finished; ``check`` raises
``Cancelled`` before the next one starts, so nothing is left half-written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mlcycle.store.errors import MlcycleError


class Cancelled(MlcycleError):
    """The user cancelled the work; what had finished is kept."""

    exit_code = 130


class CancelToken:
    """Set once by whoever started the work; read by the work between its steps."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._stops: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            stops = list(self._stops)
        for stop in stops:
            stop()

    @contextmanager
    def interrupting(self, stop: Callable[[], None]) -> Iterator[None]:
        """Call ``stop`` if the work is cancelled while inside the block: for one long step
        (a DuckDB query: ``connection.interrupt``) that has no point to check between."""
        with self._lock:
            self._stops.append(stop)
            already = self._event.is_set()
        if already:
            stop()
        try:
            yield
        finally:
            with self._lock:
                self._stops.remove(stop)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, returning early (True) if the work is cancelled."""
        return self._event.wait(seconds)

    def check(self) -> None:
        """Raise ``Cancelled`` if the work was cancelled."""
        if self._event.is_set():
            raise Cancelled("cancelled; the steps that had finished are kept")


def check(token: CancelToken | None) -> None:
    """``token.check()`` for work that may have been started without a token."""
    if token is not None:
        token.check()


@contextmanager
def interrupting(token: CancelToken | None, stop: Callable[[], None]) -> Iterator[None]:
    """``token.interrupting(stop)``, or nothing when there is no token."""
    if token is None:
        yield
    else:
        with token.interrupting(stop):
            yield
