"""Expectations: what a recipe's input and output data must look like.

A recipe's ``[expect]`` table is checked on the data going in and on the data coming out;
``[expect.input]`` and ``[expect.output]`` hold expectations for one side only::

    [expect]
    min_rows = 1000
    columns = ["tenure_months", "contract"]          # present
    types = { tenure_months = "integer" }            # integer, float, number, string, ...
    ranges = { monthly_charges = [0, 500] }          # or { min = 0 } / { max = 500 }
    categories = { contract = ["month-to-month", "one-year", "two-year"] }
    max_missing = { total_charges = 0.02 }           # share of rows, 0 to 1

    [expect.output]
    max_missing = { total_charges = 0.0 }

Every expectation of a side is computed in one aggregate pass (a single polars ``select``),
and every violation is reported, not just the first, so one run tells the user all that is
wrong with the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcycle.data.columns import by_name
from mlcycle.prep.expressions import TYPES, type_of
from mlcycle.store.masking import mask_text

if TYPE_CHECKING:
    import polars as pl

KINDS = ("min_rows", "columns", "types", "ranges", "categories", "max_missing")
SIDES = ("input", "output")
TYPE_NAMES = (*TYPES, "number", "category")

# Raised with (where, message); the recipe parser adds the file and line.
Problem = Callable[[str, str], Exception]


@dataclass(frozen=True)
class Expectation:
    kind: str
    on: str  # input, output or both
    column: str | None
    value: Any
    where: str  # e.g. expect.ranges.monthly_charges: names it in messages

    def applies_to(self, side: str) -> bool:
        return self.on in (side, "both")

    def canonical(self) -> list[Any]:
        return [self.kind, self.on, self.column, _plain(self.value)]

    def describe(self) -> str:
        v = self.value
        if self.kind == "min_rows":
            return f"at least {v:,} rows"
        if self.kind == "columns":
            return f"column {self.column!r} present"
        if self.kind == "types":
            return f"{self.column} is {v}"
        if self.kind == "ranges":
            lo, hi = v
            if lo is None:
                return f"{self.column} ≤ {hi:g}"
            if hi is None:
                return f"{self.column} ≥ {lo:g}"
            return f"{self.column} within [{lo:g}, {hi:g}]"
        if self.kind == "categories":
            return f"{self.column} in {{{', '.join(map(str, v))}}}"
        return f"{self.column} missing ≤ {v:.1%}"


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def parse(table: Any, problem: Problem) -> list[Expectation]:
    """The expectations of a recipe's ``[expect]`` table."""
    if not isinstance(table, dict):
        raise problem("expect", "must be a table: [expect]")
    out: list[Expectation] = []
    for key, value in table.items():
        if key in SIDES:
            if not isinstance(value, dict):
                raise problem(f"expect.{key}", f"must be a table: [expect.{key}]")
            for sub_key, sub_value in value.items():
                out += _parse_kind(sub_key, sub_value, key, f"expect.{key}", problem)
        else:
            out += _parse_kind(key, value, "both", "expect", problem)
    return out


def _parse_kind(kind: str, value: Any, on: str, prefix: str, problem: Problem) -> list[
        Expectation]:
    where = f"{prefix}.{kind}"
    if kind not in KINDS:
        raise problem(where, f"unknown expectation {kind!r}; use one of: {', '.join(KINDS)}")
    if kind == "min_rows":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise problem(where, "must be a whole number of rows, 0 or more")
        return [Expectation(kind, on, None, value, where)]
    if kind == "columns":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise problem(where, 'must be a list of column names: ["a", "b"]')
        return [Expectation(kind, on, name, None, f"{where}.{name}") for name in value]
    if not isinstance(value, dict):
        raise problem(where, f"must be a table of column = value, e.g. {kind} = {{ col = … }}")
    out = []
    for column, spec in value.items():
        at = f"{where}.{column}"
        out.append(Expectation(kind, on, column, _parse_value(kind, spec, at, problem), at))
    return out


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(
        value)


def _parse_value(kind: str, spec: Any, at: str, problem: Problem) -> Any:
    if kind == "types":
        if spec not in TYPE_NAMES:
            raise problem(at, f"unknown type {spec!r}; use one of: {', '.join(TYPE_NAMES)}")
        return spec
    if kind == "ranges":
        if isinstance(spec, list) and len(spec) == 2 and all(_number(v) for v in spec):
            lo, hi = spec
        elif isinstance(spec, dict) and spec and set(spec) <= {"min", "max"} and all(
                _number(v) for v in spec.values()):
            lo, hi = spec.get("min"), spec.get("max")
        else:
            raise problem(at, "must be [low, high] or { min = low } / { max = high }")
        if lo is not None and hi is not None and lo > hi:
            raise problem(at, f"the low bound {lo:g} is above the high bound {hi:g}")
        return (lo, hi)
    if kind == "categories":
        if not isinstance(spec, list) or not spec or not all(
                isinstance(v, (str, int, bool)) for v in spec):
            raise problem(at, 'must be a non-empty list of allowed values: ["a", "b"]')
        return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in spec)
    # max_missing
    if not _number(spec) or not 0 <= spec <= 1:
        raise problem(at, "must be a share between 0 and 1, e.g. 0.05 for 5%")
    return float(spec)


