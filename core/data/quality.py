"""The data quality report and the inferred data dictionary of a table.

Computed in a few columnar DuckDB passes over the stored Parquet, whatever its size: one
aggregate pass for counts, moments and quantiles of every column, one for the histograms of
numeric columns, one grouped count per categorical column, and one distinct pass for
duplicate rows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from mlcycle.data import columns
from mlcycle.store.sql import fetch_one, ident

if TYPE_CHECKING:
    import duckdb

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HISTOGRAM_BINS = 20
TOP_CATEGORIES = 10


def compute(
    con: duckdb.DuckDBPyConnection, table: str, duplicate_rows: int | None = None
) -> dict[str, Any]:
    """The quality report of ``table`` (a view or table name in ``con``).

    ``duplicate_rows``, when the caller already counted them (preparation has the rows in
    memory), saves the distinct pass, the most expensive one.
    """
    described = con.execute(f"DESCRIBE {table}").fetchall()
    names = [row[0] for row in described]
    dtypes = [row[1] for row in described]
    storage = [columns.storage_type(t) for t in dtypes]

    aggregates = ["count(*)"]
    for name, kind in zip(names, storage):
        col = ident(name)
        aggregates += [f"count({col})", f"approx_count_distinct({col})"]
        if kind in ("numeric", "integer"):
            aggregates += [
                f"min({col})::DOUBLE",
                f"max({col})::DOUBLE",
                f"avg({col})::DOUBLE",
                f"stddev_samp({col})::DOUBLE",
                f"approx_quantile({col}::DOUBLE, {list(QUANTILES)})",
            ]
        elif kind == "datetime":
            aggregates += [f"min({col})::VARCHAR", f"max({col})::VARCHAR"]
    row = fetch_one(con, f"SELECT {', '.join(aggregates)} FROM {table}")  # noqa: S608
    assert row is not None
    n_rows = int(row[0])
    values = iter(row[1:])

    stats: list[dict[str, Any]] = []
    for name, dtype, kind in zip(names, dtypes, storage):
        non_null, distinct = int(next(values)), int(next(values))
        distinct = min(distinct, non_null)  # the sketch can overshoot slightly
        inferred, is_id = columns.infer_kind(name, dtype, non_null, distinct)
        entry: dict[str, Any] = {
            "name": name,
            "dtype": str(dtype),
            "kind": inferred,
            "guessed_role": "identifier" if is_id else "feature",
            "missing": n_rows - non_null,
            "missing_share": (n_rows - non_null) / n_rows if n_rows else 0.0,
            "distinct": distinct,
            "constant": non_null > 0 and distinct <= 1,
        }
        if kind in ("numeric", "integer"):
            lo, hi, mean, std, qs = (next(values) for _ in range(5))
            entry.update(
                min=_num(lo),
                max=_num(hi),
                mean=_num(mean),
                std=_num(std),
                quantiles={
                    f"p{round(q * 100):02d}": _num(v)
                    for q, v in zip(QUANTILES, qs or [None] * len(QUANTILES))
                },
            )
        elif kind == "datetime":
            entry.update(min=next(values), max=next(values))
        stats.append(entry)

    _add_histograms(con, table, stats)
    _add_top_categories(con, table, stats)
    if duplicate_rows is None:
        distinct_rows = fetch_one(con, f"SELECT count(*) FROM (SELECT DISTINCT * FROM {table})")  # noqa: S608
        duplicates = n_rows - int(distinct_rows[0]) if distinct_rows else 0
    else:
        duplicates = duplicate_rows
    return {
        "rows": n_rows,
        "columns": len(names),
        "duplicate_rows": duplicates,
        "constant_columns": [s["name"] for s in stats if s["constant"]],
        "column_stats": stats,
    }


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _add_histograms(
    con: duckdb.DuckDBPyConnection, table: str, stats: list[dict[str, Any]]
) -> None:
    numeric = [s for s in stats if s["kind"] == "numeric" and s.get("min") is not None]
    if not numeric:
        return
    parts, params = [], []
    for s in numeric:
        lo, hi = s["min"], s["max"]
        width = (hi - lo) / HISTOGRAM_BINS or 1.0
        s["histogram"] = {"edges": [lo + i * width for i in range(HISTOGRAM_BINS + 1)]}
        parts.append(
            f"histogram(least(floor(({ident(s['name'])}::DOUBLE - ?) / ?), "
            f"{HISTOGRAM_BINS - 1})::INTEGER)"
        )
        params += [lo, width]
    row = fetch_one(con, f"SELECT {', '.join(parts)} FROM {table}", params)  # noqa: S608
    assert row is not None
    for s, counts in zip(numeric, row):
        counts = counts or {}
        s["histogram"]["counts"] = [int(counts.get(i, 0)) for i in range(HISTOGRAM_BINS)]


def _add_top_categories(
    con: duckdb.DuckDBPyConnection, table: str, stats: list[dict[str, Any]]
) -> None:
    wanted = [s for s in stats if s["kind"] in ("categorical", "boolean")]
    if not wanted:
        return
    # One statement, one scan per column of the columnar file.
    # The inner query renames the column to v and its count to n, so user columns named
    # v or n cannot collide with them; ORDER BY 2 is the count, whatever the names.
    selects = [
        f"(SELECT list(struct_pack(v := v::VARCHAR, n := n) ORDER BY n DESC, v::VARCHAR) FROM "  # noqa: S608
        f"(SELECT {ident(s['name'])} AS v, count(*) AS n FROM {table} "
        f"WHERE {ident(s['name'])} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT ?))"
        for s in wanted
    ]
    row = fetch_one(con, "SELECT " + ", ".join(selects), [TOP_CATEGORIES] * len(wanted))
    assert row is not None
    for s, top in zip(wanted, row):
        s["top"] = [{"value": item["v"], "count": int(item["n"])} for item in (top or [])]


def class_balance(
    con: duckdb.DuckDBPyConnection, table: str, target: str, limit: int = 50
) -> list[dict[str, Any]]:
    """Counts and shares of each target class, most frequent first."""
    col = ident(target)
    rows = con.execute(
        f"SELECT {col}::VARCHAR, count(*) FROM {table} WHERE {col} IS NOT NULL "  # noqa: S608
        f"GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT ?",
        [limit],
    ).fetchall()
    total = sum(n for _, n in rows) or 1
    return [{"value": v, "count": int(n), "share": n / total} for v, n in rows]
