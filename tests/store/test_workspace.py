"""The workspace store: creation, migrations, locking, artifact paths."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import duckdb
import pytest

from mlcycle import projects
from mlcycle.store import schema
from mlcycle.store.errors import InvalidInput, WorkspaceBusy, WorkspaceError
from mlcycle.store.workspace import Workspace, open_workspace


def test_open_requires_a_workspace_unless_creating(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="mlcycle init"):
        open_workspace(tmp_path / "nope")
    ws, created = open_workspace(tmp_path / "new", create=True)
    assert created and ws.db_path.exists() and ws.artifacts.is_dir()
    assert open_workspace(tmp_path / "new")[1] is False


def test_workspace_from_an_older_schema_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    root = tmp_path / "old"
    (root / "artifacts").mkdir(parents=True)
    con = duckdb.connect(str(root / "mlcycle.duckdb"))
    schema.migrate(con, root, upto=1)
    con.execute(
        "INSERT INTO projects VALUES ('legacy', 'y', 'regression', 'rmse', NULL, NULL, NULL, now())"
    )
    con.close()

    ws = Workspace(root)
    assert [p.name for p in projects.list_all(ws)] == ["legacy"]
    with ws.read() as con:
        assert schema.version(con) == schema.LATEST
        assert con.execute("SELECT count(*) FROM events").fetchall() == [(0,)]


def test_workspace_from_a_newer_mlcycle_is_refused(ws: Workspace) -> None:
    with ws.write() as con:
        con.execute("INSERT INTO schema_version VALUES (?, now())", [schema.LATEST + 1])
    with pytest.raises(WorkspaceError, match="newer"):
        projects.list_all(Workspace(ws.root))


def test_failed_write_rolls_back(ws: Workspace) -> None:
    with pytest.raises(RuntimeError), ws.write() as con:
        con.execute(
            "INSERT INTO projects (name, target, task, metric, created_at) VALUES "
            "('half', 'y', 'regression', 'rmse', now())"
        )
        raise RuntimeError("crash in the middle")
    assert projects.list_all(ws) == []


def _hold_exclusive(root: str, seconds: float, ready) -> None:
    ws = Workspace(Path(root))
    with ws.write():
        ready.set()
        time.sleep(seconds)


def test_reader_waits_for_a_writer_instead_of_failing(ws: Workspace) -> None:
    ready = mp.get_context("spawn").Event()
    holder = mp.get_context("spawn").Process(
        target=_hold_exclusive, args=(str(ws.root), 1.0, ready)
    )
    holder.start()
    assert ready.wait(30)
    started = time.monotonic()
    assert projects.list_all(ws) == []
    assert time.monotonic() - started > 0.3  # it really waited for the lock
    holder.join(30)


def test_wait_beyond_the_timeout_is_one_clear_error(ws: Workspace, monkeypatch) -> None:
    ready = mp.get_context("spawn").Event()
    holder = mp.get_context("spawn").Process(
        target=_hold_exclusive, args=(str(ws.root), 3.0, ready)
    )
    holder.start()
    assert ready.wait(30)
    monkeypatch.setenv("MLCYCLE_LOCK_TIMEOUT", "0.3")
    with pytest.raises(WorkspaceBusy, match="MLCYCLE_LOCK_TIMEOUT"):
        projects.list_all(ws)
    holder.join(30)


@pytest.mark.parametrize("bad", ["../outside.txt", "/etc/passwd", "datasets/../../x", ""])
def test_artifact_paths_never_leave_the_workspace(ws: Workspace, bad: str) -> None:
    with pytest.raises(InvalidInput):
        ws.artifact_path(bad)


def test_commit_file_places_a_temp_file_atomically(ws: Workspace) -> None:
    temp = ws.temp_path(".bin")
    temp.write_bytes(b"payload")
    target = ws.commit_file(temp, "models/abc.bin")
    assert target.read_bytes() == b"payload" and not temp.exists()


def test_sweep_removes_only_stale_temp_files(ws: Workspace) -> None:
    import os

    old, fresh = ws.temp_path(), ws.temp_path()
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert ws.sweep_temp() == 1
    assert not old.exists() and fresh.exists()
