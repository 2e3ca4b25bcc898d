"""Preparation recipes (lifecycle stage 3): what they say, how they are checked, their versions.

A recipe is TOML: an ordered list of ``[[step]]`` tables and optional expectations::

    [[step]]
    op = "drop"
    columns = ["customer_id"]

    [[step]]
    op = "filter"
    where = "tenure_months >= 0 and contract != 'unknown'"

    [[step]]
    op = "impute"
    columns = ["total_charges"]
    strategy = "median"            # mean, median, mode or constant (with value = …)

    [expect]
    min_rows = 1000

Steps: ``drop``, ``rename`` (columns = { old = "new" }), ``cast`` (columns = { col = "type" },
on_error = "fail" | "null"), ``filter`` (where = expression, see mlcycle.prep.expressions),
``deduplicate`` (columns = [...] optional, keep = "first" | "last"), ``impute``, ``clip``
(quantiles = [0.01, 0.99] or lower = / upper =), ``parse_dates`` (columns, format optional,
to = "date" | "datetime", on_error).

Checking happens twice, before anything is computed. :func:`parse` checks the recipe on its
own: TOML syntax, known steps and keys, value types. :func:`check` then walks the steps over
the data's columns and types, so a step naming a column that an earlier step dropped, a
filter comparing text with a number, or a cast that can never work is reported as one line
naming the recipe's line and step, and nothing runs.

Versions: the recipe stored for a project is versioned (1, 2, …) whenever its text changes;
old versions stay readable. Its **id** is a hash of what it means (the normalised steps and
expectations), not of its text, so reformatting or a new comment does not change the data
it produces, while any change to a step does.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mlcycle import projects
from mlcycle.prep import expectations
from mlcycle.prep.expressions import ExpressionError, explain
from mlcycle.prep.expressions import check as check_expression
from mlcycle.prep.expressions import parse as parse_expression
from mlcycle.store import events, tomlfile
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso, utcnow
from mlcycle.store.settings import find_line, shown

if TYPE_CHECKING:
    import duckdb

    from mlcycle.store.workspace import Workspace

FORMAT = 1  # bump when a step's meaning changes, so old ids never name new results
ID_LENGTH = 12
CAST_TYPES = ("integer", "float", "string", "boolean", "date", "datetime", "category")
# Casts that can never succeed whatever the values (string casts are checked value by value).
_CASTABLE = {
    "integer": {"integer", "float", "string", "category", "boolean"},
    "float": {"integer", "float", "string", "category"},
    "boolean": {"integer", "float", "string", "category", "boolean"},
    "date": {"date", "datetime", "string", "category"},
    "datetime": {"date", "datetime", "string", "category"},
    "string": set(CAST_TYPES),
    "other": {"string"},
}
STRATEGIES = ("mean", "median", "mode", "constant")
_COMMON_KEYS = {"op", "note"}
OPS: dict[str, set[str]] = {
    "drop": {"columns"},
    "rename": {"columns"},
    "cast": {"columns", "on_error"},
    "filter": {"where"},
    "deduplicate": {"columns", "keep"},
    "impute": {"columns", "strategy", "value"},
    "clip": {"columns", "quantiles", "lower", "upper"},
    "parse_dates": {"columns", "format", "to", "on_error"},
}
_STEP_HEADER = re.compile(r"^\s*\[\[\s*step\s*\]\]")
_TOP_KEYS = {"step", "expect", "description"}


@dataclass(frozen=True)
class Step:
    number: int  # 1-based, as users count
    op: str
    params: dict[str, Any]
    line: int | None

    @property
    def where(self) -> str:
        return f"step {self.number} ({self.op})"

    def canonical(self) -> list[Any]:
        return [self.op, {k: self.params[k] for k in sorted(self.params)}]

    def summary(self) -> str:
        p = self.params
        if self.op == "filter":
            return f"filter {p['where']}"
        if self.op in ("rename", "cast"):
            return f"{self.op} " + ", ".join(f"{k} → {v}" for k, v in p["columns"].items())
        if self.op == "impute":
            how = p["strategy"] + (f" {p['value']!r}" if p["strategy"] == "constant" else "")
            return f"impute {', '.join(p['columns'])} with {how}"
        if self.op == "clip":
            bounds = (f"quantiles {p['quantiles'][0]:g}–{p['quantiles'][1]:g}" if "quantiles"
                      in p else f"[{p.get('lower', '-∞')}, {p.get('upper', '∞')}]")
            return f"clip {', '.join(p['columns'])} to {bounds}"
        if self.op == "deduplicate":
            cols = ", ".join(p["columns"]) if p.get("columns") else "all columns"
            return f"deduplicate on {cols}, keep {p['keep']}"
        if self.op == "parse_dates":
            return f"parse {', '.join(p['columns'])} as {p['to']}" + (
                f" ({p['format']})" if p.get("format") else "")
        return f"{self.op} {', '.join(p['columns'])}"


@dataclass(frozen=True)
class Recipe:
    steps: tuple[Step, ...]
    expect: tuple[expectations.Expectation, ...]
    text: str
    source: str
    description: str = ""
    _lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def id(self) -> str:
        canonical = {
            "format": FORMAT,
            "steps": [s.canonical() for s in self.steps],
            "expect": sorted(e.canonical() for e in self.expect),
        }
        blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.blake2b(blob.encode(), digest_size=20).hexdigest()[:ID_LENGTH]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "steps": [
                {"step": s.number, "op": s.op, "line": s.line, "summary": s.summary(), **s.params}
                for s in self.steps
            ],
            "expect": [
                {"on": e.on, "kind": e.kind, "column": e.column, "expected": e.describe()}
                for e in self.expect
            ],
        }


def _problem(source: str, line: int | None):
    def make(where: str, message: str) -> InvalidInput:
        at = f"{source} line {line}" if line else source
        return InvalidInput(f"{at}, {where}: {message}")

    return make


def parse(text: str, source: str = "recipe") -> Recipe:
    """Read a recipe from TOML text; raises InvalidInput (one line, with line and step)."""
    data = tomlfile.loads(text, source)
    for key in data:
        if key not in _TOP_KEYS:
            line = find_line(text, rf"^\s*\[?\s*{re.escape(key)}\b")
            raise _problem(source, line)(
                f"key {key!r}", f"unknown; a recipe has {', '.join(sorted(_TOP_KEYS))}"
            )
    raw_steps = data.get("step", [])
    if not isinstance(raw_steps, list) or not all(isinstance(s, dict) for s in raw_steps):
        raise _problem(source, find_line(text, r"^\s*step\s*="))(
            "step", "write each step as a [[step]] table")
    if not raw_steps:
        raise InvalidInput(f"{source}: the recipe has no steps; add a [[step]] table")
    header_lines = [i + 1 for i, ln in enumerate(text.splitlines()) if _STEP_HEADER.match(ln)]
    steps = []
    for i, raw in enumerate(raw_steps):
        line = header_lines[i] if len(header_lines) == len(raw_steps) else None
        steps.append(_parse_step(i + 1, raw, line, source))
    expect_line = find_line(text, r"^\s*\[\s*expect\b")

    def expect_problem(where: str, message: str) -> InvalidInput:
        # The most specific key found after [expect]: the column, else the kind.
        line = None
        for key in reversed(where.split(".")[1:]):
            line = find_line(text, rf"(^|[{{,\s])\"?{re.escape(key)}\"?\s*=",
                              (expect_line or 1) - 1)
            if line:
                break
        return _problem(source, line or expect_line)(where, message)

    expect = expectations.parse(data.get("expect", {}), expect_problem)
    removed = _removed_columns(steps)
    for e in expect:
        if e.on != "input" and e.column in removed:
            raise expect_problem(
                e.where,
                f"column {e.column!r} is not in the output ({removed[e.column]}); "
                "move it under [expect.input]",
            )
    description = data.get("description", "")
    if not isinstance(description, str):
        raise InvalidInput(f"{source}: description must be text")
    return Recipe(tuple(steps), tuple(expect), text, source, description)


def _removed_columns(steps: list[Step]) -> dict[str, str]:
    """Columns the recipe itself takes away, whatever the data: name -> which step."""
    removed: dict[str, str] = {}
    for step in steps:
        if step.op == "drop":
            for name in step.params["columns"]:
                removed[name] = f"{step.where} drops it"
        elif step.op == "rename":
            for old, new in step.params["columns"].items():
                removed[old] = f"{step.where} renames it to {new!r}"
                removed.pop(new, None)
    return removed


def _names(value: Any, problem: Any, key: str = "columns") -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise problem(f'{key} must be a list of column names, e.g. {key} = ["a", "b"]')
    if len(set(value)) != len(value):
        raise problem(f"{key} names a column twice")
    return value


def _parse_step(number: int, raw: dict[str, Any], line: int | None, source: str) -> Step:
    op = raw.get("op")
    where = f"step {number}" + (f" ({op})" if isinstance(op, str) else "")
    make = _problem(source, line)

    def problem(message: str) -> InvalidInput:
        return make(where, message)

    if op not in OPS:
        known = ", ".join(OPS)
        raise problem(f"op = {op!r} is not a step; use one of: {known}" if op is not None
                      else f'missing op = "…" (one of: {known})')
    allowed = OPS[op] | _COMMON_KEYS
    for key in raw:
        if key not in allowed:
            raise problem(f"unknown key {key!r}; {op} takes {', '.join(sorted(OPS[op]))}")
    p: dict[str, Any] = {}
    if op == "drop":
        p["columns"] = _names(raw.get("columns"), problem)
    elif op in ("rename", "cast"):
        mapping = raw.get("columns")
        example = '{ old = "new" }' if op == "rename" else '{ col = "integer" }'
        if not isinstance(mapping, dict) or not mapping or not all(
                isinstance(v, str) for v in mapping.values()):
            raise problem(f"columns must be a table, e.g. columns = {example}")
        if op == "rename":
            if len(set(mapping.values())) != len(mapping):
                raise problem("two columns are renamed to the same name")
            if any(not v.strip() for v in mapping.values()):
                raise problem("a new name is empty")
        else:
            for col, kind in mapping.items():
                if kind not in CAST_TYPES:
                    raise problem(f"cannot cast {col!r} to {kind!r}; types: "
                                  f"{', '.join(CAST_TYPES)}")
            p["on_error"] = _choice(raw, "on_error", ("fail", "null"), problem)
        p["columns"] = dict(mapping)
    elif op == "filter":
        where_text = raw.get("where")
        if not isinstance(where_text, str) or not where_text.strip():
            raise problem("needs where = \"expression\", e.g. where = \"tenure_months > 0\"")
        try:
            parse_expression(where_text)
        except ExpressionError as exc:
            raise problem(explain(where_text, exc)) from None
        p["where"] = where_text
    elif op == "deduplicate":
        if "columns" in raw:
            p["columns"] = _names(raw["columns"], problem)
        p["keep"] = _choice(raw, "keep", ("first", "last"), problem)
    elif op == "impute":
        p["columns"] = _names(raw.get("columns"), problem)
        p["strategy"] = _choice(raw, "strategy", STRATEGIES, problem, required=True)
        if p["strategy"] == "constant":
            if "value" not in raw:
                raise problem('strategy = "constant" needs value = …')
            value = raw["value"]
            if not (isinstance(value, (str, bool)) or _is_number(value)):
                raise problem("value must be a finite number (within 64 bits for a whole one), "
                              f"text or true/false (got {shown(value)})")
            p["value"] = raw["value"]
        elif "value" in raw:
            raise problem(f"value is only for strategy = \"constant\", not {p['strategy']!r}")
    elif op == "clip":
        p["columns"] = _names(raw.get("columns"), problem)
        if "quantiles" in raw:
            if "lower" in raw or "upper" in raw:
                raise problem("give quantiles or lower/upper, not both")
            q = raw["quantiles"]
            if (not isinstance(q, list) or len(q) != 2 or not all(
                    _is_number(v) for v in q) or not 0 <= q[0] < q[1] <= 1):
                raise problem("quantiles must be [low, high] with 0 ≤ low < high ≤ 1")
            p["quantiles"] = [float(q[0]), float(q[1])]
        else:
            for key in ("lower", "upper"):
                if key in raw:
                    if not _is_number(raw[key]):
                        raise problem(f"{key} must be a finite number (got {shown(raw[key])})")
                    p[key] = raw[key]
            if not p.keys() & {"lower", "upper"}:
                raise problem("needs quantiles = [0.01, 0.99] or lower = / upper = bounds")
            if "lower" in p and "upper" in p and p["lower"] > p["upper"]:
                raise problem(f"lower {p['lower']} is above upper {p['upper']}")
    elif op == "parse_dates":
        p["columns"] = _names(raw.get("columns"), problem)
        fmt = raw.get("format")
        if fmt is not None and (not isinstance(fmt, str) or "%" not in fmt):
            raise problem('format must be a strftime pattern such as "%Y-%m-%d"')
        if fmt:
            p["format"] = fmt
        p["to"] = _choice(raw, "to", ("date", "datetime"), problem)
        p["on_error"] = _choice(raw, "on_error", ("fail", "null"), problem)
    return Step(number, op, p, line)


def _is_number(value: Any) -> bool:
    """A number a column can hold: finite, and a whole one within 64 bits (TOML reads 1e400
    as infinity and whole numbers of any length)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return -(2**63) <= value < 2**63 if isinstance(value, int) else math.isfinite(value)


