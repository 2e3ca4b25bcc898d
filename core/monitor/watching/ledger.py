"""What the watcher's threads tell each other about files: one :class:`Ledger`, one lock.

Three threads meet here. The loop follows the folder and reads files; the checker checks
them and gives each its verdict; watchdog's observer hears writers. Everything else a
thread keeps is its own (see the classes of :mod:`mlcycle.monitor.watching`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlcycle.monitor.batch_file import Stamp
from mlcycle.store.cancel import CancelToken


class Ledger:
    """Files' states that more than one thread reads or writes; each says who writes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Loop and checker: a file's stamp once it has its verdict, so that the later events
        # of the same write, and rescans, do not take it again.
        self._taken: dict[Path, Stamp] = {}
        self._busy: set[Path] = set()  # loop adds when it hands a file over; checker removes
        self._aside: set[Path] = set()  # checker adds before a move to rejected/; loop removes
        self._writing: set[Path] = set()  # observer: open for writing, modified, not closed
        # Checker: the file it checks, and the token that stops its check when it is written.
        self._checking: dict[Path, CancelToken] = {}

    # -- verdicts -------------------------------------------------------------------------

    def take(self, path: Path, stamp: Stamp) -> None:
        with self._lock:
            self._taken[path] = stamp

    def forget(self, path: Path) -> None:
        """Taken again at its next news: it went, or was moved."""
        with self._lock:
            self._taken.pop(path, None)

    def forget_all(self) -> None:
        with self._lock:
            self._taken.clear()

    def taken(self, path: Path, stamp: Stamp | None) -> bool:
        """Whether the file, as it is now, already has its verdict."""
        with self._lock:
            return self._taken.get(path) == stamp

    # -- handing over ---------------------------------------------------------------------

    def hand_over(self, path: Path) -> None:
        with self._lock:
            self._busy.add(path)

    def done(self, path: Path) -> None:
        with self._lock:
            self._busy.discard(path)

    def busy(self, path: Path) -> bool:
        """Read and not yet given a verdict: the verdict decides whether it is taken again."""
        with self._lock:
            return path in self._busy

    # -- set aside ------------------------------------------------------------------------

    def set_aside(self, path: Path) -> None:
        """Moved to rejected/ here: its going is no news. Said before the move, as the
        move's event may come at once."""
        with self._lock:
            self._aside.add(path)

    def kept(self, path: Path) -> None:
        """Not moved after all."""
        with self._lock:
            self._aside.discard(path)

    def went(self, path: Path) -> bool:
        """The file left the folder: whether it was moved aside here."""
        with self._lock:
            ours = path in self._aside
            self._aside.discard(path)
            return ours

    # -- writers --------------------------------------------------------------------------

    def written(self, path: Path) -> None:
        """A writer wrote to the file: a check of it in progress stops, to be taken again."""
        with self._lock:
            self._writing.add(path)
            token = self._checking.get(path)
        if token is not None:
            token.cancel()

    def closed(self, path: Path) -> None:
        with self._lock:
            self._writing.discard(path)

    def writing(self, path: Path) -> bool:
        with self._lock:
            return path in self._writing

    @contextmanager
    def checking(self, path: Path, stop: CancelToken) -> Iterator[CancelToken]:
        """A token for checking ``path``: cancelled when ``stop`` is, and when a writer has
        the file open or writes to it before the check is stored."""
        token = CancelToken()
        with self._lock:
            self._checking[path] = token
            writing = path in self._writing
        if writing:
            token.cancel()
        try:
            with stop.interrupting(token.cancel):
                yield token
        finally:
            with self._lock:
                self._checking.pop(path, None)
