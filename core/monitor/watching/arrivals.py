"""The files a watcher has heard of and not taken yet, and when each is due.

A file found without news of its writer (at a listing, or on systems without close events)
is due once unchanged for ``settle`` seconds; one its writer closed is due at once; one
still open for writing is waited for however long its writer pauses (up to
``OPEN_WAIT``). Files are due oldest first, none before an older one that must settle.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlcycle.monitor.batch_file import Stamp, stamp
from mlcycle.monitor.watching.folder import Folder
from mlcycle.monitor.watching.ledger import Ledger
from mlcycle.monitor.watching.observer import News, Observer
from mlcycle.monitor.watching.outcome import Outcome
from mlcycle.monitor.watching.quarantine import Quarantine

OPEN_WAIT = 60.0  # a file left open for writing this long, unchanged, is taken anyway


@dataclass
class Waiting:
    """A file heard of and not taken yet."""

    stamp: Stamp | None = None
    since: float = field(default_factory=time.monotonic)  # when ``stamp`` was first seen
    closed: Stamp | None = None  # the stamp when its writer last closed it, or moved it in


class Arrivals:
    """The loop thread's own: what waits, what vanished, whether the folder is there."""

    def __init__(self, folder: Folder, ledger: Ledger, quarantine: Quarantine,
                 report: Callable[[Outcome], None], settle: float) -> None:
        self.folder = folder
        self.ledger = ledger
        self.quarantine = quarantine
        self._report = report
        self.settle = settle
        self.waiting: dict[Path, Waiting] = {}
        self._vanished: set[Path] = set()  # gone from a listing before its event came
        self.present = True  # whether the folder was there at the last listing
        self._troubled: str | None = None  # the folder's problem last reported

    def again(self, path: Path) -> None:
        """Wait for the file anew (it changed while it was read)."""
        self.waiting[path] = Waiting()

    def hear(self, news: News, timeout: float) -> None:
        """Apply the folder's news to the files waiting to be taken."""
        try:
            kind, path = news.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            if kind == "deleted":
                ours = self.ledger.went(path)  # a move to rejected/ seen as a deletion
                # A file being checked is reported by its check.
                if not self.ledger.busy(path) and (self.waiting.pop(path, None) is not None
                                                   or path in self._vanished) and not ours:
                    self._report(self.quarantine.gone(path, "deleted before it was read"))
                self._vanished.discard(path)
                self.ledger.forget(path)
            elif kind == "moved away":
                self.ledger.went(path)
                self.waiting.pop(path, None)
                self._vanished.discard(path)
                self.ledger.forget(path)
            elif self.folder.wanted(path):
                entry = self.waiting.setdefault(path, Waiting())
                if kind in ("closed", "moved in"):
                    entry.closed = stamp(path)
            else:
                self.folder.notice(path)
            try:
                kind, path = news.get_nowait()
            except queue.Empty:
                return

    def due(self) -> list[Path]:
        """The waiting files to read now, oldest first; none younger than a file that
        must settle first (a file held open by its writer holds up no other)."""
        candidates = []
        now = time.monotonic()
        for path, entry in list(self.waiting.items()):
            if self.ledger.busy(path):
                continue  # its verdict decides whether it is taken again
            current = stamp(path)
            if current is None:  # reported as gone when its event comes (or it was moved)
                del self.waiting[path]
                self._vanished.add(path)
                continue
            if current != entry.stamp:
                entry.stamp, entry.since = current, now
            if self.ledger.taken(path, current):
                del self.waiting[path]
                continue
            candidates.append((current.mtime_ns, path.name, path, entry, current))
        due = []
        for *_, path, entry, current in sorted(candidates):
            quiet_for = now - entry.since
            if self.ledger.writing(path) and quiet_for < OPEN_WAIT:
                continue  # its writer still has it open, however long it pauses
            if not (entry.closed == current or quiet_for >= self.settle
                    or time.time() - current.mtime >= self.settle):
                break
            due.append(path)
            del self.waiting[path]
        return due

    def rescan(self, observer: Observer) -> None:
        """List the folder (events can be lost) and follow it going and coming back."""
        folder = self.folder.path
        if not folder.is_dir():
            if self.present:
                self._report(Outcome(folder, "folder", error=f"{folder} is gone; "
                                     "waiting for it to come back"))
                self.waiting.clear()
                observer.unwatch()
            self.present = False
            return
        if not self.present:
            self._report(Outcome(folder, "folder", error=f"{folder} is back"))
            self.ledger.forget_all()
        self.present = True
        observer.watch()
        self._vanished.clear()
        try:
            for path in self.folder.candidates():
                if not self.ledger.busy(path) and not self.ledger.taken(path, stamp(path)):
                    self.waiting.setdefault(path, Waiting())
        except OSError as exc:
            self.trouble(f"cannot list {folder}: {exc.strerror or exc}")
        else:
            self._troubled = None

    def trouble(self, problem: str) -> None:
        """Report a problem with the folder once, not at every look at it."""
        if problem != self._troubled:
            self._troubled = problem
            self._report(Outcome(self.folder.path, "error", error=problem))
