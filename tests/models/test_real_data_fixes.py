"""Small things real data showed: the train hint, prep reruns, timestamps, typed params and
one kind for booleans."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from mlcycle.models import tracking
from mlcycle.store.schema import iso
from mlcycle.store.workspace import Workspace
from tests.conftest import run_cli, run_json
from tests.training_data import classification_frame

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A workspace whose project 'churn-2' has one model, trained by the CLI; the data file
    and what 'train' printed."""
    root = tmp_path_factory.mktemp("fixes")
    ws = root / "ws"
    data = root / "data.csv"
    classification_frame(300).write_csv(data)
    run_cli("init", workspace=ws, check=True)
    run_cli("project", "create", "churn-2", "--target", "label", "--task", "classification",
            workspace=ws, check=True)
    run_cli("data", "add", "churn-2", str(data), workspace=ws, check=True)
    shown = run_cli("train", "churn-2", "--models", "logistic", "--trials", "1", "--cv", "2",
                    workspace=ws, check=True).stdout
    run_cli("promote", "churn-2", "1", "--reason", "first", workspace=ws, check=True)
    return ws, data, shown


def test_train_names_the_project_in_its_promote_hint(trained) -> None:
    _, _, shown = trained
    flat = " ".join(shown.split())
    assert "'mlcycle promote churn-2 1 --reason ...'" in flat and "PROJECT" not in flat


def test_timestamps_in_json_carry_t_and_the_utc_offset(trained) -> None:
    ws, _, _ = trained
    stamps = [v["added_at"] for v in run_json("data", "list", "churn-2", workspace=ws)]
    stamps += [h["ts"] for h in run_json("models", "churn-2", "--history", workspace=ws)]
    stamps += [v["created_at"] for v in run_json("models", "churn-2", workspace=ws)]
    stamps += [r["started_at"] for r in run_json("runs", "churn-2", workspace=ws)]
    stamps.append(run_json("project", "show", "churn-2", workspace=ws)["created_at"])
    assert stamps and all(ISO.fullmatch(s) for s in stamps), stamps


def test_iso_reads_stored_times_as_utc_and_converts_others() -> None:
    assert iso(datetime(2026, 12, 1, 23, 50, 0, 12)) == "2026-12-01T23:50:00+00:00"
    paris = timezone(timedelta(hours=1))
    assert iso(datetime(2026, 12, 2, 0, 50, tzinfo=paris)) == "2026-12-01T23:50:00+00:00"


def test_run_params_come_back_with_their_types(trained, tmp_path: Path) -> None:
    ws, _, _ = trained
    runs = run_json("runs", "churn-2", workspace=ws)
    trial = next(r for r in runs if r["kind"] == "trial")
    assert isinstance(trial["params"]["C"], float)

    from mlcycle.store.workspace import open_workspace

    workspace: Workspace = open_workspace(ws)[0]
    logged = {"depth": np.int64(6), "rate": np.float64(0.25), "kernel": "rbf", "code": "6",
              "on": True, "layers": [3, np.int64(4)], "none": None, "nan": float("nan")}
    with tracking.start_run(workspace, "churn-2", name="typed") as run:
        run.log_params(logged)
    got = tracking.get_run(workspace, run.id).params
    assert got == {"depth": 6, "rate": 0.25, "kernel": "rbf", "code": "6", "on": True,
                   "layers": [3, 4], "none": None, "nan": "nan"}
    assert type(got["depth"]) is int and type(got["rate"]) is float


def test_params_stored_as_text_before_still_read(trained) -> None:
    ws, _, _ = trained
    from mlcycle.store.workspace import open_workspace

    workspace: Workspace = open_workspace(ws)[0]
    with tracking.start_run(workspace, "churn-2", name="legacy") as run:
        pass
    with workspace.write() as con:  # as mlcycle stored parameters before they were JSON
        con.execute("INSERT INTO run_params VALUES (?, 'solver', 'lbfgs'), (?, 'C', '0.5')",
                    [run.id, run.id])
    assert tracking.get_run(workspace, run.id).params == {"solver": "lbfgs", "C": 0.5}


def test_a_boolean_column_is_boolean_in_monitor_and_in_drift(trained, tmp_path: Path) -> None:
    ws, data, _ = trained
    batch = tmp_path / "batch.csv"
    classification_frame(150, seed=8).write_csv(batch)
    checked = run_json("monitor", "churn-2", str(batch), workspace=ws)
    kinds = {c["name"]: c["type"] for c in checked["data_drift"]["columns"]}
    compared = run_json("drift", str(data), str(batch))
    assert kinds["flag"] == "boolean"
    assert {c["name"]: c["type"] for c in compared["columns"]}["flag"] == "boolean"
    listed = run_json("monitor", "churn-2", workspace=ws)
    assert listed[-1]["id"] == checked["id"] and ISO.fullmatch(listed[-1]["ts"])


def test_prep_rerun_says_nothing_was_written(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    data = tmp_path / "data.csv"
    classification_frame(100).write_csv(data)
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('[[step]]\nop = "drop"\ncolumns = ["id"]\n')
    run_cli("init", workspace=ws, check=True)
    run_cli("project", "create", "p", "--target", "label", "--task", "classification",
            workspace=ws, check=True)
    run_cli("data", "add", "p", str(data), workspace=ws, check=True)
    first = run_json("prep", "p", "--recipe", str(recipe), workspace=ws)
    again = run_json("prep", "p", workspace=ws)
    assert (first["written"], first["stored"]) == (True, True)
    assert (again["written"], again["stored"]) == (False, False)
    assert again["output"] == first["output"]
