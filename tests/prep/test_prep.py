"""Preparation recipes: every step and expectation, determinism, lineage, every bad recipe."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from mlcycle import demo, prep, projects
from mlcycle.data import datasets
from mlcycle.prep import apply as prep_apply
from mlcycle.prep import recipes
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput, MlcycleError
from mlcycle.store.workspace import Workspace, open_workspace
from tests.conftest import run_cli, run_json, write_csv

SMALL = """\
id,age,income,city,joined,amount,label
1,25,1000.5,Paris,2024-01-05,10,true
2,31,,Lyon,2024-02-11,20,false
3,47,3000,,2023-12-30,30,false
3,47,3000,,2023-12-30,30,false
4,52,4000,Paris,2022-07-01,40,true
5,19,,Nice,2021-03-15,1000,false
6,38,2500,Lyon,2020-10-10,-5,true
7,,2000,Paris,not a date,50,false
"""


@pytest.fixture(scope="module")
def small_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small")
    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "small", target="label", task="classification")
    datasets.add(ws, "small", write_csv(root / "small.csv", SMALL))
    return ws.root


@pytest.fixture
def small(small_template: Path, tmp_path: Path) -> Workspace:
    """A fresh copy of a workspace with the small project and its one version."""
    shutil.copytree(small_template, tmp_path / "small-ws")
    return open_workspace(tmp_path / "small-ws")[0]


def apply(ws: Workspace, text: str, **kwargs) -> prep.PrepResult:
    return prep.run(ws, "small", recipe=recipes.parse(text, "r.toml"), **kwargs)


def frame(ws: Workspace, result: prep.PrepResult) -> pl.DataFrame:
    assert result.version is not None
    return pl.read_parquet(datasets.data_path(ws, result.version))


# -- each step ----------------------------------------------------------------------------

def test_drop_rename_and_cast(small: Workspace) -> None:
    result = apply(small, """
[[step]]
op = "drop"
columns = ["joined"]
[[step]]
op = "rename"
columns = { amount = "spend" }
[[step]]
op = "cast"
columns = { age = "float", id = "string", city = "category", spend = "float" }
""")
    out = frame(small, result)
    assert out.columns == ["id", "age", "income", "city", "spend", "label"]
    assert out.schema["age"] == pl.Float64 and out.schema["id"] == pl.String
    assert out.schema["spend"] == pl.Float64
    assert out["city"].dtype == pl.Categorical
    assert result.rows_in == result.rows_out == 8


def test_filter_with_expressions_over_known_columns(small: Workspace) -> None:
    out = frame(small, apply(small, """
[[step]]
op = "filter"
where = "age >= 30 and city in ('Paris', 'Lyon') or amount / 0 is not null"
"""))
    # amount / 0 is null (safe division), so only the first clause keeps rows.
    assert sorted(out["id"].to_list()) == [2, 4, 6]


def test_deduplicate_all_columns_and_a_subset_keeping_first_or_last(small: Workspace) -> None:
    kept = apply(small, '[[step]]\nop = "drop"\ncolumns = ["joined"]\n')
    assert datasets.quality_report(small, "small", kept.output_id)["duplicate_rows"] == 1
    deduplicated = apply(small, '[[step]]\nop = "deduplicate"\n')
    assert frame(small, deduplicated).height == 7
    assert datasets.quality_report(small, "small", deduplicated.output_id)["duplicate_rows"] == 0
    out = frame(small, apply(small, """
[[step]]
op = "deduplicate"
columns = ["city"]
keep = "last"
"""))
    # One row per city (null included), the last of each, kept rows in their original order.
    assert out.select("city", "id").rows() == [
        (None, 3), ("Nice", 5), ("Lyon", 6), ("Paris", 7),
    ]


@pytest.mark.parametrize(
    ("strategy", "column", "extra", "filled"),
    [
        ("mean", "income", "", (1000.5 + 3000 * 2 + 4000 + 2500 + 2000) / 6),
        ("median", "income", "", 2750.0),
        ("mode", "city", "", "Paris"),
        ("constant", "city", 'value = "unknown"', "unknown"),
        ("constant", "age", "value = 40", 40),
    ],
)
def test_impute(small: Workspace, strategy: str, column: str, extra: str, filled) -> None:
    result = apply(small, f"""
