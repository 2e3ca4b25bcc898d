"""The folder watcher survives whatever a folder does, and checks only complete files.

Most tests run a real `mlcycle watch ... --json` process and read its verdicts, one JSON
object per line, as a user's script would.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from mlcycle.models import registry
from mlcycle.monitor.watch import Watcher
from mlcycle.monitor.watching import reading
from mlcycle.store import events
from tests.conftest import MLCYCLE, ROOT
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory):
    ws = classification_workspace(tmp_path_factory.mktemp("watch"), ["logistic"], rows=600)
    registry.promote(ws, "clf", "1", reason="test")
    return ws


def _rows(n: int, seed: int) -> bytes:
    return classification_frame(n, seed=seed).drop("label").write_csv().encode()


class Watch:
    """A running watcher process; its verdicts arrive on a queue as they are printed."""

    def __init__(self, ws, folder: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "MLCYCLE_WORKSPACE"}
        self.proc = subprocess.Popen(
            [*MLCYCLE, "--workspace", str(ws.root), "watch", "clf",
             str(folder), "--json", *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.outcomes: queue.Queue[dict] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        deadline = time.monotonic() + 60
        while not any("watching" in line for line in self.stderr):
            assert self.proc.poll() is None, "".join(self.stderr)
            assert time.monotonic() < deadline, "the watcher did not start"
            time.sleep(0.05)

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.outcomes.put(json.loads(line))

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def next(self, timeout: float = 60) -> dict:
        return self.outcomes.get(timeout=timeout)

    def until(self, name: str, timeout: float = 60) -> dict:
        """The next outcome for the file called ``name`` (others in between are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            outcome = self.next(timeout=max(deadline - time.monotonic(), 0.01))
            if Path(outcome["path"]).name == name:
                return outcome

    def quiet(self, seconds: float) -> list[dict]:
        """Whatever arrives in the next ``seconds``."""
        got, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(self.outcomes.get(timeout=left))
            except queue.Empty:
                break
        return got

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def watched(clf, tmp_path):
    started: list[Watch] = []

    def start(*args: str) -> tuple[Watch, Path]:
        """A watcher that has checked a first file: its model's reference is built, so a
        check takes as long as it will for every later file."""
        folder = tmp_path / "incoming"
        folder.mkdir(exist_ok=True)
        watch = Watch(clf, folder, *args)
        started.append(watch)
        (folder / "warm-up.csv").write_bytes(_rows(300, seed=int(time.time() * 1000)))
        assert watch.until("warm-up.csv")["status"] in ("checked", "seen")
        return watch, folder

    yield start
    for watch in started:
        watch.stop()
        assert "Traceback" not in "".join(watch.stderr), "".join(watch.stderr)


def test_a_file_deleted_at_any_moment_of_its_check_leaves_the_watcher_alive(clf, watched):
    watch, folder = watched("--settle", "0.2")
    # From "right after it appears" to well into its check: nineteen moments ...
    delays = [0.0, 0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.13, 0.16, 0.2, 0.25,
              0.3, 0.35, 0.45, 0.6, 0.8, 1.1]
    seen = {}
    for i, delay in enumerate(delays):
        path = folder / f"doomed-{i:02d}.csv"
        path.write_bytes(_rows(20_000, seed=200 + i))
        time.sleep(delay)
        path.unlink()
        seen[path.name] = watch.until(path.name)
        assert watch.alive()
    # ... and one deleted once its check was told, however long a busy machine took.
    last = folder / "doomed-19.csv"
    last.write_bytes(_rows(20_000, seed=219))
    seen[last.name] = watch.until(last.name)
    last.unlink()
    time.sleep(0.5)
    assert watch.alive()
    statuses = {name: o["status"] for name, o in seen.items()}
    assert set(statuses.values()) <= {"checked", "gone"}, statuses
    # Both ends of the range happened: files gone before their check, and files checked.
    assert statuses["doomed-00.csv"] == "gone" and statuses["doomed-19.csv"] == "checked"
    for outcome in seen.values():
        if outcome["status"] == "checked":
            assert outcome["check"]["rows"] == 20_000
    gone = [e for e in events.recent(clf, "clf", limit=500) if e["kind"] == "monitor.gone"
            and e["subject"].startswith("doomed-")]
    assert len(gone) == sum(s == "gone" for s in statuses.values())
    # and it still checks the next file
    (folder / "after.csv").write_bytes(_rows(300, seed=299))
    assert watch.until("after.csv")["status"] == "checked"


@pytest.mark.parametrize("pause", [1.0, 2.0, 3.0])
def test_a_writer_pausing_mid_file_gets_one_check_of_the_whole_file(watched, pause) -> None:
    watch, folder = watched()  # the default settle time, 0.5 s: shorter than every pause
    data = _rows(40_000, seed=300 + int(pause))
    half = data.index(b"\n", len(data) // 2) + 1
    path = folder / "slow.csv"
    with open(path, "wb") as fh:
        fh.write(data[:half])
        fh.flush()
        os.fsync(fh.fileno())
        time.sleep(pause)
        fh.write(data[half:])
    outcome = watch.until("slow.csv")
    assert outcome["status"] == "checked" and outcome["check"]["rows"] == 40_000
    assert watch.quiet(1.5) == []  # and no second check


def test_the_folder_deleted_and_made_again_is_watched_again(watched) -> None:
    watch, folder = watched()
    (folder / "first.csv").write_bytes(_rows(300, seed=401))
    assert watch.until("first.csv")["status"] == "checked"
    shutil.rmtree(folder)
    gone = watch.next(timeout=30)
    assert gone["status"] == "folder" and "is gone" in gone["error"]
    folder.mkdir()
    back = watch.next(timeout=30)
    assert back["status"] == "folder" and "is back" in back["error"]
    (folder / "second.csv").write_bytes(_rows(300, seed=402))
    assert watch.until("second.csv")["status"] == "checked"
    assert watch.alive()


def test_subfolders_and_other_files_are_reported_once(clf, watched) -> None:
    watch, folder = watched()
    (folder / "sub").mkdir()
    (folder / "sub" / "inside.csv").write_bytes(_rows(300, seed=501))
    (folder / "report.xlsx").write_bytes(b"PK\x03\x04 a workbook")
    ignored = {Path(o["path"]).name: o for o in (watch.next(), watch.next())}
    assert set(ignored) == {"sub", "report.xlsx"}
    assert all(o["status"] == "ignored" for o in ignored.values())
    assert "--recursive" in ignored["sub"]["error"]
    assert "not a data file (.xlsx)" in ignored["report.xlsx"]["error"]
    (folder / "report.xlsx").write_bytes(b"PK\x03\x04 the workbook, saved again")
    (folder / "sub" / "more.csv").write_bytes(_rows(300, seed=502))
    assert watch.quiet(3.0) == []  # reported once, and the subfolder's files left alone
    kinds = [(e["kind"], e["subject"]) for e in events.recent(clf, "clf", limit=500)]
    assert kinds.count(("monitor.ignored", "report.xlsx")) == 1


def test_with_recursive_the_files_of_subfolders_are_checked(clf, tmp_path) -> None:
    folder = tmp_path / "tree"
    (folder / "2026" / "03").mkdir(parents=True)
    (folder / "2026" / "03" / "week-1.csv").write_bytes(_rows(300, seed=601))
    (folder / "notes.txt").write_text("the March batches")
    proc = subprocess.run(
        [*MLCYCLE, "--workspace", str(clf.root), "watch", "clf",
         str(folder), "--once", "--recursive", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    outcomes = {Path(o["path"]).name: o for o in map(json.loads, proc.stdout.splitlines())}
    assert outcomes["week-1.csv"]["status"] == "checked"
    assert outcomes["notes.txt"]["status"] == "ignored"


def test_a_burst_of_files_is_checked_in_the_order_written(watched) -> None:
    watch, folder = watched()
    names = [f"burst-{i:02d}.csv" for i in range(12)]
    for i, name in enumerate(names):
        (folder / name).write_bytes(_rows(200, seed=700 + i))
    outcomes = [watch.next() for _ in names]
    assert [Path(o["path"]).name for o in outcomes] == names
    assert all(o["status"] == "checked" for o in outcomes)


def test_a_rejection_that_cannot_be_moved_is_recorded_and_watching_goes_on(clf, tmp_path,
                                                                          monkeypatch):
    folder = tmp_path / "full"
    folder.mkdir()
    seen: list[tuple[str, str]] = []
    watcher = Watcher(clf, "clf", folder, settle=0,
                      report=lambda o: seen.append((o.path.name, o.status)))
    bad = folder / "broken.csv"
    bad.write_text("id,x1\n1,2,3\n")

    def full_disk(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("mlcycle.monitor.watching.quarantine.shutil.move", full_disk)
    outcome = watcher.take(bad)
    assert outcome.status == "rejected" and outcome.moved_to is None
    assert "could not be moved" in outcome.error and "No space left" in outcome.error
    with clf.read() as con:
        stored = con.execute("SELECT status, path FROM watched_files WHERE sha256 = ?",
                             [hashlib.sha256(bad.read_bytes()).hexdigest()]).fetchall()
    assert stored == [("rejected", str(bad))]
    monkeypatch.undo()
    good = folder / "good.csv"
    good.write_bytes(_rows(300, seed=801))
    assert watcher.take(good).status == "checked"


def test_the_hash_stored_is_of_the_bytes_checked_when_a_file_changes_while_read(
        clf, tmp_path, monkeypatch) -> None:

    folder = tmp_path / "changing"
    folder.mkdir()
    path = folder / "growing.csv"
    first, whole = _rows(500, seed=901), _rows(1500, seed=901)
    path.write_bytes(first)
    copy = reading.copy_file
    calls = []

    def copy_then_grow(src: Path, dst: Path) -> tuple[str, int]:
        out = copy(src, dst)
        if not calls:  # the writer goes on while the first copy is taken
            path.write_bytes(whole)
        calls.append(src)
        return out

    monkeypatch.setattr(reading, "copy_file", copy_then_grow)
    outcome = Watcher(clf, "clf", folder, settle=0).take(path)
    assert len(calls) == 2  # the changed file was read again
    assert outcome.status == "checked" and outcome.check["rows"] == 1500
    with clf.read() as con:
        digest = con.execute("SELECT sha256 FROM watched_files WHERE check_id = ?",
                             [outcome.check["id"]]).fetchall()[0][0]
    assert digest == hashlib.sha256(whole).hexdigest()


def test_a_file_that_is_not_readable_data_is_set_aside_and_the_next_is_checked(
        clf, tmp_path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a-packed.csv").write_bytes(b"\x1f\x8b\x08\x00 not a table")
    pl.DataFrame({"x": [1]}).write_parquet(folder / "b-other.parquet")
    (folder / "c-good.csv").write_bytes(_rows(300, seed=951))
    outcomes = {o.path.name: o for o in Watcher(clf, "clf", folder, settle=0).scan()}
    assert outcomes["a-packed.csv"].status == "rejected"
    assert "gzip-compressed" in outcomes["a-packed.csv"].error
    assert outcomes["b-other.parquet"].status == "rejected"
    assert "missing column(s) the model needs" in outcomes["b-other.parquet"].error
    assert outcomes["c-good.csv"].status == "checked"
    assert (folder / "rejected" / "a-packed.csv.error.txt").exists()


def test_a_file_that_cannot_be_read_is_reported_and_left_in_place(
        clf, tmp_path, monkeypatch) -> None:

    folder = tmp_path / "locked"
    folder.mkdir()
    path = folder / "locked.csv"
    path.write_bytes(_rows(300, seed=961))
    copy = reading.copy_file

    def denied(src: Path, dst: Path) -> tuple[str, int]:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(src))

    watcher = Watcher(clf, "clf", folder, settle=0)
    monkeypatch.setattr(reading, "copy_file", denied)
    outcome = watcher.take(path)  # tests run as root, for whom chmod 000 still reads
    assert outcome.status == "error" and "cannot read it: Permission denied" in outcome.error
    assert path.exists()  # not the file's fault: left where it is
    monkeypatch.setattr(reading, "copy_file", copy)
    assert watcher.take(path).status == "checked"
