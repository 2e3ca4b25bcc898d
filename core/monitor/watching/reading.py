"""Reading a watched file: copied once into the workspace, hashed as it is copied, then read.

The hash is of exactly the bytes checked: the copy is what is read and scored. The file's
stamp is taken before the copy and compared after it; a file that changed meanwhile is not
read now but taken again.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mlcycle.deploy import score_files
from mlcycle.monitor.batch_file import Batch, Stamp, stamp
from mlcycle.monitor.watching.ledger import Ledger
from mlcycle.monitor.watching.outcome import Outcome
from mlcycle.monitor.watching.quarantine import Quarantine
from mlcycle.store import files
from mlcycle.store.errors import error_line
from mlcycle.store.workspace import Workspace


@dataclass
class Read:
    """A file copied, hashed and read, waiting for its check; whoever holds it discards it."""

    path: Path
    stamp: Stamp
    read_at: float  # wall-clock time the copy started
    digest: str
    snapshot: Path
    table: score_files.Table | None = None
    error: str | None = None  # why the file cannot be read as a table

    def batch(self, labels: Path | None, settle: float) -> Batch:
        """The file as its check receives it: stored once unchanged for ``settle`` seconds
        since its last write (or since it was read, if that was earlier)."""
        return Batch(self.path, labels, self.digest, self.table, self.stamp,
                     settled_at=min(self.stamp.mtime, self.read_at) + settle, watched=True)

    def discard(self) -> None:
        if self.table is not None:
            self.table.close()
            self.table = None
        self.snapshot.unlink(missing_ok=True)


def copy_file(src: BinaryIO, snapshot: Path) -> tuple[str, int]:
    """Copy an open file, hashing the bytes as they are copied; their SHA-256 and count."""
    digest = hashlib.sha256()
    size = 0
    with open(snapshot, "wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class Reader:
    """Copies and reads the files of one watched folder."""

    def __init__(self, ws: Workspace, folder: Path, ledger: Ledger,
                 quarantine: Quarantine) -> None:
        self.ws = ws
        self.folder = folder
        self.ledger = ledger
        self.quarantine = quarantine

    def copy(self, path: Path) -> Read | Outcome | None:
        """Copy and hash the file; None when it changed meanwhile."""
        before = stamp(path)
        if before is None:
            return self.quarantine.gone(path, "deleted before it was read")
        snapshot = self.ws.temp_path(path.suffix.lower())
        read_at = time.time()
        try:
            with files.open_regular(path, within=self.folder, room=self.ws.temp_dir) as src:
                digest, size = copy_file(src, snapshot)
        except files.NotRegular as exc:
            snapshot.unlink(missing_ok=True)
            return self.quarantine.set_aside(path, error_line(exc))
        except FileNotFoundError:
            snapshot.unlink(missing_ok=True)
            return self.quarantine.gone(path, "deleted while it was read")
        except OSError as exc:
            snapshot.unlink(missing_ok=True)
            self.ledger.take(path, before)  # taken again once it changes (chmod does)
            what = ("cannot copy it into the workspace" if exc.filename == str(snapshot)
                    else "cannot read it")
            return Outcome(path, "error", error=f"{what}: {exc.strerror or exc}")
        after = stamp(path)
        if after is None:
            snapshot.unlink(missing_ok=True)
            return self.quarantine.gone(path, "deleted while it was read")
        if after != before or size != after.size:
            snapshot.unlink(missing_ok=True)
            return None
        return Read(path, after, read_at, digest, snapshot)

    @staticmethod
    def load(read: Read) -> Read:
        """Read the copy as a table, or say why it cannot be."""
        try:
            read.table = score_files.read_table(read.snapshot, label=str(read.path))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a reader's own failure (a panic, too) on a bad file
            read.error = error_line(exc)
        return read
