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
reading and scoring overlap the settle wait; a write heard while a file is checked stops
its check at once, and the file is taken again. A file found without such news (at start,
or on systems without close events) is read once unchanged for ``settle`` seconds.

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
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mlcycle import projects
from mlcycle.models import registry
from mlcycle.monitor import decisions
from mlcycle.monitor.watching.arrivals import Arrivals
from mlcycle.monitor.watching.checking import Checker
from mlcycle.monitor.watching.folder import Folder
from mlcycle.monitor.watching.heartbeat import Heartbeat
from mlcycle.monitor.watching.ledger import Ledger
from mlcycle.monitor.watching.observer import News, Observer
from mlcycle.monitor.watching.outcome import Outcome
from mlcycle.monitor.watching.quarantine import Quarantine
from mlcycle.monitor.watching.reading import Read, Reader
from mlcycle.monitor.watching.references import FOLLOW
from mlcycle.store import allocator, files
from mlcycle.store.cancel import CancelToken
from mlcycle.store.errors import MlcycleError, WorkspaceError, error_line
from mlcycle.store.schema import utcnow
from mlcycle.store.workspace import Workspace

__all__ = ["Outcome", "Watcher"]

SETTLE = 0.5  # default seconds a file must stay unchanged before its check is stored
QUEUE = 2  # files read and waiting while one is checked
POLL = 0.05  # seconds between looks at files waiting to be taken
RESCAN = 2.0  # seconds between listings of the folder: events can be lost
GIVE_UP = 60.0  # take(): seconds a file may keep changing before it is reported


