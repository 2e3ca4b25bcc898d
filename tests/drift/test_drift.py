"""The drift engine: the ``mlcycle drift`` command, bad input, profiles and odd tables."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcycle import drift
from mlcycle.drift import statistics
from mlcycle.store.errors import InvalidInput
from tests.conftest import run_cli

ODD = ['amount "usd"', "first name", "it's", "a,b"]


def _write(path: Path, frame: pl.DataFrame) -> Path:
    if path.suffix == ".csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)
    return path


def _pair(tmp_path: Path, shift: float = 0.0, suffix: str = ".parquet", n: int = 1500
          ) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)

    def table(delta: float) -> pl.DataFrame:
        return pl.DataFrame({
            ODD[0]: rng.normal(100 + delta, 10, n),
            ODD[1]: rng.choice(["ann", "bob", "cy"], n).tolist(),
            ODD[2]: rng.integers(0, 4, n),
            "flag": (rng.random(n) < 0.5).tolist(),
        })

    return (_write(tmp_path / f"ref{suffix}", table(0.0)),
            _write(tmp_path / f"cur{suffix}", table(shift)))


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_json_output_and_exit_codes(tmp_path: Path) -> None:
    ref, cur = _pair(tmp_path, shift=5.0)
    proc = run_cli("drift", str(ref), str(cur), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["drift_detected"] is True
    assert out["n_reference"] == out["n_current"] == 1500
    assert 0 < out["share_drifted"] <= 1
    names = [c["name"] for c in out["columns"]]
    assert names == [*ODD[:3], "flag"]  # exactly as written, quotes and spaces kept
    for col in out["columns"]:
        assert col["type"] in ("numeric", "categorical", "boolean", "datetime", "text")
        assert isinstance(col["method"], str) and isinstance(col["statistic"], float)
        assert col["p_value"] is None or 0 <= col["p_value"] <= 1
        assert isinstance(col["threshold"], float) and isinstance(col["drifted"], bool)
        assert 0 <= col["missing_reference"] <= 1 and 0 <= col["missing_current"] <= 1
    by_name = {c["name"]: c for c in out["columns"]}
    assert by_name[ODD[0]]["drifted"]
    assert not by_name["flag"]["drifted"]

    assert run_cli("drift", str(ref), str(cur), "--fail-on-drift").returncode == 1
    same = run_cli("drift", str(ref), str(ref), "--fail-on-drift")
    assert same.returncode == 0, same.stderr
    assert "No drift detected" in same.stdout


def test_readable_table_lists_drifted_first(tmp_path: Path) -> None:
    ref, cur = _pair(tmp_path, shift=5.0, suffix=".csv")
    proc = run_cli("drift", str(ref), str(cur))
    assert proc.returncode == 0, proc.stderr
    assert "Drift detected in 1 of 4" in proc.stdout
    body = proc.stdout.split("column", 1)[1]
    assert body.index('amount "usd"') < body.index("first name")


def test_columns_option_keeps_every_column_listed(tmp_path: Path) -> None:
    ref, cur = _pair(tmp_path, shift=5.0)
    proc = run_cli("drift", str(ref), str(cur), "--json", "--columns", "first name,flag")
    out = json.loads(proc.stdout)
    by_name = {c["name"]: c for c in out["columns"]}
    assert set(by_name) == {*ODD[:3], "flag"}
    assert by_name[ODD[0]]["method"] == "not tested: not selected"
    assert not out["drift_detected"]
    bad = run_cli("drift", str(ref), str(cur), "--columns", "nope")
    assert "nope" in _one_line_error(bad)


def test_reports_markdown_and_html(tmp_path: Path) -> None:
    ref, cur = _pair(tmp_path, shift=5.0)
    md, page = tmp_path / "r.md", tmp_path / "r.html"
    assert run_cli("drift", str(ref), str(cur), "--report", str(md)).returncode == 0
    assert run_cli("drift", str(ref), str(cur), "--report", str(page)).returncode == 0
    text = md.read_text()
    assert "Drift detected" in text and '## `amount "usd"`' in text and "█" in text
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<script" not in html
    assert "amount &quot;usd&quot;" in html
    assert "must end in .md or .html" in _one_line_error(
        run_cli("drift", str(ref), str(cur), "--report", str(tmp_path / "r.txt")))


def test_different_columns_compare_the_common_ones_and_name_the_others(tmp_path: Path) -> None:
    ref = _write(tmp_path / "a.csv", pl.DataFrame({"x": [1, 2], "only here": [1, 2]}))
    cur = _write(tmp_path / "b.csv", pl.DataFrame({"x": [1, 2], "new col": [3, 4]}))
    proc = run_cli("drift", str(ref), str(cur))
    assert proc.returncode == 0, proc.stderr
    assert "not compared, only in the reference: only here" in proc.stdout
    assert "not compared, only in the current: new col" in proc.stdout


@pytest.mark.parametrize("content,expected", [
    (b"", "empty"),
    (b"\x00\x01\x02\x03binary\x00", "binary"),
    (b"PAR1 this is not really parquet", "cannot read"),
])
def test_unusable_files_give_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    good = _write(tmp_path / "good.csv", pl.DataFrame({"x": [1, 2, 3]}))
    bad = tmp_path / ("bad.parquet" if content.startswith(b"PAR1") else "bad.csv")
    bad.write_bytes(content)
    line = _one_line_error(run_cli("drift", str(good), str(bad)))
    assert expected in line
    assert "No such" in _one_line_error(run_cli("drift", str(good), str(tmp_path / "x.csv"))) \
        or "no such" in _one_line_error(run_cli("drift", str(good), str(tmp_path / "x.csv")))


def test_all_missing_and_constant_columns_get_a_note(tmp_path: Path) -> None:
    n = 200
    ref = _write(tmp_path / "r.csv", pl.DataFrame({
        "empty": [None] * n, "constant": [1] * n, "v": list(range(n))}))
    cur = _write(tmp_path / "c.csv", pl.DataFrame({
        "empty": [None] * n, "constant": [1] * n, "v": list(range(n))}))
    proc = run_cli("drift", str(ref), str(cur), "--json")
    assert proc.returncode == 0, proc.stderr
    by_name = {c["name"]: c for c in json.loads(proc.stdout)["columns"]}
    assert "all values missing" in by_name["empty"]["method"]
    assert not by_name["empty"]["drifted"]
    assert by_name["constant"]["p_value"] == 1.0


def test_constant_column_that_changes_value_drifts() -> None:
    ref = pl.DataFrame({"c": [1.0] * 500})
    cur = pl.DataFrame({"c": [1.0] * 400 + [2.0] * 100})
    col = drift.compare(ref, cur).columns[0]
    # A number the reference never had takes its place in the order: a shift, not a category.
    assert col.drifted and col.note.startswith("values higher") and not col.new_values
    assert col.histogram["labels"] == ["1", "above 1"]


def test_profile_round_trip_gives_identical_results(tmp_path: Path) -> None:
    ref, cur = _pair(tmp_path, shift=2.0)
    prof = drift.profile(ref)
    again = drift.Profile.from_json(prof.to_json())
    assert again.to_dict() == prof.to_dict()
    assert drift.check(again, cur).to_dict() == drift.check(prof, cur).to_dict()
    assert drift.check(prof, cur).to_dict() == drift.compare(ref, cur).to_dict() | {
        "reference": str(ref)}


def test_profile_rejects_foreign_json() -> None:
    with pytest.raises(InvalidInput):
        drift.Profile.from_json('{"columns": []}')
    with pytest.raises(InvalidInput):
        drift.Profile.from_json("not json")


def test_too_few_current_rows_tests_missing_rate_only(tmp_path: Path) -> None:
    ref, _ = _pair(tmp_path)
    prof = drift.profile(ref)
    few = pl.DataFrame({ODD[0]: [1.0] * 10, ODD[1]: ["ann"] * 10, ODD[2]: [1] * 10,
                        "flag": [True] * 10})
    result = drift.check(prof, few)
    for col in result.columns:
        assert col.method.startswith("missing rate only"), col.method
        assert not col.drifted


def test_statistics_match_reference_values() -> None:
    # chi-square upper tail against known values (df, x, p)
    for df, x, p in [(1, 3.841458820694124, 0.05), (9, 21.665994333461924, 0.01),
                     (40, 55.75847927888702, 0.05), (2, 0.1, 0.951229424500714)]:
        assert math.isclose(statistics.chi2_sf(x, df), p, rel_tol=1e-9)
    assert math.isclose(statistics.normal_sf2(1.959963984540054), 0.05, rel_tol=1e-9)
    # rank-sum on tied cells equals the classic tie-corrected Mann-Whitney z
    z_loc, _ = statistics.rank_tests([3, 2, 0], [0, 2, 3])
    assert z_loc > 0


names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cols=st.dictionaries(names, st.sampled_from(["num", "int", "str", "bool", "const", "null"]),
                         min_size=1, max_size=4),
    n_ref=st.integers(1, 80), n_cur=st.integers(1, 80), seed=st.integers(0, 2**16),
)
def test_profile_and_check_never_crash_on_odd_tables(cols: dict[str, str], n_ref: int,
                                                     n_cur: int, seed: int) -> None:
    rng = np.random.default_rng(seed)

    def table(n: int) -> pl.DataFrame:
        data = {}
        for name, kind in cols.items():
            mask = rng.random(n) < 0.2
            if kind == "num":
                values = [None if m else float(v) for m, v in zip(mask, rng.normal(size=n))]
            elif kind == "int":
                values = [None if m else int(v) for m, v in zip(mask, rng.integers(0, 5, n))]
            elif kind == "str":
                values = [None if m else str(v) for m, v in zip(mask, rng.choice(["a", "b"], n))]
            elif kind == "bool":
                values = [None if m else bool(v) for m, v in zip(mask, rng.random(n) < 0.5)]
            elif kind == "const":
                values = [3.0] * n
            else:
                values = [None] * n
            data[name] = pl.Series(name, values, dtype=pl.Float64 if kind == "null" else None)
        return pl.DataFrame(data)

    ref, cur = table(n_ref), table(n_cur)
    prof = drift.profile(ref)
    assert prof.names == list(cols)
    result = drift.check(drift.Profile.from_json(prof.to_json()), cur)
    assert [c.name for c in result.columns] == list(cols)
    payload = json.dumps(result.to_dict(), allow_nan=False)
    assert json.loads(payload)["n_current"] == n_cur
    for col in result.columns:
        assert col.p_value is None or 0.0 <= col.p_value <= 1.0


def test_duckdb_relation_input(tmp_path: Path) -> None:
    ref, cur = _pair(tmp_path, shift=5.0)
    con = duckdb.connect()
    result = drift.compare(con.read_parquet(str(ref)), con.read_parquet(str(cur)))
    assert result.drift_detected
