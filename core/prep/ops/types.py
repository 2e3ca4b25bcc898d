"""Steps that change a column's type: ``cast`` and ``parse_dates``.

Both refuse to lose a value silently: with ``on_error = "fail"`` (the default) a value that
does not convert stops the run, naming how many and one of them; ``"null"`` blanks them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlcycle.data.columns import by_name
from mlcycle.prep.ops.base import Op, Problem, Run, choice, names, need
from mlcycle.store.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

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


class _Conversion(Op):
    """A step that converts columns in place, proving it lost no value when asked to."""

    def targets(self, p: dict[str, Any]) -> dict[str, str]:
        """Each column converted -> what it becomes."""
        raise NotImplementedError

    def expr(self, name: str, from_type: str, to: str, p: dict[str, Any]) -> pl.Expr:
        """The conversion, null where a value does not convert."""
        raise NotImplementedError

    def may_lose(self, p: dict[str, Any], cols: dict[str, str]) -> bool:
        return p["on_error"] == "fail"

    def apply(self, run: Run, p: dict[str, Any], lf: pl.LazyFrame,
              cols: dict[str, str]) -> pl.LazyFrame:
        import polars as pl

        targets = self.targets(p)
        exprs = [self.expr(name, cols[name], to, p).alias(name) for name, to in targets.items()]
        if not self.may_lose(p, cols):
            return lf.with_columns(exprs)
        before = lf.collect()
        after = before.with_columns(exprs)
        for name, to in targets.items():
            lost = before[name].is_not_null() & after[name].is_null()
            bad = int(lost.sum())
            if bad:
                example = before[name].cast(pl.String).filter(lost)[0]
                what = to if self.name == "cast" else f"a {to}"
                raise InvalidInput(
                    f"{run.where}: {bad:,} value{'s' if bad != 1 else ''} of {name!r} cannot "
                    f"become {what}, e.g. {example!r} (set on_error = \"null\" to blank them)")
        return after.lazy()


class Cast(_Conversion):
    name = "cast"
    keys = frozenset({"columns", "on_error"})

    def parse(self, raw: dict[str, Any], problem: Problem) -> dict[str, Any]:
        mapping = raw.get("columns")
        if not isinstance(mapping, dict) or not mapping or not all(
                isinstance(v, str) for v in mapping.values()):
            raise problem('columns must be a table, e.g. columns = { col = "integer" }')
        for col, kind in mapping.items():
            if kind not in CAST_TYPES:
                raise problem(f"cannot cast {col!r} to {kind!r}; types: {', '.join(CAST_TYPES)}")
        return {"on_error": choice(raw, "on_error", ("fail", "null"), problem),
                "columns": dict(mapping)}

    def summary(self, p: dict[str, Any]) -> str:
        return "cast " + ", ".join(f"{k} → {v}" for k, v in p["columns"].items())

    def check(self, p: dict[str, Any], cols: dict[str, str], target: str | None,
              problem: Problem) -> dict[str, str]:
        need(p["columns"], cols, problem)
        out = dict(cols)
        for name, to in p["columns"].items():
            if to not in _CASTABLE[cols[name]]:
                raise problem(f"cannot cast {cols[name]} column {name!r} to {to}")
            out[name] = "string" if to == "category" else to
        return out

    def targets(self, p: dict[str, Any]) -> dict[str, str]:
        return p["columns"]

    def may_lose(self, p: dict[str, Any], cols: dict[str, str]) -> bool:
        return p["on_error"] == "fail" and any(
            (cols[name] == "string" and to not in ("string", "category"))
            or (cols[name] == "float" and to == "integer")
            for name, to in p["columns"].items())

    def expr(self, name: str, from_type: str, to: str, p: dict[str, Any]) -> pl.Expr:
        import polars as pl

        col = by_name(name)
        if to == "string":
            return col.cast(pl.String)
        if to == "category":
            return col.cast(pl.String).cast(pl.Categorical)
        if from_type == "string":
            return _from_text(col.str.strip_chars(), to)
        if to == "integer":
            if from_type == "float":
                # Only whole numbers convert; 2.5 is an error, not a silent 2.
                return pl.when(col == col.round(0)).then(col.cast(pl.Int64, strict=False))
            return col.cast(pl.Int64)
        if to == "float":
            return col.cast(pl.Float64)
        if to == "boolean":
            return col != 0 if from_type == "integer" else col
        if to == "date":
            return col.cast(pl.Date)
        return col.cast(pl.Datetime("us"))


def _from_text(text: pl.Expr, to: str) -> pl.Expr:
    import polars as pl

    if to == "integer":
        return text.cast(pl.Int64, strict=False)
    if to == "float":
        return text.cast(pl.Float64, strict=False)
    if to == "boolean":
        low = text.str.to_lowercase()
        return (pl.when(low.is_in(["true", "t", "yes", "y", "1"])).then(True)
                .when(low.is_in(["false", "f", "no", "n", "0"])).then(False))
    if to == "date":
        return text.str.to_date(strict=False)
    return text.str.to_datetime(strict=False)


class ParseDates(_Conversion):
    name = "parse_dates"
    keys = frozenset({"columns", "format", "to", "on_error"})

    def parse(self, raw: dict[str, Any], problem: Problem) -> dict[str, Any]:
        p: dict[str, Any] = {"columns": names(raw.get("columns"), problem)}
        fmt = raw.get("format")
        if fmt is not None and (not isinstance(fmt, str) or "%" not in fmt):
            raise problem('format must be a strftime pattern such as "%Y-%m-%d"')
        if fmt:
            p["format"] = fmt
        p["to"] = choice(raw, "to", ("date", "datetime"), problem)
        p["on_error"] = choice(raw, "on_error", ("fail", "null"), problem)
        return p

    def summary(self, p: dict[str, Any]) -> str:
        return f"parse {', '.join(p['columns'])} as {p['to']}" + (
            f" ({p['format']})" if p.get("format") else "")

    def check(self, p: dict[str, Any], cols: dict[str, str], target: str | None,
              problem: Problem) -> dict[str, str]:
        need(p["columns"], cols, problem)
        out = dict(cols)
        for name in p["columns"]:
            if cols[name] != "string":
                raise problem(f"{name!r} is {cols[name]}, not text to parse")
            out[name] = p["to"]
        return out

    def targets(self, p: dict[str, Any]) -> dict[str, str]:
        return dict.fromkeys(p["columns"], p["to"])

    def expr(self, name: str, from_type: str, to: str, p: dict[str, Any]) -> pl.Expr:
        text = by_name(name).str.strip_chars()
        if to == "date":
            return text.str.to_date(format=p.get("format"), strict=False)
        return text.str.to_datetime(format=p.get("format"), strict=False, time_unit="us")
