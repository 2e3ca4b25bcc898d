"""Trust boundaries: model files load only mlcycle's own types; stored files are hash-checked."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from skops.io import dumps

from mlcycle.data import datasets
from mlcycle.models import catalog, model_input, registry
from mlcycle.store import schema
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace
from tests.conftest import run_cli
from tests.training_data import (
    classification_frame,
    logistic_workspace,
    regression_frame,
)

CORRUPTED = "is corrupted: artifacts/{} does not match the sha256 the workspace recorded"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with one registered logistic model of project ``clf``."""
    return logistic_workspace(tmp_path_factory.mktemp("trained")).root


@pytest.fixture
def copy(trained: Path, tmp_path: Path) -> Workspace:
    """A private copy of the trained workspace, free to damage."""
    shutil.copytree(trained, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _listing(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "lock"}


def _place_model(ws: Workspace, model: object) -> None:
    """Put ``model`` where version 1's file is, with hashes that match, as a workspace
    someone else prepared would have it."""
    version = registry.get(ws, "clf", "1")
    data = dumps(model)
    ws.artifact_path(version.path).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    with ws.write() as con:
        con.execute("UPDATE model_versions SET sha256 = ? WHERE version = 1", [digest])
        con.execute("UPDATE run_artifacts SET sha256 = ? WHERE path = ?", [digest, version.path])


def _fitted_catalog() -> list[tuple[str, object]]:
    out = []
    cases = [("classification", classification_frame(200), "label",
              ["x1", "x2", "flag"], ["plan"]),
             ("regression", regression_frame(200), "price", ["size", "rooms"], ["area"])]
    for task, frame, target, numeric, categorical in cases:
        signature = model_input.Signature(numeric, categorical, target, task)
        inputs = model_input.frame(frame, signature)
        y = model_input.target_values(frame, signature)
        for entry in catalog._entries():
            if entry.task == task:
                fitted = catalog.pipeline(entry, signature, seed=0).fit(inputs, y)
                out.append((f"{task} {entry.name}", fitted))
    # Three classes: the multinomial losses and links.
    signature = model_input.Signature(["x1", "x2"], ["plan"], "plan3", "classification")
    frame = classification_frame(200).with_columns(plan3=classification_frame(200)["plan"])
    inputs = model_input.frame(frame, signature)
    y = model_input.target_values(frame, signature)
    for name in ("hist_gradient_boosting", "logistic"):
        out.append((f"multiclass {name}", catalog.pipeline(
            catalog.get(name, "classification"), signature, seed=0).fit(inputs, y)))
    return out


def test_every_model_the_catalog_trains_loads_under_the_allow_list() -> None:
    for name, fitted in _fitted_catalog():
        data = dumps(fitted)
        loaded = registry.load_trusted(data, name)
        assert type(loaded) is type(fitted), name
        # Nothing loaded here relies on skops' defaults: every type is on mlcycle's list.
        import io
        import json
        import zipfile

        found = registry.schema_types(json.loads(zipfile.ZipFile(io.BytesIO(data)).read(
            "schema.json")))
        assert found <= catalog.trusted_types(), (name, found - catalog.trusted_types())


def test_a_foreign_function_in_a_registered_model_is_refused_naming_it(copy: Workspace) -> None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    _place_model(copy, Pipeline([("run", FunctionTransformer(func=os.system))]))
    before = _listing(copy.root)
    proc = run_cli("export", "clf", "1", "--out", str(copy.root.parent / "bundle"),
                   workspace=copy.root)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "the model file of version 1 names types mlcycle never trains with" in proc.stderr
    assert "posix.system" in proc.stderr
    assert not (copy.root.parent / "bundle").exists()
    assert _listing(copy.root) == before


def test_a_scikit_learn_type_the_catalog_does_not_use_is_refused_too(copy: Workspace) -> None:
    from sklearn.svm import SVC

    # skops trusts SVC by default; mlcycle never trains one, so it does not load it.
    x = np.arange(20, dtype=float).reshape(-1, 1)
    _place_model(copy, SVC().fit(x, np.arange(20) % 2))
    with pytest.raises(InvalidInput, match=r"never trains with \(sklearn\.svm\._classes\.SVC\)"):
        registry.load(copy, "clf", "1")


def test_a_file_that_is_not_a_skops_file_is_refused() -> None:
    with pytest.raises(InvalidInput, match="is not a skops file mlcycle can read"):
        registry.load_trusted(b"PK\x03\x04 not really a zip", "the model file of version 9")


def test_a_flipped_byte_in_the_dataset_is_detected(copy: Workspace) -> None:
    version = datasets.get(copy, "clf")
    _flip_byte(copy.artifact_path(version.path))
    proc = run_cli("train", "clf", "--models", "logistic", "--trials", "1", "--cv", "2",
                   workspace=copy.root)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"error: the stored data of version {version.id} "
        + CORRUPTED.format(version.path) + " when it was written, so it will not be used")


