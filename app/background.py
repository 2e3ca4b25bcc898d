"""Long-lived work the app owns beyond any one view: the local server, folder watchers.

A job ends; a service runs until it is stopped. Each runs in a thread of its own, keyed by
what it is ("serve: churn", "watch: churn"), so a view can show it, stop it and start it
again, whichever view is on screen meanwhile. All of them stop when the app exits (the app
calls ``stop_all`` on unmount), so quitting the UI never leaves a port or a folder held.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from mlcycle.store.errors import error_line

LOG_LINES = 50


@dataclass
class Service:
    key: str  # "serve: churn"
    about: str  # one line for the view: what it is, and where
    stop: Callable[[], None]
    thread: threading.Thread | None = None
    error: str | None = None  # why it ended by itself, if it did
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    stopping: bool = False  # asked to stop, and not done yet (a server flushing its log)

    @property
    def running(self) -> bool:
        return self.stopping or (self.thread is not None and self.thread.is_alive())

    def say(self, line: str) -> None:
        """Called from the service's threads: the newest lines are kept for the view."""
        self.log.append(line)


class Background:
    """The services of one app session."""

    def __init__(self) -> None:
        self._services: dict[str, Service] = {}
        self._lock = threading.Lock()

    def start(self, service: Service, run: Callable[[], None]) -> Service:
        """Run ``run()`` in a thread until ``service.stop()`` makes it return."""
        with self._lock:
            current = self._services.get(service.key)
            if current is not None and current.running:
                raise RuntimeError(f"{service.key} is already running")
            self._services[service.key] = service

        def main() -> None:
            try:
                run()
            except Exception as exc:  # a service's end is shown in its view, not raised
                service.error = error_line(exc)
                service.say(f"ended: {service.error}")

        service.thread = threading.Thread(target=main, name=service.key, daemon=True)
        service.thread.start()
        return service

    def get(self, key: str) -> Service | None:
        """The service under ``key`` while it runs, or ended by itself (to show why)."""
        return self._services.get(key)

    def running(self, key: str) -> Service | None:
        service = self._services.get(key)
        return service if service is not None and service.running else None

    def stop(self, key: str, timeout: float = 30.0) -> None:
        """Stop a service and wait for its thread; then it is forgotten. Until then it
        counts as running: a server flushing what it scored has not stopped yet."""
        with self._lock:
            service = self._services.get(key)
        if service is None:
            return
        service.stopping = True
        try:
            service.stop()
            if service.thread is not None:
                service.thread.join(timeout)
        finally:
            service.stopping = False
        with self._lock:
            if self._services.get(key) is service:
                del self._services[key]

    def stop_all(self) -> None:
        for key in list(self._services):
            self.stop(key)
