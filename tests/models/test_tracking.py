"""Experiment tracking: MLflow-like semantics, durable per call, visible while logging."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlcycle import projects
from mlcycle.models import tracking
from mlcycle.store import journal
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace
from tests.conftest import ROOT


@pytest.fixture
def project_ws(ws: Workspace) -> Workspace:
    projects.create(ws, "p", target="y", task="regression")
    return ws


def test_a_logged_run_reads_back_whole(project_ws: Workspace, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with tracking.start_run(project_ws, "p", name="manual", tags={"team": "a"}) as run:
        run.log_params({"depth": 6, "kernel": "rbf", "layers": [3, 4]})
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metric("auc", 0.9)
        run.log_artifact(notes)
        run.log_dict({"k": 1}, "config.json")
    record = tracking.get_run(project_ws, run.id[:6])
    assert record.status == "finished" and record.name == "manual" and record.kind == "custom"
    assert record.params == {"depth": 6, "kernel": "rbf", "layers": [3, 4]}
    assert record.metrics == {"loss": 0.2, "auc": 0.9}  # latest step wins
    assert record.tags == {"team": "a"}
    assert set(record.artifacts) == {"notes.txt", "config.json"}
    assert tracking.step_histories(project_ws, run.id)["loss"] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert tracking.artifact_path(project_ws, record, "notes.txt").read_text() == "hello"


def test_runs_sort_by_metric_and_compare(project_ws: Workspace) -> None:
    ids = []
    for value in (0.3, 0.9, 0.6):
        with tracking.start_run(project_ws, "p") as run:
            run.log_param("v", value)
            run.log_metric("score", value)
        ids.append(run.id)
    best = tracking.runs(project_ws, "p", sort="score", limit=2)
    assert [r.metrics["score"] for r in best] == [0.9, 0.6]
    worst = tracking.runs(project_ws, "p", sort="score", descending=False, limit=1)
    assert worst[0].metrics["score"] == 0.3
    diff = tracking.compare(
        tracking.get_run(project_ws, ids[0]), tracking.get_run(project_ws, ids[1])
    )
    assert diff["params"] == [{"key": "v", "a": 0.3, "b": 0.9, "same": False}]


def test_a_failing_block_marks_the_run_failed(project_ws: Workspace) -> None:
    with pytest.raises(ZeroDivisionError), tracking.start_run(project_ws, "p") as run:
        run.log_metric("x", 1)
        _ = 1 / 0
    assert tracking.get_run(project_ws, run.id).status == "failed"


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.log_metric("loss", "high"),
        lambda r: r.log_param("bad\nkey", 1),
        lambda r: r.log_bytes(b"x", "../escape.txt"),
    ],
)
def test_bad_values_are_refused_with_one_line(project_ws: Workspace, call) -> None:
    with tracking.start_run(project_ws, "p") as run, pytest.raises(InvalidInput) as info:
        call(run)
    assert "\n" not in str(info.value)


def test_a_changed_artifact_is_refused(project_ws: Workspace) -> None:
    with tracking.start_run(project_ws, "p") as run:
        run.log_dict({"a": 1}, "data.json")
    record = tracking.get_run(project_ws, run.id)
    project_ws.artifact_path(record.artifacts["data.json"]["path"]).write_text('{"a": 2}')
    with pytest.raises(InvalidInput, match="is corrupted"):
        tracking.artifact_path(project_ws, record, "data.json")


LOGGER = """
import sys, time
from mlcycle.models import tracking
from mlcycle.store.workspace import Workspace
from pathlib import Path
ws = Workspace(Path(sys.argv[1]))
run = tracking.start_run(ws, "p", name="long")
print(run.id, flush=True)
for step in range(100000):
    run.log_metric("loss", step, step=step)
    print(step, flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _logger(ws: Workspace, pause: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", LOGGER, str(ws.root), str(pause)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, proc.stdout.readline().strip()


def test_every_value_survives_a_kill_right_after_its_call(project_ws: Workspace) -> None:
    proc, run_id = _logger(project_ws, 0.0)
    confirmed = -1
    while confirmed < 300:
        confirmed = int(proc.stdout.readline())
    proc.kill()
    proc.wait()
    history = tracking.step_histories(project_ws, run_id)["loss"]
    assert len(history) >= confirmed + 1  # nothing acknowledged was lost
    assert history[: confirmed + 1] == [float(s) for s in range(confirmed + 1)]
    assert tracking.get_run(project_ws, run_id).status == "killed"
    assert not journal.pending(project_ws)  # the dead process's journal was folded away


def test_another_process_reads_a_run_while_it_is_logged(project_ws: Workspace) -> None:
    proc, run_id = _logger(project_ws, 0.05)
    try:
        for _ in range(5):
            proc.stdout.readline()
        record = tracking.get_run(project_ws, run_id)
        assert record.status == "running" and record.metrics["loss"] >= 4
        time.sleep(0.3)
        assert tracking.get_run(project_ws, run_id).metrics["loss"] > record.metrics["loss"]
    finally:
        proc.kill()
        proc.wait()
