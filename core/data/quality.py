"""The data quality report and the inferred data dictionary of a table.

Computed in a few columnar DuckDB passes over the stored Parquet, whatever its size: one
aggregate pass for counts and moments of every column; one for the histograms and quantiles
of numeric columns and the duplicate rows, by a hash of each row; and one grouped count per
categorical column.
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
# Columns per aggregate query: DuckDB plans one query of 70,000 aggregates (10,000 columns)
# for minutes, and 50 queries of 200 columns in seconds.
CHUNK_COLUMNS = 200
# A wide table up to this many cells is copied into memory first: every query over a Parquet
# file of thousands of columns pays for reading its schema again.
WIDE_CELLS = 10_000_000
_WIDE = "mlcycle_quality_wide"
# Quantiles are values the column holds, picked from all its values up to this many, and
# beyond from those of the rows whose hash falls in one of k (half to all this many, the same
# rows for the same content): DuckDB keeps the values it picks from in memory, and on
# 1,000,000 rows × 19 numeric columns picking from all of them cost 0.48 s of a 1.1 s report,
# from a tenth 0.06 s. 100,000 values put a quantile within about 0.3 % of its rank.
QUANTILE_VALUES = 100_000


def compute(
    con: duckdb.DuckDBPyConnection, table: str, duplicate_rows: int | None = None
) -> dict[str, Any]:
    """The quality report of ``table`` (a view or table name in ``con``).

    ``duplicate_rows``, when the caller already counted them (preparation has the rows in
    memory), saves the distinct pass, the most expensive one.
    """
    described = con.execute(f"DESCRIBE {table}").fetchall()
    names = [row[0] for row in described]
    wide = len(names) > CHUNK_COLUMNS
    if wide and table != _WIDE and _cells(con, table, len(names)) <= WIDE_CELLS:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_WIDE} AS SELECT * FROM {table}")  # noqa: S608
        try:
            return compute(con, _WIDE, duplicate_rows)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {_WIDE}")
    dtypes = [row[1] for row in described]
    storage = [columns.storage_type(t) for t in dtypes]

    per_column: list[list[str]] = []
    for name, kind, dtype in zip(names, storage, dtypes):
        col = ident(name)
        aggregates = [f"count({col})", f"approx_count_distinct({col})"]
        if kind in ("numeric", "integer"):
            aggregates += [
                f"min({col})::DOUBLE",
                f"max({col})::DOUBLE",
                f"avg({col})::DOUBLE",
                f"stddev_samp({col})::DOUBLE",
            ]
        elif kind == "string":
            aggregates.append(columns.spaced_share_expr(col, dtype))
        elif kind == "datetime":
            aggregates += [f"min({col})::VARCHAR", f"max({col})::VARCHAR",
                           f"epoch(min({col}))::DOUBLE" if _dated(dtype) else "NULL",
                           f"epoch(max({col}))::DOUBLE" if _dated(dtype) else "NULL"]
        per_column.append(aggregates)
    row = _chunked(con, table, ["count(*)"], per_column)
    n_rows = int(row[0])
    values = iter(row[1:])

    stats: list[dict[str, Any]] = []
    for name, dtype, kind in zip(names, dtypes, storage):
        non_null, distinct = int(next(values)), int(next(values))
        distinct = min(distinct, non_null)  # the sketch can overshoot slightly
        spaced = next(values) if kind == "string" else None
        guessed = columns.guess(name, dtype, non_null, distinct, spaced)
        entry: dict[str, Any] = {
            "name": name,
            "dtype": str(dtype),
            "kind": guessed.kind,
            "guessed_role": guessed.role,
            "missing": n_rows - non_null,
            "missing_share": (n_rows - non_null) / n_rows if n_rows else 0.0,
            "distinct": distinct,
            "constant": non_null > 0 and distinct <= 1,
        }
        if guessed.reason:
            entry["role_reason"] = guessed.reason
        if kind in ("numeric", "integer"):
            lo, hi, mean, std = (next(values) for _ in range(4))
            entry.update(min=_num(lo), max=_num(hi), mean=_num(mean), std=_num(std))
        elif kind == "datetime":
            entry.update(min=next(values), max=next(values))
            first, last = next(values), next(values)
            if first is not None:
                entry["epoch_range"] = [first, last]
        stats.append(entry)

    distinct_rows = _add_histograms(con, table, stats, in_memory=table == _WIDE,
                                    names=names, n_rows=n_rows,
                                    distinct=duplicate_rows is None)
    _add_top_categories(con, table, stats)
    duplicates = n_rows - distinct_rows if duplicate_rows is None else duplicate_rows
    return {
        "rows": n_rows,
        "columns": len(names),
        "duplicate_rows": duplicates,
        "constant_columns": [s["name"] for s in stats if s["constant"]],
        "column_stats": stats,
    }


def _cells(con: duckdb.DuckDBPyConnection, table: str, n_columns: int) -> int:
    row = fetch_one(con, f"SELECT count(*) FROM {table}")  # noqa: S608
    return int(row[0]) * n_columns if row else 0


def _chunked(con: duckdb.DuckDBPyConnection, table: str | None, first: list[str],
             per_column: list[list[str]], params: list[list[Any]] | None = None) -> list[Any]:
    """The values of ``first`` and of every column's expressions, ``CHUNK_COLUMNS`` columns
    per query (``table`` None: the expressions are whole subqueries)."""
    out: list[Any] = []
    source = f" FROM {table}" if table else ""
    for start in range(0, max(len(per_column), 1), CHUNK_COLUMNS):
        chunk = per_column[start:start + CHUNK_COLUMNS]
        exprs = (first if start == 0 else []) + [e for col in chunk for e in col]
        if not exprs:
            continue
        bound = [v for col in (params or [])[start:start + CHUNK_COLUMNS] for v in col]
        row = fetch_one(con, f"SELECT {', '.join(exprs)}{source}", bound)
        assert row is not None
        out += row
    return out


def _row_hash(names: list[str]) -> str:
    """A 64-bit hash of a row's values, to count distinct rows by: DISTINCT over every
    column costs three times as much on 25 columns and minutes on thousands, and two
    different rows share a hash with a chance of about rows² / 2⁶⁴. Wide rows are hashed
    in column chunks, one call of thousands of arguments being slow to plan."""
    parts = [f"hash({', '.join(ident(n) for n in names[i:i + CHUNK_COLUMNS])})"
             for i in range(0, len(names), CHUNK_COLUMNS)]
    return parts[0] if len(parts) == 1 else f"hash({', '.join(parts)})"


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _dated(dtype: str) -> bool:
    """Dates and timestamps have a place in time to chart counts over; times of day do not."""
    return str(dtype).upper().startswith(("DATE", "TIMESTAMP"))


def _bins(s: dict[str, Any]) -> tuple[str, float, float, int] | None:
    """The value binned, its first edge, the bin width and the number of bins of a column's
    histogram: equal bins for numbers, whole-number bins for integers (so that counts do not
    saw-tooth between bins holding 3 values and bins holding 4), equal spans of time for
    dates; None when the column gets no histogram."""
    col = ident(s["name"])
    if s["kind"] == "numeric" and s.get("min") is not None:
        lo, hi = s["min"], s["max"]
        if columns.storage_type(s["dtype"]) == "integer":
            width = max(1, math.ceil((hi - lo + 1) / HISTOGRAM_BINS))
            return f"{col}::DOUBLE", lo, width, math.ceil((hi - lo + 1) / width)
        return f"{col}::DOUBLE", lo, (hi - lo) / HISTOGRAM_BINS or 1.0, HISTOGRAM_BINS
    if s.get("epoch_range"):
        lo, hi = s["epoch_range"]
        return f"epoch({col})::DOUBLE", lo, (hi - lo) / HISTOGRAM_BINS or 1.0, HISTOGRAM_BINS
    return None


def _add_histograms(
    con: duckdb.DuckDBPyConnection, table: str, stats: list[dict[str, Any]], in_memory: bool,
    names: list[str], n_rows: int, distinct: bool,
) -> int:
    """Counts in equal bins of every numeric column (see ``_bins``) and counts over time of
    every date column (edges in seconds since 1970, ``"time": true``), and the quantiles of
    every numeric column (see ``QUANTILE_VALUES``; ``"quantiles_every": k`` when picked from
    one row in k). On a (wide) table copied into memory the bins are counted from a list of
    each column's values: DuckDB's histogram aggregate costs 10 ms a column, whatever the
    rows, half a minute on 10,000.

    With ``distinct``, the same pass counts the distinct rows, returned (0 without), by a
    hash of each whole row: one scan of the file instead of two."""
    binned = [(s, b) for s in stats if (b := _bins(s)) is not None]
    numeric = [s for s in stats if columns.storage_type(s["dtype"]) in ("numeric", "integer")]
    # Rows are sampled by a hash of their first CHUNK_COLUMNS values (all of a table that
    # narrow), computed once per row and query under a name no column of the table has;
    # the distinct rows are counted by a hash of the whole row.
    row_hash = "mlcycle_row_hash"
    while row_hash in names:
        row_hash += "_"
    parts: list[list[str]] = []
    params: list[list[Any]] = []
    for s in numeric:
        col = ident(s["name"])
        # An integer column's quantiles are values it holds (17, not 17.89).
        value = col if columns.storage_type(s["dtype"]) == "integer" else f"{col}::DOUBLE"
        every = max(1, math.ceil((n_rows - s["missing"]) / QUANTILE_VALUES))
        picked = ""
        if every > 1:
            s["quantiles_every"] = every
            picked = f" FILTER (WHERE {ident(row_hash)} % {every} = 0)"
        parts.append([f"quantile_disc({value}, {list(QUANTILES)}){picked}::DOUBLE[]"])
        params.append([])
    for s, (value, lo, width, n_bins) in binned:
        s["histogram"] = {"edges": [lo + i * width for i in range(n_bins + 1)]}
        if s["kind"] == "numeric" and columns.storage_type(s["dtype"]) == "integer":
            s["histogram"]["integer"] = True
        elif s["kind"] != "numeric":
            s["histogram"]["time"] = True
        bucket = f"least(floor(({value} - ?) / ?), {n_bins - 1})::INTEGER"
        parts.append([f"list_histogram(list({bucket}))" if in_memory else f"histogram({bucket})"])
        params.append([lo, width])
    source, whole = table, _row_hash(names)
    if any("quantiles_every" in s for s in numeric):
        source = (f"(SELECT *, {_row_hash(names[:CHUNK_COLUMNS])} AS {ident(row_hash)} "  # noqa: S608
                  f"FROM {table})")
        if len(names) <= CHUNK_COLUMNS:
            whole = ident(row_hash)
    first = [f"count(DISTINCT {whole})"] if distinct else []
    if not first and not parts:
        return 0
    row = _chunked(con, source, first, parts, params)
    distinct_rows = int(row.pop(0)) if first else 0
    values = iter(row)
    for s in numeric:
        qs = next(values) or [None] * len(QUANTILES)
        s["quantiles"] = {f"p{round(q * 100):02d}": _num(v) for q, v in zip(QUANTILES, qs)}
    for (s, (_, _, _, n_bins)), counts in zip(binned, values):
        counts = counts or {}
        s["histogram"]["counts"] = [int(counts.get(i, 0)) for i in range(n_bins)]
    return distinct_rows


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
        [f"(SELECT list(struct_pack(v := v::VARCHAR, n := n) ORDER BY n DESC, v::VARCHAR) FROM "  # noqa: S608
         f"(SELECT {ident(s['name'])} AS v, count(*) AS n FROM {table} "
         f"WHERE {ident(s['name'])} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT ?))"]
        for s in wanted
    ]
    row = _chunked(con, None, [], selects, [[TOP_CATEGORIES]] * len(wanted))
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
