"""Which entries of a watched folder are batches to check; the others are reported once."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from mlcycle.data import sources
from mlcycle.monitor.batch_file import NO_STAMP, stamp
from mlcycle.monitor.watching.outcome import Outcome
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput, MlcycleError
from mlcycle.store.workspace import Workspace

# .txt is read by 'data add', but in a watched folder it is more often a note than data.
SUFFIXES = {suffix for suffix in sources.FORMATS if suffix != ".txt"}
REJECTED = "rejected"
# Names of files still on their way: downloads and copies rename them when done.
PARTIAL = (".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".swp")


def quiet(path: Path) -> bool:
    """Files passed over without a word: hidden ones, editors' and downloads' partial ones."""
    return path.name.startswith((".", "~")) or path.name.lower().endswith(PARTIAL)


def existing_folder(folder: str | Path, what: str) -> Path:
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        raise InvalidInput(f"{what} folder {folder} does not exist or is not a folder")
    return path


def inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


class Folder:
    """The watched folder (with its subfolders when ``recursive``) and its labels folder.

    Listed by one thread (the watcher's loop, or the caller of ``scan``), whose own is
    what was noticed; ``labels_for`` reads only what never changes, from any thread."""

    def __init__(self, ws: Workspace, project: str, path: str | Path,
                 labels: str | Path | None, recursive: bool,
                 report: Callable[[Outcome], None]) -> None:
        self.ws = ws
        self.project = project
        self.path = existing_folder(path, "watch")
        self.labels = existing_folder(labels, "labels") if labels else None
        self.recursive = recursive
        self.rejected = self.path / REJECTED
        self._report = report
        self._noticed: set[Path] = set()  # files and folders reported as ignored

    def labels_for(self, path: Path) -> Path | None:
        """A batch's labels: the file of the same name in the labels folder, if any."""
        if self.labels is None:
            return None
        labels = self.labels / path.relative_to(self.path)
        return labels if labels.is_file() else None

    def candidates(self) -> list[Path]:
        """The data files in the folder, oldest first; the others are reported once."""
        found = []
        for path in self._listing(self.path):
            if self.wanted(path):
                found.append(path)
            else:
                self.notice(path)
        return sorted(found, key=lambda p: ((stamp(p) or NO_STAMP).mtime_ns, p.name))

    def _listing(self, folder: Path) -> Iterator[Path]:
        try:
            entries = sorted(folder.iterdir())
        except FileNotFoundError:
            return
        for path in entries:
            if quiet(path) or path in (self.rejected, self.labels):
                continue
            try:
                is_dir = path.is_dir()
            except OSError:
                continue
            if is_dir and self.recursive:
                yield from self._listing(path)
            else:  # a FIFO or a device too: it is set aside, with what it is
                yield path

    def wanted(self, path: Path) -> bool:
        if path.suffix.lower() not in SUFFIXES or quiet(path):
            return False
        try:
            within = path.relative_to(self.path)
        except ValueError:
            return False
        if within.parts[0] == REJECTED or (self.labels is not None
                                           and inside(path, self.labels)):
            return False
        return self.recursive or len(within.parts) == 1

    def notice(self, path: Path) -> None:
        """Say once that a file or folder here is not watched, and why."""
        if path in self._noticed or quiet(path) or not path.parent.is_relative_to(self.path):
            return
        if (inside(path, self.rejected) or path == self.path
                or (self.labels is not None and inside(path, self.labels))):
            return
        if path.is_dir():
            why = "a subfolder; its files are not watched (watch with --recursive)"
        elif path.parent != self.path and not self.recursive:
            return  # inside a subfolder, which was reported itself
        elif path.exists():
            kind = path.suffix.lower() or "no extension"
            why = (f"not a data file ({kind}); name data files "
                   ".csv, .tsv, .parquet, .json, .ndjson or .jsonl")
        else:
            return
        self._noticed.add(path)
        with contextlib.suppress(MlcycleError), self.ws.write() as con:
            events.record(con, "monitor.ignored", project=self.project,
                          subject=path.name, detail={"path": str(path), "why": why})
        self._report(Outcome(path, "ignored", error=why))
