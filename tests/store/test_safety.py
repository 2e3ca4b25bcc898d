"""No destructive path: outputs never replace inputs, workspaces or folders that are not bundles."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlcycle import deploy
from mlcycle.deploy import runs
from mlcycle.store import safety
from mlcycle.store.workspace import Workspace
from tests.conftest import run_cli
from tests.training_data import classification_frame, logistic_workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Project ``clf`` with one registered logistic model, exported once."""
    ws = logistic_workspace(tmp_path_factory.mktemp("safety"))
    deploy.build(ws, "clf", "1")
    return ws


def _snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` with the sha256 of each file's content."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else "dir" for p in sorted(root.rglob("*"))}


def _refused(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


def test_force_never_replaces_a_user_folder(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "thesis"
    (folder / "chapters").mkdir(parents=True)
    (folder / "chapters" / "one.tex").write_text("years of work")
    (folder / "notes.txt").write_text("more")
    before = _snapshot(folder)
    proc = run_cli("export", "clf", "1", "--out", str(folder), "--force", workspace=ws.root)
    _refused(proc, f"{folder} is not an mlcycle bundle")
    assert _snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]  # no temp left beside it


@pytest.mark.parametrize("where", ["workspace", "artifacts", "datasets", "parent"])
def test_force_never_touches_the_workspace(ws: Workspace, where: str) -> None:
    out = {"workspace": ws.root, "artifacts": ws.artifacts,
           "datasets": ws.artifacts / "datasets", "parent": ws.root.parent}[where]
    before = _snapshot(ws.root)
    proc = run_cli("export", "clf", "1", "--out", str(out), "--force", workspace=ws.root)
    message = "holds the workspace" if where == "parent" else str(ws.root.resolve())
    _refused(proc, f"--out {out} ", message)
    assert _snapshot(ws.root) == before


def test_a_symlink_into_the_workspace_is_seen_through(ws: Workspace, tmp_path: Path) -> None:
    link = tmp_path / "innocent"
    link.symlink_to(ws.artifacts)
    before = _snapshot(ws.root)
    proc = run_cli("export", "clf", "1", "--out", str(link), "--force", workspace=ws.root)
    _refused(proc, "is inside the workspace")
    assert _snapshot(ws.root) == before


def test_force_replaces_a_previous_bundle_and_only_a_bundle(ws: Workspace, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    run_cli("export", "clf", "1", "--out", str(bundle), workspace=ws.root, check=True)
    manifest = json.loads((bundle / deploy.MANIFEST).read_text())
    assert manifest["format"] == deploy.BUNDLE_FORMAT
    (bundle / "README.md").write_text("edited")
    proc = run_cli("export", "clf", "1", "--out", str(bundle), "--force", workspace=ws.root)
    assert proc.returncode == 0, proc.stderr
    assert (bundle / "README.md").read_text() != "edited"
    assert run_cli("bundle", "verify", str(bundle), workspace=ws.root).returncode == 0

    # A bundle written before the format marker (and the standalone server) is still
    # recognised.
    for name in deploy.SERVER_FILES:
        (bundle / name).unlink()
    legacy = {name: manifest[name] for name in deploy.BUNDLE_FILES}
    (bundle / deploy.MANIFEST).write_text(json.dumps(legacy))
    proc = run_cli("export", "clf", "1", "--out", str(bundle), "--force", workspace=ws.root)
    assert proc.returncode == 0, proc.stderr

    # A bundle the user put other files into is not theirs to lose.
    (bundle / "my-notes.txt").write_text("keep me")
    before = _snapshot(bundle)
    proc = run_cli("export", "clf", "1", "--out", str(bundle), "--force", workspace=ws.root)
    _refused(proc, "holds more than a bundle (my-notes.txt)")
    assert _snapshot(bundle) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_predict_never_writes_over_its_input_or_into_the_workspace(
    ws: Workspace, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    classification_frame(20, seed=4).write_csv(rows)
    os.link(rows, tmp_path / "alias.csv")
    before = {**_snapshot(tmp_path), **_snapshot(ws.root)}
    scored = len(runs.recent_runs(ws, "clf"))
    for out, why in ((rows, "is the command's input"),
                     (tmp_path / "alias.csv", "is the command's input"),  # a hard link
                     (ws.artifacts / "pred.csv", "is inside the workspace"),
                     (ws.root / "mlcycle.csv", "is inside the workspace")):
        proc = run_cli("predict", "clf", str(rows), "--out", str(out), workspace=ws.root)
        _refused(proc, f"--out {out} {why}")
    assert {**_snapshot(tmp_path), **_snapshot(ws.root)} == before
    assert len(runs.recent_runs(ws, "clf")) == scored  # nothing was scored


def test_reports_never_replace_their_inputs(ws: Workspace, tmp_path: Path) -> None:
    batch = tmp_path / "batch.csv"
    classification_frame(40, seed=5).write_csv(batch)
    reference = tmp_path / "reference.csv"
    classification_frame(40, seed=6).write_csv(reference)
    (tmp_path / "report.md").symlink_to(batch)  # a report name that is the batch itself
    before = _snapshot(tmp_path)
    proc = run_cli("drift", str(reference), str(batch), "--report", str(tmp_path / "report.md"))
    _refused(proc, f"is the command's input {batch}")
    proc = run_cli("monitor", "clf", str(batch), "--report", str(tmp_path / "report.md"),
                   workspace=ws.root)
    _refused(proc, f"is the command's input {batch}")
    proc = run_cli("monitor", "clf", str(batch), "--report", str(ws.artifacts / "r.md"),
                   workspace=ws.root)
    _refused(proc, "is inside the workspace")
    proc = run_cli("model", "card", "clf", "1", "--out", str(ws.root / "card.md"),
                   workspace=ws.root)
    _refused(proc, "is inside the workspace")
    assert _snapshot(tmp_path) == before
    assert not (ws.artifacts / "r.md").exists() and not (ws.root / "card.md").exists()


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_leftovers_of_killed_writers_are_swept_and_nothing_else(
    ws: Workspace, tmp_path: Path
) -> None:
    dead, host = _dead_pid(), safety._HOST
    killed = tmp_path / f".bundle.mlcycle-{host}-{dead}-{'a' * 12}.tmp"
    killed.mkdir()
    (killed / "model.onnx").write_bytes(b"half")
    old_swap = tmp_path / f".bundle.mlcycle-{host}-{dead}-{'b' * 12}.old"
    old_swap.mkdir()
    running = tmp_path / safety.temp_name(".bundle.", ".tmp")  # a live export: this process
    running.mkdir()
    stranger = tmp_path / ".bundle.1234abcd.tmp"  # not a name mlcycle makes
    stranger.mkdir()
    run_cli("export", "clf", "1", "--out", str(tmp_path / "bundle"), workspace=ws.root,
            check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["bundle", running.name, stranger.name])

    # In artifacts/.tmp: a killed add's file goes at once, a live writer's stays until stale.
    copy = Workspace(ws.root)
    killed_add = copy.temp_dir / f"mlcycle-{host}-{dead}-{'c' * 12}.parquet"
    killed_add.write_bytes(b"partial")
    live = copy.temp_dir / safety.temp_name(suffix=".parquet")
    live.write_bytes(b"being written")
    fresh = copy.temp_path(".parquet")  # the first temp a process asks for sweeps
    assert not killed_add.exists() and live.exists() and not fresh.exists()
    os.utime(live, (time.time() - 2 * safety.STALE_SECONDS,) * 2)
    assert copy.sweep_temp() == 1 and not live.exists()
