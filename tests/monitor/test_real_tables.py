"""Monitoring on real tables that ship inside packages: statsmodels' ``fair`` (affairs, few-valued
numbers) and vega_datasets' ``cars`` (a near-unique ``Name`` column of car models).

A few-valued number that shifts is data drift, shown as the data holds it, not never-seen
categories of a system issue; a clean holdout of cars raises nothing, because ``Name`` is
guessed free text at ``data add``, with its reason, and left out of the inputs."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from unittest import mock

import numpy as np
import polars as pl
import pytest

from tests.conftest import run_cli, run_json

SHIFTED = "yrs_married"


def _no_network(*_args, **_kwargs):
    raise AssertionError("the dataset tried to reach the network")


def _fair() -> pl.DataFrame:
    from statsmodels.datasets import fair

    frame = pl.from_pandas(fair.load_pandas().data)
    return frame.with_columns(affair=pl.col("affairs") > 0).drop("affairs")


def _cars_csv(folder: Path) -> tuple[Path, Path]:
    """cars (406 rows) split at random, 80 % to train on and a clean 20 % holdout, read with
    every socket refused: the table ships inside the package."""
    with mock.patch.object(socket.socket, "connect", _no_network):
        from vega_datasets import data

        cars = data.cars()
    shuffled = cars.sample(frac=1.0, random_state=4)
    cut = int(len(shuffled) * 0.8)
    train, holdout = folder / "cars.csv", folder / "cars holdout.csv"
    shuffled[:cut].to_csv(train, index=False)
    shuffled[cut:].drop(columns=["Miles_per_Gallon"]).to_csv(holdout, index=False)
    return train, holdout


def _trained(ws: Path, project: str, target: str, task: str, data: Path, model: str) -> None:
    """A workspace whose champion is one model trained on a tiny budget."""
    from mlcycle import projects
    from mlcycle.data import datasets
    from mlcycle.models import registry, training
    from mlcycle.store.workspace import open_workspace

    workspace = open_workspace(ws, create=True)[0]
    projects.create(workspace, project, target=target, task=task)
    datasets.add(workspace, project, data)
    training.train(workspace, training.TrainConfig(project, models=[model], trials=1, cv=2))
    registry.promote(workspace, project, "1", reason="first")


@pytest.fixture(scope="module")
def fair_ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pl.DataFrame]:
    """Half of fair trained on; the other half with yrs_married moved up one std."""
    root = tmp_path_factory.mktemp("fair")
    frame = _fair().sample(fraction=1.0, shuffle=True, seed=0)
    half = frame.height // 2
    train, batch = frame[:half], frame[half:].drop("affair")
    train.write_csv(root / "fair.csv")
    shifted = batch.with_columns(pl.col(SHIFTED) + train[SHIFTED].std())
    shifted.write_csv(root / "shifted.csv")
    _trained(root / "ws", "fair", "affair", "classification", root / "fair.csv", "logistic")
    return root / "ws", root / "shifted.csv", shifted


def test_a_few_valued_number_that_shifts_is_data_drift_not_a_system_issue(fair_ws) -> None:
    ws, batch, shifted = fair_ws
    assert _fair()[SHIFTED].n_unique() == 7  # numbers with few values: the case at hand
    shown = run_cli("monitor", "fair", str(batch), workspace=ws, check=True).stdout
    flat = " ".join(shown.split())
    assert "ALERT data drift in 1 of 8 inputs: yrs_married" in flat
    assert "system issue" not in flat and "never-seen" not in flat
    assert "do not retrain" not in flat and "broke" not in flat
    assert "yrs_married: values higher" in flat
    # The table agrees with the alert; the shift costs the model nothing it can estimate,
    # so no retraining is asked (the estimate and its interval say why).
    row = next(line for line in shown.splitlines() if line.startswith("│ yrs_married"))
    assert "numeric" in row and "DRIFT" in row
    assert "no action needed: no clear loss (estimated roc_auc" in flat
    assert "retraining recommended" not in flat and "is pending" not in flat

    check = run_json("monitor", "fair", str(batch), workspace=ws)  # the same check, answered
    assert check["repeat_of"]
    kinds = [a["kind"] for a in check["alert_details"]]
    assert "system" not in kinds and "data_drift" in kinds
    assert not check["retrain_recommended"] and check["advice"].startswith("no action needed")
    (column,) = [c for c in check["data_drift"]["columns"] if c["name"] == SHIFTED]
    assert column["new_values"] == []
    assert {t["test"] for t in column["tests"]} == {"location", "spread", "shape", "missing"}
    # Numbers as the data holds them: the batch's own mean, the reference's values as labels,
    # and none of the float32 values the model is fed.
    assert column["summary"]["current_mean"] == pytest.approx(shifted[SHIFTED].mean(), abs=1e-9)
    labels = column["histogram"]["labels"]
    assert {"0.5", "2.5", "6", "9", "13", "16.5", "23"} <= set(labels)
    assert "between 9 and 13" in labels
    text = json.dumps(check) + shown
    noisy = {repr(float(np.float32(v))) for v in shifted[SHIFTED].unique().to_list()}
    assert not [v for v in noisy if v in text]


def test_drift_without_a_workspace_says_the_same(fair_ws, tmp_path) -> None:
    ws, batch, _ = fair_ws
    reference = ws.parent / "fair.csv"
    got = run_json("drift", str(reference), str(batch))
    drifted = [c["name"] for c in got["columns"] if c["drifted"]]
    assert drifted == [SHIFTED]
    clean = tmp_path / "clean.csv"
    frame = _fair().sample(fraction=1.0, shuffle=True, seed=0)
    frame[frame.height // 2:].write_csv(clean)
    assert not run_json("drift", str(reference), str(clean))["drift_detected"]


@pytest.fixture(scope="module")
def cars_ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cars")
    train, holdout = _cars_csv(root)
    _trained(root / "ws", "cars", "Miles_per_Gallon", "regression", train, "ridge")
    return root / "ws", holdout


def test_name_is_guessed_free_text_at_data_add_with_its_reason(cars_ws) -> None:
    ws, _ = cars_ws
    shown = run_json("data", "show", "cars", "latest", workspace=ws)
    (name,) = [c for c in shown["dictionary"] if c["name"] == "Name"]
    assert (name["kind"], name["role"]) == ("text", "ignored")
    (stats,) = [s for s in shown["quality"]["column_stats"] if s["name"] == "Name"]
    assert stats["guessed_role"] == "ignored"
    assert "values distinct" in stats["role_reason"] and "holding spaces" in stats["role_reason"]
    text = " ".join(run_cli("data", "show", "cars", "latest", workspace=ws,
                            check=True).stdout.split())
    assert (f"Name: guessed free text ({stats['role_reason']}), left out of the model inputs"
            in text)
    assert "mlcycle data role cars Name feature" in text


def test_a_clean_holdout_of_cars_raises_no_alert_and_no_decision(cars_ws) -> None:
    ws, holdout = cars_ws
    check = run_json("monitor", "cars", str(holdout), workspace=ws)
    assert check["alerts"] == [] and check["decision"] is None
    assert not check["retrain_recommended"]
    drift = check["data_drift"]
    assert not drift["drift_detected"]
    assert "Name" not in [c["name"] for c in drift["columns"]]  # not a model input
    assert "Name" not in (drift["multivariate"]["columns"] or [])
    assert run_json("decisions", "cars", workspace=ws) == []


def test_a_guessed_role_is_overridden_by_data_role(tmp_path) -> None:
    """Tokens make an identifier; a user who makes it a feature gets its values as categories.
    The column's name is awkward on purpose: the hint quotes it for the shell."""
    column = "réf. 'modèle' %"
    train, _ = _cars_csv(tmp_path)
    frame = pl.read_csv(train, try_parse_dates=True).with_columns(
        pl.col("Name").str.replace_all(" ", "-").alias(column)).drop("Name")
    frame.write_csv(tmp_path / "tokens.csv")
    from mlcycle import projects
    from mlcycle.data import datasets
    from mlcycle.store.workspace import open_workspace

    ws = tmp_path / "ws"
    workspace = open_workspace(ws, create=True)[0]
    projects.create(workspace, "cars", target="Miles_per_Gallon", task="regression")
    datasets.add(workspace, "cars", tmp_path / "tokens.csv")
    text = " ".join(run_cli("data", "show", "cars", "latest", workspace=ws,
                            check=True).stdout.split())
    assert f"{column}: guessed an identifier (" in text and "tokens without spaces" in text
    assert """mlcycle data role cars 'réf. '"'"'modèle'"'"' %' feature""" in text
    run_cli("data", "role", "cars", column, "feature", workspace=ws, check=True)
    (entry,) = [c for c in run_json("data", "show", "cars", "latest", workspace=ws)["dictionary"]
                if c["name"] == column]
    assert (entry["kind"], entry["role"]) == ("categorical", "feature")
    text = " ".join(run_cli("data", "show", "cars", "latest", workspace=ws,
                            check=True).stdout.split())
    assert f"{column}: guessed an identifier" in text and "its role is set to feature" in text


def test_an_input_stuck_at_one_value_is_a_system_issue(fair_ws) -> None:
    from mlcycle.monitor import monitoring
    from mlcycle.store.workspace import open_workspace

    ws, batch, _ = fair_ws
    stuck = batch.parent / "stuck.csv"
    frame = _fair().sample(fraction=1.0, shuffle=True, seed=0)
    frame[frame.height // 2:].drop("affair").with_columns(educ=pl.lit(14.0)).write_csv(stuck)
    result = monitoring.check(open_workspace(ws)[0], "fair", stuck)
    (system,) = [a for a in result["alert_details"] if a["kind"] == "system"]
    assert "educ every value is 14 (it varied in training)" in system["message"]
    assert any("stuck sensor" in step for step in system["playbook"])
    moved = [m["input"] for a in result["alert_details"] if a["kind"] == "data_drift"
             for m in a["evidence"].get("inputs", [])]
    assert "educ" not in moved
