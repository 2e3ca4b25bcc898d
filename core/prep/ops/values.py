"""Steps that change values within a column: ``impute`` and ``clip``.

A statistic they need (the median to impute, the quantiles to clip) is computed once on the
data as it is at that step and applied as a literal, and recorded as fitted, so the report
shows exactly the values applied.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from mlcycle.data.columns import by_name
from mlcycle.prep.ops.base import Op, Problem, Run, choice, is_number, names, need
from mlcycle.store.settings import shown

if TYPE_CHECKING:
    import polars as pl

STRATEGIES = ("mean", "median", "mode", "constant")


class Impute(Op):
    name = "impute"
    keys = frozenset({"columns", "strategy", "value"})

    def parse(self, raw: dict[str, Any], problem: Problem) -> dict[str, Any]:
        p: dict[str, Any] = {"columns": names(raw.get("columns"), problem),
                             "strategy": choice(raw, "strategy", STRATEGIES, problem,
                                                required=True)}
        if p["strategy"] == "constant":
            if "value" not in raw:
                raise problem('strategy = "constant" needs value = …')
            value = raw["value"]
            if not (isinstance(value, (str, bool)) or is_number(value)):
                raise problem("value must be a finite number (within 64 bits for a whole one), "
                              f"text or true/false (got {shown(value)})")
            p["value"] = value
        elif "value" in raw:
            raise problem(f"value is only for strategy = \"constant\", not {p['strategy']!r}")
        return p

    def summary(self, p: dict[str, Any]) -> str:
        how = p["strategy"] + (f" {p['value']!r}" if p["strategy"] == "constant" else "")
        return f"impute {', '.join(p['columns'])} with {how}"

    def check(self, p: dict[str, Any], cols: dict[str, str], target: str | None,
              problem: Problem) -> dict[str, str]:
        need(p["columns"], cols, problem)
        out = dict(cols)
        for name in p["columns"]:
            kind = cols[name]
            if p["strategy"] in ("mean", "median") and kind not in ("integer", "float"):
                raise problem(f"{p['strategy']} needs a numeric column, but {name!r} is {kind}")
            if p["strategy"] == "constant":
                _check_constant(name, kind, p["value"], problem)
            if p["strategy"] in ("mean", "median") and kind == "integer":
                out[name] = "float"
        return out

    def apply(self, run: Run, p: dict[str, Any], lf: pl.LazyFrame,
              cols: dict[str, str]) -> pl.LazyFrame:
        import polars as pl

        if p["strategy"] == "constant":
            return lf.with_columns(
                _missing_as_null(name, cols).fill_null(_constant(p["value"], cols[name]))
                .alias(name) for name in p["columns"])
        frame = lf.collect()
        stats = frame.select(_statistic(p["strategy"], _missing_as_null(name, cols)).alias(name)
                             for name in p["columns"]).row(0, named=True)
        for name, value in stats.items():
            run.fit(name, p["strategy"], value)
        return frame.lazy().with_columns(
            _missing_as_null(name, cols).fill_null(pl.lit(stats[name])).alias(name)
            for name in p["columns"])


class Clip(Op):
    name = "clip"
    keys = frozenset({"columns", "quantiles", "lower", "upper"})

    def parse(self, raw: dict[str, Any], problem: Problem) -> dict[str, Any]:
        p: dict[str, Any] = {"columns": names(raw.get("columns"), problem)}
        if "quantiles" in raw:
            if "lower" in raw or "upper" in raw:
                raise problem("give quantiles or lower/upper, not both")
            q = raw["quantiles"]
            if (not isinstance(q, list) or len(q) != 2 or not all(
                    is_number(v) for v in q) or not 0 <= q[0] < q[1] <= 1):
                raise problem("quantiles must be [low, high] with 0 ≤ low < high ≤ 1")
            p["quantiles"] = [float(q[0]), float(q[1])]
            return p
        for key in ("lower", "upper"):
            if key in raw:
                if not is_number(raw[key]):
                    raise problem(f"{key} must be a finite number (got {shown(raw[key])})")
                p[key] = raw[key]
        if not p.keys() & {"lower", "upper"}:
            raise problem("needs quantiles = [0.01, 0.99] or lower = / upper = bounds")
        if "lower" in p and "upper" in p and p["lower"] > p["upper"]:
            raise problem(f"lower {p['lower']} is above upper {p['upper']}")
        return p

    def summary(self, p: dict[str, Any]) -> str:
        bounds = (f"quantiles {p['quantiles'][0]:g}–{p['quantiles'][1]:g}" if "quantiles"
                  in p else f"[{p.get('lower', '-∞')}, {p.get('upper', '∞')}]")
        return f"clip {', '.join(p['columns'])} to {bounds}"

    def check(self, p: dict[str, Any], cols: dict[str, str], target: str | None,
              problem: Problem) -> dict[str, str]:
        need(p["columns"], cols, problem)
        for name in p["columns"]:
            if cols[name] not in ("integer", "float"):
                raise problem(f"can only clip numbers, but {name!r} is {cols[name]}")
        return dict(cols)

    def apply(self, run: Run, p: dict[str, Any], lf: pl.LazyFrame,
              cols: dict[str, str]) -> pl.LazyFrame:
        import polars as pl

        if "quantiles" not in p:
            lo = pl.lit(p["lower"]) if "lower" in p else None
            hi = pl.lit(p["upper"]) if "upper" in p else None
            return lf.with_columns(by_name(name).clip(lo, hi) for name in p["columns"])
        frame = lf.collect()
        lo_q, hi_q = p["quantiles"]
        bounds = frame.select(
            expr for name in p["columns"] for expr in (
                by_name(name).quantile(lo_q, "linear").alias(f"{name}\0lo"),
                by_name(name).quantile(hi_q, "linear").alias(f"{name}\0hi"),
            )
        ).row(0, named=True)
        exprs = []
        for name in p["columns"]:
            lo, hi = bounds[f"{name}\0lo"], bounds[f"{name}\0hi"]
            run.fit(name, f"q{lo_q:g}", lo)
            run.fit(name, f"q{hi_q:g}", hi)
            if cols[name] == "integer" and lo is not None and hi is not None:
                lo, hi = round(lo), round(hi)
            exprs.append(by_name(name).clip(lo, hi))
        return frame.lazy().with_columns(exprs)


def _check_constant(name: str, kind: str, value: Any, problem: Problem) -> None:
    ok = {
        "integer": is_number(value) and float(value).is_integer(),
        "float": is_number(value),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "date": isinstance(value, str),
        "datetime": isinstance(value, str),
    }.get(kind, False)
    if not ok:
        raise problem(f"value {value!r} does not fit {kind} column {name!r}")
    if kind in ("date", "datetime"):
        try:
            (date if kind == "date" else datetime).fromisoformat(value)
        except ValueError:
            raise problem(f"value {value!r} is not a {kind} (YYYY-MM-DD)") from None


def _missing_as_null(name: str, cols: dict[str, str]) -> pl.Expr:
    # NaN is missing too: left in, it would poison the mean and the median.
    return by_name(name).fill_nan(None) if cols[name] == "float" else by_name(name)


def _statistic(strategy: str, col: pl.Expr) -> pl.Expr:
    if strategy == "mean":
        return col.mean()
    if strategy == "median":
        return col.median()
    # The smallest of the most frequent values: ties are broken the same way every time.
    return col.drop_nulls().mode().sort().first()


def _constant(value: Any, kind: str) -> pl.Expr:
    import polars as pl

    if kind == "date":
        return pl.lit(date.fromisoformat(value))
    if kind == "datetime":
        return pl.lit(datetime.fromisoformat(value))
    if kind == "integer":
        return pl.lit(int(value))
    if kind == "float":
        return pl.lit(float(value))
    return pl.lit(value)
