"""Drift profiles: a reference table read once, kept as small JSON-serialisable counts.

:func:`profile` keeps, per column, the row count, missing count, kind (decided by
:mod:`mlcycle.data.columns`, so it matches the data dictionary), and either exact counts in
quantile bins (numeric columns), exact counts per value (numbers with few distinct values,
categories, booleans), or just the range (datetimes). :mod:`mlcycle.drift.check` counts a
batch into the same bins and tests it, so monitoring never reads the reference again.
Bin edges are reference quantiles taken from a sample (``BINS`` equiprobable bins); the
counts in them are exact.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.data import columns as column_kinds
from mlcycle.store.errors import InvalidInput
from mlcycle.store.sql import ident

if TYPE_CHECKING:
    import duckdb

MIN_VALUES = 30
BINS = 20
DISCRETE_MAX = 20
MAX_STORED_CATEGORIES = 2000
SAMPLE_ROWS = 20_000
SAMPLE_SEED = 7
MEMORY_LIMIT = "1GB"
PROFILE_FORMAT = "mlcycle-drift-profile"
PROFILE_VERSION = 1

# How a column is counted: quantile bins, exact values (ordered numbers), categories
# (unordered strings), a datetime range, or not at all.
MODES = ("bins", "values", "categories", "datetime", "missing_only", "skip")
COUNTED = ("bins", "values", "categories")
COMPONENTS = {
    "bins": ("location", "spread", "shape", "missing"),
    # A number the reference never had takes its place in the order (mlcycle.drift.check):
    # never-seen values are a categorical notion.
    "values": ("location", "spread", "shape", "missing"),
    "categories": ("shape", "new_values", "missing"),
    "boolean": ("shape", "missing"),
    "datetime": ("missing",),
    "missing_only": ("missing",),
    "skip": (),
}


# --------------------------------------------------------------------------- profile


@dataclass
class ColumnProfile:
    """What the reference looked like in one column."""

    name: str
    dtype: str
    kind: str
    identifier: bool
    mode: str
    n: int
    n_missing: int
    n_distinct: int
    reason: str | None = None
    edges: list[float] | None = None
    values: list[Any] | None = None
    counts: list[int] | None = None
    other: int = 0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def n_values(self) -> int:
        return self.n - self.n_missing

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnProfile:
        known = {f for f in cls.__dataclass_fields__}
        col = cls(**{k: v for k, v in data.items() if k in known})
        if col.mode not in MODES:
            raise InvalidInput(f"drift profile: column {col.name!r} has unknown mode {col.mode!r}")
        if col.mode == "bins" and (col.edges is None or col.counts is None
                                   or len(col.counts) != len(col.edges) + 1):
            raise InvalidInput(f"drift profile: column {col.name!r} has inconsistent bins")
        if col.mode in ("values", "categories") and (
            col.values is None or col.counts is None or len(col.values) != len(col.counts)
        ):
            raise InvalidInput(f"drift profile: column {col.name!r} has inconsistent counts")
        return col


@dataclass
class Profile:
    """A compact description of a reference table; JSON-serialisable via :meth:`to_dict`."""

    n_rows: int
    columns: list[ColumnProfile]
    source: str | None = None
    # The model of the inputs' joint distribution (mlcycle.drift.multivariate.fit); None in
    # profiles written before it existed.
    multivariate: dict[str, Any] | None = None

    def column(self, name: str) -> ColumnProfile:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "n_rows": self.n_rows,
            "source": self.source,
            "columns": [c.to_dict() for c in self.columns],
            **({"multivariate": self.multivariate} if self.multivariate is not None else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
            raise InvalidInput("not a drift profile (missing format marker)")
        if data.get("version") != PROFILE_VERSION:
            raise InvalidInput(
                f"drift profile version {data.get('version')} is not supported "
                f"(this mlcycle reads version {PROFILE_VERSION})"
            )
        try:
            cols = [ColumnProfile.from_dict(c) for c in data["columns"]]
            return cls(n_rows=int(data["n_rows"]), columns=cols, source=data.get("source"),
                       multivariate=data.get("multivariate"))
        except (KeyError, TypeError) as exc:
            raise InvalidInput(f"drift profile is damaged ({exc})") from None

    @classmethod
    def from_json(cls, text: str) -> Profile:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"drift profile is not valid JSON ({exc.msg})") from None
        return cls.from_dict(data)


def finite_expr(expr: str, dtype: str) -> str:
    """A numeric column as DOUBLE, with NaN, infinities and unparseable values as NULL.

    Written per storage type: a cast-and-check on every value would double the cost of
    counting a numeric column.
    """
    storage = column_kinds.storage_type(dtype)
    if storage == "integer" or str(dtype).upper().startswith("DECIMAL"):
        return f"CAST({expr} AS DOUBLE)"
    if str(dtype).upper() == "DOUBLE":
        return f"(CASE WHEN isfinite({expr}) THEN {expr} END)"
    if storage == "numeric":
        return f"(CASE WHEN isfinite({expr}) THEN CAST({expr} AS DOUBLE) END)"
    return f"(CASE WHEN isfinite(TRY_CAST({expr} AS DOUBLE)) THEN TRY_CAST({expr} AS DOUBLE) END)"


def _text(expr: str) -> str:
    return f"CAST({expr} AS VARCHAR)"


def as_number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def open_table(data: Any, con: duckdb.DuckDBPyConnection | None = None
          ) -> tuple[duckdb.DuckDBPyRelation, str | None, Any, bool]:
    """A DuckDB relation for a path, relation or polars DataFrame; plus a label, a handle
    (connection, temporary files) to keep alive while the relation is used, and whether
    the data is columnar on disk (Parquet), so that reading a few columns is cheap."""
    import duckdb

    if isinstance(data, duckdb.DuckDBPyRelation):
        return data, None, None, False
    if con is None:
        con = duckdb.connect()
        _tune(con)
    if isinstance(data, (str, Path)):
        from mlcycle.data.sources import load, resolve

        source = resolve(data)
        return load(con, source), source.label, con, source.format == "parquet"
    if type(data).__module__.startswith("polars") and hasattr(data, "write_parquet"):
        # Through a temporary Parquet file: DuckDB reads polars frames only via pyarrow,
        # which is not a dependency. The directory lives as long as the returned handle.
        import tempfile

        tmp = tempfile.TemporaryDirectory(prefix="mlcycle-drift-")
        path = Path(tmp.name) / "frame.parquet"
        data.write_parquet(path)
        return con.read_parquet(str(path)), None, (con, tmp), True
    raise InvalidInput(
        f"cannot check drift on a {type(data).__name__}; pass a file path, a DuckDB "
        "relation or a polars DataFrame"
    )


def _tune(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")


SPLIT_ROWS = 250_000


def aggregate_groups(rel: duckdb.DuckDBPyRelation, groups: list[list[str]], split: bool,
                     label: str | None = None) -> list[Any]:
    """Run the aggregates of every group (one group per column) and return all results.

    On large Parquet tables each column gets its own query: it reads only that column, and
    DuckDB runs many small aggregate queries much faster than one with hundreds of
    aggregates (5x at 10 million rows). CSV files are read once, in one query.
    """
    if not split:
        return aggregate(rel, [e for g in groups for e in g], label)
    out: list[Any] = []
    for group in groups:
        out += aggregate(rel, group, label)
    return out


def aggregate(rel: duckdb.DuckDBPyRelation, exprs: list[str], label: str | None = None
              ) -> list[Any]:
    """One row of aggregates; a reading error names ``label``, the file, as 'data add' does."""
    import duckdb

    if not exprs:
        return []
    try:
        row = rel.aggregate(", ".join(exprs)).fetchall()[0]
    except duckdb.Error as exc:
        from mlcycle.data.sources import error_text

        raise InvalidInput(f"cannot read {label or 'the data'}: {error_text(exc)}") from None
    return list(row)


def profile(data: Any, *, sample_rows: int = SAMPLE_ROWS, _columnar: bool | None = None,
            _label: str | None = None, _joint: set[str] | None = None) -> Profile:
    """Profile a reference table (a path, DuckDB relation or polars DataFrame) in two passes.

    The first pass counts rows, missing and distinct values and takes moments; a reservoir
    sample gives the quantile bin edges; the second pass counts every value exactly into
    the bins and categories. A last sample fits the model of the inputs' joint distribution
    (:mod:`mlcycle.drift.multivariate`) on the columns named in ``_joint`` (all by default).
    """
    rel, label, _con, columnar = open_table(data)
    label = label or _label
    if _columnar is not None:
        columnar = _columnar
    names = list(rel.columns)
    dtypes = [str(t) for t in rel.dtypes]
    storage = [column_kinds.storage_type(t) for t in dtypes]

    exprs = ["count(*)"]
    for name, kind, dtype in zip(names, storage, dtypes):
        col = ident(name)
        exprs.append(f"count({col})")
        # A float column is numeric whatever its distinct count; whether it has few enough
        # values to count one by one is read from the sample instead (cheaper than a sketch).
        exprs.append("-1" if kind == "numeric" else f"approx_count_distinct({col})")
        if kind in ("numeric", "integer"):
            exprs += [f"min({col})::DOUBLE", f"max({col})::DOUBLE"]
        elif kind == "datetime":
            exprs += [f"min({col})::VARCHAR", f"max({col})::VARCHAR"]
        elif kind == "string":
            exprs.append(column_kinds.spaced_share_expr(col, dtype))
    row = iter(aggregate(rel, exprs, label))
    n_rows = int(next(row))
    if not n_rows:
        raise InvalidInput(f"{label or 'the reference data'}: has no rows to compare with")

    cols: list[ColumnProfile] = []
    for name, dtype, kind in zip(names, dtypes, storage):
        non_null = int(next(row))
        distinct = min(int(next(row)), non_null)
        stats: dict[str, Any] = {}
        spaced = None
        if kind in ("numeric", "integer"):
            stats = {"min": as_number(next(row)), "max": as_number(next(row))}
        elif kind == "datetime":
            stats = {"min": next(row), "max": next(row)}
        elif kind == "string":
            spaced = next(row)
        guessed = column_kinds.guess(name, dtype, non_null, max(distinct, 0), spaced)
        col = ColumnProfile(name=name, dtype=dtype, kind=guessed.kind,
                            identifier=guessed.identifier, mode="skip", n=n_rows,
                            n_missing=n_rows - non_null, n_distinct=distinct, stats=stats)
        col.mode, col.reason = _mode(col, kind, guessed.reason)
        cols.append(col)
    _leave_out_personal_data(rel, cols)

    _sample_edges(rel, [c for c in cols if c.mode == "bins"], sample_rows)
    _count_reference(rel, cols, storage, columnar and n_rows >= SPLIT_ROWS, label)
    from mlcycle.drift import multivariate

    joint = multivariate.fit(rel, [c for c in cols if _joint is None or c.name in _joint],
                             dict(zip(names, dtypes)), label)
    return Profile(n_rows=n_rows, columns=cols, source=label, multivariate=joint)


def _leave_out_personal_data(rel: duckdb.DuckDBPyRelation, cols: list[ColumnProfile]) -> None:
    """Columns holding personal data are compared by their missing rate only: their bins,
    categories and extremes would put the values in the profile and in every report."""
    from mlcycle.data import privacy
    from mlcycle.store.masking import LABELS

    found = {f.column: f.kind for f in privacy.scan(rel)}
    for col in cols:
        if col.name in found:
            col.mode = "missing_only"
            col.reason = f"personal data ({LABELS[found[col.name]]}): values never compared"
            col.stats = {}


def _mode(col: ColumnProfile, storage: str, why: str | None = None) -> tuple[str, str | None]:
    if col.identifier:
        return "skip", f"identifier ({why or 'nearly every value is distinct'})"
    if col.kind == "text":
        return "skip", f"free text ({why or f'{col.n_distinct:,} distinct values'})"
    if col.kind == "datetime":
        return "datetime", "datetime values move on between batches"
    if col.n_values == 0:
        return "missing_only", "all values missing in the reference"
    if col.n_values < MIN_VALUES:
        return "missing_only", f"only {col.n_values} values in the reference (need {MIN_VALUES})"
    if col.kind == "numeric" and storage in ("numeric", "integer"):
        return ("values" if 0 <= col.n_distinct <= DISCRETE_MAX else "bins"), None
    return "categories", None


def _sample_edges(rel: duckdb.DuckDBPyRelation, cols: list[ColumnProfile], size: int) -> None:
    if not cols:
        return
    qs = [k / BINS for k in range(1, BINS)]
    inner = ", ".join(f"{finite_expr(ident(c.name), c.dtype)} AS c{i}" for i, c in enumerate(cols))
    outer = ", ".join(f"quantile_disc(c{i}, {qs}), stddev_samp(c{i}), count(DISTINCT c{i})"
                      for i in range(len(cols)))
    # Identifiers are quoted by ident() and the numbers are ours: nothing from the data
    # reaches this SQL text.
    sql = (
        f"SELECT {outer} FROM (SELECT {inner} FROM drift_reference) "  # noqa: S608
        f"USING SAMPLE reservoir({int(size)} ROWS) REPEATABLE ({SAMPLE_SEED})"
    )
    row = rel.query("drift_reference", sql).fetchall()[0]
    for i, col in enumerate(cols):
        quantiles, std, distinct = row[3 * i: 3 * i + 3]
        col.stats["std"] = as_number(std)  # from the sample: shown in reports, not tested
        if col.n_distinct < 0:  # a float column: distinct values seen in the sample
            col.n_distinct = int(distinct)
            if col.n_distinct <= DISCRETE_MAX:
                col.mode = "values"
                continue
        edges = sorted({float(q) for q in quantiles or [] if q is not None})
        col.edges = edges or [float(col.stats.get("min") or 0.0)]
        col.stats["quantiles"] = {
            f"p{round(q * 100):02d}": as_number(v) for q, v in zip(qs, quantiles or []) if q in
            (0.05, 0.25, 0.5, 0.75, 0.95)
        }


def _count_reference(rel: duckdb.DuckDBPyRelation, cols: list[ColumnProfile],
                     storage: list[str], split: bool, label: str | None) -> None:
    """Second pass: exact counts in every bin and category, and numeric means.

    A numeric column's non-finite values (NaN, infinities) are counted as missing here.
    """
    groups: list[list[str]] = []
    for col, kind in zip(cols, storage):
        exprs: list[str] = []
        if kind in ("numeric", "integer") and col.mode != "skip":
            val = finite_expr(ident(col.name), col.dtype)
            exprs += [f"count({val})", f"avg({val})"]
        exprs += count_exprs(col, col.dtype)
        if exprs:
            groups.append(exprs)
    row = iter(aggregate_groups(rel, groups, split, label))
    for col, kind in zip(cols, storage):
        finite = None
        if kind in ("numeric", "integer") and col.mode != "skip":
            finite, mean = int(next(row)), next(row)
            col.n_missing = col.n - finite
            col.stats["mean"] = as_number(mean)
        results = [next(row) for _ in count_exprs(col, col.dtype)]
        if col.mode in ("bins", "values") and col.n_values < MIN_VALUES:
            col.mode, col.reason = _mode(col, kind)
            col.edges = None
            continue
        if col.mode == "bins":
            col.counts = bin_counts(col, results, finite or 0)
        elif col.mode == "values":
            pairs = sorted((float(k), int(v)) for k, v in (results[0] or {}).items())
            col.values = [k for k, _ in pairs]
            col.counts = [v for _, v in pairs]
        elif col.mode == "categories":
            pairs = sorted(((str(k), int(v)) for k, v in (results[0] or {}).items()),
                           key=lambda kv: (-kv[1], kv[0]))
            kept = pairs[:MAX_STORED_CATEGORIES]
            col.values = [k for k, _ in kept]
            col.counts = [v for _, v in kept]
            col.other = sum(v for _, v in pairs[MAX_STORED_CATEGORIES:])


def count_exprs(col: ColumnProfile, dtype: str) -> list[str]:
    """The aggregates that count a column into its profile's cells.

    Numeric bins are counted as "values <= edge" for each edge and differenced afterwards:
    DuckDB evaluates these plain comparisons about twice as fast as ``histogram`` with
    bounds, and the counts are the same. On float columns the comparison runs on the raw
    value (NaN and +inf never pass it) and -inf values are counted to be taken out.
    """
    name = ident(col.name)
    if col.mode == "bins":
        if str(dtype).upper() in ("DOUBLE", "FLOAT", "REAL"):
            value, fix = name, [f"count_if({name} = '-inf'::DOUBLE)"]
        else:
            value, fix = finite_expr(name, dtype), ["0"]
        return [f"count_if({value} <= {float(e)!r}::DOUBLE)" for e in col.edges or []] + fix
    if col.mode == "values":
        return [f"histogram({finite_expr(name, dtype)})"]
    if col.mode == "categories":
        return [f"histogram({_text(name)})"]
    return []


def bin_counts(col: ColumnProfile, results: list[Any], finite: int) -> list[int]:
    """Counts per bin from the cumulative counts at each edge (see :func:`count_exprs`)."""
    *cumulative, minus_inf = (int(x or 0) for x in results)
    counts, below = [], 0
    for c in cumulative:
        c -= minus_inf
        counts.append(c - below)
        below = c
    counts.append(finite - below)
    return counts
