"""Watching a folder: every data file that lands in it is checked (``mlcycle.monitor.monitoring``).

Files are known by their content hash, and the record of checks is the one ``mlcycle monitor``
keeps (``monitoring.earlier_check``): a content the serving version has checked, here or by
'monitor', after a restart or under another name, is not checked again; a new champion
checks it anew, and ``again`` forgets the checks made before the watcher started. The hash
is of exactly the bytes checked: a file is copied once into the workspace, hashed as it is
copied, and the copy is what is read and scored.

A check is stored only for a file that is complete. The file's size, times and inode are
taken before the copy and compared after it, and again just before the verdict is stored,
which waits until the file has stayed unchanged for ``settle`` seconds since its last write;
a file that changed meanwhile is not checked yet but taken again. On Linux the watcher also
sees writers open and close files (inotify), so a file still open for writing is waited for
however long its writer pauses, and a file is read as soon as its writer closes it: the
reading and scoring overlap the settle wait. A file found without such news (at start, or
on systems without close events) is read once unchanged for ``settle`` seconds.

Files are read one ahead of the check in progress (a queue of ``QUEUE``), oldest first.

A file that cannot be checked (malformed, missing a column the model needs, ...) is recorded
with its one-line error and moved to ``rejected/`` in the watched folder with the error beside
it; when the move itself fails (a full disk, say) the rejection is still recorded. Only
regular files are read (``mlcycle.store.files``): a device, a FIFO, a socket, a symbolic link
out of the folder, a sparse file or one over the size limit is refused before a byte of it is
read or copied, and set aside the same way (left in place and recorded once, when it cannot
be moved). Nothing a folder does stops the watcher: a file vanishing at any moment is
reported as gone, an unreadable file as an error, the folder deleted is waited for and watched
again once it is back. Files in subfolders (unless ``recursive``) and files of other types
are reported once and left alone. With a labels folder, a batch's labels are the file of the
same name there, when it exists.

The reference of the serving version is built once and rebuilt only when the champion
changes, so a promotion is followed without a restart.

While it runs, the watcher writes a heartbeat every ``HEARTBEAT`` seconds (the ``watchers``
table) with the time its loop last moved on; ``mlcycle status`` tells a live watcher from a
stalled one (its loop stuck) and a stale one (not running). Each check evaluates the
project's policy (``mlcycle.monitor.decisions``); under mode ``auto`` the decision a check
raises is approved and carried out here, after the check is stored, and reported as an
outcome of status "decision".

When it starts, the watcher first carries on what a watcher killed before it left undone
(``decisions.resume``): a retraining approved and not finished, a decision raised under
``auto`` and not acted on.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from mlcycle import projects
from mlcycle.data import sources
from mlcycle.deploy import score_files, scoring
from mlcycle.models import registry
from mlcycle.monitor import batch, decisions, monitoring
from mlcycle.store import allocator, events, files
from mlcycle.store.cancel import Cancelled, CancelToken
from mlcycle.store.errors import (
    InvalidInput,
    MlcycleError,
    NotFound,
    WorkspaceBusy,
    WorkspaceError,
    error_line,
)
from mlcycle.store.schema import utcnow
from mlcycle.store.workspace import Workspace

# .txt is read by 'data add', but in a watched folder it is more often a note than data.
SUFFIXES = {suffix for suffix in sources.FORMATS if suffix != ".txt"}
SETTLE = 0.5  # default seconds a file must stay unchanged before its check is stored
REJECTED = "rejected"
QUEUE = 2  # files read and waiting while one is checked
POLL = 0.05  # seconds between looks at files waiting to be taken
RESCAN = 2.0  # seconds between listings of the folder: events can be lost
OPEN_WAIT = 60.0  # a file left open for writing this long, unchanged, is taken anyway
GIVE_UP = 60.0  # take(): seconds a file may keep changing before it is reported
FOLLOW = 1.0  # seconds between look-ups of the champion and challenger
HEARTBEAT = 5.0  # seconds between the watcher's heartbeats
# Names of files still on their way: downloads and copies rename them when done.
PARTIAL = (".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".swp")


@dataclass
class Outcome:
    """What became of one file (or, for ``folder``, of the watched folder)."""

    path: Path
    # "checked", "rejected", "seen" (checked before: ``check`` is that check), "gone"
    # (vanished before its verdict
    # was stored), "ignored" (not a data file, or in a subfolder), "error" (could not be
    # read or checked for a reason outside the file), "folder" (the folder went or came)
    # or "decision" (under mode auto, the decision its check raised, carried out)
    status: str
    check: dict[str, Any] | None = None
    error: str | None = None
    moved_to: Path | None = None
    decision: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "status": self.status, "check": self.check,
                "error": self.error, "moved_to": str(self.moved_to) if self.moved_to else None,
                "decision": self.decision}


class _Stamp(NamedTuple):
    """What changes when a file's content may have: size, times and the inode."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9