class Watcher:
    """Checks the files of one folder for one project; see the module docstring.

    It composes the folder half (:class:`Folder`: which files; :class:`Arrivals`: which
    are due; :class:`Reader`; :class:`Quarantine`; :class:`Observer`; :class:`Heartbeat`)
    and the checking half (:class:`Checker`). While it runs, its threads share only the
    :class:`Ledger`, the token that stops a check and the report (under a lock): the loop
    (the caller's thread) follows the folder and reads files, and alone uses ``Folder``
    and ``Arrivals``; the checker thread checks them, and alone uses ``Checker``; the
    heartbeat thread reads when the loop last moved on; watchdog's observer thread tells
    the ledger of writers. ``scan`` and ``take`` do it all on the caller's thread."""

    def __init__(self, ws: Workspace, project: str, folder: str | Path, *,
                 labels: str | Path | None = None,
                 report: Callable[[Outcome], None] | None = None,
                 settle: float = SETTLE, recursive: bool = False, again: bool = False) -> None:
        self.ws = ws
        self.project = projects.get(ws, project).name
        registry.get(ws, self.project, registry.CHAMPION)  # no champion: say so now
        self._report = report or (lambda _outcome: None)
        self._lock = threading.Lock()
        self.entries = Folder(ws, self.project, folder, labels, recursive, self.report)
        files.limit(ws.temp_dir)  # a size limit set wrong: say so now, not at every file
        self.folder = self.entries.path
        self.settle = settle
        self.recursive = recursive
        self.ledger = Ledger()
        self.quarantine = Quarantine(ws, self.project, self.entries.rejected, self.ledger)
        self.reader = Reader(ws, self.folder, self.ledger, self.quarantine)
        # With ``again``, only the checks made from now on keep a content from a new one.
        self.checker = Checker(ws, self.project, self.entries, self.ledger, self.quarantine,
                               self.report, settle, utcnow() if again else None)
        self._cancel = CancelToken()  # cancelled when the watching stops: a check gives up

    # -- what is there now ----------------------------------------------------------------

    def scan(self) -> list[Outcome]:
        """Check every file already in the folder, oldest first."""
        self.resume()
        return [self.take(p) for p in self.entries.candidates()]

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
            outcome = (read if isinstance(read, Outcome) or read is None
                       else self.checker.finish(read, self._cancel))
            if outcome is not None:
                break
            if time.monotonic() > deadline:
                outcome = Outcome(path, "error", error=f"kept changing for {GIVE_UP:g} s; "
                                  "not checked")
                break
            time.sleep(max(self.settle, POLL))
        self.report(outcome)
        self.checker.carry_out(outcome)
        return outcome

    def report(self, outcome: Outcome) -> None:
        """Tell the caller what became of a file (from any of the watcher's threads)."""
        with self._lock:
            self._report(outcome)

    def _read(self, path: Path) -> Read | Outcome | None:
        """Copy, hash and read the file, unless its content was checked already; None when
        it changed meanwhile."""
        read = self.reader.copy(path)
        if not isinstance(read, Read):
            return read
        earlier = self.checker.seen(path, read.digest)
        if earlier is not None:
            read.discard()
            self.ledger.take(path, read.stamp)
            return Outcome(path, "seen", check=earlier)
        return self.reader.load(read)

    # -- watching -------------------------------------------------------------------------

    def run(self, stop: threading.Event, started: Callable[[], None] | None = None) -> None:
        """Check what is there, then each file that arrives, until ``stop`` is set;
        ``started()`` is called once the folder is watched (no file is missed after it).

        The calling thread follows the folder and reads files; a second thread checks them,
        so the next file is read while the previous one is scored."""
        self._cancel = CancelToken()
        allocator.limit_arenas()  # before this run's threads allocate (see allocator)
        news: News = queue.Queue()
        ready: queue.Queue[Read | None] = queue.Queue(maxsize=QUEUE)
        failure: list[BaseException] = []
        stopping = threading.Event()
        heartbeat = Heartbeat(self.ws, self.project, self.folder)
        checker = threading.Thread(target=self._check_loop, args=(ready, news, failure),
                                   name="mlcycle-watch-check", daemon=True)
        checker.start()
        beating = threading.Thread(target=heartbeat.run, args=(stopping,),
                                   name="mlcycle-watch-heartbeat", daemon=True)
        beating.start()
        observer = Observer(self.folder, self.recursive, self.ledger, news)
        arrivals = Arrivals(self.entries, self.ledger, self.quarantine, self.report, self.settle)
        next_scan = 0.0
        try:
            observer.start()
            observer.watch()
            if started:
                started()
            while not stop.is_set() and not failure:
                heartbeat.moved()
                try:
                    if time.monotonic() >= next_scan:
                        arrivals.rescan(observer)
                        next_scan = time.monotonic() + RESCAN
                    arrivals.hear(news, timeout=POLL)
                    for path in arrivals.due():
                        read = self._take_in(path, arrivals)
                        if read is not None and not self._hand_over(read, ready, stop,
                                                                    failure, heartbeat):
                            break
                except WorkspaceError:
                    raise
                except Exception as exc:  # whatever the folder did, the watching goes on
                    arrivals.trouble(error_line(exc))
                    stop.wait(RESCAN)
        finally:
            stopping.set()  # the heartbeat says the watcher stopped
            self._cancel.cancel()  # a check in progress stops at once
            observer.stop()
            while True:  # files read but never checked: their copies go
                try:
                    ready.put(None, timeout=0.1)
                    break
                except queue.Full:
                    with contextlib.suppress(queue.Empty):
                        left = ready.get_nowait()
                        if left is not None:
                            left.discard()
            checker.join(timeout=30)  # a check in progress was cancelled: it ends at its next step
            beating.join(timeout=10)
        if failure:
            raise failure[0]

    def _take_in(self, path: Path, arrivals: Arrivals) -> Read | None:
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
            arrivals.again(path)
            return None
        self.ledger.hand_over(path)
        return read

    def _hand_over(self, read: Read, ready: queue.Queue[Read | None], stop: threading.Event,
                   failure: list[BaseException], heartbeat: Heartbeat) -> bool:
        while not stop.is_set() and not failure:
            heartbeat.moved()  # waiting for the checker is the loop moving on
            try:
                ready.put(read, timeout=0.2)
                return True
            except queue.Full:
                continue
        read.discard()
        return False

    def _check_loop(self, ready: queue.Queue[Read | None], news: News,
                    failure: list[BaseException]) -> None:
        """The checker thread: checks each file handed over, until it is handed None."""
        try:
            self.resume()  # before the first check, as a decision carried out would be
            while True:
                try:
                    read = ready.get(timeout=FOLLOW)
                except queue.Empty:
                    # Idle: keep the champion's reference current, so that the next file
                    # does not wait for the look-up (errors are the next check's to report).
                    with contextlib.suppress(Exception):
                        self.checker.references.current()
                    continue
                if read is None:
                    return
                try:
                    outcome = self.checker.finish(read, self._cancel)
                except WorkspaceError:
                    raise
                except Exception as exc:  # a busy workspace, a bug: the watching goes on
                    outcome = Outcome(read.path, "error", error=error_line(exc))
                    read.discard()
                self.ledger.done(read.path)
                if outcome is None:
                    news.put(("again", read.path))
                else:
                    self.report(outcome)
                    self.checker.carry_out(outcome)
                allocator.release()  # the batch's frames are freed: give their pages back
        except BaseException as exc:  # a damaged workspace, output that cannot be written
            failure.append(exc)