[[step]]
op = "impute"
columns = ["{column}"]
strategy = "{strategy}"
{extra}
""")
    out = frame(small, result)
    assert out[column].null_count() == 0
    before = pl.read_parquet(datasets.data_path(small, result.input))[column]
    new = out.filter(before.is_null())[column].to_list()
    assert new and all(v == pytest.approx(filled) if isinstance(filled, float) else v == filled
                       for v in new)
    if strategy != "constant":
        assert result.fitted[0]["statistic"] == strategy


def test_clip_by_quantiles_and_by_bounds(small: Workspace) -> None:
    result = apply(small, """
[[step]]
op = "clip"
columns = ["amount"]
quantiles = [0.0, 0.75]
[[step]]
op = "clip"
columns = ["income"]
lower = 1500
upper = 3500
""")
    out = frame(small, result)
    q75 = pl.Series([10, 20, 30, 30, 40, 1000, -5, 50]).quantile(0.75, "linear")
    assert out["amount"].max() == round(q75) and out["amount"].min() == -5
    assert out["income"].min() == 1500 and out["income"].max() == 3500
    assert out["income"].null_count() == 2  # clipping leaves missing values missing
    assert [f["statistic"] for f in result.fitted] == ["q0", "q0.75"]


def test_parse_dates_strict_then_null(small: Workspace) -> None:
    text = '[[step]]\nop = "parse_dates"\ncolumns = ["joined"]\n'
    with pytest.raises(InvalidInput, match=r"r.toml line 1, step 1 \(parse_dates\): 1 value of "
                                           r"'joined' cannot become a date, e.g. 'not a date'"):
        apply(small, text)
    out = frame(small, apply(small, text + 'on_error = "null"\n'))
    assert out.schema["joined"] == pl.Date and out["joined"].null_count() == 1
    out = frame(small, apply(small, """
[[step]]
op = "filter"
where = "joined != 'not a date'"
[[step]]
op = "parse_dates"
columns = ["joined"]
format = "%Y-%m-%d"
to = "datetime"
"""))
    assert isinstance(out.schema["joined"], pl.Datetime) and out.height == 7


def test_cast_that_loses_values_fails_unless_asked_to_blank_them(small: Workspace) -> None:
    text = '[[step]]\nop = "cast"\ncolumns = { city = "integer" }\n'
    with pytest.raises(InvalidInput, match=r"step 1 \(cast\): 6 values of 'city' cannot become "
                                           r"integer, e.g. 'Paris'"):
        apply(small, text)
    out = frame(small, apply(small, text + 'on_error = "null"\n'))
    assert out["city"].null_count() == 8
    # Floats with a fraction do not silently truncate to integers.
    with pytest.raises(InvalidInput, match="income"):
        apply(small, '[[step]]\nop = "cast"\ncolumns = { income = "integer" }\n')


# -- expectations -------------------------------------------------------------------------

EXPECTING = """
[[step]]
op = "impute"
columns = ["income"]
strategy = "median"
[[step]]
op = "filter"
where = "age is not null"

[expect]
min_rows = 8
columns = ["age", "nowhere"]
types = { age = "integer", city = "number" }
ranges = { amount = [0, 100] }
categories = { city = ["Paris", "Lyon"] }

[expect.input]
max_missing = { income = 0.1 }