# -- checking data ------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    expectation: Expectation
    side: str
    ok: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        e = self.expectation
        return {
            "side": self.side,
            "kind": e.kind,
            "column": e.column,
            "expected": e.describe(),
            "ok": self.ok,
            "message": self.message,
            "where": e.where,
        }


def _matches(expected: str, actual: str) -> bool:
    if expected == "number":
        return actual in ("integer", "float")
    if expected == "category":
        return actual == "string"
    return expected == actual


def check(expectations: list[Expectation], frame: pl.LazyFrame | pl.DataFrame, side: str
          ) -> list[Outcome]:
    """Check the expectations that apply to ``side`` on ``frame``, in one aggregate pass."""
    import polars as pl

    wanted = [e for e in expectations if e.applies_to(side)]
    if not wanted:
        return []
    lazy = frame.lazy()
    types = {name: type_of(dtype) for name, dtype in lazy.collect_schema().items()}
    exprs: list[pl.Expr] = [pl.len().alias("__rows")]
    plans: list[tuple[Expectation, list[str]]] = []
    for i, e in enumerate(wanted):
        names: list[str] = []
        if e.column is not None and e.column in types and e.kind in (
                "ranges", "categories", "max_missing"):
            col = by_name(e.column)
            kind = types[e.column]
            if e.kind == "ranges" and kind in ("integer", "float"):
                lo, hi = e.value
                parts = {
                    "below": (col < lo).sum() if lo is not None else pl.lit(0),
                    "above": (col > hi).sum() if hi is not None else pl.lit(0),
                    "min": col.min().cast(pl.Float64),
                    "max": col.max().cast(pl.Float64),
                }
            elif e.kind == "categories":
                text = col.cast(pl.String)
                bad = text.is_not_null() & ~text.is_in(list(e.value))
                parts = {
                    "bad": bad.sum(),
                    "examples": text.filter(bad).unique().sort().head(3).implode(),
                }
            elif e.kind == "max_missing":
                missing = col.is_null()
                if kind == "float":
                    missing = missing | col.is_nan()
                parts = {"missing": missing.sum()}
            else:
                parts = {}
            for key, expr in parts.items():
                names.append(f"__{i}_{key}")
                exprs.append(expr.alias(names[-1]))
        plans.append((e, names))
    row = lazy.select(exprs).collect().row(0, named=True)
    rows = int(row["__rows"])
    return [_judge(e, side, types, rows, {n.split("_", 3)[-1]: row[n] for n in names})
            for e, names in plans]


def _judge(e: Expectation, side: str, types: dict[str, str], rows: int, got: dict[str, Any]
           ) -> Outcome:
    def result(ok: bool, message: str) -> Outcome:
        return Outcome(e, side, ok, message)

    if e.kind == "min_rows":
        return result(rows >= e.value, f"{rows:,} rows" + ("" if rows >= e.value else
                                                             f", fewer than {e.value:,}"))
    if e.column not in types:
        return result(False, f"column {e.column!r} is missing")
    kind = types[e.column]
    if e.kind == "columns":
        return result(True, "present")
    if e.kind == "types":
        ok = _matches(e.value, kind)
        return result(ok, f"is {kind}" + ("" if ok else f", not {e.value}"))
    if e.kind == "ranges":
        if kind not in ("integer", "float"):
            return result(False, f"is {kind}, not a number")
        below, above = int(got["below"]), int(got["above"])
        span = f"min {_fmt(got['min'])}, max {_fmt(got['max'])}"
        if below or above:
            outside = below + above
            return result(False, f"{outside:,} value{'s' if outside != 1 else ''} outside "
                                 f"({below:,} below, {above:,} above; {span})")
        return result(True, span)
    if e.kind == "categories":
        bad = int(got["bad"])
        if bad:
            # Examples from the data: anything shaped like personal data is masked.
            shown = mask_text(", ".join(repr(v) for v in got["examples"]))
            return result(False, f"{bad:,} value{'s' if bad != 1 else ''} not allowed, "
                                 f"e.g. {shown}")
        return result(True, "all values allowed")
    share = int(got["missing"]) / rows if rows else 0.0
    ok = share <= e.value + 1e-12
    return result(ok, f"{share:.2%} missing" + ("" if ok else f", more than {e.value:.2%}"))


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.6g}"
