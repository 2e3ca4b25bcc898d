"""Watching a folder: every data file that lands in it is checked (``mlcycle.monitor.monitoring``).

Files are known by their content hash, so a restart, or a copy of a file already checked,
does not check it twice. A file is taken once its size and modification time have stayed
the same for ``settle`` seconds, so a copy in progress is never read half-written. A file
that cannot be checked (malformed, missing a column the model needs, ...) is recorded with
its one-line error and moved to ``rejected/`` in the watched folder with the error beside
it; the watcher goes on with the next file. With a labels folder, a batch's labels are the
file of the same name there, when it exists.

The reference of the serving version is built once and rebuilt only when the champion
changes, so a promotion is followed without a restart.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcycle import projects
from mlcycle.models import registry
from mlcycle.monitor import monitoring
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput, MlcycleError, WorkspaceBusy, WorkspaceError
from mlcycle.store.schema import utcnow
from mlcycle.store.workspace import Workspace, file_sha256

SUFFIXES = {".csv", ".tsv", ".parquet", ".ndjson", ".jsonl"}
SETTLE = 0.5  # default seconds a file must stay unchanged before it is read
REJECTED = "rejected"


@dataclass
class Outcome:
    """What became of one file."""

    path: Path
    status: str  # "checked", "rejected", "seen" (checked before) or "gone" (not reported)
    check: dict[str, Any] | None = None
    error: str | None = None
    moved_to: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "status": self.status, "check": self.check,
                "error": self.error, "moved_to": str(self.moved_to) if self.moved_to else None}


def is_candidate(path: Path) -> bool:
    """A data file the watcher takes: not hidden, not partial, of a format it can score."""
    name = path.name
    return (path.suffix.lower() in SUFFIXES and not name.startswith((".", "~"))
            and path.parent.name != REJECTED)


class Watcher:
    """Checks the files of one folder for one project; see the module docstring."""

    def __init__(self, ws: Workspace, project: str, folder: str | Path, *,
                 labels: str | Path | None = None,
                 report: Callable[[Outcome], None] | None = None,
                 settle: float = SETTLE) -> None:
        self.ws = ws
        self.project = projects.get(ws, project).name
        self.folder = _existing_folder(folder, "watch")
        self.labels = _existing_folder(labels, "labels") if labels else None
        self.report = report or (lambda _outcome: None)
        self.settle = settle
        self._reference: monitoring.Reference | None = None
        self._taken: dict[Path, tuple[int, int] | None] = {}

    def scan(self) -> list[Outcome]:
        """Check every file already in the folder, oldest first."""
        files = sorted((p for p in self.folder.iterdir() if p.is_file() and is_candidate(p)),
                       key=lambda p: ((_stamp(p) or (0, 0))[1], p.name))
        return [self.take(p) for p in files]

    def take(self, path: Path) -> Outcome:
        """Check one file (once settled), or set it aside with its error."""
        _settle(path, self.settle)
        # One write makes several events (created, modified, closed): remember what was
        # taken so the later events of the same write are not reported as repeats.
        self._taken[path] = _stamp(path)
        try:
            digest = file_sha256(path)
        except FileNotFoundError:  # moved away before it could be read: nothing to check
            return Outcome(path, "gone")
        outcome = Outcome(path, "seen") if self._seen(digest) else self._check(path, digest)
        self.report(outcome)
        return outcome

    def run(self, stop: threading.Event) -> None:
        """Check what is there, then each file that arrives, until ``stop`` is set."""
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        arrived: queue.Queue[Path] = queue.Queue()

        class Handler(FileSystemEventHandler):
            def on_created(self, event: Any) -> None:
                if not event.is_directory:
                    arrived.put(Path(event.src_path))

            def on_moved(self, event: Any) -> None:
                if not event.is_directory:
                    arrived.put(Path(event.dest_path))

            def on_closed(self, event: Any) -> None:
                if not event.is_directory:
                    arrived.put(Path(event.src_path))

        observer = Observer()
        observer.schedule(Handler(), str(self.folder), recursive=False)
        observer.start()
        try:
            self.scan()
            while not stop.is_set():
                try:
                    path = arrived.get(timeout=0.2)
                except queue.Empty:
                    continue
                if (path.parent == self.folder and path.is_file() and is_candidate(path)
                        and self._taken.get(path) != _stamp(path)):
                    self.take(path)
        finally:
            observer.stop()
            observer.join(timeout=5)

    # -- one file ------------------------------------------------------------------------

    def _check(self, path: Path, digest: str) -> Outcome:
        labels = self.labels / path.name if self.labels else None
        try:
            check = monitoring.check(
                self.ws, self.project, path, labels=labels if labels and labels.exists()
                else None, cached=self._current_reference(),
                in_transaction=lambda con, result: self._remember(
                    con, digest, path, "checked", result["id"], None))
        except (WorkspaceBusy, WorkspaceError):
            raise  # the workspace, not the file, is at fault: never blame the file
        except MlcycleError as exc:
            return self._reject(path, digest, str(exc))
        except Exception as exc:  # a reader's own error on a malformed file
            return self._reject(path, digest, _one_line(exc))
        return Outcome(path, "checked", check=check)

    def _current_reference(self) -> monitoring.Reference:
        champion = registry.get(self.ws, self.project, registry.CHAMPION)
        if self._reference is None or self._reference.version.version != champion.version:
            self._reference = monitoring.reference(self.ws, self.project,
                                                   str(champion.version))
        return self._reference

    def _reject(self, path: Path, digest: str, error: str) -> Outcome:
        aside = self.folder / REJECTED
        aside.mkdir(exist_ok=True)
        target = aside / path.name
        if target.exists():
            target = aside / f"{path.stem}-{digest[:8]}{path.suffix}"
        # The error file is written first: a kill between the two steps leaves the data
        # file in place (it is taken again) rather than set aside without its reason.
        Path(f"{target}.error.txt").write_text(error + "\n", encoding="utf-8")
        shutil.move(str(path), target)
        with self.ws.write() as con:
            self._remember(con, digest, target, "rejected", None, error)
        return Outcome(path, "rejected", error=error, moved_to=target)

    def _seen(self, digest: str) -> bool:
        with self.ws.read() as con:
            return bool(con.execute(
                "SELECT count(*) FROM watched_files WHERE project = ? AND sha256 = ? "
                "AND status = 'checked'", [self.project, digest]).fetchall()[0][0])

    def _remember(self, con: Any, digest: str, path: Path, status: str, check_id: str | None,
                  error: str | None) -> None:
        con.execute("INSERT OR REPLACE INTO watched_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [self.project, str(path), digest, utcnow(), status, check_id, error])
        if status == "rejected":
            events.record(con, "monitor.rejected", project=self.project, subject=path.name,
                          detail={"error": error, "moved_to": str(path)})


def _existing_folder(folder: str | Path, what: str) -> Path:
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        raise InvalidInput(f"{what} folder {folder} does not exist or is not a folder")
    return path


def _settle(path: Path, settle: float, timeout: float = 60.0) -> None:
    """Wait until the file stops changing (a writer may still be copying it)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return  # gone: the check reports it as missing
        now = (stat.st_size, stat.st_mtime_ns)
        if now == last or time.time() - stat.st_mtime > settle:
            return
        last = now
        time.sleep(settle)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
