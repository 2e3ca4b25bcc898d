"""One batch to check, as its caller has it: a :class:`Batch` value.

``mlcycle monitor``, the TUI and the Python API name a file and the check reads it. The
watcher has done more by then: it copied the file into the workspace, hashed the copy, read
it, and noted what the file looked like when it did (its :class:`Stamp`). It hands all of
that over as one value, and the check, just before it stores anything, confirms the file is
still what was read and has settled (:meth:`Batch.confirm`): a file rewritten while it was
scored is not recorded under the digest of its old bytes. A watched batch's row in
``watched_files`` is written in the transaction that records its check
(:func:`record_watched`), so a kill cannot leave a file checked but not marked.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from mlcycle.store import cancel as cancelling
from mlcycle.store import events
from mlcycle.store.schema import utcnow

if TYPE_CHECKING:
    from mlcycle.deploy import score_files
    from mlcycle.store.cancel import CancelToken

POLL = 0.05  # seconds between looks at a file waiting to settle


class Stamp(NamedTuple):
    """What changes when a file's content may have: size, times and the inode."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9


NO_STAMP = Stamp(0, 0, 0, 0)


def stamp(path: Path) -> Stamp | None:
    """The file's stamp now; None when it cannot be looked at (gone, say)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return Stamp(stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


class Changed(Exception):
    """The file changed after it was read: it is not checked now but taken again."""


@dataclass(frozen=True)
class Batch:
    """A batch file to check: ``path`` (its name in the check's record) and its ``labels``.

    The rest is what a caller that read the file already knows. ``digest``: the SHA-256 of
    the bytes checked (else the file is hashed just before it is read). ``table``: the
    batch already read (``score_files.read_table``; its caller closes it). ``stamp``: the file
    when it was read; with it, the check is stored only once the file still has it and it
    is ``settled_at`` (wall-clock time) or later. ``watched``: the file is in a watched
    folder, and its ``watched_files`` row is written with its check."""

    path: Path
    labels: Path | None = None
    digest: str | None = None
    table: score_files.Table | None = None
    stamp: Stamp | None = None
    settled_at: float = 0.0
    watched: bool = False

    @classmethod
    def of(cls, data: str | Path | Batch, labels: str | Path | None = None) -> Batch:
        """``data`` as a batch: a file named by its path (and ``labels``), or a batch."""
        if isinstance(data, Batch):
            if labels is not None:
                raise TypeError("a Batch names its own labels")
            return data
        return cls(Path(data), Path(labels).expanduser() if labels is not None else None)

    def confirm(self, cancel: CancelToken | None = None) -> None:
        """Return once the file has its ``stamp`` at ``settled_at``; raise ``Changed`` if
        it changed, ``FileNotFoundError`` if it went, ``Cancelled`` if ``cancel`` was
        (the watching stopped, or the file's writer opened it again). A batch without a
        stamp was read by the check itself: there is nothing to confirm."""
        if self.stamp is None:
            return
        while True:
            cancelling.check(cancel)
            now = stamp(self.path)
            if now is None:
                raise FileNotFoundError(self.path)
            if now != self.stamp:
                raise Changed
            wait = self.settled_at - time.time()
            if wait <= 0:
                return
            time.sleep(min(wait, POLL))


def record_watched(con: Any, project: str, path: Path, digest: str, status: str,
                   check_id: str | None, error: str | None) -> None:
    """A watched file's verdict (``checked`` or ``rejected``), in the caller's transaction."""
    con.execute("INSERT OR REPLACE INTO watched_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                [project, str(path), digest, utcnow(), status, check_id, error])
    if status == "rejected":
        events.record(con, "monitor.rejected", project=project, subject=path.name,
                      detail={"error": error, "moved_to": str(path)})
