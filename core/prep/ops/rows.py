"""Steps that change which rows there are: ``filter`` and ``deduplicate``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlcycle.prep.expressions import ExpressionError, compile_expr, explain
from mlcycle.prep.expressions import check as check_expression
from mlcycle.prep.expressions import parse as parse_expression
from mlcycle.prep.ops.base import Op, Problem, Run, choice, names, need

if TYPE_CHECKING:
    import polars as pl


class Filter(Op):
    name = "filter"
    keys = frozenset({"where"})

    def parse(self, raw: dict[str, Any], problem: Problem) -> dict[str, Any]:
        where = raw.get("where")
        if not isinstance(where, str) or not where.strip():
            raise problem('needs where = "expression", e.g. where = "tenure_months > 0"')
        try:
            parse_expression(where)
        except ExpressionError as exc:
            raise problem(explain(where, exc)) from None
        return {"where": where}

    def summary(self, p: dict[str, Any]) -> str:
        return f"filter {p['where']}"

    def check(self, p: dict[str, Any], cols: dict[str, str], target: str | None,
              problem: Problem) -> dict[str, str]:
        try:
            kind = check_expression(p["where"], cols)
        except ExpressionError as exc:
            raise problem(explain(p["where"], exc)) from None
        if kind != "boolean":
            raise problem(f"where must be true or false for each row, but {p['where']!r} is "
                          f"{kind}")
        return dict(cols)

    def apply(self, run: Run, p: dict[str, Any], lf: pl.LazyFrame,
              cols: dict[str, str]) -> pl.LazyFrame:
        return lf.filter(compile_expr(p["where"], cols).expr)


class Deduplicate(Op):
    name = "deduplicate"
    keys = frozenset({"columns", "keep"})

    def parse(self, raw: dict[str, Any], problem: Problem) -> dict[str, Any]:
        p = {"columns": names(raw["columns"], problem)} if "columns" in raw else {}
        return {**p, "keep": choice(raw, "keep", ("first", "last"), problem)}

    def summary(self, p: dict[str, Any]) -> str:
        cols = ", ".join(p["columns"]) if p.get("columns") else "all columns"
        return f"deduplicate on {cols}, keep {p['keep']}"

    def check(self, p: dict[str, Any], cols: dict[str, str], target: str | None,
              problem: Problem) -> dict[str, str]:
        need(p.get("columns", []), cols, problem)
        return dict(cols)

    def apply(self, run: Run, p: dict[str, Any], lf: pl.LazyFrame,
              cols: dict[str, str]) -> pl.LazyFrame:
        return lf.unique(subset=p.get("columns"), keep=p["keep"], maintain_order=True)
