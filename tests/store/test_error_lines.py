"""One line per error, the same everywhere: personal data masked, everything else as written.

``mlcycle.store.errors.error_line`` is what the command line, the TUI and the folder watcher
show and record; masking (``mlcycle.store.masking``) masks values shaped like personal data
and leaves paths, hashes, ids, column names and plain numbers readable.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from mlcycle import deploy
from mlcycle.deploy import score_files
from mlcycle.models import registry
from mlcycle.monitor.watch import Watcher
from mlcycle.store.errors import InvalidInput, error_line
from mlcycle.store.masking import mask_text
from mlcycle.store.workspace import Workspace
from tests.conftest import copy_workspace, run_cli
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame

EMAIL = "jane.roe@example.org"
CARD = "4532015112830366"
IBAN = "DE89370400440532013000"
SHA = "c9c2d85ad1234567890123456f8fc0e1b2a94c6d2e3f4a5b6c7d8e9f0a1b2c3d"

READABLE = [
    f"artifacts/onnx/{SHA}.onnx does not match the sha256 the workspace recorded",
    "version 3 of run 5d41402abc4b and 3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "column '0.12345678901234' must be numeric",
    "mean 1234567890123.5, p95 -0.98765432101234567",
    "columns 'Plan %', 'od280/od315_of_diluted_wines', 'prénom', 'x_4532015112830366'",
    "serving on 127.0.0.1:8000 at 05:33:06, version 1.2.3",
]

MASKED = [
    (f"row 4 holds '{EMAIL}'.", "row 4 holds 'j***@***.org'."),
    (f"card {CARD}, then", "card •••• card number, then"),
    ("card 4532 0151 1283 0366.", "card •••• card number."),
    (f"as a float {CARD}.0 it still is", "as a float •••• card number.0 it still is"),
    (f"iban {IBAN}; next", "iban •••• IBAN; next"),
    (f"1,{CARD},{EMAIL}", "1,•••• card number,j***@***.org"),
]


@pytest.mark.parametrize("text", READABLE)
def test_paths_hashes_ids_names_and_numbers_read_as_written(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(("text", "shown"), MASKED)
def test_values_shaped_like_personal_data_are_masked_wherever_they_stand(
        text: str, shown: str) -> None:
    assert mask_text(text) == shown


def test_the_error_line_is_masked_one_line_named_by_type_when_not_the_users_fault() -> None:
    assert error_line(InvalidInput(f"x holds {EMAIL}\nmore")) == "x holds j***@***.org"
    assert error_line(ValueError(f"cannot parse {CARD} in {SHA}\ndetail")) == \
        f"ValueError: cannot parse •••• card number in {SHA}"
    assert error_line(KeyError()) == "KeyError"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = classification_workspace(tmp_path_factory.mktemp("lines"), ["logistic"], rows=600)
    registry.promote(ws, "clf", "1", reason="test")
    deploy.build(ws, "clf")  # converted once, for every copy
    return ws.root


@pytest.fixture
def ws(built: Path, tmp_path: Path) -> Workspace:
    """A fresh copy of the built workspace, in a folder named as users name them."""
    return copy_workspace(built, tmp_path, "ws [2] é")


def test_an_error_naming_an_artifact_shows_its_hash_whole(ws: Workspace, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    classification_frame(40, seed=5).drop("label").write_csv(rows)
    (graph,) = (ws.artifacts / "onnx").glob("*.onnx")
    graph.write_bytes(graph.read_bytes() + b"\0")
    proc = run_cli("predict", "clf", str(rows), workspace=ws.root)
    assert proc.returncode == 2 and f"artifacts/onnx/{graph.name} does not match" in proc.stderr
    assert "••••" not in proc.stderr


def _holds(root: Path, ws: Workspace, text: str) -> list[str]:
    """Where ``text`` is in the workspace: any file's bytes, or any table's rows."""
    found = [str(p) for p in root.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]
    with ws.read() as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()]
        for table in tables:
            rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
            if text in json.dumps(rows, default=str, ensure_ascii=False):
                found.append(f"table {table}")
    return found


def test_a_watched_file_rejected_for_an_email_address_keeps_it_out_of_everything(
        ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    frame = classification_frame(60, seed=6).drop("label").with_columns(
        pl.col("x1").cast(pl.Utf8))
    frame[3, "x1"] = EMAIL
    frame.write_csv(folder / "batch.csv")
    proc = run_cli("watch", "clf", str(folder), "--once", "--settle", "0", "--json",
                   workspace=ws.root)
    outcome = json.loads(proc.stdout.splitlines()[-1])
    assert outcome["status"] == "rejected" and "j***@***.org" in outcome["error"]
    assert EMAIL not in proc.stdout + proc.stderr
    assert EMAIL not in (folder / "rejected" / "batch.csv.error.txt").read_text()
    assert EMAIL in (folder / "rejected" / "batch.csv").read_text()  # the file is the user's
    assert _holds(ws.root, ws, EMAIL) == []


def test_a_readers_own_error_quoting_a_value_is_masked_where_the_watcher_records_it(
        ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    classification_frame(60, seed=7).drop("label").write_csv(folder / "batch.csv")

    def failing_reader(*_args, **_kwargs):  # as a library's parser says what it choked on
        raise ValueError(f"unexpected token at {EMAIL!r}\n  line 4")

    monkeypatch.setattr(score_files, "read_table", failing_reader)
    outcome = Watcher(ws, "clf", folder, settle=0).take(folder / "batch.csv")
    assert outcome.status == "rejected"
    assert outcome.error == "ValueError: unexpected token at 'j***@***.org'"
    assert (folder / "rejected" / "batch.csv.error.txt").read_text() == outcome.error + "\n"
    assert _holds(ws.root, ws, EMAIL) == []
