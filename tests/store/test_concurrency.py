"""Several processes on one workspace: writers queue, readers wait, nobody sees a lock error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.store.workspace import Workspace
from tests.conftest import MLCYCLE, ROOT, assert_consistent, run_cli

WRITER = """
import sys
from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.store.workspace import open_workspace
ws = open_workspace(sys.argv[1], create=True)[0]
tag, n, csv = sys.argv[2], int(sys.argv[3]), sys.argv[4]
for i in range(n):
    projects.create(ws, f"{tag}-{i}", target="y", task="regression")
    datasets.add(ws, f"{tag}-{i}", csv)
print("done")
"""

READER = """
import sys, time
from mlcycle import projects
from mlcycle.store.workspace import Workspace
from pathlib import Path
ws = Workspace(Path(sys.argv[1]))
seen = 0
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    seen = max(seen, len(projects.list_all(ws)))
print(seen)
"""


def _spawn(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_two_writers_and_a_reader_at_once_lose_nothing(ws: Workspace, tmp_path: Path) -> None:
    csv = tmp_path / "d.csv"
    csv.write_text("x,y\n" + "".join(f"{i},{i * 2}\n" for i in range(500)))
    writers = [_spawn(WRITER, str(ws.root), tag, "5", str(csv)) for tag in ("a", "b")]
    reader = _spawn(READER, str(ws.root), "4")
    cli = [
        subprocess.Popen(
            [*MLCYCLE, "--workspace", str(ws.root),
             "project", "list", "--json"],
            cwd=ROOT,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for proc in [*writers, reader, *cli]:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "lock" not in err.lower(), err
    names = {p.name for p in projects.list_all(ws)}
    assert names == {f"{t}-{i}" for t in "ab" for i in range(5)}
    # One content, one stored version, linked to all ten projects.
    ids = {datasets.get(ws, name).id for name in names}
    assert len(ids) == 1
    assert len(list((ws.artifacts / "datasets").iterdir())) == 1


@pytest.mark.parametrize("delay", [0.3, 0.6, 0.9, 1.2, 1.6])
def test_kill_during_data_add_leaves_the_workspace_consistent(
    ws: Workspace, tmp_path: Path, delay: float
) -> None:
    import duckdb

    csv = tmp_path / "big.csv"
    duckdb.sql(
        "COPY (SELECT range AS id, random() AS a, random() * 10 AS b, "
        "['x','y','z'][range % 3 + 1] AS c, range % 2 AS y FROM range(300000)) "
        f"TO '{csv}'"
    )
    projects.create(ws, "p", target="y", task="classification")
    proc = subprocess.Popen(
        [*MLCYCLE, "--workspace", str(ws.root), "data", "add", "p",
         str(csv)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert_consistent(ws)
    # Whatever the kill interrupted, adding again completes the version.
    again = run_cli("data", "add", "p", str(csv), "--json", workspace=ws.root, check=True)
    assert '"n_rows": 300000' in again.stdout
    assert_consistent(ws)
