"""Cancelling export, scoring and a monitoring check: ``Cancelled``, and nothing written."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mlcycle import deploy
from mlcycle.deploy import scoring
from mlcycle.models import registry
from mlcycle.monitor import monitoring
from mlcycle.store.cancel import Cancelled, CancelToken
from mlcycle.store.workspace import Workspace
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = classification_workspace(tmp_path_factory.mktemp("cancel"), models=["logistic"])
    registry.promote(ws, "clf", "1", reason="first")
    return ws


def _batch(folder: Path) -> Path:
    batch = folder / "batch.csv"
    classification_frame(400, seed=8).drop("label").write_csv(batch)
    return batch


def _runs(ws: Workspace) -> int:
    with ws.read() as con:
        return con.execute("SELECT count(*) FROM scoring_runs").fetchone()[0]


def test_export_cancelled_while_parity_is_checked_leaves_no_bundle_and_no_record(
        clf: Workspace, tmp_path: Path) -> None:
    token = CancelToken()
    heard: list[str] = []

    def note(text: str) -> None:
        heard.append(text)
        if text.startswith("parity on"):  # the figures are in: cancel before storing them
            token.cancel()

    with pytest.raises(Cancelled):
        deploy.export(clf, "clf", "champion", tmp_path / "bundle", note=note, cancel=token)
    assert any(t.startswith("checking parity on 80 holdout rows") for t in heard)
    assert not (tmp_path / "bundle").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary folder left either
    assert deploy.get_export(clf, "clf", 1) is None

    # Not cancelled, the same call writes the bundle and says what parity found.
    heard.clear()
    result = deploy.export(clf, "clf", "champion", tmp_path / "bundle", note=heard.append)
    assert (tmp_path / "bundle" / "manifest.json").is_file() and result.parity_passed
    assert deploy.parity_line(result.parity) in heard


def test_scoring_cancelled_between_batches_writes_no_output_and_logs_no_run(
        clf: Workspace, tmp_path: Path) -> None:
    batch = _batch(tmp_path)
    out = tmp_path / "scores.parquet"
    token = CancelToken()
    seen: list[tuple[int, int]] = []

    def progress(rows: int, total: int) -> None:
        seen.append((rows, total))
        token.cancel()  # after the first batch

    before = _runs(clf)
    with pytest.raises(Cancelled):
        scoring.predict_file(clf, "clf", batch, out=out, batch_rows=100, progress=progress,
                             cancel=token)
    assert seen == [(100, 400)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch.csv"]  # no part files
    assert _runs(clf) == before

    result = scoring.predict_file(clf, "clf", batch, out=out, batch_rows=100)
    assert pl.read_parquet(out).height == result.rows == 400


def test_a_check_cancelled_before_it_starts_records_nothing(clf: Workspace,
                                                            tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        monitoring.check(clf, "clf", _batch(tmp_path), cancel=token)
    assert monitoring.history(clf, "clf") == []


def test_a_check_cancelled_while_it_scores_records_nothing(clf: Workspace,
                                                           tmp_path: Path) -> None:
    batch = tmp_path / "extra.csv"
    classification_frame(400, seed=9).drop("label").with_columns(
        pl.lit(1).alias("extra")).write_csv(batch)
    token = CancelToken()

    def note(text: str) -> None:  # said once the batch is read and the reference built
        assert "ignoring 1 column" in text
        token.cancel()

    before = _runs(clf)
    with pytest.raises(Cancelled):
        monitoring.check(clf, "clf", batch, note=note, cancel=token)
    assert monitoring.history(clf, "clf") == [] and _runs(clf) == before
