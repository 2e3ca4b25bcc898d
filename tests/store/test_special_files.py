"""Only regular files are read: a device, a FIFO, a socket or a sparse file dropped where a
data file is expected is refused at once with what it is, by the watcher and by every command
that takes a file path, and nothing waits on it or copies it whole.

The watcher and the commands run as real processes (a FIFO hangs a process, not a test's
thread).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from mlcycle.monitor import status as statuses
from mlcycle.monitor import watch as watch_module
from mlcycle.monitor.watch import Watcher
from mlcycle.monitor.watching import heartbeat
from tests.conftest import run_cli
from tests.monitor.test_watch_robust import _rows, clf, watched  # noqa: F401 - fixtures

SPARSE = 2 * 1024**3


def _socket_at(path: Path) -> socket.socket:
    """A unix socket bound at ``path`` (bound in a short folder, since a socket's path is
    limited to about 100 bytes, then moved there)."""
    short = Path(tempfile.mkdtemp(prefix="s"))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(short / "s"))
    os.rename(short / "s", path)
    short.rmdir()
    return server


def _sparse(path: Path) -> None:
    with open(path, "wb") as fh:
        fh.truncate(SPARSE)


def _tree_size(folder: Path) -> int:
    total = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def test_devices_fifos_sockets_and_sparse_files_are_set_aside_and_the_next_batch_is_checked(
        clf, watched) -> None:  # noqa: F811
    watch, folder = watched("--settle", "0.1")
    temp = clf.temp_dir
    largest = [0]
    sampling = threading.Event()

    def sample() -> None:  # how much the watcher's private copies take, all along
        while not sampling.is_set():
            largest[0] = max(largest[0], _tree_size(temp) if temp.exists() else 0)
            time.sleep(0.01)

    threading.Thread(target=sample, daemon=True).start()
    try:
        (folder / "zero.csv").symlink_to("/dev/zero")
        os.mkfifo(folder / "pipe.csv")
        server = _socket_at(folder / "socket.csv")
        _sparse(folder / "sparse.csv")
        (folder / "good.csv").write_bytes(_rows(300, seed=1101))
        landed = time.monotonic()
        refused, took = {}, None
        while len(refused) < 5:
            outcome = watch.next(timeout=30)
            refused.setdefault(Path(outcome["path"]).name, outcome)
            if Path(outcome["path"]).name == "good.csv":
                took = time.monotonic() - landed
    finally:
        sampling.set()
    good = refused.pop("good.csv")
    assert good["status"] == "checked" and good["check"]["rows"] == 300
    assert took < 5, f"the good batch waited {took:.1f} s for its verdict"
    assert largest[0] < 50 << 20, f"artifacts/.tmp grew to {largest[0] >> 20} MiB"
    reasons = {
        "zero.csv": f"is a symbolic link to /dev/zero, outside {folder}",
        "pipe.csv": "is a FIFO (named pipe), not a regular file",
        "socket.csv": "is a socket, not a regular file",
        "sparse.csv": "is a sparse file: 2.0 GiB long",
    }
    for name, outcome in refused.items():
        assert outcome["status"] == "rejected", outcome
        assert reasons[name] in outcome["error"], outcome
        assert outcome["moved_to"] == str(folder / "rejected" / name)
        assert (folder / "rejected" / f"{name}.error.txt").read_text().startswith(
            str(folder / name))
        assert not os.path.lexists(folder / name)
    server.close()
    assert watch.quiet(2.5) == []  # past a rescan: nothing is reported twice
    _interrupt(watch)


def _interrupt(watch) -> None:
    """Ctrl-C the watcher: it says it stopped within a second, and its process ends."""
    stopped_at = time.monotonic()
    watch.proc.send_signal(signal.SIGINT)
    while not any(line.startswith("stopped") for line in watch.stderr):
        assert time.monotonic() - stopped_at < 1.0, "Ctrl-C did not stop the watcher in 1 s"
        time.sleep(0.01)
    watch.proc.wait(timeout=5)
    assert watch.proc.returncode == 0, "".join(watch.stderr)
    assert "Traceback" not in "".join(watch.stderr)


def test_ctrl_c_while_a_batch_is_read_stops_the_watcher_and_leaves_the_batch(
        watched) -> None:  # noqa: F811
    watch, folder = watched()
    (folder / "big.csv").write_bytes(_rows(300_000, seed=1501))
    time.sleep(0.4)  # its reading has begun (on its writer's close)
    _interrupt(watch)
    outcomes = watch.quiet(0.5)
    assert not [o for o in outcomes if o["status"] == "rejected"], outcomes
    assert (folder / "big.csv").exists() and not (folder / "rejected").exists()


def test_an_entry_that_cannot_be_moved_aside_is_recorded_once(clf, tmp_path,  # noqa: F811
                                                             monkeypatch) -> None:
    folder = tmp_path / "stuck"
    folder.mkdir()
    os.mkfifo(folder / "pipe.csv")

    def cannot(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("mlcycle.monitor.watching.quarantine.shutil.move", cannot)
    seen: list[tuple[str, str]] = []
    watcher = Watcher(clf, "clf", folder, settle=0,
                      report=lambda o: seen.append((o.path.name, o.status)))
    stop = threading.Event()
    running = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    monkeypatch.setattr(watch_module, "RESCAN", 0.1)
    running.start()
    time.sleep(1.5)  # a dozen rescans
    stop.set()
    running.join(timeout=10)
    assert not running.is_alive()
    assert seen.count(("pipe.csv", "rejected")) == 1, seen
    assert (folder / "pipe.csv").exists()
    with clf.read() as con:
        rows = con.execute("SELECT status, error FROM watched_files WHERE path = ?",
                           [str(folder / "pipe.csv")]).fetchall()
    assert len(rows) == 1 and "FIFO (named pipe)" in rows[0][1]


def test_status_says_stalled_when_the_loop_stops_moving_on(clf, tmp_path,  # noqa: F811
                                                          monkeypatch) -> None:
    folder = tmp_path / "stalling"
    folder.mkdir()
    monkeypatch.setattr(heartbeat, "HEARTBEAT", 0.2)
    stuck, release = threading.Event(), threading.Event()
    read = Watcher._read

    def slow_read(self, path):  # a read that blocks the loop, as a hung one would
        stuck.set()
        release.wait(30)
        return read(self, path)

    monkeypatch.setattr(Watcher, "_read", slow_read)
    watcher = Watcher(clf, "clf", folder, settle=0)
    stop = threading.Event()
    running = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    running.start()

    def state() -> str:
        mine = [w for w in statuses.status(clf, "clf")["watchers"]
                if w["folder"] == str(watcher.folder)]
        return mine[0]["state"] if mine else "none"

    try:
        deadline = time.monotonic() + 10
        while state() != "alive":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (folder / "batch.csv").write_bytes(_rows(50, seed=1201))
        assert stuck.wait(10)
        time.sleep(statuses.STALE * 0.2 + 0.5)
        assert state() == "stalled"
        release.set()
        deadline = time.monotonic() + 10
        while state() != "alive":
            assert time.monotonic() < deadline, state()
            time.sleep(0.05)
    finally:
        release.set()
        stop.set()
        running.join(timeout=10)


# -- every command that takes a file path ------------------------------------------------


@pytest.fixture(scope="module")
def specials(tmp_path_factory: pytest.TempPathFactory):
    """A folder holding one of each: a FIFO, a link to /dev/zero, a socket, a sparse file."""
    folder = tmp_path_factory.mktemp("specials")
    os.mkfifo(folder / "pipe.csv")
    (folder / "zero.csv").symlink_to("/dev/zero")
    server = _socket_at(folder / "socket.csv")
    _sparse(folder / "sparse.csv")
    (folder / "good.csv").write_bytes(_rows(50, seed=1301))
    yield folder
    server.close()


REASONS = {
    "pipe.csv": "pipe.csv is a FIFO (named pipe), not a regular file",
    "zero.csv": "zero.csv is a symbolic link to /dev/zero, which is a character device, "
                "not a regular file",
    "socket.csv": "socket.csv is a socket, not a regular file",
    "sparse.csv": "sparse.csv is a sparse file: 2.0 GiB long but",
}


def _written(ws) -> tuple:
    """What a command could have written: rows of the tables commands add to, and the
    workspace's artifact files."""
    with ws.read() as con:
        counts = tuple(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                       for table in ("datasets", "events", "monitor_checks", "scoring_runs",
                                     "model_versions", "collections"))
    files = sorted(str(p.relative_to(ws.root)) for p in (ws.root / "artifacts").rglob("*")
                   if ".tmp" not in p.parts)
    return counts, files


