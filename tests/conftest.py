from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mlcycle.store.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
# `python -m mlcycle`, without the current folder on sys.path (-P): commands run from the
# repository's root, where core/ and app/ would otherwise import as top-level packages and
# hide a module named by its old path.
MLCYCLE = [sys.executable, *(["-P"] if sys.version_info >= (3, 11) else []), "-m", "mlcycle"]


def run_cli(
    *args: str,
    workspace: Path | None = None,
    check: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Run ``mlcycle ARGS`` in a fresh process, as a user's shell would."""
    full_env = {k: v for k, v in os.environ.items() if k != "MLCYCLE_WORKSPACE"}
    full_env.update(env or {})
    prefix = ["--workspace", str(workspace)] if workspace else []
    proc = subprocess.run(
        [*MLCYCLE, *prefix, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=ROOT,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"mlcycle {' '.join(args)} failed: {proc.stderr}")
    return proc


def assert_consistent(ws: Workspace) -> None:
    """Every stored dataset version has its file, its columns and its quality report, and
    every project's link names a stored version: what a kill or a purge must leave."""
    with ws.read() as con:
        stored = con.execute("SELECT id, path, n_columns FROM datasets").fetchall()
        for dataset_id, path, n_columns in stored:
            assert ws.artifact_path(path).exists(), f"{dataset_id} registered without its file"
            cols = con.execute(
                "SELECT count(*) FROM dataset_columns WHERE dataset_id = ?", [dataset_id]
            ).fetchall()[0][0]
            assert cols == n_columns
            assert (
                con.execute(
                    "SELECT count(*) FROM quality_reports WHERE dataset_id = ?", [dataset_id]
                ).fetchall()[0][0]
                == 1
            )
        dangling = con.execute(
            "SELECT count(*) FROM project_datasets pd LEFT JOIN datasets d ON d.id = pd.dataset_id "
            "WHERE d.id IS NULL"
        ).fetchall()[0][0]
        assert dangling == 0


def free_port() -> int:
    """A loopback port nobody listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(port: int, proc: subprocess.Popen, errors, timeout: float = 60) -> None:
    """Wait for ``mlcycle serve`` on ``port`` to answer /health; if the process ends or the
    time runs out first, fail with what ``errors()`` returns (its stderr)."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"server did not start: {errors()}")
        time.sleep(0.2)


def run_json(*args: str, workspace: Path | None = None) -> object:
    proc = run_cli(*args, "--json", workspace=workspace, check=True)
    return json.loads(proc.stdout)


# Users keep workspaces in folders named like this: a space, brackets that a glob would read
# as a pattern, an accent. Every test's workspace lives under one.
AWKWARD_FOLDER = "my runs [2] é"


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    return tmp_path / AWKWARD_FOLDER / "ws"


@pytest.fixture
def ws(ws_path: Path):
    from mlcycle.store.workspace import open_workspace

    return open_workspace(ws_path, create=True)[0]


@pytest.fixture(scope="session")
def clf_champion_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose project ``clf`` has a logistic champion, v1: trained once per test
    process; tests that change it work on a copy (:func:`copy_workspace`)."""
    from mlcycle.models import registry
    from tests.deploy_fixtures import classification_workspace

    ws = classification_workspace(tmp_path_factory.mktemp(AWKWARD_FOLDER), ["logistic"],
                                  rows=600)
    registry.promote(ws, "clf", "1", reason="test")
    return ws.root


def copy_workspace(root: Path, into: Path, name: str = "ws"):
    """A copy of the workspace at ``root``, opened, as ``into/name``."""
    import shutil

    from mlcycle.store.workspace import open_workspace

    shutil.copytree(root, into / name)
    return open_workspace(into / name)[0]


@pytest.fixture
def clf_champion(clf_champion_root: Path, tmp_path: Path):
    """A fresh copy of :func:`clf_champion_root` for one test."""
    return copy_workspace(clf_champion_root, tmp_path)


@pytest.fixture
def churn_ws(ws):
    """A workspace with the demo's churn project and its reference data."""
    from mlcycle import demo

    demo.build(ws)
    return ws


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True, scope="session")
def server_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of the environment ``bundle verify`` starts bundles' servers in: a cache
    folder of the session's own (never the user's), holding it already for this session's
    numpy and onnxruntime (``tests/server_env.py``), so no test waits for pip."""
    from mlcycle.deploy import standalone
    from tests import server_env

    cache = tmp_path_factory.mktemp("cache")
    os.environ["MLCYCLE_CACHE_DIR"] = str(cache)
    return server_env.make(standalone.environment_path(standalone.pins()))


@pytest.fixture(autouse=True, scope="session")
def _only_the_mlcycle_package_is_imported():
    """The tests import mlcycle, never the repository's folders as top-level packages."""
    yield
    stray = {"core", "app"} & set(sys.modules)
    assert not stray, f"imported as top-level packages: {sorted(stray)}"


@pytest.fixture(autouse=True)
def _steady_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text inputs' cursors stay lit: a blinking one makes a picture depend on when it is
    taken."""
    from textual.widgets import Input

    made = Input.__init__

    def steady(self, *args, **kwargs) -> None:
        made(self, *args, **kwargs)
        self.cursor_blink = False

    monkeypatch.setattr(Input, "__init__", steady)


@pytest.fixture(autouse=True)
def _own_settings(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test reads and writes its own config and state folders, never the user's: the
    UI remembers its last view per workspace, which must not carry from one test to
    another."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    return home
