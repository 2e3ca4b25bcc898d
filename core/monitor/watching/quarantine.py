"""Files the watcher cannot check: set aside in ``rejected/`` with their error, or gone.

The error is the one-line, masked error every face shows (``errors.error_line``); it is
what ``rejected/NAME.error.txt``, the events and ``watched_files`` hold.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path

from mlcycle.monitor.batch_file import NO_STAMP, record_watched, stamp
from mlcycle.monitor.watching.ledger import Ledger
from mlcycle.monitor.watching.outcome import Outcome
from mlcycle.store import events
from mlcycle.store.errors import MlcycleError
from mlcycle.store.workspace import Workspace


class Quarantine:
    """Sets aside the files of one watched folder (from whichever thread has the verdict)."""

    def __init__(self, ws: Workspace, project: str, rejected: Path, ledger: Ledger) -> None:
        self.ws = ws
        self.project = project
        self.rejected = rejected
        self.ledger = ledger

    def reject(self, path: Path, digest: str, error: str) -> Outcome:
        """Move the file to ``rejected/`` with its error beside it, and record it; when the
        move fails (a full disk, say), the rejection is still recorded."""
        aside = self.rejected
        target = aside / path.name
        moved: Path | None = None
        problem = None
        try:
            aside.mkdir(exist_ok=True)
            if target.exists():
                target = aside / f"{path.stem}-{digest[:8]}{path.suffix}"
            # The error file is written first: a kill between the two steps leaves the data
            # file in place (it is taken again) rather than set aside without its reason.
            Path(f"{target}.error.txt").write_text(error + "\n", encoding="utf-8")
            self.ledger.set_aside(path)
            shutil.move(str(path), target)
            moved = target
        except FileNotFoundError:
            if not path.exists():
                return self.gone(path, "deleted before it could be set aside")
            problem = f"could not be moved to {aside}: no such folder"
        except OSError as exc:
            problem = f"could not be moved to {aside}: {exc.strerror or exc}"
        with self.ws.write() as con:
            record_watched(con, self.project, moved or path, digest, "rejected", None, error)
        if moved is None:
            self.ledger.kept(path)
            self.ledger.take(path, stamp(path) or NO_STAMP)
        return Outcome(path, "rejected", error=error if problem is None
                       else f"{error} (it {problem})", moved_to=moved)

    def set_aside(self, path: Path, error: str) -> Outcome:
        """Reject an entry that is no regular file to read (or a sparse or huge one) without
        reading it: it has no content to be known by, so it is known by what it is, where."""
        try:
            entry = os.lstat(path)
        except FileNotFoundError:
            return self.gone(path, "deleted before it was read")
        identity = f"{path}\0{entry.st_dev}\0{entry.st_ino}\0{entry.st_mtime_ns}"
        return self.reject(path, hashlib.sha256(identity.encode()).hexdigest(), error)

    def gone(self, path: Path, when: str) -> Outcome:
        """A file that vanished before its verdict was stored: recorded, and reported."""
        self.ledger.forget(path)
        with contextlib.suppress(MlcycleError), self.ws.write() as con:
            events.record(con, "monitor.gone", project=self.project, subject=path.name,
                          detail={"path": str(path), "when": when})
        return Outcome(path, "gone", error=when)