[expect.output]
max_missing = { income = 0.0 }
"""


def test_every_expectation_kind_is_checked_on_input_and_output(small: Workspace) -> None:
    result = apply(small, EXPECTING)
    found = {(o.side, o.expectation.where): o for o in result.outcomes}
    bad = {key for key, o in found.items() if not o.ok}
    assert bad == {
        ("input", "expect.columns.nowhere"), ("output", "expect.columns.nowhere"),
        ("input", "expect.types.city"), ("output", "expect.types.city"),
        ("input", "expect.ranges.amount"), ("output", "expect.ranges.amount"),
        ("input", "expect.categories.city"), ("output", "expect.categories.city"),
        ("input", "expect.input.max_missing.income"),
        ("output", "expect.min_rows"),  # the filter left 7 rows
    }
    assert found[("input", "expect.min_rows")].ok
    assert found[("output", "expect.output.max_missing.income")].ok
    assert "2 values outside (1 below, 1 above" in found[("input", "expect.ranges.amount")].message
    assert "'Nice'" in found[("input", "expect.categories.city")].message
    assert "25.00% missing" in found[("input", "expect.input.max_missing.income")].message
    # Not strict: reported, and the output is still written.
    assert result.version is not None and result.stored


def test_strict_stops_on_a_violation_and_writes_nothing(small: Workspace) -> None:
    with small.read() as con:
        before = con.execute("SELECT count(*) FROM datasets").fetchall()
    with pytest.raises(prep.ExpectationsFailed, match="on the input") as caught:
        apply(small, EXPECTING, strict=True)
    assert len(caught.value.result.violations) == 5  # every input violation, not the first
    # Output-only violations stop it too, after the work but before any write.
    output_only = '[[step]]\nop = "filter"\nwhere = "age > 40"\n[expect.output]\nmin_rows = 5\n'
    with pytest.raises(prep.ExpectationsFailed, match="on the output"):
        apply(small, output_only, strict=True)
    with small.read() as con:
        assert con.execute("SELECT count(*) FROM datasets").fetchall() == before
        assert con.execute("SELECT count(*) FROM recipes").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM dataset_lineage").fetchall() == [(0,)]


# -- determinism, versions and lineage ----------------------------------------------------

RECIPE_V1 = """\
# clean the churn reference
[[step]]
op = "drop"
columns = ["customer_id"]

[[step]]
op = "impute"
columns = ["total_charges"]
strategy = "median"

