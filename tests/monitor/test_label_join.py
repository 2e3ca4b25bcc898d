"""Labels without an identifier, on a real table that has none (statsmodels' ``fair``): a file
holding only the target, one per row in the batch's order, works in ``monitor``, ``retrain``
and ``decide --approve``; a file of another length is refused by each with the same line
(``monitor`` and ``retrain`` writing nothing; the watcher sets the batch aside with it). A
labels file of full rows keeps every row, however often its values repeat (``fair`` repeats
many), and says how many repeat."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from mlcycle.data import datasets
from mlcycle.models import registry
from mlcycle.monitor import monitoring
from mlcycle.monitor import policy as policies
from mlcycle.store.workspace import Workspace, open_workspace
from tests.conftest import run_cli

TARGET = "affair/ever % é"  # a target whose name a labels file must carry as it is
BATCH_ROWS = 600


@pytest.fixture(scope="module")
def fair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path, pl.DataFrame]:
    """A logistic model trained on 2,000 rows of fair; a batch of 600 others, without target."""
    from statsmodels.datasets import fair as source

    from mlcycle import projects
    from mlcycle.models import training

    root = tmp_path_factory.mktemp("fair labels")
    frame = pl.from_pandas(source.load_pandas().data).with_columns(
        (pl.col("affairs") > 0).alias(TARGET)).drop("affairs").sample(
        fraction=1.0, shuffle=True, seed=3)
    frame[:2000].write_csv(root / "fair.csv")
    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "fair", target=TARGET, task="classification")
    datasets.add(ws, "fair", root / "fair.csv")
    training.train(ws, training.TrainConfig("fair", models=["logistic"], trials=1, cv=2))
    registry.promote(ws, "fair", "1", reason="first")
    batch = frame[2000:2000 + BATCH_ROWS]
    batch.drop(TARGET).write_csv(root / "batch.csv")
    return ws, root / "batch.csv", batch


def _monitor(ws: Workspace, batch: Path, labels: Path) -> dict:
    proc = run_cli("monitor", "fair", str(batch), "--labels", str(labels), "--again", "--json",
                   workspace=ws.root, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_target_only_labels_join_by_position_in_monitor(fair, tmp_path: Path) -> None:
    ws, batch, frame = fair
    labels = tmp_path / "labels.csv"
    frame.select(TARGET).write_csv(labels)
    performance = _monitor(ws, batch, labels)["performance"]
    assert performance["labelled_rows"] == BATCH_ROWS
    assert performance["join"]["how"] == "position" and performance["join"]["unlabelled"] == 0
    assert 0.5 < performance["value"] <= 1


@pytest.mark.slow
def test_full_row_labels_keep_repeated_rows_and_say_so(fair, tmp_path: Path) -> None:
    ws, batch, frame = fair
    labels = tmp_path / "rows.csv"
    frame.reverse().write_csv(labels)  # the same rows in another order
    repeated = frame.drop(TARGET).is_duplicated().sum()
    assert repeated > 20  # fair repeats rows: the case at hand
    performance = _monitor(ws, batch, labels)["performance"]
    assert performance["labelled_rows"] == BATCH_ROWS  # none dropped
    assert performance["join"]["how"] == "rows"
    assert performance["join"]["repeated"] == repeated
    text = run_cli("monitor", "fair", str(batch), "--labels", str(labels), "--again",
                   workspace=ws.root, timeout=300).stdout
    assert f"{repeated} labels row(s) repeat another's key (matched in order of appearance" in text


def test_a_target_only_file_of_another_length_is_refused_alike(fair, tmp_path: Path) -> None:
    ws, batch, frame = fair
    labels = tmp_path / "labels" / "batch.csv"  # named like its batch, as the watcher reads
    labels.parent.mkdir()
    frame[:-1].select(TARGET).write_csv(labels)
    checks = len(monitoring.history(ws, "fair"))
    versions = len(datasets.list_versions(ws, "fair"))
    lines = []
    for args in (("monitor", "fair", str(batch), "--labels", str(labels), "--again"),
                 ("retrain", "fair", "--with", str(batch), "--labels", str(labels))):
        proc = run_cli(*args, workspace=ws.root, timeout=300)
        assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
        lines.append(proc.stderr.strip())
    assert lines[0] == lines[1]
    assert f"has {BATCH_ROWS - 1:,} rows and batch.csv {BATCH_ROWS:,}" in lines[0]
    # The watcher refuses the pair with the same line (its labels: the file of the same name).
    folder = tmp_path / "watched"
    folder.mkdir()
    shutil.copy(batch, folder / "batch.csv")
    watched = run_cli("watch", "fair", str(folder), "--labels", str(labels.parent), "--once",
                      workspace=ws.root, timeout=300)
    assert lines[0].removeprefix("error: ") in watched.stdout + watched.stderr
    assert len(monitoring.history(ws, "fair")) == checks
    assert len(datasets.list_versions(ws, "fair")) == versions
    assert len(registry.versions(ws, "fair")) == 1


@pytest.mark.slow
def test_target_only_labels_retrain_and_approve(fair, tmp_path: Path) -> None:
    ws, batch, frame = fair
    labels = tmp_path / "labels.csv"
    frame.select(TARGET).write_csv(labels)
    retrained = run_cli("retrain", "fair", "--with", str(batch), "--labels", str(labels),
                        "--trials", "1", "--json", workspace=ws.root, timeout=300)
    assert retrained.returncode == 0, retrained.stderr
    assert json.loads(retrained.stdout)["rows_added"] == BATCH_ROWS
    # A decision raised by the labelled rows, approved: the retraining joins them alike.
    policies.store(ws, "fair", policies.parse(
        "[retrain]\non_alert = []\nlabelled_rows = 100\ntrials = 1\n"), source="test")
    raised = _monitor(ws, batch, labels)["decision"]
    assert raised is not None
    done = run_cli("decide", "fair", raised["id"], "--approve", "--reason", "labels came",
                   "--json", workspace=ws.root, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "done"


def _labels(tmp_path: Path, frame: pl.DataFrame, signature, identifier: str | None):
    from mlcycle.deploy import label_join

    path = tmp_path / "labels é.csv"
    frame.write_csv(path)
    return label_join.read(path, signature, identifier)


def test_repeats_are_counted_and_never_dropped(tmp_path: Path) -> None:
    from mlcycle.deploy import label_join
    from mlcycle.models.model_input import Signature

    signature = Signature(numeric=["size m²"], categorical=['kind "a/b"'], target="y %",
                          task="classification", classes=["down", "up"])
    batch = pl.DataFrame({"size m²": [1.0, 1.0, 2.0, 3.0], 'kind "a/b"': ["x", "x", "y", "z"]})
    # Full rows: the two identical batch rows take the two labels given for those values in
    # order, though they disagree; the row 9.0 matches nothing; 3.0 has no label.
    rows = _labels(tmp_path, pl.DataFrame({
        "size m²": [1.0, 2.0, 1.0, 9.0], 'kind "a/b"': ["x", "y", "x", "q"],
        "y %": ["up", "down", "down", "up"]}), signature, None)
    assert rows.how == label_join.ROWS
    keys = label_join.keys(batch, rows.how, signature, None)
    given, counts = label_join.join(rows, keys, batch.height, "batch.csv", signature, None)
    assert given.to_list() == ["up", "down", "down", None]
    assert (counts.labelled, counts.unlabelled, counts.repeated, counts.disagreeing,
            counts.unmatched) == (3, 1, 2, 1, 1)
    assert ("2 labels row(s) repeat another's key (matched in order of appearance; 1 group(s) "
            "disagree on the label); 1 labels row(s) match no row of the batch"
            in counts.note("l"))
    # By identifier: a label given twice for one identifier, the last one counts.
    keyed = batch.with_columns(pl.Series("row id", ["a", "b", "c", "d"]))
    labels = _labels(tmp_path, pl.DataFrame({"row id": ["a", "b", "a"],
                                             "y %": ["down", "up", "up"]}), signature, "row id")
    given, counts = label_join.join(labels, label_join.keys(keyed, labels.how, signature,
                                                            "row id"),
                                    keyed.height, "batch.csv", signature, "row id")
    assert given.to_list() == ["up", "up", None, None]
    assert (counts.how, counts.repeated, counts.disagreeing, counts.unmatched) == (
        "identifier", 2, 1, 0)
    assert "the last label of each counts" in counts.note("l")