def test_a_flipped_byte_in_the_holdout_is_detected(copy: Workspace) -> None:
    with copy.read() as con:
        relpath = con.execute("SELECT path FROM holdouts").fetchall()[0][0]
    _flip_byte(copy.artifact_path(relpath))
    proc = run_cli("export", "clf", "1", "--out", str(copy.root.parent / "bundle"),
                   workspace=copy.root)
    assert proc.returncode == 2, proc.stderr
    assert "the holdout of version" in proc.stderr
    assert CORRUPTED.format(relpath) in proc.stderr
    assert not (copy.root.parent / "bundle").exists()


def test_a_flipped_byte_in_the_model_file_is_detected(copy: Workspace) -> None:
    version = registry.get(copy, "clf", "1")
    _flip_byte(copy.artifact_path(version.path))
    proc = run_cli("export", "clf", "1", "--out", str(copy.root.parent / "bundle"),
                   workspace=copy.root)
    assert proc.returncode == 2, proc.stderr
    assert "the model file of version 1 " + CORRUPTED.format(version.path) in proc.stderr


def test_a_flipped_byte_in_the_onnx_graph_is_detected(copy: Workspace, tmp_path: Path) -> None:
    from mlcycle import deploy

    export = deploy.build(copy, "clf", "1")
    _flip_byte(copy.artifact_path(export.path))
    classification_frame(20, seed=3).write_csv(tmp_path / "rows.csv")
    proc = run_cli("predict", "clf", str(tmp_path / "rows.csv"), "--model", "1",
                   workspace=copy.root)
    assert proc.returncode == 2, proc.stderr
    assert "the ONNX file of version 1 " + CORRUPTED.format(export.path) in proc.stderr


def test_an_upgraded_workspace_records_the_hash_of_its_files(copy: Workspace) -> None:
    version = datasets.get(copy, "clf")
    expected = hashlib.sha256(copy.artifact_path(version.path).read_bytes()).hexdigest()
    assert version.sha256 == expected
    # As a workspace written before datasets and holdouts were hashed.
    con = duckdb.connect(str(copy.db_path))
    for table, column in (("datasets", "sha256"), ("holdouts", "sha256"),
                          ("scoring_runs", "shadow_sha256")):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    for column in ("sha256", "labels_sha256"):  # and before checks knew their content
        con.execute(f"ALTER TABLE monitor_checks DROP COLUMN {column}")
    con.execute("DELETE FROM schema_version WHERE version >= 7")
    for table in ("policies", "decisions", "decision_triggers", "watchers",  # migration 9
                  "sources", "collections",  # sources
                  "deploy_configs", "deploy_state", "answer_logs", "abtest_plans"):  # strategies
        con.execute(f"DROP TABLE {table}")
    con.close()
    upgraded = Workspace(copy.root)
    assert datasets.get(upgraded, "clf").sha256 == expected
    with upgraded.read() as con:
        assert schema.version(con) == schema.LATEST
        assert con.execute("SELECT count(*) FROM holdouts WHERE sha256 IS NULL").fetchall() == [
            (0,)]