@dataclass
class _Read:
    """A file copied, hashed and read, waiting for its check."""

    path: Path
    stamp: _Stamp
    read_at: float  # wall-clock time the copy started
    digest: str
    snapshot: Path
    table: score_files.Table | None = None
    error: str | None = None  # why the file cannot be read as a table


@dataclass
class _Waiting:
    """A file the watcher has heard of and not taken yet."""

    stamp: _Stamp | None = None
    since: float = field(default_factory=time.monotonic)  # when ``stamp`` was first seen
    closed: _Stamp | None = None  # the stamp when its writer last closed it, or moved it in


class _Changed(Exception):
    """The file changed after it was read: it is not checked now but taken again."""


def _quiet(path: Path) -> bool:
    """Files passed over without a word: hidden ones, editors' and downloads' partial ones."""
    return path.name.startswith((".", "~")) or path.name.lower().endswith(PARTIAL)


class Watcher:
    """Checks the files of one folder for one project; see the module docstring."""

    def __init__(self, ws: Workspace, project: str, folder: str | Path, *,
                 labels: str | Path | None = None,
                 report: Callable[[Outcome], None] | None = None,
                 settle: float = SETTLE, recursive: bool = False, again: bool = False) -> None:
        self.ws = ws
        self.project = projects.get(ws, project).name
        registry.get(ws, self.project, registry.CHAMPION)  # no champion: say so now
        self.folder = _existing_folder(folder, "watch")
        files.limit(ws.temp_dir)  # a size limit set wrong: say so now, not at every file
        self.labels = _existing_folder(labels, "labels") if labels else None
        self._report = report or (lambda _outcome: None)
        self.settle = settle
        self.recursive = recursive
        # With ``again``, only the checks made from now on keep a content from a new one.
        self._since = utcnow() if again else None
        self._reference: monitoring.Reference | None = None
        self._fresh_until = 0.0  # monotonic time the reference is to be looked up again
        # A file's stamp once it has its verdict: the later events of the same write, and
        # rescans, must not take it again.
        self._taken: dict[Path, _Stamp] = {}
        self._noticed: set[Path] = set()  # files and folders reported as ignored
        self._writing: set[Path] = set()  # open for writing (inotify): modified, not closed
        self._busy: set[Path] = set()  # read and not yet given a verdict
        self._vanished: set[Path] = set()  # gone from a listing before its event came
        self._aside: set[Path] = set()  # moved to rejected/ here: their going is no news
        self._troubled: str | None = None  # the folder's problem last reported
        self._moved = utcnow()  # when the loop last moved on, for the heartbeat
        self._stopping = threading.Event()
        self._cancel = CancelToken()  # cancelled when the watching stops: a check gives up
        self._lock = threading.Lock()

    # -- what is there now ----------------------------------------------------------------

    def scan(self) -> list[Outcome]:
        """Check every file already in the folder, oldest first."""
        self.resume()
        return [self.take(p) for p in self._candidates()]

    def resume(self) -> None:
        """Carry on the decisions a killed watcher (or 'decide') left half done, and carry
        out those raised under mode auto that nothing acted on (``decisions.resume``)."""
        try:
            for decision, error in decisions.resume(self.ws, self.project):
                self.report(Outcome(self.folder, "decision", error=error, decision=decision))
        except WorkspaceError:
            raise
        except Exception as exc:  # a busy workspace, say: the watching goes on
            self.report(Outcome(self.folder, "error", error=error_line(exc)))

    def take(self, path: Path) -> Outcome:
        """Check one file now, or set it aside with its error; waits while it changes."""
        deadline = time.monotonic() + GIVE_UP
        while True:
            read = self._read(path)
            outcome = read if isinstance(read, Outcome) or read is None else self._finish(read)
            if outcome is not None:
                break
            if time.monotonic() > deadline:
                outcome = Outcome(path, "error", error=f"kept changing for {GIVE_UP:g} s; "
                                  "not checked")
                break
            time.sleep(max(self.settle, POLL))
        self.report(outcome)
        self._carry_out(outcome)
        return outcome

    def report(self, outcome: Outcome) -> None:
        """Tell the caller what became of a file (from either of the watcher's threads)."""
        with self._lock:
            self._report(outcome)

    # -- watching -------------------------------------------------------------------------

    def run(self, stop: threading.Event, started: Callable[[], None] | None = None) -> None:
        """Check what is there, then each file that arrives, until ``stop`` is set;
        ``started()`` is called once the folder is watched (no file is missed after it).

        The calling thread follows the folder and reads files; a second thread checks them,
        so the next file is read while the previous one is scored."""
        self._stopping.clear()
        self._cancel = CancelToken()
        allocator.limit_arenas()  # before this run's threads allocate (see allocator)
        news: queue.Queue[tuple[str, Path]] = queue.Queue()
        ready: queue.Queue[_Read | None] = queue.Queue(maxsize=QUEUE)
        failure: list[BaseException] = []
        checker = threading.Thread(target=self._check_loop, args=(ready, news, failure),
                                   name="mlcycle-watch-check", daemon=True)
        checker.start()
        beating = threading.Thread(target=self._heartbeat, name="mlcycle-watch-heartbeat",
                                   daemon=True)
        beating.start()
        observer = _Observer(self, news)
        waiting: dict[Path, _Waiting] = {}
        present = True
        next_scan = 0.0
        try:
            observer.start()
            observer.watch()
            if started:
                started()
            while not stop.is_set() and not failure:
                self._moved = utcnow()
                try:
                    if time.monotonic() >= next_scan:
                        present = self._rescan(waiting, present, observer)
                        next_scan = time.monotonic() + RESCAN
                    self._hear(news, waiting, timeout=POLL)
                    for path in self._due(waiting):
                        read = self._take_in(path, waiting)
                        if read is not None and not self._hand_over(read, ready, stop,
                                                                    failure):
                            break
                except WorkspaceError:
                    raise
                except Exception as exc:  # whatever the folder did, the watching goes on
                    self._trouble(error_line(exc))
                    stop.wait(RESCAN)
        finally:
            self._stopping.set()  # a check waiting to be confirmed gives up
            self._cancel.cancel()  # and one scoring its batch stops at once
            observer.stop()
            while True:  # files read but never checked: their copies go
                try:
                    ready.put(None, timeout=0.1)
                    break
                except queue.Full:
                    with contextlib.suppress(queue.Empty):
                        left = ready.get_nowait()
                        if left is not None:
                            _discard(left)
            checker.join(timeout=30)  # a check in progress was cancelled: it ends at its next step
            beating.join(timeout=10)
        if failure:
            raise failure[0]

    def _heartbeat(self) -> None:
        """Say every ``HEARTBEAT`` seconds that this watcher is alive; say it stopped when
        it does. A busy workspace skips a beat; ``mlcycle status`` allows for a few."""
        started = utcnow()
        key = [self.project, str(self.folder)]
        while True:
            with contextlib.suppress(MlcycleError), self.ws.write() as con:
                con.execute("INSERT OR REPLACE INTO watchers (project, folder, pid, host, "
                            "started_at, heartbeat_at, interval, loop_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            [*key, os.getpid(), socket.gethostname(), started, utcnow(),
                             HEARTBEAT, self._moved])
            if self._stopping.wait(HEARTBEAT):
                break
        with contextlib.suppress(MlcycleError), self.ws.write() as con:
            con.execute("DELETE FROM watchers WHERE project = ? AND folder = ? AND pid = ?",
                        [*key, os.getpid()])

    def _carry_out(self, outcome: Outcome) -> None:
        """Act on the decision a check raised as every face does (``batch.act_on``): under
        mode auto, approve and carry it out; each step reported."""
        raised = (outcome.check or {}).get("decision") if outcome.status == "checked" else None
        if not raised or raised.get("mode") != "auto":
            return
        problems: list[str] = []
        decided = batch.act_on(self.ws, self.project, raised, say=problems.append)
        if problems:  # nothing labelled to retrain on yet, say: it stays open
            self.report(Outcome(outcome.path, "decision", error=problems[0], decision=raised))
        elif decided is not raised:
            self.report(Outcome(outcome.path, "decision", decision=decided))

    def _take_in(self, path: Path, waiting: dict[Path, _Waiting]) -> _Read | None:
        """Read a file due; what to hand to the checker, if anything."""
        try:
            read = self._read(path)
        except WorkspaceError:
            raise
        except (OSError, MlcycleError) as exc:  # a busy workspace, say: taken again later
            read = Outcome(path, "error", error=error_line(exc))
        if isinstance(read, Outcome):
            self.report(read)
            return None
        if read is None:  # changed while it was copied
            waiting[path] = _Waiting()
            return None
        self._busy.add(path)
        return read

    def _hand_over(self, read: _Read, ready: queue.Queue[_Read | None],
                   stop: threading.Event, failure: list[BaseException]) -> bool:
        while not stop.is_set() and not failure:
            self._moved = utcnow()  # waiting for the checker is the loop moving on
            try:
                ready.put(read, timeout=0.2)
                return True
            except queue.Full:
                continue
        _discard(read)
        return False

    def _check_loop(self, ready: queue.Queue[_Read | None], news: queue.Queue[tuple[str, Path]],
                    failure: list[BaseException]) -> None:
        try:
            self.resume()  # before the first check, as a decision carried out would be
            while True:
                try:
                    read = ready.get(timeout=FOLLOW)
                except queue.Empty:
                    # Idle: keep the champion's reference current, so that the next file
                    # does not wait for the look-up (errors are the next check's to report).
                    with contextlib.suppress(Exception):
                        self._current_reference()
                    continue
                if read is None:
                    return
                try:
                    outcome = self._finish(read)
                except WorkspaceError:
                    raise
                except Exception as exc:  # a busy workspace, a bug: the watching goes on
                    outcome = Outcome(read.path, "error", error=error_line(exc))
                    _discard(read)
                self._busy.discard(read.path)
                if outcome is None:
                    news.put(("again", read.path))
                else:
                    self.report(outcome)
                    self._carry_out(outcome)
                allocator.release()  # the batch's frames are freed: give their pages back
        except BaseException as exc:  # a damaged workspace, output that cannot be written
            failure.append(exc)

    def _hear(self, news: queue.Queue[tuple[str, Path]], waiting: dict[Path, _Waiting],
              timeout: float) -> None:
        """Apply the folder's news to the files waiting to be taken."""
        try:
            kind, path = news.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            if kind == "deleted":
                ours = path in self._aside  # a move to rejected/ seen as a deletion
                self._aside.discard(path)
                # A file being checked is reported by its check.
                if path not in self._busy and (waiting.pop(path, None) is not None
                                               or path in self._vanished) and not ours:
                    self.report(self._gone(path, "deleted before it was read"))
                self._vanished.discard(path)
                self._taken.pop(path, None)
            elif kind == "moved away":
                self._aside.discard(path)
                waiting.pop(path, None)
                self._vanished.discard(path)
                self._taken.pop(path, None)
            elif self._wanted(path):
                entry = waiting.setdefault(path, _Waiting())
                if kind in ("closed", "moved in"):
                    entry.closed = _stamp(path)
            else:
                self._notice(path)
            try:
                kind, path = news.get_nowait()
            except queue.Empty:
                return

    def _due(self, waiting: dict[Path, _Waiting]) -> list[Path]:
        """The waiting files to read now, oldest first; none younger than a file that
        must settle first (a file held open by its writer holds up no other)."""
        candidates = []
        now = time.monotonic()
        for path, entry in list(waiting.items()):
            if path in self._busy:
                continue  # its verdict decides whether it is taken again
            stamp = _stamp(path)
            if stamp is None:  # reported as gone when its event comes (or it was moved)
                del waiting[path]
                self._vanished.add(path)
                continue
            if stamp != entry.stamp:
                entry.stamp, entry.since = stamp, now
            if self._taken.get(path) == stamp:
                del waiting[path]
                continue
            candidates.append((stamp.mtime_ns, path.name, path, entry, stamp))
        due = []
        for *_, path, entry, stamp in sorted(candidates):
            quiet_for = now - entry.since
            if path in self._writing and quiet_for < OPEN_WAIT:
                continue  # its writer still has it open, however long it pauses
            if not (entry.closed == stamp or quiet_for >= self.settle
                    or time.time() - stamp.mtime >= self.settle):
                break
            due.append(path)
            del waiting[path]
        return due

    def _rescan(self, waiting: dict[Path, _Waiting], present: bool,
                observer: _Observer) -> bool:
        """List the folder (events can be lost) and follow it going and coming back."""
        if not self.folder.is_dir():
            if present:
                self.report(Outcome(self.folder, "folder", error=f"{self.folder} is gone; "
                                    "waiting for it to come back"))
                waiting.clear()
                observer.unwatch()
            return False
        if not present:
            self.report(Outcome(self.folder, "folder", error=f"{self.folder} is back"))
            self._taken.clear()
        observer.watch()
        self._vanished.clear()
        try:
            for path in self._candidates():
                if path not in self._busy and self._taken.get(path) != _stamp(path):
                    waiting.setdefault(path, _Waiting())
        except OSError as exc:
            self._trouble(f"cannot list {self.folder}: {exc.strerror or exc}")
        else:
            self._troubled = None
        return True

    def _trouble(self, problem: str) -> None:
        """Report a problem with the folder once, not at every look at it."""
        if problem != self._troubled:
            self._troubled = problem
            self.report(Outcome(self.folder, "error", error=problem))

    # -- which files ----------------------------------------------------------------------

    def _candidates(self) -> list[Path]:
        """The data files in the folder, oldest first; the others are reported once."""
        found = []
        for path in self._listing(self.folder):
            if self._wanted(path):
                found.append(path)
            else:
                self._notice(path)
        return sorted(found, key=lambda p: ((_stamp(p) or _Stamp(0, 0, 0, 0)).mtime_ns, p.name))

    def _listing(self, folder: Path) -> Iterator[Path]:
        try:
            entries = sorted(folder.iterdir())
        except FileNotFoundError:
            return
        for path in entries:
            if _quiet(path) or path in (self.folder / REJECTED, self.labels):
                continue
            try:
                is_dir = path.is_dir()
            except OSError:
                continue
            if is_dir and self.recursive:
                yield from self._listing(path)
            else:  # a FIFO or a device too: it is set aside, with what it is
                yield path

    def _wanted(self, path: Path) -> bool:
        if path.suffix.lower() not in SUFFIXES or _quiet(path):
            return False
        try:
            inside = path.relative_to(self.folder)
        except ValueError:
            return False
        if inside.parts[0] == REJECTED or (self.labels is not None
                                           and self._inside(path, self.labels)):
            return False
        return self.recursive or len(inside.parts) == 1

    def _notice(self, path: Path) -> None:
        """Say once that a file or folder here is not watched, and why."""
        if path in self._noticed or _quiet(path) or not path.parent.is_relative_to(self.folder):
            return
        if (self._inside(path, self.folder / REJECTED) or path == self.folder
                or (self.labels is not None and self._inside(path, self.labels))):
            return
        if path.is_dir():
            why = "a subfolder; its files are not watched (watch with --recursive)"
        elif path.parent != self.folder and not self.recursive:
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
        self.report(Outcome(path, "ignored", error=why))

    @staticmethod
    def _inside(path: Path, folder: Path) -> bool:
        return path == folder or folder in path.parents

    # -- one file -------------------------------------------------------------------------

    def _read(self, path: Path) -> _Read | Outcome | None:
        """Copy and hash the file, then read the copy; None when it changed meanwhile."""
        before = _stamp(path)
        if before is None:
            return self._gone(path, "deleted before it was read")
        snapshot = self.ws.temp_path(path.suffix.lower())
        read_at = time.time()
        try:
            with files.open_regular(path, within=self.folder, room=self.ws.temp_dir) as src:
                digest, size = copy_file(src, snapshot)
        except files.NotRegular as exc:
            snapshot.unlink(missing_ok=True)
            return self._set_aside(path, error_line(exc))
        except FileNotFoundError:
            snapshot.unlink(missing_ok=True)
            return self._gone(path, "deleted while it was read")
        except OSError as exc:
            snapshot.unlink(missing_ok=True)
            self._taken[path] = before  # taken again once it changes (chmod does)
            what = ("cannot copy it into the workspace" if exc.filename == str(snapshot)
                    else "cannot read it")
            return Outcome(path, "error", error=f"{what}: {exc.strerror or exc}")
        after = _stamp(path)
        if after is None:
            snapshot.unlink(missing_ok=True)
            return self._gone(path, "deleted while it was read")
        if after != before or size != after.size:
            snapshot.unlink(missing_ok=True)
            return None
        earlier = self._seen(path, digest)
        if earlier is not None:
            snapshot.unlink(missing_ok=True)
            self._taken[path] = after
            return Outcome(path, "seen", check=earlier)
        read = _Read(path, after, read_at, digest, snapshot)
        try:
            read.table = score_files.read_table(snapshot, label=str(path))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a reader's own failure (a panic, too) on a bad file
            read.error = error_line(exc)
        return read

    def _finish(self, read: _Read) -> Outcome | None:
        """Check a file read (or reject it); None when it changed since it was read."""
        try:
            if read.error is not None:
                self._confirm(read)
                return self._reject(read.path, read.digest, read.error)
            return self._check(read)
        except _Changed:
            return None
        except FileNotFoundError:
            return self._gone(read.path, "deleted before its check was stored")
        finally:
            _discard(read)

    def _check(self, read: _Read) -> Outcome:
        path = read.path
        try:
            reference = self._current_reference()
        except MlcycleError as exc:  # the project, not the file, is at fault
            self._taken[path] = read.stamp
            return Outcome(path, "error", error=error_line(exc))
        labels = self._labels_for(path)
        try:
            # Acted on once reported (``_carry_out``): the verdict first, then the retraining.
            check = batch.check_batch(
                self.ws, self.project, path, labels=labels, act=False, cached=reference,
                table=read.table, confirm=lambda: self._confirm(read),
                in_transaction=lambda con, result: self._remember(
                    con, read.digest, path, "checked", result["id"], None),
                digest=read.digest, since=self._since, cancel=self._cancel)
        except (_Changed, FileNotFoundError):
            raise
        except Cancelled:  # the watching stops: the file is taken again next time
            raise _Changed from None
        except (WorkspaceBusy, WorkspaceError):
            raise  # the workspace, not the file, is at fault: never blame the file
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a reader's own error on a malformed file
            self._confirm(read)
            return self._reject(path, read.digest, error_line(exc))
        self._taken[path] = read.stamp
        # Checked meanwhile (by 'monitor'), or the champion changed to a version that had
        # checked it.
        if check.get("repeat_of"):
            return Outcome(path, "seen", check=check)
        return Outcome(path, "checked", check=check)

    def _labels_for(self, path: Path) -> Path | None:
        if self.labels is None:
            return None
        labels = self.labels / path.relative_to(self.folder)
        return labels if labels.is_file() else None

    def _confirm(self, read: _Read) -> None:
        """Return once the file has been unchanged for ``settle`` seconds since its last
        write and is still what was read; raise ``_Changed`` if it is not."""
        ready_at = min(read.stamp.mtime, read.read_at) + self.settle
        while True:
            if read.path in self._writing or self._stopping.is_set():
                raise _Changed
            now = _stamp(read.path)
            if now is None:
                raise FileNotFoundError(read.path)
            if now != read.stamp:
                raise _Changed
            wait = ready_at - time.time()
            if wait <= 0:
                return
            time.sleep(min(wait, POLL))

    def _current_reference(self) -> monitoring.Reference:
        """The champion's reference and the challenger shadowing it, as the registry has
        them: looked up at most every ``FOLLOW`` seconds, so a promotion is followed within
        a second and a burst of files does not pay for the look-ups each."""
        if self._reference is not None and time.monotonic() < self._fresh_until:
            return self._reference
        champion = registry.get(self.ws, self.project, registry.CHAMPION)
        if self._reference is None or self._reference.version.version != champion.version:
            self._reference = monitoring.reference(self.ws, self.project,
                                                   str(champion.version))
        else:
            try:
                named = registry.get(self.ws, self.project, scoring.CHALLENGER).version
            except NotFound:
                named = None
            shadow = self._reference.challenger
            if named != (shadow.version.version if shadow else None):
                self._reference.challenger = scoring.shadow_of(self.ws, self.project,
                                                               champion)
        self._fresh_until = time.monotonic() + FOLLOW
        return self._reference

    def _reject(self, path: Path, digest: str, error: str) -> Outcome:
        aside = self.folder / REJECTED
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
            self._aside.add(path)  # before the move: its event may come at once
            shutil.move(str(path), target)
            moved = target
        except FileNotFoundError:
            if not path.exists():
                return self._gone(path, "deleted before it could be set aside")
            problem = f"could not be moved to {aside}: no such folder"
        except OSError as exc:
            problem = f"could not be moved to {aside}: {exc.strerror or exc}"
        with self.ws.write() as con:
            self._remember(con, digest, moved or path, "rejected", None, error)
        if moved is None:
            self._aside.discard(path)
            self._taken[path] = _stamp(path) or _Stamp(0, 0, 0, 0)
        return Outcome(path, "rejected", error=error if problem is None
                       else f"{error} (it {problem})", moved_to=moved)

    def _set_aside(self, path: Path, error: str) -> Outcome:
        """Reject an entry that is no regular file to read (or a sparse or huge one) without
        reading it: it has no content to be known by, so it is known by what it is, where."""
        try:
            entry = os.lstat(path)
        except FileNotFoundError:
            return self._gone(path, "deleted before it was read")
        identity = f"{path}\0{entry.st_dev}\0{entry.st_ino}\0{entry.st_mtime_ns}"
        return self._reject(path, hashlib.sha256(identity.encode()).hexdigest(), error)

    def _gone(self, path: Path, when: str) -> Outcome:
        """A file that vanished before its verdict was stored: recorded, and reported."""
        self._taken.pop(path, None)
        with contextlib.suppress(MlcycleError), self.ws.write() as con:
            events.record(con, "monitor.gone", project=self.project, subject=path.name,
                          detail={"path": str(path), "when": when})
        return Outcome(path, "gone", error=when)

    def _seen(self, path: Path, digest: str) -> dict[str, Any] | None:
        """The champion's earlier check of this content, before the file is read; the
        check itself looks again, against the version that scores it."""
        labels = self._labels_for(path)
        try:
            champion = registry.get(self.ws, self.project, registry.CHAMPION).version
            content = monitoring.Content(
                digest, monitoring.content_hash(labels) if labels is not None else None)
        except MlcycleError:  # no champion, unreadable labels: the check says so
            return None
        return monitoring.earlier_check(self.ws, self.project, content, champion,
                                        since=self._since)

    def _remember(self, con: Any, digest: str, path: Path, status: str, check_id: str | None,
                  error: str | None) -> None:
        con.execute("INSERT OR REPLACE INTO watched_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [self.project, str(path), digest, utcnow(), status, check_id, error])
        if status == "rejected":
            events.record(con, "monitor.rejected", project=self.project, subject=path.name,
                          detail={"error": error, "moved_to": str(path)})


class _Observer:
    """watchdog's observer of the folder, turned into news for the watcher's loop; it can
    lose its folder and watch it again once it is back."""

    def __init__(self, watcher: Watcher, news: queue.Queue[tuple[str, Path]]) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        writing = watcher._writing

        class Handler(FileSystemEventHandler):
            def on_created(self, event: Any) -> None:
                news.put(("created", Path(event.src_path)))

            def on_modified(self, event: Any) -> None:
                if not event.is_directory:
                    writing.add(Path(event.src_path))
                    news.put(("modified", Path(event.src_path)))

            def on_closed(self, event: Any) -> None:  # closed after writing (inotify)
                writing.discard(Path(event.src_path))
                news.put(("closed", Path(event.src_path)))

            def on_moved(self, event: Any) -> None:
                writing.discard(Path(event.src_path))
                news.put(("moved away", Path(event.src_path)))
                news.put(("moved in", Path(event.dest_path)))

            def on_deleted(self, event: Any) -> None:
                writing.discard(Path(event.src_path))
                news.put(("deleted", Path(event.src_path)))

        self.watcher = watcher
        self.handler = Handler()
        self.observer = Observer()
        self.current: Any = None

    def start(self) -> None:
        self.observer.start()

    def watch(self) -> None:
        """Watch the folder, unless it is watched already (again after it came back)."""
        if self.current is not None and any(
                emitter.watch == self.current and emitter.is_alive()
                for emitter in self.observer.emitters):
            return  # the emitter of a deleted folder stops: then it is scheduled anew
        self.unwatch()
        try:
            self.current = self.observer.schedule(self.handler, str(self.watcher.folder),
                                                  recursive=self.watcher.recursive)
        except OSError:
            self.current = None  # gone again: the next rescan tries once more

    def unwatch(self) -> None:
        if self.current is not None:
            with contextlib.suppress(Exception):  # its emitter may have died with the folder
                self.observer.unschedule(self.current)
            self.current = None

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.observer.stop()
            self.observer.join(timeout=5)


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


def _discard(read: _Read) -> None:
    if read.table is not None:
        read.table.close()
        read.table = None
    read.snapshot.unlink(missing_ok=True)


def _existing_folder(folder: str | Path, what: str) -> Path:
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        raise InvalidInput(f"{what} folder {folder} does not exist or is not a folder")
    return path


def _stamp(path: Path) -> _Stamp | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return _Stamp(stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)

