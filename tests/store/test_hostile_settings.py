"""Settings that would switch a check off or fail far from where they were written: every one
is refused in one line, exit 2, when it is set and when a stored copy is read back, and the
stored versions stay as they were."""

from __future__ import annotations

import json
import time
from pathlib import Path

import polars as pl
import pytest

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.deploy import config as configs
from mlcycle.deploy import serve
from mlcycle.monitor import policy as policies
from mlcycle.prep import expressions, features, recipes
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace
from tests.conftest import free_port, run_cli, run_json, write_csv

TABLES = ("policies", "deploy_configs", "recipes", "feature_sets", "events")


@pytest.fixture
def ws(clf_champion) -> Workspace:
    return clf_champion


def _counts(ws: Workspace) -> dict[str, int]:
    with ws.read() as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in TABLES}


def _refused(ws: Workspace, *args: str, timeout: float = 120) -> str:
    """Run a command that must be refused: exit 2, one line, no traceback, nothing stored."""
    before = _counts(ws)
    proc = run_cli(*args, workspace=ws.root, timeout=timeout)
    assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert _counts(ws) == before
    return proc.stderr


def _file(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


NESTED_TABLES = "[retrain]\nwindow = " + "{ a = " * 2000 + "1" + " }" * 2000 + "\n"
POLICIES = {
    "drift_share nan": ("[alerts]\ndrift_share = nan\n",
                        "line 2: [alerts] drift_share must be a number from 0 to 1 (got nan)"),
    "max_loss nan": ("[alerts]\nmax_loss = nan\n",
                     "[alerts] max_loss must be a number from 0 to 10 (got nan)"),
    "min_psi nan": ("[alerts]\nmin_psi = nan\n",
                    "[alerts] min_psi must be a number from 0 to 10 (got nan)"),
    "trials 1e12": ("[retrain]\ntrials = 1000000000000\n",
                    "[retrain] trials must be a whole number from 1 to 1,000 (got 1e+12)"),
    "2,000 nested inline tables": (NESTED_TABLES, "nesting deeper than 100 levels"),
}


def test_policy_set_refuses_values_that_switch_checks_off(ws, tmp_path: Path) -> None:
    for name, (text, expected) in POLICIES.items():
        said = _refused(ws, "policy", "set", "clf", _file(tmp_path, "policy.toml", text))
        assert expected in said, (name, said)
    # The edges of each range are accepted.
    edges = _file(tmp_path, "edges.toml", "[alerts]\ndrift_share = 1\nmin_psi = 0\n"
                                          "[retrain]\ntrials = 1000\n")
    stored = run_json("policy", "set", "clf", edges, workspace=ws.root)
    assert stored["policy"]["retrain"]["trials"] == 1000


@pytest.mark.parametrize(("text", "expected"), [
    ("[alerts]\nmin_h = inf\n", "[alerts] min_h must be a number from 0 to 3.14159 (got inf)"),
    ("[gate]\nrounds = " + "9" * 400 + "\n", "(got a 400-digit number)"),
    ("[gate]\nrounds = " + "9" * 5000 + "\n", "cannot read it: Exceeds the limit"),
    ("[retrain]\nwindow = { batches = 0 }\n",
     "with N a whole number from 1 to 100,000 (got { batches = 0 })"),
    ("[alerts]\n" + ".".join(["a"] * 20000) + " = 1\n", "nesting deeper than 100 levels"),
    ("x = " + "[" * 5000 + "]" * 5000, "nesting deeper than 100 levels"),
])
def test_infinite_huge_and_deep_policy_values_are_one_line(text: str, expected: str) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as refused:
        policies.parse(text, "p.toml")
    assert expected in str(refused.value) and "\n" not in str(refused.value)
    assert time.perf_counter() - started < 1


def _edit_stored(ws: Workspace, table: str, text: str) -> None:
    """What a received workspace may hold: a stored row edited behind mlcycle's back."""
    with ws.write() as con:
        con.execute(f"UPDATE {table} SET text = ? WHERE project = 'clf'", [text])


def test_a_stored_policy_edited_to_nan_is_refused_by_every_command_that_reads_it(ws) -> None:
    policies.store(ws, "clf", policies.parse("[alerts]\ndrift_share = 0.2\n"), source="test")
    _edit_stored(ws, "policies", "[alerts]\ndrift_share = nan\n")
    for args in (("policy", "show", "clf"), ("status", "clf"),
                 ("decide", "clf", "--request", "--reason", "why")):
        said = _refused(ws, *args)
        assert "policy v1 line 2: [alerts] drift_share must be a number from 0 to 1 (got nan)" \
            in said, (args, said)


DEPLOY = {
    "unregistered blue": ('strategy = "blue_green"\n[blue_green]\nblue = "999"\n',
                          '[blue_green] blue = "999": project \'clf\' has no model version 999'),
    "path as green": ('[blue_green]\ngreen = "../../etc"\n',
                      'line 2: [blue_green] green must be a version number or an alias'),
    "header with CR LF": ('[canary]\nheader = "X-Route\\r\\nX-Evil: 1"\n',
                          "[canary] header must be an HTTP header name"),
    "key naming no column": ('strategy = "canary"\n[canary]\nkey = "customer"\n',
                             '[canary] key = "customer" is no column of project \'clf\'\'s '
                             'data (columns: "id"'),
    "latency infinite": ("[canary]\nmax_latency_p95 = inf\n",
                         "[canary] max_latency_p95 must be a number from 0.001 to 3,600"),
}


def test_deploy_set_refuses_slots_keys_and_headers_that_name_nothing(ws, tmp_path) -> None:
    for name, (text, expected) in DEPLOY.items():
        said = _refused(ws, "deploy", "set", "clf", _file(tmp_path, "deploy.toml", text))
        assert expected in said, (name, said)
    # A key naming a column with spaces, quotes, a slash and an accent is a column all the same.
    odd = 'région "n°1"/%'
    projects.create(ws, "odd", target="y", task="classification")
    datasets.add(ws, "odd", write_csv(tmp_path / "odd.csv",
                                      f'"{odd.replace(chr(34), 2 * chr(34))}",y\na,1\nb,0\n'))
    canary = _file(tmp_path, "canary.toml", 'strategy = "canary"\n[canary]\nkey = '
                   + json.dumps(odd) + '\nheader = "X-Customer_1"\n')
    stored = run_json("deploy", "set", "odd", canary, workspace=ws.root)
    assert stored["config"]["canary"]["key"] == odd


def test_a_stored_deploy_config_edited_to_a_path_is_refused_by_deploy_and_serve(ws) -> None:
    configs.store(ws, "clf", configs.parse('strategy = "blue_green"\n[blue_green]\nblue = 1\n'
                                           'green = 1\n'), source="test")
    _edit_stored(ws, "deploy_configs", 'strategy = "blue_green"\n[blue_green]\nblue = 1\n'
                                       'green = "../../etc"\n')
    expected = "deployment config v1 line 4: [blue_green] green must be a version number"
    for args in (("deploy", "show", "clf"), ("deploy", "switch", "clf"),
                 ("serve", "clf", "--port", str(free_port()))):
        said = _refused(ws, *args, timeout=60)
        assert expected in said, (args, said)


def test_a_running_server_says_once_when_it_cannot_follow_a_stored_change(ws) -> None:
    said: list[str] = []
    service = serve.Service(ws, "clf", "champion", say=said.append)
    configs.store(ws, "clf", configs.parse("[canary]\nmax_psi = 0.5\n"), source="test")
    _edit_stored(ws, "deploy_configs", "[canary]\nmax_psi = nan\n")
    for _ in range(3):  # the server looks once a second; each look meets the same problem
        service._checked -= serve.RELOAD_SECONDS
        service.maybe_reload()
    assert "max_psi must be a number from 0 to 10 (got nan)" in (service.reload_error or "")
    assert len(said) == 1 and "still serving the route loaded before" in said[0], said
    assert service.route.config_version is None  # still the defaults it started with


RECIPES = {
    "60 nested parentheses": ("(" * 60 + "x1" + ")" * 60 + " > 0",
                              "nesting deeper than 50 levels at character 51"),
    "5,000 nested parentheses": ("(" * 5000 + "x1" + ")" * 5000 + " > 0",
                                 "longer than 5,000 names, values and operators"),
    "a 20,000-term and chain": (" and ".join(["x1 > 0"] * 20000),
                                "longer than 5,000 names, values and operators"),
}


def _filter(where: str) -> str:
    return f'[[step]]\nop = "filter"\nwhere = "{where}"\n'


def test_recipes_refuse_deep_or_huge_filters_and_infinite_constants(ws, tmp_path) -> None:
    for name, (where, expected) in RECIPES.items():
        for command in ("set", "check"):
            said = _refused(ws, "recipe", command, "clf",
                            _file(tmp_path, "recipe.toml", _filter(where)))
            assert expected in said and len(said) < 600, (name, said)
    deep = _file(tmp_path, "deep.toml", "x = " + "[" * 3000 + "]" * 3000 + "\n")
    assert "deep.toml: nesting deeper than 100 levels" in _refused(ws, "recipe", "set", "clf",
                                                                   deep)
    huge = _file(tmp_path, "huge.toml", '[[step]]\nop = "impute"\ncolumns = ["x1"]\n'
                                        'strategy = "constant"\nvalue = 1e400\n')
    for args in (("recipe", "check", "clf", huge), ("prep", "clf", "--recipe", huge)):
        assert "value must be a finite number" in _refused(ws, *args)


def test_a_stored_recipe_edited_to_a_deep_filter_is_refused_by_show_and_prep(ws) -> None:
    recipes.store(ws, "clf", recipes.parse(_filter("x1 > 0")), source="test")
    _edit_stored(ws, "recipes", _filter("(" * 60 + "x1" + ")" * 60 + " > 0"))
    for args in (("recipe", "show", "clf"), ("prep", "clf")):
        said = _refused(ws, *args)
        assert "recipe v1 line 1, step 1 (filter): nesting deeper than 50 levels" in said, said


def test_feature_sets_refuse_deep_expressions_when_set_and_when_read_back(ws, tmp_path) -> None:
    deep = "(" * 60 + "x1" + ")" * 60
    text = 'name = "base"\n[[derive]]\nname = "x"\nexpr = "{}"\n'
    said = _refused(ws, "featureset", "set", "clf", _file(tmp_path, "f.toml", text.format(deep)))
    assert "f.toml line 2, derive 1 (x): nesting deeper than 50 levels" in said
    features.store(ws, "clf", text.format("x1 * 2"))
    with ws.write() as con:
        con.execute("UPDATE feature_sets SET text = ? WHERE project = 'clf'", [text.format(deep)])
    said = _refused(ws, "featureset", "show", "clf")
    assert "feature set base@1 line 2, derive 1 (x): nesting deeper than 50 levels" in said


def test_long_and_chains_mean_the_same_and_check_in_well_under_a_second() -> None:
    frame = pl.DataFrame({"a b": [1, None, 3, 4, 5], "é/%": [True, None, False, True, None]})
    schema = expressions.schema_types(frame.schema)
    chain = " and ".join(["`a b` > 0", "(`é/%` or `a b` = 3)"] * 300)
    started = time.perf_counter()
    compiled = expressions.compile_expr(chain, schema)
    assert time.perf_counter() - started < 1
    # Kleene logic as one 'and' of the two terms: a null stays null (the row is not kept).
    expected = frame.select(((pl.col("a b") > 0) & (pl.col("é/%") | (pl.col("a b") == 3)))
                            .alias("x"))["x"].to_list()
    assert frame.select(compiled.expr.alias("x"))["x"].to_list() == expected
    assert expressions.parse(chain).depth < 15
    too_long = " or ".join(["`a b` > 0"] * 20000)
    started = time.perf_counter()
    with pytest.raises(expressions.ExpressionError, match="longer than 5,000"):
        expressions.compile_expr(too_long, schema)
    assert time.perf_counter() - started < 1
