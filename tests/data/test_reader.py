"""One reader for every command: a corpus of awkward and malformed files, each accepted by
every tabular command or refused by all of them with the same one-line message.

The corpus is generated here. Every file is a variant of one good batch of the ``clf``
project (id, x1, x2, plan, flag and the target, label), so a file the reader accepts is
usable by every command; the commands are called in-process for the whole corpus and as
real processes for a few files.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pytest

from mlcycle import drift, projects
from mlcycle.data import datasets, sources
from mlcycle.deploy import runs, scoring
from mlcycle.models import registry
from mlcycle.monitor import monitoring, retraining
from mlcycle.monitor.watch import Watcher
from mlcycle.store.errors import MlcycleError
from tests.conftest import MLCYCLE, ROOT
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame

ROWS = 60


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory):
    ws = classification_workspace(tmp_path_factory.mktemp("reader"), ["logistic"], rows=600)
    registry.promote(ws, "clf", "1", reason="test")
    projects.create(ws, "added", target="label", task="classification")
    return ws


def _good() -> pl.DataFrame:
    return classification_frame(ROWS, seed=21)


def _csv(frame: pl.DataFrame | None = None, **options) -> bytes:
    return (_good() if frame is None else frame).write_csv(**options).encode()


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _duckdb_parquet(folder: Path, select: str) -> bytes:
    out = folder / "made-by-duckdb.parquet"
    con = duckdb.connect()
    con.execute(f"COPY ({select}) TO '{out}' (FORMAT parquet)")
    con.close()
    data = out.read_bytes()
    out.unlink()
    return data


def _zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def corpus(folder: Path) -> dict[str, bytes]:
    """File name -> content: the variants a reader must take, and the ones it must refuse."""
    good = _csv()
    lines = good.split(b"\n")
    header, body = lines[0], b"\n".join(lines[1:])
    frame = _good()
    big = classification_frame(30_000, seed=22)
    records = frame.to_dicts()
    select_good = ("SELECT 'U' || range AS id, range / 10.0 AS x1, range % 7 AS x2, "
                   "'basic' AS plan, range % 2 = 0 AS flag, "
                   "CASE WHEN range % 3 = 0 THEN 'yes' ELSE 'no' END AS label FROM range(60)")
    return {
        # -- accepted ------------------------------------------------------------------
        "good.csv": good,
        "crlf.csv": good.replace(b"\n", b"\r\n"),
        "cr-only.csv": good.replace(b"\n", b"\r"),
        "bom.csv": b"\xef\xbb\xbf" + good,
        "tab-separated-named.csv": _csv(separator="\t"),
        "semicolons.csv": _csv(separator=";"),
        "pipes.csv": _csv(separator="|"),
        "good.tsv": _csv(frame.reverse(), separator="\t"),  # not the bytes of the one above
        "all-quoted.csv": _csv(quote_style="always"),
        "blank-lines-at-end.csv": good + b"\n\n\n",
        "no-final-newline.csv": good.rstrip(b"\n"),
        "unicode-ids.csv": _csv(frame.with_columns(pl.col("id").str.replace("U", "Ü-"))),
        "a-3-mib-line.csv": _csv(frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("x" * (3 << 20)))
            .otherwise(pl.col("id")).alias("id"))),
        # a value ending in a backslash next to its closing quote: `"ba""sic\"`
        "quote-and-backslash.csv": _csv(frame.with_columns(
            pl.col("plan").str.replace("basic", 'ba"sic\\'))),
        "backslash-escaped.csv": _backslash_escaped(frame),
        "good.parquet": _parquet(frame),
        "made-by-duckdb.parquet": _duckdb_parquet(folder, select_good),
        "good.json": json.dumps(records).encode(),
        "good.ndjson": "\n".join(json.dumps(r) for r in records).encode() + b"\n",
        "good.jsonl": "\n".join(json.dumps(r) for r in records).encode(),
        # -- refused -------------------------------------------------------------------
        "empty.csv": b"",
        "only-blank-space.csv": b"  \n\t\n\n",
        "header-only.csv": header + b"\n",
        "header-only.parquet": _parquet(frame.head(0)),
        "gzip-named.csv": gzip.compress(good),
        "bzip2-named.csv": bz2.compress(good),
        "xz-named.csv": lzma.compress(good),
        "zip-named.csv": _zip("batch.csv", good),
        "zstd-named.csv": b"\x28\xb5\x2f\xfd" + good,
        "nul-in-header.csv": header.replace(b",", b"\x00,", 1) + b"\n" + body,
        "nul-after-8kib.csv": _nul_at(_csv(big), 9000),
        "nul-in-the-last-byte.csv": _csv(big)[:-1] + b"\x00",
        "latin-1.csv": good.replace(b"basic", "b\xe1sico".encode("latin-1")),
        "utf-16.csv": good.decode().encode("utf-16"),
        "binary-junk.csv": os.urandom(4096),
        "a-200000-character-name.csv": b"n" * 200_000 + b"," + good,
        "repeated-names.csv": header.replace(b"x2", b"x1") + b"\n" + body,
        "an-empty-name.csv": header.replace(b"x2", b"") + b"\n" + body,
        "a-blank-name.csv": header.replace(b"x2", b"  ") + b"\n" + body,
        "no-header.csv": b"1,2,3\n4,5,6\n",
        "a-17-mib-line.csv": header + b"\n" + b"U1," + b"9" * (17 << 20) + b",1,basic,true,no\n",
        "ragged.csv": _ragged(good),
        "open-quote.csv": header + b'\nU1,"1.5,2,basic,true,no\n' + body,
        "text-after-30000-rows.csv": _csv(big) + b"U99999,n/a,1.0,basic,true,no\n",
        "interval.parquet": _duckdb_parquet(
            folder, select_good.replace("range % 7 AS x2", "INTERVAL 1 DAY * range AS x2")),
        "list.parquet": _parquet(frame.with_columns(pl.concat_list("x1", "x1").alias("x2"))),
        "struct.parquet": _parquet(frame.with_columns(pl.struct("x1", "flag").alias("x2"))),
        "truncated.parquet": _parquet(frame)[:400],
        "text-named.parquet": _csv(frame.head(40)),
        "parquet-named.csv": _parquet(frame.head(30)),
        "a-number.json": b"42",
        "numbers.json": b"[1, 2, 3]",
        "mixed.json": json.dumps([records[0], 7]).encode(),
        "nested.json": json.dumps([{**r, "x2": {"a": r["x2"]}} for r in records]).encode(),
        "empty-array.json": b"[]",
        "cut-short.json": json.dumps(records).encode()[:-30],
        "a-bad-line.ndjson": b"\n".join(json.dumps(r).encode() for r in records[:5])
        + b"\nnot json\n",
        "arrays.ndjson": b"[1, 2]\n[3, 4]\n",
    }


def _backslash_escaped(frame: pl.DataFrame) -> bytes:
    """Quotes inside values written as \\" (MySQL's and some exporters' habit)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, escapechar="\\", doublequote=False, lineterminator="\n")
    writer.writerow(frame.columns)
    writer.writerows(frame.with_columns(pl.col("plan").str.replace("basic", 'ba"sic, a'))
                     .rows())
    return buffer.getvalue().encode()