def _choice(raw: dict[str, Any], key: str, options: tuple[str, ...], problem: Any,
            required: bool = False) -> str:
    if key not in raw:
        if required:
            raise problem(f"needs {key} = one of: {', '.join(options)}")
        return options[0]
    if raw[key] not in options:
        raise problem(f"{key} = {raw[key]!r} is not one of: {', '.join(options)}")
    return raw[key]


# -- checking against the data ------------------------------------------------------------

def check(recipe: Recipe, schema: dict[str, str], target: str | None = None) -> dict[str, str]:
    """Walk the steps over ``schema`` (column -> type); returns the output's schema.

    Raises InvalidInput naming the line and step of the first step that cannot work.
    """
    return walk(recipe, schema, target)[-1]


def walk(recipe: Recipe, schema: dict[str, str], target: str | None = None
         ) -> list[dict[str, str]]:
    """The schema before each step, then the output's: what ``check`` proves step by step."""
    seen = [dict(schema)]
    for step in recipe.steps:
        seen.append(_check_step(step, seen[-1], target, _problem(recipe.source, step.line)))
    return seen


def _check_step(step: Step, cols: dict[str, str], target: str | None, make: Any
                ) -> dict[str, str]:
    p = step.params

    def problem(message: str) -> InvalidInput:
        return make(step.where, message)

    def need(names: Any) -> None:
        for name in names:
            if name not in cols:
                import difflib

                close = difflib.get_close_matches(name, list(cols), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise problem(f"column {name!r} is not in the data at this step{hint}")

    out = dict(cols)
    if step.op == "drop":
        need(p["columns"])
        if target in p["columns"]:
            raise problem(f"drops the target column {target!r}")
        for name in p["columns"]:
            del out[name]
        if not out:
            raise problem("drops every column")
    elif step.op == "rename":
        need(p["columns"])
        if target in p["columns"]:
            raise problem(f"renames the target column {target!r}; the project needs its name")
        kept = [c for c in cols if c not in p["columns"]]
        for new in p["columns"].values():
            if new in kept:
                raise problem(f"cannot rename to {new!r}: a column of that name exists")
        out = {p["columns"].get(c, c): t for c, t in cols.items()}
    elif step.op == "cast":
        need(p["columns"])
        for name, to in p["columns"].items():
            if to not in _CASTABLE[cols[name]]:
                raise problem(f"cannot cast {cols[name]} column {name!r} to {to}")
            out[name] = "string" if to == "category" else to
    elif step.op == "filter":
        try:
            kind = check_expression(p["where"], cols)
        except ExpressionError as exc:
            raise make(step.where, explain(p["where"], exc)) from None
        if kind != "boolean":
            raise problem(f"where must be true or false for each row, but {p['where']!r} is "
                          f"{kind}")
    elif step.op == "deduplicate":
        need(p.get("columns", []))
    elif step.op == "impute":
        need(p["columns"])
        for name in p["columns"]:
            kind = cols[name]
            if p["strategy"] in ("mean", "median") and kind not in ("integer", "float"):
                raise problem(f"{p['strategy']} needs a numeric column, but {name!r} is {kind}")
            if p["strategy"] == "constant":
                _check_constant(name, kind, p["value"], problem)
            if p["strategy"] in ("mean", "median") and kind == "integer":
                out[name] = "float"
    elif step.op == "clip":
        need(p["columns"])
        for name in p["columns"]:
            if cols[name] not in ("integer", "float"):
                raise problem(f"can only clip numbers, but {name!r} is {cols[name]}")
    elif step.op == "parse_dates":
        need(p["columns"])
        for name in p["columns"]:
            if cols[name] != "string":
                raise problem(f"{name!r} is {cols[name]}, not text to parse")
            out[name] = p["to"]
    return out


def _check_constant(name: str, kind: str, value: Any, problem: Any) -> None:
    ok = {
        "integer": _is_number(value) and float(value).is_integer(),
        "float": _is_number(value),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "date": isinstance(value, str),
        "datetime": isinstance(value, str),
    }.get(kind, False)
    if not ok:
        raise problem(f"value {value!r} does not fit {kind} column {name!r}")
    if kind in ("date", "datetime"):
        from datetime import date as _date

        try:
            (_date if kind == "date" else datetime).fromisoformat(value)
        except ValueError:
            raise problem(f"value {value!r} is not a {kind} (YYYY-MM-DD)") from None


# -- stored versions ----------------------------------------------------------------------

@dataclass(frozen=True)
class RecipeVersion:
    project: str
    version: int
    id: str
    text: str
    source: str | None
    created_at: datetime

    @cached_property
    def recipe(self) -> Recipe:
        return parse(self.text, f"recipe v{self.version}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "version": self.version,
            "id": self.id,
            "source": self.source,
            "created_at": iso(self.created_at),
            "text": self.text,
        }


_FIELDS = "project, version, id, text, source, created_at"


def history(ws: Workspace, project: str) -> list[RecipeVersion]:
    """Every stored version of the project's recipe, newest first."""
    projects.get(ws, project)
    with ws.read() as con:
        rows = con.execute(
            f"SELECT {_FIELDS} FROM recipes WHERE project = ? ORDER BY version DESC",  # noqa: S608
            [project],
        ).fetchall()
    return [RecipeVersion(*r) for r in rows]


def latest(ws: Workspace, project: str) -> RecipeVersion | None:
    versions = history(ws, project)
    return versions[0] if versions else None


def get(ws: Workspace, project: str, ref: str = "latest") -> RecipeVersion:
    """A stored version: ``latest``, a number (``3`` or ``v3``) or an id (prefix)."""
    versions = history(ws, project)
    if not versions:
        raise NotFound(
            f"project {project!r} has no recipe yet; write one and run "
            f"'mlcycle recipe set {project} FILE'"
        )
    if ref == "latest":
        return versions[0]
    number = ref[1:] if ref[:1] in ("v", "V") else ref
    if number.isdigit():
        for v in versions:
            if v.version == int(number):
                return v
    matches = {v.id: v for v in versions if v.id.startswith(ref.lower())} if len(ref) >= 4 \
        else {}
    if len(matches) == 1:
        return next(iter(matches.values()))
    raise NotFound(f"project {project!r} has no recipe version {ref!r} "
                   f"(versions 1 to {versions[0].version})")


def store_with(con: duckdb.DuckDBPyConnection, project: str, recipe: Recipe,
               source: str | None) -> tuple[int, bool]:
    """Store ``recipe`` as the project's newest version unless its text is already the newest.

    Runs in the caller's write transaction; returns the version number and whether it is new.
    """
    rows = con.execute(
        "SELECT version, text FROM recipes WHERE project = ? ORDER BY version DESC LIMIT 1",
        [project],
    ).fetchall()
    if rows and rows[0][1] == recipe.text:
        return int(rows[0][0]), False
    number = (int(rows[0][0]) if rows else 0) + 1
    con.execute(
        "INSERT INTO recipes VALUES (?, ?, ?, ?, ?, ?)",
        [project, number, recipe.id, recipe.text, source, utcnow()],
    )
    events.record(con, "prep.recipe_saved", project=project, subject=f"v{number}",
                  detail={"id": recipe.id, "source": source, "steps": len(recipe.steps)})
    return number, True


def store(ws: Workspace, project: str, recipe: Recipe, source: str | None = None
          ) -> tuple[RecipeVersion, bool]:
    """Store a (checked) recipe as the project's newest version."""
    projects.get(ws, project)
    with ws.write() as con:
        number, created = store_with(con, project, recipe, source)
    return get(ws, project, str(number)), created


_TEMPLATE = """\
# Preparation recipe for {project}. Steps run in order; see 'mlcycle recipe --help'.
# ops: drop, rename, cast, filter, deduplicate, impute, clip, parse_dates

[[step]]
op = "deduplicate"

# [[step]]
# op = "impute"
# columns = ["some_column"]
# strategy = "median"        # mean, median, mode, constant (value = ...)

[expect]
min_rows = 1
"""


def template(project: str) -> str:
    """The recipe a user starts from when the project has none (the CLI's and TUI's editor)."""
    return _TEMPLATE.format(project=project)
