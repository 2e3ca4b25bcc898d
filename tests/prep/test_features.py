"""Feature sets: the shared apply(), definitions and their errors, versions, insight."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.prep import expressions, features
from mlcycle.store.errors import InvalidInput, MlcycleError, NotFound
from mlcycle.store.workspace import Workspace, open_workspace
from tests.conftest import run_cli, run_json

DEFINITION = """\
name = "base"

[[derive]]
name = "per_month"
expr = "total / months"
[[derive]]
name = "log_total"
expr = "log(total)"
[[derive]]
name = "root"
expr = "sqrt(total - 50)"
[[derive]]
name = "joined_year"
expr = "year(joined)"
[[derive]]
name = "joined_weekday"
expr = "weekday(joined)"
[[derive]]
name = "band"
expr = "bin(months, 6, 12)"
[[derive]]
name = "name_length"
expr = "length(name)"
[[derive]]
name = "months_x_vip"
expr = "months * vip"
[[derive]]
name = "big_spender"
expr = "if(per_month > 20, 'yes', 'no')"

[select]
drop = ["id", "joined"]
"""


def _frame() -> pl.DataFrame:
    return pl.DataFrame({
        "id": [1, 2, 3],
        "total": [100.0, 0.0, None],
        "months": [4, 0, 13],
        "joined": [dt.date(2024, 1, 1), dt.date(2023, 6, 15), None],
        "name": ["ann", "bo", None],
        "vip": [True, False, True],
        "label": [1, 0, 1],
    })


def test_apply_computes_every_kind_of_derived_column_columnar() -> None:
    fs = features.parse(DEFINITION, target="label")
    out = features.apply(fs, _frame())
    assert out.columns == ["total", "months", "name", "vip", "label", "per_month", "log_total",
                           "root", "joined_year", "joined_weekday", "band", "name_length",
                           "months_x_vip", "big_spender"]
    assert out["per_month"].to_list() == [25.0, None, None]  # 0 months: null, never inf
    assert out["log_total"].to_list()[:2] == [pytest.approx(np.log(100)), None]  # log 0: null
    assert out["root"].to_list() == [pytest.approx(np.sqrt(50)), None, None]  # sqrt(-50): null
    assert out["joined_year"].to_list() == [2024, 2023, None]
    assert out["joined_weekday"].to_list() == [1, 4, None]  # Monday = 1
    assert out["band"].to_list() == [0, 0, 2]
    assert out["name_length"].to_list() == [3, 2, None]
    assert out["months_x_vip"].to_list() == [4, 0, 13]
    assert out["big_spender"].to_list() == ["yes", "no", "no"]


def test_apply_is_the_same_for_scoring_data_without_a_target_and_for_lazy_frames() -> None:
    fs = features.parse(DEFINITION, target="label")
    scoring = _frame().drop("label")
    lazy = features.apply(fs, scoring.lazy())
    assert isinstance(lazy, pl.LazyFrame)
    eager = features.apply(fs, scoring)
    assert lazy.collect().equals(eager)
    assert eager.equals(features.apply(fs, _frame()).drop("label"))
    keep = features.parse('name = "k"\n[[derive]]\nname = "r"\nexpr = "total / months"\n'
                          '[select]\nkeep = ["r", "vip"]\n', target="label")
    assert features.apply(keep, _frame()).columns == ["vip", "label", "r"]
    with pytest.raises(InvalidInput, match="feature 'per_month' of base: unknown column 'total'"):
        features.apply(fs, scoring.drop("total"))
    with pytest.raises(InvalidInput, match="keeps 'vip', which the data does not have"):
        features.apply(keep, scoring.drop("vip"))


BAD = [
    ('name = "x"\n[[derive]\n', r"features: TOML syntax error: .*line 2"),
    ('[[derive]]\nname = "a"\nexpr = "1"\n', r"name: needs name"),
    ('name = "x"\n[[derive]]\nname = "a"\nexpr = "total /"\n',
     r"features line 2, derive 1 \(a\): expected a value but found 'the end' at character 8"),
    ('name = "x"\n[[derive]]\nname = "a"\nexpr = "1"\n[[derive]]\nname = "a"\nexpr = "2"\n',
     r"line 5, derive 2 \(a\): 'a' is derived twice"),
    ('name = "x"\n[select]\nkeep = ["a"]\ndrop = ["b"]\n', r"line 2, select: give keep or drop"),
    ('name = "x"\n[select]\ndrop = ["label"]\n', r"select.drop: drops the target 'label'"),
    ('name = "x"\ncolumns = 3\n', r"line 2, key 'columns': unknown"),
    ('name = "x"\n[[derive]]\nname = "a"\nexpr = "1"\nformula = "2"\n',
     r"derive 1 \(a\): unknown key 'formula'"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_definitions_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        features.parse(text, target="label")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\n[[derive]]\nname = "total"\nexpr = "1"\n',
         r"feature set x line 2, derive 1 \(total\): a column 'total' is already in the data"),
        ('name = "x"\n[[derive]]\nname = "a"\nexpr = "totl * 2"\n',
         r"derive 1 \(a\): unknown column 'totl' \(did you mean 'total'\?\) at character 1"),
        ('name = "x"\n[[derive]]\nname = "a"\nexpr = "year(total)"\n',
         r"expected a date but column 'total' is float"),
        ('name = "x"\n[select]\ndrop = ["nope"]\n', r"select.drop: no column 'nope'"),
    ],
)
def test_definitions_are_checked_against_the_data(text: str, message: str) -> None:
    schema = expressions.schema_types(_frame().schema)
    with pytest.raises(InvalidInput, match=message):
        features.check(features.parse(text, target="label"), schema)


def test_ids_are_content_hashes_and_survive_a_round_trip() -> None:
    a = features.parse(DEFINITION, target="label")
    assert features.parse("# a comment\n" + DEFINITION, target="label").id == a.id
    assert features.parse(DEFINITION.replace("total / months", "total / (months + 1)"),
                          target="label").id != a.id
    assert features.FeatureSet.from_dict(a.to_dict()).id == a.id
    tampered = {**a.to_dict(), "text": DEFINITION.replace("log(", "sqrt(")}
    with pytest.raises(InvalidInput, match="does not match its id"):
        features.FeatureSet.from_dict(tampered)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ab01 ()+-*/<>=!'\"`,.andornotinisnull", max_size=30))
def test_any_text_is_an_expression_or_a_clean_error(text: str) -> None:
    schema = {"a": "integer", "b": "string"}
    try:
        expressions.compile_expr(text, schema)
    except expressions.ExpressionError as exc:
        assert 0 <= exc.position <= len(text)


# -- stored versions and insight ----------------------------------------------------------

def _insight_data(path: Path, n: int = 4000) -> Path:
    rng = np.random.default_rng(7)
    signal = rng.normal(size=n)
    noise = rng.normal(size=n)
    drifting = np.concatenate([rng.normal(size=n // 2), rng.normal(3, 1, size=n - n // 2)])
    label = (signal + rng.normal(scale=0.5, size=n)) > 0
    pl.DataFrame({"signal": signal, "noise": noise, "drifting": drifting,
                  "colour": rng.choice(["red", "blue"], size=n), "label": label}
                 ).write_csv(path)
    return path


def test_store_resolve_and_versions(ws: Workspace, tmp_path: Path) -> None:
    projects.create(ws, "p", target="label", task="classification")
    assert features.resolve(ws, "p") is None  # no feature set: training uses raw columns
    datasets.add(ws, "p", _insight_data(tmp_path / "d.csv", 200))
    text = 'name = "base"\n[[derive]]\nname = "s2"\nexpr = "signal * signal"\n'
    first, created = features.store(ws, "p", text)
    assert created and first.ref == "base@1" and first.project == "p"
    assert features.store(ws, "p", text)[1] is False  # same text: same version
    second, _ = features.store(ws, "p", text.replace("signal * signal", "abs(signal)"))
    other, _ = features.store(ws, "p", 'name = "other"\n')
    assert second.ref == "base@2" and other.ref == "other@1"
    assert features.resolve(ws, "p").ref == "other@1"
    assert features.resolve(ws, "p", None).ref == "other@1"
    assert features.resolve(ws, "p", "base").ref == "base@2"
    assert features.resolve(ws, "p", "base@1").id == first.id
    assert features.resolve(ws, "p", first.id[:6]).ref == "base@1"
    with pytest.raises(NotFound, match="no feature set 'nope'"):
        features.resolve(ws, "p", "nope")
    with pytest.raises(MlcycleError, match="unknown column 'signl'"):
        features.store(ws, "p", 'name = "bad"\n[[derive]]\nname = "x"\nexpr = "signl"\n')
    assert len(features.history(ws, "p")) == 3


def test_cli_insight_flags_unstable_features_and_ranks_the_informative_one(tmp_path: Path
                                                                           ) -> None:
    ws = tmp_path / "ws"
    setup = open_workspace(ws, create=True)[0]
    projects.create(setup, "p", target="label", task="classification")
    datasets.add(setup, "p", _insight_data(tmp_path / "d.csv"))
    definition = tmp_path / "f.toml"
    definition.write_text('name = "base"\n[[derive]]\nname = "signal_sq"\n'
                          'expr = "signal * abs(signal)"\n[select]\ndrop = ["colour"]\n')
    stored = run_json("featureset", "set", "p", str(definition), workspace=ws)
    assert stored["name"] == "base" and stored["version"] == 1 and stored["created"]
    report = run_json("features", "p", workspace=ws)
    rows = {r["name"]: r for r in report["features"]}
    assert set(rows) == {"signal", "noise", "drifting", "signal_sq"}
    assert report["feature_set"]["id"] == stored["id"]
    assert rows["signal_sq"]["definition"] == "signal * abs(signal)"
    assert rows["signal"]["mutual_info"] > 10 * rows["noise"]["mutual_info"]
    assert rows["signal"]["correlation"] > 0.5 and abs(rows["noise"]["correlation"]) < 0.1
    assert report["correlation_with"] == "label = true"
    assert rows["drifting"]["stability"] == "unstable" and rows["drifting"]["psi"] > 0.25
    assert {r["stability"] for n, r in rows.items() if n != "drifting"} == {"stable"}
    assert all(r["missing_share"] == 0 and r["type"] == "float" for r in rows.values())
    text = run_cli("features", "p", workspace=ws, check=True).stdout
    assert "base@1" in text and "unstable" in text
    history = run_json("featureset", "history", "p", workspace=ws)
    assert [h["version"] for h in history] == [1]
    bad = run_cli("features", "p", "--set", "nope", workspace=ws)
    assert bad.returncode == 2 and bad.stderr.startswith("error: project 'p' has no feature set")