def _nul_at(data: bytes, offset: int) -> bytes:
    return data[:offset] + b"\x00" + data[offset + 1:]


def _ragged(good: bytes) -> bytes:
    lines = good.split(b"\n")
    lines[4] += b",extra"
    return b"\n".join(lines)


ACCEPTED = {"good.csv", "crlf.csv", "cr-only.csv", "bom.csv", "tab-separated-named.csv",
            "semicolons.csv", "pipes.csv", "good.tsv", "all-quoted.csv",
            "blank-lines-at-end.csv", "no-final-newline.csv", "unicode-ids.csv",
            "a-3-mib-line.csv", "quote-and-backslash.csv", "backslash-escaped.csv",
            "good.parquet", "made-by-duckdb.parquet", "good.json",
            "good.ndjson", "good.jsonl"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("corpus")
    out = {}
    for name, data in corpus(folder).items():
        (folder / name).write_bytes(data)
        out[name] = folder / name
    return out


def test_the_corpus_is_big_and_varied(files) -> None:
    assert len(files) >= 50 and len(ACCEPTED) < len(files) - 30
    assert set(ACCEPTED) <= set(files)


# -- every reader, in-process -----------------------------------------------------------


def _verdict(run: Callable[[], object], path: Path) -> str | None:
    """None when the command took the file, else its one-line error, the path made FILE."""
    try:
        run()
    except MlcycleError as exc:
        message = str(exc)
        assert "\n" not in message, message
        return message.replace(str(path), "FILE")
    return None


@pytest.fixture(scope="module")
def readers(clf, tmp_path_factory: pytest.TempPathFactory):
    """Each command's way in: a function of a file that raises its refusal."""
    reference = monitoring.reference(clf, "clf")
    version = registry.get(clf, "clf")
    schema = pl.read_parquet(datasets.data_path(
        clf, datasets.get(clf, "clf", version.summary["lineage"]["dataset"]))).schema
    good = tmp_path_factory.mktemp("good") / "reference.csv"
    good.write_bytes(_csv())
    watched = tmp_path_factory.mktemp("watched")
    watcher = Watcher(clf, "clf", watched, settle=0)

    def watch(path: Path) -> None:
        """The file dropped into a watched folder: rejected, with its error, or checked."""
        target = watched / path.name
        shutil.copyfile(path, target)
        outcome = watcher.take(target)
        if outcome.status == "rejected":
            raise MlcycleError(outcome.error.replace(str(target), str(path)))
        assert outcome.status == "checked", outcome

    # The watcher reads each file first: a content already checked (by monitor) it would
    # skip unread; monitor is told to check again for the same reason.
    return {
        "watch": watch,
        "data add": lambda p: datasets.add(clf, "added", p),
        "drift": lambda p: drift.compare(good, p),
        "predict": lambda p: scoring.predict_file(clf, "clf", p, shadow=False),
        "monitor": lambda p: monitoring.check(clf, "clf", p, cached=reference, again=True),
        "retrain --with": lambda p: retraining.labelled_rows(p, None, reference.signature, "id",
                                                             schema),
    }


def test_every_command_accepts_and_refuses_the_same_files_in_the_same_words(
        files, readers) -> None:
    disagreements = {}
    for name, path in sorted(files.items()):
        verdicts = {command: _verdict(lambda r=read, p=path: r(p), path)
                    for command, read in readers.items()}
        agreed = len(set(verdicts.values())) == 1
        if not agreed or (name in ACCEPTED) != (verdicts["data add"] is None):
            disagreements[name] = verdicts
    assert not disagreements, json.dumps(disagreements, indent=1)


@pytest.mark.parametrize("name, words", [
    ("empty.csv", "FILE: file is empty"),
    ("header-only.csv", "FILE: has a header but no rows"),
    ("header-only.parquet", "FILE: has a header but no rows"),
    ("empty-array.json", "FILE: has no rows"),
    ("gzip-named.csv", "FILE: gzip-compressed, not CSV text; unpack it first"),
    ("zip-named.csv", "a zip archive"),
    ("nul-after-8kib.csv", "FILE: binary data, not CSV text (a NUL byte at byte 9,000)"),
    ("nul-in-the-last-byte.csv", "binary data"),
    ("latin-1.csv", "not utf-8 text"),
    ("utf-16.csv", "FILE: UTF-16 text; save the file as UTF-8"),
    ("a-200000-character-name.csv", "the name of column 1 is 200,000 characters long"),
    ("repeated-names.csv", "column 'x1' appears more than once in the header"),
    ("an-empty-name.csv", "FILE: column 3 has no name"),
    ("a-blank-name.csv", "FILE: column 3 has no name"),
    ("no-header.csv", "no header row"),
    ("a-17-mib-line.csv", "FILE: line 2 is longer than 16 MiB"),
    ("ragged.csv", "cannot read FILE"),
    ("text-after-30000-rows.csv", "Could not convert string \"n/a\""),
    ("interval.parquet", "column 'x2' holds intervals"),
    ("list.parquet", "column 'x2' holds nested values"),
    ("struct.parquet", "column 'x2' holds nested values"),
    ("truncated.parquet", "cut short"),
    ("text-named.parquet", "FILE: not a Parquet file"),
    ("a-number.json", "FILE: not a table"),
    ("mixed.json", "FILE: not a table"),
    ("nested.json", "column 'x2' holds nested values"),
])
def test_the_refusals_say_what_is_wrong(files, name, words) -> None:
    verdict = _verdict(lambda: sources.read_frame(files[name]), files[name])
    assert verdict is not None and words in verdict, verdict


def test_a_cr_only_file_is_scored_whole(clf, files) -> None:
    result = scoring.predict_file(clf, "clf", files["cr-only.csv"], shadow=False)
    assert result.rows == ROWS


# -- the same, as a user runs them --------------------------------------------------------


def _cli(clf, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLCYCLE_WORKSPACE"}
    return subprocess.run([*MLCYCLE, "--workspace", str(clf.root), *args],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=180)


@pytest.mark.parametrize("name", ["gzip-named.csv", "nul-after-8kib.csv", "interval.parquet",
                                  "header-only.csv"])
def test_each_command_refuses_a_bad_file_with_one_line_and_exit_2(clf, files, tmp_path,
                                                                   name) -> None:
    path = files[name]
    expected = _verdict(lambda: sources.read_frame(path), path)
    assert expected is not None
    good = tmp_path / "reference.csv"
    good.write_bytes(_csv())
    folder = tmp_path / "watched"
    folder.mkdir()
    shutil.copyfile(path, folder / name)
    messages = {}
    for command, args in {
        "data add": ["data", "add", "added", str(path)],
        "drift": ["drift", str(good), str(path)],
        "predict": ["predict", "clf", str(path)],
        "monitor": ["monitor", "clf", str(path)],
        "retrain --with": ["retrain", "clf", "--with", str(path)],
    }.items():
        proc = _cli(clf, *args)
        assert proc.returncode == 2, (command, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (command, proc.stderr)
        messages[command] = lines[0].removeprefix("error: ").replace(str(path), "FILE")
    proc = _cli(clf, "watch", "clf", str(folder), "--once", "--json")
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout)
    assert outcome["status"] == "rejected"
    messages["watch"] = outcome["error"].replace(str(folder / name), "FILE")
    assert set(messages.values()) == {expected}, messages


def test_a_tab_separated_file_named_csv_is_scored_by_predict_and_monitor(clf, files) -> None:
    path = files["tab-separated-named.csv"]
    predicted = _cli(clf, "predict", "clf", str(path), "--json")
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["rows"] == ROWS
    checked = _cli(clf, "monitor", "clf", str(path), "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["rows"] == ROWS


def test_an_empty_batch_is_an_error_for_drift_and_monitor_and_nothing_is_written(
        clf, files, tmp_path) -> None:
    good = tmp_path / "reference.csv"
    good.write_bytes(_csv())
    scored = len(runs.recent_runs(clf, "clf", limit=10_000))
    checks = len(monitoring.history(clf, "clf", limit=10_000))
    for name in ("header-only.csv", "cr-only-header.csv"):
        path = tmp_path / name
        path.write_bytes(_csv().split(b"\n")[0] + (b"\r" if "cr" in name else b"\n"))
        for args in (["drift", str(good), str(path)], ["monitor", "clf", str(path)],
                     ["predict", "clf", str(path)]):
            proc = _cli(clf, *args)
            assert proc.returncode == 2 and "has a header but no rows" in proc.stderr, (
                args, proc.stderr)
    assert len(runs.recent_runs(clf, "clf", limit=10_000)) == scored
    assert len(monitoring.history(clf, "clf", limit=10_000)) == checks


# -- one transaction, last-resort handler, wide tables ----------------------------------


def test_a_check_and_its_scoring_run_are_stored_together_or_not_at_all(clf, files,
                                                                      monkeypatch) -> None:
    from mlcycle.store import events

    scored = len(runs.recent_runs(clf, "clf", limit=10_000))
    record = events.record

    def fail_on_check(con, kind, **kwargs):
        if kind == "monitor.checked":
            raise RuntimeError("killed between the two inserts")
        record(con, kind, **kwargs)

    monkeypatch.setattr(events, "record", fail_on_check)
    with pytest.raises(RuntimeError):  # again: other tests may have checked this content
        monitoring.check(clf, "clf", files["good.csv"], again=True)
    monkeypatch.undo()
    assert len(runs.recent_runs(clf, "clf", limit=10_000)) == scored
    result = monitoring.check(clf, "clf", files["good.csv"], again=True)
    assert runs.recent_runs(clf, "clf", limit=1)[0].id == result["scoring_run"]


def test_a_panic_in_a_compiled_library_is_one_line_and_exit_1(clf, files, monkeypatch,
                                                              capsys) -> None:
    from mlcycle.app import cli

    def panic(*_args, **_kwargs):
        raise pl.exceptions.PanicException("called `Result::unwrap()`\non an `Err` value")

    monkeypatch.setattr(scoring, "read_table", panic)
    monkeypatch.delenv("MLCYCLE_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--workspace", str(clf.root), "predict", "clf", str(files["good.csv"])])
    assert stopped.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: unexpected PanicException: called `Result::unwrap()` "
                   "(set MLCYCLE_DEBUG=1 to see where)"]


def _wide_csv(path: Path, columns: int, rows: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([f"c{i}" for i in range(columns)] + ["label"])
        for r in range(rows):
            out.writerow([*rng.normal(size=columns).round(3).tolist(), r % 2])


def test_a_table_of_thousands_of_columns_gets_its_whole_report(clf, tmp_path) -> None:
    # How long 10,000 columns take is measured by `bench/ingest.py --wide`, not here.
    path = tmp_path / "wide.csv"
    _wide_csv(path, 2_000, 50)
    version = datasets.add(clf, "added", path).version
    report = datasets.quality_report(clf, "added", version.id)
    assert report["rows"] == 50 and report["columns"] == 2_001
    first = pl.read_csv(path, columns=["c0"])["c0"]
    stats = report["column_stats"][0]
    assert stats["name"] == "c0" and stats["min"] == pytest.approx(first.min())
    assert sum(stats["histogram"]["counts"]) == 50
    assert len(datasets.dictionary(clf, "added", version.id)) == 2_001


def test_a_wide_table_gets_the_report_a_narrow_one_would(clf, tmp_path) -> None:
    from mlcycle.data import quality
    from mlcycle.store.sql import memory_connection

    path = tmp_path / "wide.parquet"
    _wide_csv(tmp_path / "wide.csv", 450, 40)
    pl.read_csv(tmp_path / "wide.csv").with_columns(
        pl.col("label").cast(pl.Utf8)).vstack(pl.read_csv(tmp_path / "wide.csv").head(3)
                                              .with_columns(pl.col("label").cast(pl.Utf8))
                                              ).write_parquet(path)
    con = memory_connection()
    con.read_parquet(str(path)).create_view("t")
    wide = quality.compute(con, "t")
    original = quality.CHUNK_COLUMNS
    try:
        quality.CHUNK_COLUMNS = 10_000  # one query, one pass, as before
        narrow = quality.compute(con, "t")
    finally:
        quality.CHUNK_COLUMNS = original
    con.close()
    assert wide["duplicate_rows"] == narrow["duplicate_rows"] == 3
    assert json.dumps(wide, sort_keys=True) == json.dumps(narrow, sort_keys=True)
