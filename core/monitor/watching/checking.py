"""The watcher's checking half: a file read becomes a :class:`Batch`, checked the one way
every face checks a batch (``check_batch``), and its verdict is recorded.

A check is stored only for a file that is complete: the check confirms, just before it
stores its verdict, that the file has stayed unchanged for ``settle`` seconds since its
last write and is still what was read (``Batch.confirm``); a file that changed meanwhile,
or that a writer opened again (the ledger stops its check), is not checked now but taken
again. Under mode ``auto`` the decision a check raises is carried out once the check is
reported (:meth:`Checker.carry_out`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from mlcycle.models import registry
from mlcycle.monitor import batch, monitoring
from mlcycle.monitor.batch_file import Changed
from mlcycle.monitor.watching.folder import Folder
from mlcycle.monitor.watching.ledger import Ledger
from mlcycle.monitor.watching.outcome import Outcome
from mlcycle.monitor.watching.quarantine import Quarantine
from mlcycle.monitor.watching.reading import Read
from mlcycle.monitor.watching.references import References
from mlcycle.store.cancel import Cancelled, CancelToken
from mlcycle.store.errors import MlcycleError, WorkspaceBusy, WorkspaceError, error_line
from mlcycle.store.workspace import Workspace


class Checker:
    """Checks the files of one watched folder, from one thread at a time."""

    def __init__(self, ws: Workspace, project: str, folder: Folder, ledger: Ledger,
                 quarantine: Quarantine, report: Callable[[Outcome], None],
                 settle: float, since: datetime | None) -> None:
        self.ws = ws
        self.project = project
        self.folder = folder
        self.ledger = ledger
        self.quarantine = quarantine
        self.references = References(ws, project)
        self._report = report
        self.settle = settle
        self.since = since  # with --again: only the checks made since count

    def seen(self, path: Path, digest: str) -> dict[str, Any] | None:
        """The champion's earlier check of this content, before the file is read; the
        check itself looks again, against the version that scores it."""
        labels = self.folder.labels_for(path)
        try:
            champion = registry.get(self.ws, self.project, registry.CHAMPION).version
            content = monitoring.Content(
                digest, monitoring.content_hash(labels) if labels is not None else None)
        except MlcycleError:  # no champion, unreadable labels: the check says so
            return None
        return monitoring.earlier_check(self.ws, self.project, content, champion,
                                        since=self.since)

    def finish(self, read: Read, stop: CancelToken) -> Outcome | None:
        """Check a file read (or reject it); None when it changed since it was read, or
        the watching stopped: it is taken again. The read is discarded either way."""
        try:
            with self.ledger.checking(read.path, stop) as token:
                if read.error is not None:
                    read.batch(None, self.settle).confirm(token)
                    return self.quarantine.reject(read.path, read.digest, read.error)
                return self._check(read, token)
        except (Changed, Cancelled):
            return None
        except FileNotFoundError:
            return self.quarantine.gone(read.path, "deleted before its check was stored")
        finally:
            read.discard()

    def _check(self, read: Read, token: CancelToken) -> Outcome:
        path = read.path
        try:
            reference = self.references.current()
        except MlcycleError as exc:  # the project, not the file, is at fault
            self.ledger.take(path, read.stamp)
            return Outcome(path, "error", error=error_line(exc))
        data = read.batch(self.folder.labels_for(path), self.settle)
        try:
            # Acted on once reported (``carry_out``): the verdict first, then the retraining.
            check = batch.check_batch(self.ws, self.project, data, act=False,
                                      cached=reference, since=self.since, cancel=token)
        except (Changed, FileNotFoundError, Cancelled):
            raise  # taken again, or gone
        except (WorkspaceBusy, WorkspaceError):
            raise  # the workspace, not the file, is at fault: never blame the file
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a reader's own error on a malformed file
            data.confirm(token)
            return self.quarantine.reject(path, read.digest, error_line(exc))
        self.ledger.take(path, read.stamp)
        # Checked meanwhile (by 'monitor'), or the champion changed to a version that had
        # checked it.
        if check.get("repeat_of"):
            return Outcome(path, "seen", check=check)
        return Outcome(path, "checked", check=check)

    def carry_out(self, outcome: Outcome) -> None:
        """Act on the decision a check raised as every face does (``batch.act_on``): under
        mode auto, approve and carry it out; each step reported."""
        raised = (outcome.check or {}).get("decision") if outcome.status == "checked" else None
        if not raised or raised.get("mode") != "auto":
            return
        problems: list[str] = []
        decided = batch.act_on(self.ws, self.project, raised, say=problems.append)
        if problems:  # nothing labelled to retrain on yet, say: it stays open
            self._report(Outcome(outcome.path, "decision", error=problems[0],
                                 decision=raised))
        elif decided is not raised:
            self._report(Outcome(outcome.path, "decision", decision=decided))
