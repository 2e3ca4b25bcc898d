"""Every task's metric estimated without labels, with an interval: multiclass (CBPE) and
regression (DLE) like binary, and an estimated loss alerts only beyond its sampling noise."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.stats import rankdata

import mlcycle
from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.models import evaluation, model_input, registry, training
from mlcycle.monitor import estimation, monitoring
from mlcycle.monitor.verdict import Check
from mlcycle.store.workspace import open_workspace
from tests.conftest import run_cli
from tests.deploy_fixtures import regression_workspace
from tests.training_data import regression_frame

SIZE, SPREAD = "size (m²)", 'spread "d/o" %'


def kinds(rows: int, seed: int) -> pl.DataFrame:
    """Three classes from two inputs with awkward names."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=rows), rng.uniform(0, 4, rows)
    logits = np.column_stack([1.5 * a, 0.8 * b - 1.5, -a + 0.3 * b])
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    y = (rng.random((rows, 1)) > p.cumsum(axis=1)).sum(axis=1)
    return pl.DataFrame({"id": [f"r{i}" for i in range(rows)], SIZE: a.round(4),
                         SPREAD: b.round(4), "kind": np.array(["ant", "bee", "cat"])[y]})


def _files(folder: Path, name: str, frame: pl.DataFrame, target: str) -> tuple[Path, Path]:
    batch, labels = folder / f"{name}.csv", folder / f"{name}-labels.csv"
    frame.drop(target).write_csv(batch)
    frame.select("id", target).write_csv(labels)
    return batch, labels


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("kinds")
    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "kinds", target="kind", task="classification", metric="accuracy")
    kinds(2000, 1).write_csv(root / "kinds.csv")
    datasets.add(ws, "kinds", root / "kinds.csv")
    training.train(ws, training.TrainConfig("kinds", models=["logistic"], trials=1, cv=2))
    registry.promote(ws, "kinds", "1", reason="test")
    return ws, monitoring.reference(ws, "kinds")


def test_realized_metrics_are_the_training_metrics() -> None:
    # The interval's label draws compute each metric by this fast path: it must be the
    # metric training and `monitor --labels` report.
    rng = np.random.default_rng(2)
    for k, positive in ((2, 1), (4, None)):
        classes = [f"c{i}" for i in range(k)]
        scores = rng.dirichlet(np.ones(k), 300)
        truth, predicted = rng.integers(0, k, 300), scores.argmax(axis=1)
        predicted[:40] = rng.integers(0, k, 40)  # labels that are not the top score
        expected = evaluation.scores("classification", np.array(classes)[truth],
                                     np.array(classes)[predicted], scores, classes)
        for metric in estimation.METRICS:
            got = estimation.realized(metric, truth, predicted, k, positive,
                                      rankdata(scores, axis=0), np.log(scores))
            assert got == pytest.approx(expected[metric], abs=1e-9), (k, metric)


def test_a_multiclass_estimate_has_an_interval_that_covers_the_labels(multiclass,
                                                                      tmp_path) -> None:
    ws, base = multiclass
    batch, labels = _files(tmp_path, "clean", kinds(1000, 5), "kind")
    # The typed check the Python API returns, from a check on the reference already built.
    result = Check.from_dict(monitoring.check(ws, "kinds", batch, labels=labels, cached=base))
    estimate, measured = result.estimated_performance, result.performance
    assert estimate.metric == "accuracy" and estimate.estimated
    assert estimate.low < estimate.value < estimate.high
    assert estimate.low <= measured.value <= estimate.high
    assert estimate.high - estimate.low < 0.2  # an interval that says something
    assert not any(a.kind == "estimated_loss" for a in result.alert_details)


def test_a_shifted_batch_within_its_noise_does_not_alert(multiclass, tmp_path) -> None:
    # Rows near the classes' border arrive: accuracy falls. Among small shifted batches,
    # one whose estimate is more than the policy's 5 % worse than the holdout while its
    # realized loss is under 5 %: its interval reaches back within the limit, so no alert.
    ws, base = multiclass
    pool = kinds(40_000, 11)
    weight = np.exp(-0.7 * pool.get_column(SIZE).to_numpy() ** 2)
    chosen = None
    for seed in range(60):
        rows = np.random.default_rng(seed).choice(pool.height, 150, replace=False,
                                                  p=weight / weight.sum())
        frame = pool[rows]
        inputs = model_input.frame(frame, base.signature)
        pred = base.scorer.predict(inputs)
        estimated = base.estimator.estimate(inputs, pred).value
        realized = float((pred["label"] == frame.get_column("kind").to_numpy()).mean())
        if (1 - estimated / base.estimated_holdout > 0.05
                and 1 - realized / base.holdout_value < 0.05):
            chosen = frame
            break
    assert chosen is not None, "no batch with an estimated loss beyond its realized one"
    batch, _ = _files(tmp_path, "shifted", chosen, "kind")
    result = monitoring.check(ws, "kinds", batch, cached=base)
    estimate = result["estimated_performance"]
    assert estimate["relative_loss"] > 0.05 and estimate["least_loss"] <= 0.05
    assert not any(a["kind"] == "estimated_loss" for a in result["alert_details"])


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory):
    ws = regression_workspace(tmp_path_factory.mktemp("reg"), ["ridge"], rows=1000)
    registry.promote(ws, "reg", "1", reason="test")
    return ws


def test_a_regression_estimate_has_an_interval_that_covers_the_labels(regression,
                                                                      tmp_path) -> None:
    # Without an identifier, labels join by the rows' inputs: the labels file carries them.
    fresh = regression_frame(800, seed=21)
    batch, labels = tmp_path / "fresh.csv", tmp_path / "fresh-labels.csv"
    fresh.drop("price").write_csv(batch)
    fresh.write_csv(labels)
    result = mlcycle.monitor.check("reg", batch, labels, workspace=regression)
    estimate, measured = result.estimated_performance, result.performance
    assert estimate.metric == "rmse" and estimate.method == "direct loss estimation (DLE)"
    assert estimate.low <= measured.value <= estimate.high
    assert estimate.value == pytest.approx(measured.value, rel=0.15)


def test_monitor_prints_the_estimate_with_its_interval(regression, tmp_path) -> None:
    batch = tmp_path / "batch.csv"
    regression_frame(300, seed=22).drop("price").write_csv(batch)
    proc = run_cli("monitor", "reg", str(batch), workspace=regression.root)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "estimated without labels" in x)
    shown = re.search(r"~([\d.]+) \[([\d.]+), ([\d.]+)\] \(95 % interval", line)
    assert shown, line
    value, low, high = (float(v) for v in shown.groups())
    assert low < value < high
    json_out = run_cli("monitor", "reg", str(batch), "--json", workspace=regression.root)
    estimate = json.loads(json_out.stdout)["estimated_performance"]
    assert estimate["low"] == pytest.approx(low, abs=1e-4)
    assert estimate["high"] == pytest.approx(high, abs=1e-4)