def _refused(ws, args: list[str], name: str, **options) -> None:
    before = _written(ws)
    started = time.monotonic()
    proc = run_cli(*args, workspace=ws.root, timeout=30, **options)
    took = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and REASONS[name] in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert took < 5, f"{args[0]} took {took:.1f} s to refuse"  # process start included
    assert _written(ws) == before


@pytest.mark.parametrize(("command", "name"), [
    ("data add", "pipe.csv"), ("data add", "sparse.csv"), ("drift", "zero.csv"),
    ("predict", "socket.csv"), ("monitor", "pipe.csv"), ("monitor", "zero.csv"),
    ("retrain --with", "sparse.csv"), ("retrain --with", "pipe.csv"),
])
def test_every_command_refuses_what_is_not_a_regular_file_with_its_reason(
        clf, specials, command, name) -> None:  # noqa: F811
    path = str(specials / name)
    args = {"data add": ["data", "add", "clf", path],
            "drift": ["drift", str(specials / "good.csv"), path],
            "predict": ["predict", "clf", path],
            "monitor": ["monitor", "clf", path],
            "retrain --with": ["retrain", "clf", "--with", path]}[command]
    _refused(clf, args, name)


def test_a_policy_given_as_a_fifo_is_refused_for_what_it_is(clf, specials) -> None:  # noqa: F811
    _refused(clf, ["policy", "set", "clf", str(specials / "pipe.csv")], "pipe.csv")