[expect]
min_rows = 1000
"""


def test_same_input_and_recipe_give_the_same_id_across_processes(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(RECIPE_V1)
    ids = []
    for name in ("a", "b"):
        ws = tmp_path / name
        demo.build(open_workspace(ws, create=True)[0])  # setup in-process; prep as a user runs it
        first = run_json("prep", "churn", "--recipe", str(recipe), workspace=ws)
        assert first["written"] and first["stored"] and first["recipe"]["version"] == 1
        ids.append(first["output"])
    again = run_json("prep", "churn", workspace=tmp_path / "b")
    assert again["output"] == ids[0] == ids[1] and not again["stored"]
    # Only the recipe's meaning counts: a new comment is a new version with the same id.
    b = open_workspace(tmp_path / "b")[0]
    commented = prep.run(b, "churn", recipe=recipes.parse("# reworded\n" + RECIPE_V1))
    assert commented.output_id == ids[0] and commented.recipe_version == 2
    assert not commented.stored
    # A changed step is a new recipe and a new output; old versions stay readable.
    recipe.write_text(RECIPE_V1.replace('"median"', '"mean"'))
    changed = run_json("prep", "churn", "--recipe", str(recipe), workspace=tmp_path / "b")
    assert changed["output"] != ids[0] and changed["recipe"]["version"] == 3
    history = run_json("recipe", "history", "churn", workspace=tmp_path / "b")
    assert [h["version"] for h in history] == [3, 2, 1]
    assert history[0]["prepared"][0]["output"] == changed["output"]
    assert history[2]["prepared"][0]["output"] == ids[1]
    old = recipes.get(b, "churn", "1")
    assert '"median"' in old.text and old.text.startswith("# clean the churn reference")
    # Lineage: the prepared version, then the collected one it came from.
    chain = run_json("recipe", "lineage", "churn", changed["output"], workspace=tmp_path / "b")
    assert [c["operation"] for c in chain] == ["prep", "collected"]
    assert chain[0]["input"] == chain[1]["version"] == changed["input"]
    assert chain[0]["recipe_version"] == 3
    assert chain[1]["source"].endswith("churn_reference.csv")


def test_prep_of_prepared_data_chains_lineage_and_defaults_to_raw_input(small: Workspace
                                                                        ) -> None:
    first = apply(small, '[[step]]\nop = "deduplicate"\n')
    second = apply(small, '[[step]]\nop = "drop"\ncolumns = ["joined"]\n', data=first.output_id)
    assert second.input.id == first.output_id
    chain = prep.lineage(small, "small", second.output_id)
    assert [c["version"] for c in chain] == [second.output_id, first.output_id, first.input.id]
    # Without --data, a recipe applies to the newest collected version, not to its own output.
    third = prep.run(small, "small")
    assert third.input.id == first.input.id
    assert datasets.get(small, "small", "latest").id == third.output_id
    kinds = {e["kind"] for e in events.recent(small, "small")}
    assert {"prep.applied", "prep.recipe_saved"} <= kinds


def test_a_failure_while_registering_leaves_nothing_half_written(
    small: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args, **_kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(prep_apply.events, "record", broken)
    with pytest.raises(RuntimeError):
        apply(small, '[[step]]\nop = "deduplicate"\n')
    with small.read() as con:
        assert con.execute("SELECT count(*) FROM datasets").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM project_datasets").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM dataset_lineage").fetchall() == [(0,)]
    monkeypatch.undo()
    # The file that did land is simply reused by the next run.
    assert apply(small, '[[step]]\nop = "deduplicate"\n').stored


# -- bad recipes --------------------------------------------------------------------------

BAD = [
    ('[[step]\nop = "drop"\n', r"r.toml: TOML syntax error: .*line 1"),
    ('description = "x"\n', r"the recipe has no steps"),
    ('[[step]]\nop = "explode"\n', r"line 1, step 1 \(explode\): op = 'explode' is not a step"),
    ('[[step]]\ncolumns = ["a"]\n', r"line 1, step 1: missing op"),
    ('[[step]]\nop = "drop"\ncolums = ["age"]\n', r"step 1 \(drop\): unknown key 'colums'"),
    ('[[step]]\nop = "deduplicate"\n\n[[step]]\nop = "drop"\ncolumns = ["agee"]\n',
     r"r.toml line 4, step 2 \(drop\): column 'agee' is not in the data at this step; "
     r"did you mean 'age'\?"),
    ('[[step]]\nop = "drop"\ncolumns = ["age"]\n[[step]]\nop = "clip"\ncolumns = ["age"]\n'
     'lower = 0\n', r"line 4, step 2 \(clip\): column 'age' is not in the data at this step"),
    ('[[step]]\nop = "filter"\nwhere = "age >> 3"\n',
     r"line 1, step 1 \(filter\): expected a value but found '>' at character 6"),
    ('[[step]]\nop = "filter"\nwhere = "city > 3"\n',
     r"step 1 \(filter\): cannot compare column 'city' \(string\) with 3 \(integer\)"),
    ('[[step]]\nop = "filter"\nwhere = "age + 1"\n', r"where must be true or false"),
    ('[[step]]\nop = "filter"\nwhere = "read_csv(\'/etc/passwd\')"\n',
     r"unknown function 'read_csv'"),
    ('[[step]]\nop = "filter"\nwhere = "age > 1; DROP TABLE x"\n',
     r"unexpected character ';'"),
    ('[[step]]\nop = "cast"\ncolumns = { label = "date" }\n',
     r"step 1 \(cast\): cannot cast boolean column 'label' to date"),
    ('[[step]]\nop = "cast"\ncolumns = { age = "decimal128" }\n', r"cannot cast 'age' to"),
    ('[[step]]\nop = "impute"\ncolumns = ["city"]\nstrategy = "median"\n',
     r"median needs a numeric column, but 'city' is string"),
    ('[[step]]\nop = "impute"\ncolumns = ["age"]\nstrategy = "constant"\nvalue = "x"\n',
     r"value 'x' does not fit integer column 'age'"),
    ('[[step]]\nop = "clip"\ncolumns = ["age"]\nquantiles = [0.9, 0.1]\n',
     r"quantiles must be \[low, high\]"),
    ('[[step]]\nop = "drop"\ncolumns = ["label"]\n', r"drops the target column 'label'"),
    ('[[step]]\nop = "rename"\ncolumns = { age = "city" }\n',
     r"cannot rename to 'city': a column of that name exists"),
    ('[[step]]\nop = "parse_dates"\ncolumns = ["age"]\n', r"'age' is integer, not text"),
    ('[[step]]\nop = "drop"\ncolumns = ["city"]\n[expect]\ncategories = { city = ["a"] }\n',
     r"line 5, expect.categories.city: column 'city' is not in the output \(step 1 \(drop\) "
     r"drops it\); move it under \[expect.input\]"),
    ('[[step]]\nop = "deduplicate"\n[expect]\nranges = { age = [5, 1] }\n',
     r"line 4, expect.ranges.age: the low bound 5 is above the high bound 1"),
    ('[[step]]\nop = "deduplicate"\n[expect]\nmax_missing = { age = 5 }\n',
     r"expect.max_missing.age: must be a share between 0 and 1"),
    ('[[step]]\nop = "deduplicate"\n[expect]\ntypes = { age = "int" }\n',
     r"expect.types.age: unknown type 'int'"),
    ('[[step]]\nop = "deduplicate"\n[expect]\nmin_row = 3\n',
     r"expect.min_row: unknown expectation 'min_row'"),
    ('[[step]]\nop = "filter"\nwhere = "age < 0"\n', r"the recipe leaves no rows"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_recipes_are_one_line_errors_and_write_nothing(small: Workspace, text: str,
                                                           message: str) -> None:
    with pytest.raises(MlcycleError, match=message) as caught:
        apply(small, text)
    assert "\n" not in str(caught.value)
    with small.read() as con:
        assert con.execute("SELECT count(*) FROM datasets").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM recipes").fetchall() == [(0,)]


def test_cli_bad_recipe_and_strict_report(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    setup = open_workspace(ws, create=True)[0]
    projects.create(setup, "small", target="label", task="classification")
    datasets.add(setup, "small", write_csv(tmp_path / "s.csv", SMALL))
    bad = tmp_path / "bad.toml"
    bad.write_text('[[step]]\nop = "drop"\ncolumns = ["agee"]\n')
    proc = run_cli("prep", "small", "--recipe", str(bad), workspace=ws)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "error: bad.toml line 1, step 1 (drop): column 'agee' is not in the data at this step; "
        "did you mean 'age'?"
    ]
    strict = tmp_path / "strict.toml"
    strict.write_text(EXPECTING)
    proc = run_cli("prep", "small", "--recipe", str(strict), "--strict", "--json", workspace=ws)
    assert proc.returncode == 2 and "nothing was written" in proc.stderr
    report = json.loads(proc.stdout)
    assert report["written"] is False and report["violations"] == 5
    proc = run_cli("prep", "small", "--recipe", str(strict), workspace=ws)
    assert proc.returncode == 0 and "✗" in proc.stdout and "expectations failed" in proc.stdout
    assert run_json("data", "list", "small", workspace=ws)[0]["source_format"] == "prep"
    checked = run_json("recipe", "check", "small", workspace=ws)
    assert checked["violations"] == 5 and "age" in checked["output_columns"]
