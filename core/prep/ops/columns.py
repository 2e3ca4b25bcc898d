"""Steps that change which columns there are: ``drop`` and ``rename``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlcycle.prep.ops.base import Op, Problem, Run, names, need

if TYPE_CHECKING:
    import polars as pl


class Drop(Op):
    name = "drop"
    keys = frozenset({"columns"})

    def parse(self, raw: dict[str, Any], problem: Problem) -> dict[str, Any]:
        return {"columns": names(raw.get("columns"), problem)}

    def removes(self, p: dict[str, Any]) -> dict[str, str]:
        return dict.fromkeys(p["columns"], "drops it")

    def check(self, p: dict[str, Any], cols: dict[str, str], target: str | None,
              problem: Problem) -> dict[str, str]:
        need(p["columns"], cols, problem)
        if target in p["columns"]:
            raise problem(f"drops the target column {target!r}")
        out = {c: t for c, t in cols.items() if c not in p["columns"]}
        if not out:
            raise problem("drops every column")
        return out

    def apply(self, run: Run, p: dict[str, Any], lf: pl.LazyFrame,
              cols: dict[str, str]) -> pl.LazyFrame:
        return lf.drop(p["columns"])


class Rename(Op):
    name = "rename"
    keys = frozenset({"columns"})

    def parse(self, raw: dict[str, Any], problem: Problem) -> dict[str, Any]:
        mapping = raw.get("columns")
        if not isinstance(mapping, dict) or not mapping or not all(
                isinstance(v, str) for v in mapping.values()):
            raise problem('columns must be a table, e.g. columns = { old = "new" }')
        if len(set(mapping.values())) != len(mapping):
            raise problem("two columns are renamed to the same name")
        if any(not v.strip() for v in mapping.values()):
            raise problem("a new name is empty")
        return {"columns": dict(mapping)}

    def summary(self, p: dict[str, Any]) -> str:
        return "rename " + ", ".join(f"{k} → {v}" for k, v in p["columns"].items())

    def removes(self, p: dict[str, Any]) -> dict[str, str]:
        return {old: f"renames it to {new!r}" for old, new in p["columns"].items()}

    def adds(self, p: dict[str, Any]) -> list[str]:
        return list(p["columns"].values())

    def check(self, p: dict[str, Any], cols: dict[str, str], target: str | None,
              problem: Problem) -> dict[str, str]:
        need(p["columns"], cols, problem)
        if target in p["columns"]:
            raise problem(f"renames the target column {target!r}; the project needs its name")
        kept = [c for c in cols if c not in p["columns"]]
        for new in p["columns"].values():
            if new in kept:
                raise problem(f"cannot rename to {new!r}: a column of that name exists")
        return {p["columns"].get(c, c): t for c, t in cols.items()}

    def apply(self, run: Run, p: dict[str, Any], lf: pl.LazyFrame,
              cols: dict[str, str]) -> pl.LazyFrame:
        return lf.rename(p["columns"])
