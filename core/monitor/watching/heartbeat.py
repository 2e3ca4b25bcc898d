"""The watcher's heartbeat: every ``HEARTBEAT`` seconds, a row in ``watchers`` says it is
alive and when its loop last moved on; ``mlcycle status`` tells a live watcher from a
stalled one (its loop stuck) and a stale one (not running)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path

from mlcycle.store.errors import MlcycleError
from mlcycle.store.schema import utcnow
from mlcycle.store.workspace import Workspace

HEARTBEAT = 5.0  # seconds between the watcher's heartbeats


class Heartbeat:
    """Beats from its own thread; the loop says when it moves on (:meth:`moved`)."""

    def __init__(self, ws: Workspace, project: str, folder: Path) -> None:
        self.ws = ws
        self.key = [project, str(folder)]
        self._moved = utcnow()  # written by the loop, read by the beating thread

    def moved(self) -> None:
        """The loop moved on (or waits for the checker, which is moving on too)."""
        self._moved = utcnow()

    def run(self, stopping: threading.Event) -> None:
        """Beat until ``stopping`` is set, then say the watcher stopped. A busy workspace
        skips a beat; ``mlcycle status`` allows for a few."""
        started = utcnow()
        while True:
            with contextlib.suppress(MlcycleError), self.ws.write() as con:
                con.execute("INSERT OR REPLACE INTO watchers (project, folder, pid, host, "
                            "started_at, heartbeat_at, interval, loop_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            [*self.key, os.getpid(), socket.gethostname(), started, utcnow(),
                             HEARTBEAT, self._moved])
            if stopping.wait(HEARTBEAT):
                break
        with contextlib.suppress(MlcycleError), self.ws.write() as con:
            con.execute("DELETE FROM watchers WHERE project = ? AND folder = ? AND pid = ?",
                        [*self.key, os.getpid()])
