"""The watcher hands a check one ``Batch`` value (path, labels, digest, table, stamp): a file
rewritten while it is scored is never recorded under its old bytes, and a watched file's
mark is written with its check."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest

from mlcycle.deploy import score_files
from mlcycle.monitor import monitoring
from mlcycle.monitor.batch_file import Batch, Changed, stamp
from mlcycle.monitor.watch import Watcher
from mlcycle.monitor.watching.ledger import Ledger
from mlcycle.store.cancel import Cancelled, CancelToken
from mlcycle.store.workspace import Workspace
from tests.conftest import copy_workspace
from tests.training_data import classification_frame

NAME = "month 'é' 50% [a].csv"  # a name with quotes, brackets, % and an accent


@pytest.fixture(scope="module")
def clf(clf_champion_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return copy_workspace(clf_champion_root, tmp_path_factory.mktemp("batch value"))


def _write(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    classification_frame(200, seed=seed).drop("label").write_csv(path)
    return path


def _counts(ws: Workspace) -> tuple[int, ...]:
    with ws.read() as con:
        return tuple(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                     for table in ("monitor_checks", "watched_files", "scoring_runs"))


def _read(path: Path) -> Batch:
    """As the watcher hands a file over: hashed, read, stamped, settled at once."""
    return Batch(path, digest=hashlib.sha256(path.read_bytes()).hexdigest(),
                 table=score_files.read_table(path), stamp=stamp(path), watched=True)


def _rewrite_while_scored(monkeypatch: pytest.MonkeyPatch, path: Path, seed: int) -> list[int]:
    """Rewrite ``path`` once, after its first scoring and before its check is stored."""
    scored = monitoring._check_table
    calls: list[int] = []

    def and_rewrite(*args, **kwargs):
        out = scored(*args, **kwargs)
        if not calls:
            time.sleep(0.01)  # a new mtime even on a coarse clock
            _write(path, seed)
        calls.append(1)
        return out

    monkeypatch.setattr(monitoring, "_check_table", and_rewrite)
    return calls


def test_a_batch_rewritten_while_it_is_scored_is_not_recorded(clf, tmp_path, monkeypatch):
    path = _write(tmp_path / NAME, seed=1)
    batch = _read(path)
    before = _counts(clf)
    _rewrite_while_scored(monkeypatch, path, seed=2)
    try:
        with pytest.raises(Changed):
            monitoring.check(clf, "clf", batch, again=True)
    finally:
        batch.table.close()
    assert _counts(clf) == before


def test_a_watched_batch_is_marked_in_the_transaction_of_its_check(clf, tmp_path):
    path = _write(tmp_path / NAME, seed=3)
    batch = _read(path)
    try:
        result = monitoring.check(clf, "clf", batch)
    finally:
        batch.table.close()
    with clf.read() as con:
        rows = con.execute("SELECT path, sha256, status, check_id FROM watched_files "
                           "WHERE check_id = ?", [result["id"]]).fetchall()
    assert rows == [(str(path), batch.digest, "checked", result["id"])]
    other = _write(tmp_path / "named.csv", seed=4)  # named, as 'mlcycle monitor' does
    before = _counts(clf)
    monitoring.check(clf, "clf", other)
    assert _counts(clf)[1] == before[1]  # a check, and no watched file


def test_the_watcher_checks_a_file_rewritten_mid_check_as_it_ends_up(clf, tmp_path,
                                                                     monkeypatch):
    folder = tmp_path / "watched folder"
    path = _write(folder / NAME, seed=5)
    calls = _rewrite_while_scored(monkeypatch, path, seed=6)
    outcome = Watcher(clf, "clf", folder, settle=0).take(path)
    assert outcome.status == "checked" and len(calls) == 2
    with clf.read() as con:
        rows = con.execute("SELECT sha256, check_id FROM watched_files WHERE path = ?",
                           [str(path)]).fetchall()
    assert rows == [(hashlib.sha256(path.read_bytes()).hexdigest(), outcome.check["id"])]


def test_a_batch_is_confirmed_once_settled_and_not_if_it_changes(tmp_path):
    path = _write(tmp_path / NAME, seed=7)
    started = time.time()
    Batch(path, stamp=stamp(path), settled_at=started + 0.3).confirm()
    assert time.time() - started >= 0.3
    waiting = Batch(path, stamp=stamp(path), settled_at=time.time() + 5)
    threading.Timer(0.2, _write, (path, 8)).start()
    with pytest.raises(Changed):
        waiting.confirm()
    stopped = CancelToken()
    stopped.cancel()
    with pytest.raises(Cancelled):
        Batch(path, stamp=stamp(path), settled_at=time.time() + 5).confirm(stopped)
    path.unlink()
    with pytest.raises(FileNotFoundError):
        waiting.confirm()


def test_a_write_heard_or_the_watching_stopping_stops_the_check_of_that_file(tmp_path):
    ledger, stop = Ledger(), CancelToken()
    path, other = tmp_path / NAME, tmp_path / "other.csv"
    with ledger.checking(path, stop) as token:
        ledger.written(other)
        assert not token.cancelled  # another file's writer
        ledger.written(path)
        assert token.cancelled
    ledger.closed(path)
    with ledger.checking(path, stop) as token:
        assert not token.cancelled
        stop.cancel()
        assert token.cancelled
    ledger.written(path)  # still open for writing when its check starts
    with ledger.checking(path, CancelToken()) as token:
        assert token.cancelled