def test_collect_refuses_a_file_source_become_a_fifo(clf, tmp_path) -> None:  # noqa: F811
    path = tmp_path / "pipe.csv"
    path.write_bytes(_rows(50, seed=1401))
    added = run_cli("source", "add", "clf", "feed", "--uri", str(path), workspace=clf.root)
    assert added.returncode == 0, added.stderr
    path.unlink()
    os.mkfifo(path)
    _refused(clf, ["collect", "clf", "feed"], "pipe.csv")


@pytest.mark.parametrize(("limit", "says"), [
    ("1K", "{path} is {size}, more than the MLCYCLE_MAX_FILE_SIZE limit (1.0 KiB); "
           "raise MLCYCLE_MAX_FILE_SIZE"),
    ("lots", "MLCYCLE_MAX_FILE_SIZE='lots': give a size such as 500M, 20G or a number of bytes"),
])
def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
        clf, specials, limit, says) -> None:  # noqa: F811
    good = specials / "good.csv"
    before = _written(clf)
    proc = run_cli("data", "add", "clf", str(good), workspace=clf.root,
                   env={"MLCYCLE_MAX_FILE_SIZE": limit})
    assert proc.returncode == 2
    size = f"{good.stat().st_size / 1024:.1f} KiB"
    assert proc.stderr.strip().splitlines() == [f"error: {says.format(path=good, size=size)}"]
    assert _written(clf) == before


def test_by_default_a_file_over_half_the_free_space_is_refused(tmp_path, monkeypatch) -> None:
    from mlcycle.store import files

    monkeypatch.delenv("MLCYCLE_MAX_FILE_SIZE", raising=False)
    path = tmp_path / "big.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * (3 << 20 >> 2))  # 3 MiB
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(files.shutil, "disk_usage", lambda _where: usage._replace(free=8 << 20))
    files.check_regular(path, room=tmp_path)  # under half of 8 MiB
    monkeypatch.setattr(files.shutil, "disk_usage", lambda _where: usage._replace(free=4 << 20))
    with pytest.raises(files.NotRegular, match=r"is 3.0 MiB, more than half the free disk "
                       r"space \(2.0 MiB\); free disk space, or set MLCYCLE_MAX_FILE_SIZE"):
        files.check_regular(path, room=tmp_path)
