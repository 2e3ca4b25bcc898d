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
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mlcycle import projects
from mlcycle.prep import expectations, ops
from mlcycle.store import events, tomlfile
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso, utcnow
from mlcycle.store.settings import find_line

if TYPE_CHECKING:
    import duckdb

    from mlcycle.store.workspace import Workspace

FORMAT = 1  # bump when a step's meaning changes, so old ids never name new results
ID_LENGTH = 12
_COMMON_KEYS = {"op", "note"}
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
        return ops.REGISTRY[self.op].summary(self.params)


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
        op = ops.REGISTRY[step.op]
        for name, how in op.removes(step.params).items():
            removed[name] = f"{step.where} {how}"
        for name in op.adds(step.params):
            removed.pop(name, None)
    return removed


def _parse_step(number: int, raw: dict[str, Any], line: int | None, source: str) -> Step:
    name = raw.get("op")
    where = f"step {number}" + (f" ({name})" if isinstance(name, str) else "")
    make = _problem(source, line)

    def problem(message: str) -> InvalidInput:
        return make(where, message)

    op = ops.REGISTRY.get(name) if isinstance(name, str) else None
    if op is None:
        known = ", ".join(ops.REGISTRY)
        raise problem(f"op = {name!r} is not a step; use one of: {known}" if name is not None
                      else f'missing op = "…" (one of: {known})')
    for key in raw:
        if key not in op.keys | _COMMON_KEYS:
            raise problem(f"unknown key {key!r}; {op.name} takes {', '.join(sorted(op.keys))}")
    return Step(number, op.name, op.parse(raw, problem), line)


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
    def problem(message: str) -> InvalidInput:
        return make(step.where, message)

    return ops.REGISTRY[step.op].check(step.params, cols, target, problem)


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
