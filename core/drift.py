"""Data drift: is a new batch of rows distributed like the reference the model was built on?

Two steps, so that monitoring never has to read the reference again:

* :func:`profile` reads the reference once and keeps a small, JSON-serialisable
  :class:`Profile`: per column the row count, missing count, kind (decided by
  :mod:`core.columns`, so it matches the data dictionary), and either exact counts in
  quantile bins (numeric columns), exact counts per value (numbers with few distinct values,
  categories, booleans), or just the range (datetimes).
* :func:`check` counts a batch into the same bins and categories in one aggregate pass and
  tests each column. :func:`compare` is both steps for two files; ``mlcycle drift`` uses it.

How a column is judged, and why
-------------------------------
Users of drift tools mostly complain about two failures: alarms on large data for shifts
far too small to matter (any p-value becomes tiny at a million rows), and silence on small
data. The rules below are designed against both, and ``tests/test_drift_rates.py`` and
``bench/drift_rates.py`` measure the result on generated data.

1. *Exact counts, no sketch error.* Bin edges are reference quantiles taken from a sample
   (20 equiprobable bins), but the counts in those bins are exact for both tables. The tests
   below therefore hold their nominal error rate at 10 million rows as at 1,000, where
   tests on approximate sketches raise false alarms.
2. *Tests chosen per column type, each with a job:*
   numeric columns get a rank-sum (Wilcoxon-Mann-Whitney) test for a change of location, a
   Mood-type squared-rank test for a change of spread, and a chi-square test on up to 10
   merged bins (every expected count at least 5) for any other change of shape; all three
   use mid-ranks over the bins, with the exact tie correction. Location and spread tests
   are much more powerful than one omnibus test at 1,000 rows, which is what makes a
   0.25-standard-deviation shift or a 1.5-fold variance reliably visible there.
   Categorical, boolean and few-valued numeric columns get a chi-square test on the
   categories seen in the reference (rare ones merged), plus a test for values the reference
   never had: the chance that every one of k occurrences of a value lands in the current
   batch is at most (n_current / n_total)^k, summed over values (a union bound, valid
   without any distribution assumption). Every column also gets a two-proportion test of
   its missing rate (with continuity correction).
3. *One error budget for the whole dataset.* The dataset-level false-alarm rate is held at
   ``alpha`` (5%) by Bonferroni: a column's p-value is its smallest test p-value times its
   number of tests, and it is compared with ``alpha / m`` for m tested columns
   (as recommended for multi-feature shift detection by Rabanser et al., "Failing Loudly",
   2019). The dataset drifts if any column drifts; Evidently's default "half the columns"
   rule misses the common case of one broken feature. ``share_drifted`` is reported too.
4. *A floor on effect size.* A column drifts only if it is significant *and* the change is
   large enough to matter: a population stability index (PSI, on the same merged bins or
   categories) of at least 0.02, or for missing rates and never-seen values a Cohen's h of at
   least 0.1 (0% to 0.25%, 10% to 13%, 50% to 55%). PSI 0.02 is about a 0.15-standard-
   deviation mean shift; the smallest required detections (0.25 sd, variance x1.5) sit at
   PSI 0.05-0.06. At small n the PSI estimate is biased upwards, so the floor binds only on
   large data, where it stops significant-but-negligible shifts from raising alarms.
5. *Left out, with the reason:* identifiers and free text (nearly all values distinct, or
   more than 1,000 distinct strings), columns with fewer than 30 values on either side (only
   their missing rate is tested), and datetimes: time moves on between batches, so a
   datetime range always "drifts"; their ranges are reported and only their missing rate
   is tested. Columns that are all missing in the reference are tested for missing rate only.

NaN and infinite numbers count as missing.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import columns as column_kinds
from core.errors import InvalidInput
from core.sql import ident

if TYPE_CHECKING:
    import duckdb

ALPHA = 0.05
MIN_PSI = 0.02
MIN_H = 0.1
MIN_VALUES = 30
BINS = 20
CHI_CELLS = 10
MAX_CELLS = 50
MIN_EXPECTED = 5
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
_COUNTED = ("bins", "values", "categories")
_COMPONENTS = {
    "bins": ("location", "spread", "shape", "missing"),
    "values": ("location", "spread", "shape", "new_values", "missing"),
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
            return cls(n_rows=int(data["n_rows"]), columns=cols, source=data.get("source"))
        except (KeyError, TypeError) as exc:
            raise InvalidInput(f"drift profile is damaged ({exc})") from None

    @classmethod
    def from_json(cls, text: str) -> Profile:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"drift profile is not valid JSON ({exc.msg})") from None
        return cls.from_dict(data)


def _finite(expr: str, dtype: str) -> str:
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


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _open(data: Any, con: duckdb.DuckDBPyConnection | None = None
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
        from core.sources import load, resolve

        source = resolve(data)
        return load(con, source), str(data), con, source.format == "parquet"
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


def _aggregate_groups(rel: duckdb.DuckDBPyRelation, groups: list[list[str]], split: bool
                      ) -> list[Any]:
    """Run the aggregates of every group (one group per column) and return all results.

    On large Parquet tables each column gets its own query: it reads only that column, and
    DuckDB runs many small aggregate queries much faster than one with hundreds of
    aggregates (5x at 10 million rows). CSV files are read once, in one query.
    """
    if not split:
        return _aggregate(rel, [e for g in groups for e in g])
    out: list[Any] = []
    for group in groups:
        out += _aggregate(rel, group)
    return out


def _aggregate(rel: duckdb.DuckDBPyRelation, exprs: list[str]) -> list[Any]:
    import duckdb

    if not exprs:
        return []
    try:
        row = rel.aggregate(", ".join(exprs)).fetchall()[0]
    except duckdb.Error as exc:
        from core.sources import _reason

        raise InvalidInput(f"cannot read the data: {_reason(exc)}") from None
    return list(row)


def profile(data: Any, *, sample_rows: int = SAMPLE_ROWS, _columnar: bool | None = None
            ) -> Profile:
    """Profile a reference table (a path, DuckDB relation or polars DataFrame) in two passes.

    The first pass counts rows, missing and distinct values and takes moments; a reservoir
    sample gives the quantile bin edges; the second pass counts every value exactly into
    the bins and categories.
    """
    rel, label, _con, columnar = _open(data)
    if _columnar is not None:
        columnar = _columnar
    names = list(rel.columns)
    dtypes = [str(t) for t in rel.dtypes]
    storage = [column_kinds.storage_type(t) for t in dtypes]

    exprs = ["count(*)"]
    for name, kind in zip(names, storage):
        col = ident(name)
        exprs.append(f"count({col})")
        # A float column is numeric whatever its distinct count; whether it has few enough
        # values to count one by one is read from the sample instead (cheaper than a sketch).
        exprs.append("-1" if kind == "numeric" else f"approx_count_distinct({col})")
        if kind in ("numeric", "integer"):
            exprs += [f"min({col})::DOUBLE", f"max({col})::DOUBLE"]
        elif kind == "datetime":
            exprs += [f"min({col})::VARCHAR", f"max({col})::VARCHAR"]
    row = iter(_aggregate(rel, exprs))
    n_rows = int(next(row))

    cols: list[ColumnProfile] = []
    for name, dtype, kind in zip(names, dtypes, storage):
        non_null = int(next(row))
        distinct = min(int(next(row)), non_null)
        inferred, is_id = column_kinds.infer_kind(name, dtype, non_null, max(distinct, 0))
        stats: dict[str, Any] = {}
        if kind in ("numeric", "integer"):
            stats = {"min": _num(next(row)), "max": _num(next(row))}
        elif kind == "datetime":
            stats = {"min": next(row), "max": next(row)}
        col = ColumnProfile(name=name, dtype=dtype, kind=inferred, identifier=is_id, mode="skip",
                            n=n_rows, n_missing=n_rows - non_null, n_distinct=distinct,
                            stats=stats)
        col.mode, col.reason = _mode(col, kind)
        cols.append(col)

    _sample_edges(rel, [c for c in cols if c.mode == "bins"], sample_rows)
    _count_reference(rel, cols, storage, columnar and n_rows >= SPLIT_ROWS)
    return Profile(n_rows=n_rows, columns=cols, source=label)


def _mode(col: ColumnProfile, storage: str) -> tuple[str, str | None]:
    if col.identifier:
        return "skip", "identifier (nearly every value is distinct)"
    if col.kind == "text":
        return "skip", f"free text ({col.n_distinct:,} distinct values)"
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
    inner = ", ".join(f"{_finite(ident(c.name), c.dtype)} AS c{i}" for i, c in enumerate(cols))
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
        col.stats["std"] = _num(std)  # from the sample: shown in reports, not tested
        if col.n_distinct < 0:  # a float column: distinct values seen in the sample
            col.n_distinct = int(distinct)
            if col.n_distinct <= DISCRETE_MAX:
                col.mode = "values"
                continue
        edges = sorted({float(q) for q in quantiles or [] if q is not None})
        col.edges = edges or [float(col.stats.get("min") or 0.0)]
        col.stats["quantiles"] = {
            f"p{round(q * 100):02d}": _num(v) for q, v in zip(qs, quantiles or []) if q in
            (0.05, 0.25, 0.5, 0.75, 0.95)
        }


def _count_reference(rel: duckdb.DuckDBPyRelation, cols: list[ColumnProfile],
                     storage: list[str], split: bool) -> None:
    """Second pass: exact counts in every bin and category, and numeric means.

    A numeric column's non-finite values (NaN, infinities) are counted as missing here.
    """
    groups: list[list[str]] = []
    for col, kind in zip(cols, storage):
        exprs: list[str] = []
        if kind in ("numeric", "integer") and col.mode != "skip":
            val = _finite(ident(col.name), col.dtype)
            exprs += [f"count({val})", f"avg({val})"]
        exprs += _count_exprs(col, col.dtype)
        if exprs:
            groups.append(exprs)
    row = iter(_aggregate_groups(rel, groups, split))
    for col, kind in zip(cols, storage):
        finite = None
        if kind in ("numeric", "integer") and col.mode != "skip":
            finite, mean = int(next(row)), next(row)
            col.n_missing = col.n - finite
            col.stats["mean"] = _num(mean)
        results = [next(row) for _ in _count_exprs(col, col.dtype)]
        if col.mode in ("bins", "values") and col.n_values < MIN_VALUES:
            col.mode, col.reason = _mode(col, kind)
            col.edges = None
            continue
        if col.mode == "bins":
            col.counts = _bin_counts(col, results, finite or 0)
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


def _count_exprs(col: ColumnProfile, dtype: str) -> list[str]:
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
            value, fix = _finite(name, dtype), ["0"]
        return [f"count_if({value} <= {float(e)!r}::DOUBLE)" for e in col.edges or []] + fix
    if col.mode == "values":
        return [f"histogram({_finite(name, dtype)})"]
    if col.mode == "categories":
        return [f"histogram({_text(name)})"]
    return []


def _bin_counts(col: ColumnProfile, results: list[Any], finite: int) -> list[int]:
    """Counts per bin from the cumulative counts at each edge (see :func:`_count_exprs`)."""
    *cumulative, minus_inf = (int(x or 0) for x in results)
    counts, below = [], 0
    for c in cumulative:
        c -= minus_inf
        counts.append(c - below)
        below = c
    counts.append(finite - below)
    return counts


# --------------------------------------------------------------------------- statistics


def normal_sf2(z: float) -> float:
    """Two-sided normal tail probability P(|Z| >= |z|)."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def chi2_sf(x: float, df: int) -> float:
    """Upper tail of the chi-square distribution (regularised upper incomplete gamma)."""
    if df <= 0:
        return 1.0
    if x <= 0:
        return 1.0
    a, y = df / 2.0, x / 2.0
    log_front = -y + a * math.log(y) - math.lgamma(a)
    if y < a + 1.0:  # series for the lower tail
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1.0
            term *= y / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    # Lentz's continued fraction for the upper tail
    tiny = 1e-300
    b = y + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


def rank_tests(ref: list[int], cur: list[int]) -> tuple[float, float]:
    """z statistics of a rank-sum (location) and a squared-rank (spread) test on ordered cells.

    Every observation in a cell gets the cell's mid-rank; the variance is the exact
    permutation variance of a linear rank statistic with those scores, so ties are handled.
    Positive location z: the current values are larger.
    """
    totals = [r + c for r, c in zip(ref, cur)]
    n_total = sum(totals)
    n_cur = sum(cur)
    n_ref = n_total - n_cur
    if n_cur == 0 or n_ref == 0 or n_total < 2:
        return 0.0, 0.0
    mid, seen = [], 0
    for t in totals:
        mid.append(seen + (t + 1) / 2.0)
        seen += t
    centre = (n_total + 1) / 2.0
    out = []
    for scores in (mid, [(m - centre) ** 2 for m in mid]):
        mean = sum(t * s for t, s in zip(totals, scores)) / n_total
        spread = sum(t * (s - mean) ** 2 for t, s in zip(totals, scores))
        var = n_cur * n_ref / (n_total * (n_total - 1.0)) * spread
        stat = sum(c * s for c, s in zip(cur, scores))
        out.append((stat - n_cur * mean) / math.sqrt(var) if var > 0 else 0.0)
    return out[0], out[1]


def chi_square(ref: list[int], cur: list[int]) -> tuple[float, int]:
    """Chi-square homogeneity statistic and degrees of freedom of a 2 x k table."""
    n_ref, n_cur = sum(ref), sum(cur)
    n_total = n_ref + n_cur
    if n_ref == 0 or n_cur == 0:
        return 0.0, 0
    stat, cells = 0.0, 0
    for r, c in zip(ref, cur):
        t = r + c
        if t == 0:
            continue
        cells += 1
        e_r, e_c = t * n_ref / n_total, t * n_cur / n_total
        stat += (r - e_r) ** 2 / e_r + (c - e_c) ** 2 / e_c
    return stat, max(cells - 1, 0)


def psi(ref: list[int], cur: list[int]) -> float:
    """Population stability index over cells, with half-count smoothing of empty cells."""
    k = len(ref)
    n_ref, n_cur = sum(ref) + 0.5 * k, sum(cur) + 0.5 * k
    total = 0.0
    for r, c in zip(ref, cur):
        p, q = (r + 0.5) / n_ref, (c + 0.5) / n_cur
        total += (q - p) * math.log(q / p)
    return total


def cohen_h(p1: float, p2: float) -> float:
    """Cohen's h, the effect size of a change between two proportions."""
    return 2 * math.asin(math.sqrt(min(max(p2, 0.0), 1.0))) - 2 * math.asin(
        math.sqrt(min(max(p1, 0.0), 1.0))
    )


def proportion_test(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of a two-proportion z test with continuity correction."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (k1 + k2) / (n1 + n2)
    if pooled <= 0.0 or pooled >= 1.0:
        return 1.0
    diff = abs(k2 / n2 - k1 / n1) - 0.5 * (1 / n1 + 1 / n2)
    if diff <= 0:
        return 1.0
    return normal_sf2(diff / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)))


def new_values_test(unseen: list[int], pooled_known: list[int], n_ref: int, n_cur: int) -> float:
    """p-value for values absent from the reference: P(some value with >= t occurrences has
    them all in the current batch) <= sum over such values of (n_cur / n_total)^count."""
    if not unseen or n_ref == 0:
        return 1.0
    t = max(unseen)
    share = n_cur / (n_ref + n_cur)
    bound = sum(share**k for k in unseen if k >= t)
    bound += sum(share**k for k in pooled_known if k >= t)
    return min(1.0, bound)


def merge_ordered(ref: list[int], cur: list[int], n_min: int, max_cells: int
                  ) -> tuple[list[int], list[int]]:
    """Merge adjacent ordered cells into at most ``max_cells`` groups of roughly equal
    reference share, each expecting at least MIN_EXPECTED rows on the smaller side."""
    n_ref = sum(ref)
    if n_ref == 0:
        return [], []
    cells = max(1, min(max_cells, n_min // MIN_EXPECTED))
    groups_r, groups_c = [0], [0]
    cum = 0
    for r, c in zip(ref, cur):
        if groups_r[-1] > 0 and cum / n_ref >= len(groups_r) / cells - 1e-12:
            groups_r.append(0)
            groups_c.append(0)
        groups_r[-1] += r
        groups_c[-1] += c
        cum += r
    return _merge_small(groups_r, groups_c, n_ref, n_min)


def _merge_small(ref: list[int], cur: list[int], n_ref: int, n_min: int
                 ) -> tuple[list[int], list[int]]:
    need = MIN_EXPECTED * n_ref / max(n_min, 1)
    ref, cur = list(ref), list(cur)
    i = 0
    while i < len(ref) and len(ref) > 1:
        if ref[i] < need:
            j = i - 1 if i == len(ref) - 1 else i + 1
            ref[j] += ref[i]
            cur[j] += cur[i]
            del ref[i], cur[i]
            i = min(i, j)
        else:
            i += 1
    return ref, cur


def merge_categories(ref: list[int], cur: list[int], other_ref: int, other_cur: int,
                     n_min: int) -> tuple[list[int], list[int]]:
    """Cells for categories (sorted by reference count): frequent ones alone, the rest in
    groups of rare ones, so each cell expects at least MIN_EXPECTED rows."""
    n_ref = sum(ref) + other_ref
    if n_ref == 0:
        return [], []
    need = MIN_EXPECTED * n_ref / max(n_min, 1)
    out_r, out_c = [], []
    rest_r, rest_c = other_ref, other_cur
    for r, c in zip(ref, cur):
        if r >= need and len(out_r) < MAX_CELLS - 1:
            out_r.append(r)
            out_c.append(c)
        else:
            rest_r += r
            rest_c += c
    if rest_r or rest_c:
        out_r.append(rest_r)
        out_c.append(rest_c)
    return _merge_small(out_r, out_c, n_ref, n_min)


# --------------------------------------------------------------------------- check


@dataclass
class ColumnDrift:
    """The verdict on one column."""

    name: str
    type: str
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    missing_reference: float
    missing_current: float
    tested: bool = True
    statistic_name: str = "psi"
    note: str | None = None
    tests: list[dict[str, Any]] = field(default_factory=list)
    new_values: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    histogram: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: _clean(v) for k, v in out.items()}


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@dataclass
class DriftResult:
    """The verdict on a batch: per column, and for the dataset."""

    drift_detected: bool
    share_drifted: float
    n_reference: int
    n_current: int
    alpha: float
    n_tested: int
    columns: list[ColumnDrift]
    reference: str | None = None
    current: str | None = None
    # Columns one side lacks: not compared, listed so that nothing is dropped unseen.
    only_in_reference: list[str] = field(default_factory=list)
    only_in_current: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift_detected": self.drift_detected,
            "share_drifted": self.share_drifted,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "n_tested": self.n_tested,
            "n_drifted": len(self.drifted),
            "alpha": self.alpha,
            "reference": self.reference,
            "current": self.current,
            "columns": [c.to_dict() for c in self.columns],
            "only_in_reference": self.only_in_reference,
            "only_in_current": self.only_in_current,
        }


def _components(col: ColumnProfile) -> tuple[str, ...]:
    if col.mode == "categories" and col.kind == "boolean":
        return _COMPONENTS["boolean"]
    return _COMPONENTS[col.mode]


def check(
    reference: Profile,
    data: Any,
    *,
    columns: list[str] | None = None,
    alpha: float = ALPHA,
    min_psi: float = MIN_PSI,
    min_h: float = MIN_H,
    _columnar: bool | None = None,
) -> DriftResult:
    """Test a batch (path, DuckDB relation or polars DataFrame) against a reference profile.

    Reads the batch once. The columns both sides have are compared, and those only one side
    has are listed in the result. ``columns`` restricts testing to those names (the other
    common columns are listed as not selected); a name one side lacks raises
    :class:`InvalidInput` naming that side.
    """
    if not 0 < alpha < 1:
        raise InvalidInput(f"alpha must be between 0 and 1, not {alpha}")
    rel, label, _con, columnar = _open(data)
    if _columnar is not None:
        columnar = _columnar
    current_names = list(rel.columns)
    cur_types = {n: str(t) for n, t in zip(rel.columns, rel.dtypes)}
    selected, only_ref, only_cur = _select(reference.names, current_names, columns,
                                           reference.source, label)

    # On Parquet the row count comes from the file footer, before deciding how to read.
    split = columnar and int(_aggregate(rel, ["count(*)"])[0]) >= SPLIT_ROWS
    groups: list[list[str]] = [["count(*)"]]
    common = [c for c in reference.columns if c.name in cur_types]
    for col in common:
        name = ident(col.name)
        exprs: list[str] = []
        groups.append(exprs)
        if col.name not in selected:
            exprs.append(f"count({name})")
            continue
        if col.mode in ("bins", "values"):
            val = _finite(name, cur_types[col.name])
            exprs += [f"count({val})", f"avg({val})"]
        else:
            exprs.append(f"count({name})")
        if col.mode == "datetime":
            exprs += [f"min({name})::VARCHAR", f"max({name})::VARCHAR"]
        exprs += _count_exprs(col, cur_types[col.name])
    row = iter(_aggregate_groups(rel, groups, split))
    n_cur = int(next(row))

    partial: list[tuple[ColumnProfile, dict[str, Any]]] = []
    unselected: dict[str, int] = {}
    for col in common:
        if col.name not in selected:
            unselected[col.name] = int(next(row))
            continue
        cur: dict[str, Any] = {"n_values": int(next(row))}
        if col.mode in ("bins", "values"):
            cur["mean"] = _num(next(row))
        if col.mode == "datetime":
            cur["min"], cur["max"] = next(row), next(row)
        results = [next(row) for _ in _count_exprs(col, cur_types[col.name])]
        if col.mode == "bins":
            cur["counts"] = _bin_counts(col, results, cur["n_values"])
        elif col.mode in _COUNTED:
            cur["counts"] = results[0]
        partial.append((col, cur))

    tested = [c for c, _ in partial if _components(c)]
    m = max(len(tested), 1)
    threshold = alpha / m
    results = []
    for col in common:
        if col.name not in selected:
            out = _not_tested(col, "not selected", threshold)
            out.missing_current = 1 - unselected[col.name] / n_cur if n_cur else 0.0
            results.append(out)
    for col, cur in partial:
        results.append(_judge(col, cur, n_cur, threshold, min_psi, min_h))
    order = {name: i for i, name in enumerate(reference.names)}
    results.sort(key=lambda r: order[r.name])
    drifted = sum(r.drifted for r in results)
    return DriftResult(
        drift_detected=drifted > 0,
        share_drifted=drifted / len(tested) if tested else 0.0,
        n_reference=reference.n_rows,
        n_current=n_cur,
        alpha=alpha,
        n_tested=len(tested),
        columns=results,
        reference=reference.source,
        current=label,
        only_in_reference=only_ref,
        only_in_current=only_cur,
    )


def _select(ref_names: list[str], current: list[str], columns: list[str] | None,
            ref_label: str | None, cur_label: str | None
            ) -> tuple[set[str], list[str], list[str]]:
    """The columns to test, and those only the reference or only the current data has.

    Training data against a scoring batch is the normal case: the reference has the target
    and identifiers the batch lacks, so one-sided columns are reported, not refused; a column
    asked for by name must be on both sides.
    """
    only_ref = [c for c in ref_names if c not in current]
    only_cur = [c for c in current if c not in ref_names]
    ref_side = ref_label or "the reference"
    cur_side = cur_label or "the current data"
    if columns:
        unknown = [c for c in columns if c not in ref_names and c not in current]
        if unknown:
            raise InvalidInput(f"no column {_names(unknown)} in {ref_side} or {cur_side}")
        lacking = [c for c in columns if c not in current]
        if lacking:
            raise InvalidInput(f"{cur_side} has no column {_names(lacking)}")
        lacking = [c for c in columns if c not in ref_names]
        if lacking:
            raise InvalidInput(f"{ref_side} has no column {_names(lacking)}")
        return set(columns), only_ref, only_cur
    common = [c for c in ref_names if c in current]
    if not common:
        raise InvalidInput(f"{ref_side} and {cur_side} have no column in common")
    return set(common), only_ref, only_cur


def _names(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _not_tested(col: ColumnProfile, reason: str, threshold: float) -> ColumnDrift:
    return ColumnDrift(
        name=col.name, type=col.kind, method=f"not tested: {reason}", statistic=0.0,
        p_value=None, threshold=threshold, drifted=False,
        missing_reference=col.n_missing / col.n if col.n else 0.0,
        missing_current=0.0, tested=False,
    )


def _judge(col: ColumnProfile, cur: dict[str, Any], n_cur: int, threshold: float,
           min_psi: float, min_h: float) -> ColumnDrift:
    n_ref = col.n
    miss_ref = col.n_missing / n_ref if n_ref else 0.0
    cur_values = cur["n_values"]
    miss_cur = (n_cur - cur_values) / n_cur if n_cur else 0.0
    components = _components(col)
    if not components:
        out = _not_tested(col, col.reason or "not testable", threshold)
        out.missing_current = miss_cur
        return out

    tests: list[dict[str, Any]] = []
    note_parts: list[str] = []
    hist: dict[str, Any] | None = None
    new_values: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}

    # Missing rate: every tested column.
    p_miss = proportion_test(col.n_missing, n_ref, n_cur - cur_values, n_cur)
    h_miss = cohen_h(miss_ref, miss_cur)
    tests.append({"test": "missing", "statistic": h_miss, "p_value": p_miss,
                  "effect": abs(h_miss), "floor": min_h})

    method = ""
    dist_tested = False
    if col.mode in ("bins", "values", "categories"):
        ref_counts = list(col.counts or [])
        cur_counts, unseen = _current_counts(col, cur.get("counts"))
        known_cur = sum(cur_counts)
        summary = _summary(col, cur)
        hist = _histogram(col, ref_counts, cur_counts, unseen)
        if col.n_values < MIN_VALUES or known_cur < MIN_VALUES:
            which = "current" if known_cur < MIN_VALUES else "reference"
            have = known_cur if which == "current" else col.n_values
            method = f"missing rate only ({have} values in {which}, need {MIN_VALUES})"
        else:
            dist_tested = True
            n_min = min(col.n_values, known_cur)
            if col.mode == "categories":
                cells_r, cells_c = merge_categories(
                    ref_counts, cur_counts, col.other, unseen.get(None, 0), n_min)
            else:
                cells_r, cells_c = merge_ordered(ref_counts, cur_counts, n_min, CHI_CELLS)
            effect = psi(cells_r, cells_c)
            if "location" in components:
                z_loc, z_spread = rank_tests(ref_counts, cur_counts)
                tests.append({"test": "location", "statistic": z_loc,
                              "p_value": normal_sf2(z_loc), "effect": effect, "floor": min_psi})
                tests.append({"test": "spread", "statistic": z_spread,
                              "p_value": normal_sf2(z_spread), "effect": effect,
                              "floor": min_psi})
            stat, df = chi_square(cells_r, cells_c)
            tests.append({"test": "shape", "statistic": stat, "df": df,
                          "p_value": chi2_sf(stat, df), "effect": effect, "floor": min_psi})
            if "new_values" in components:
                named = {k: v for k, v in unseen.items() if k is not None}
                n_new = sum(named.values())
                if col.other == 0:
                    pooled = [r + c for r, c in zip(ref_counts, cur_counts)]
                    p_new = new_values_test(list(named.values()), pooled, col.n_values,
                                            cur_values)
                else:
                    p_new = 1.0  # the profile kept only the commonest categories
                h_new = cohen_h(0.0, n_new / cur_values if cur_values else 0.0)
                tests.append({"test": "new_values", "statistic": n_new, "p_value": p_new,
                              "effect": h_new, "floor": min_h})
                new_values = [{"value": k, "count": v} for k, v in
                              sorted(named.items(), key=lambda kv: (-kv[1], str(kv[0])))[:20]]
            cells = len(cells_r)
            if col.mode == "bins":
                method = f"rank + chi-square tests on quantile bins ({cells} cells)"
            elif col.mode == "values":
                method = f"rank + chi-square tests on {len(ref_counts)} values ({cells} cells)"
            elif col.kind == "boolean":
                method = "chi-square test on true/false"
            else:
                method = f"chi-square test on categories ({cells} cells) + new-value test"
    elif col.mode == "datetime":
        summary = {"reference_min": col.stats.get("min"), "reference_max": col.stats.get("max"),
                   "current_min": cur.get("min"), "current_max": cur.get("max")}
        method = f"missing rate only ({col.reason})"
    else:
        method = f"missing rate only ({col.reason})"

    k = len(components) if dist_tested else 1
    if not dist_tested:
        tests = [t for t in tests if t["test"] == "missing"]
    for t in tests:
        t["p_adjusted"] = min(1.0, t["p_value"] * k)
        t["significant"] = t["p_adjusted"] < threshold
        t["large_enough"] = t["effect"] is not None and abs(t["effect"]) >= t["floor"]
    firing = [t for t in tests if t["significant"] and t["large_enough"]]
    drifted = bool(firing)
    best = min(firing or tests, key=lambda t: t["p_value"])
    p_col = best["p_adjusted"]
    if not drifted and any(t["significant"] for t in tests):
        small = min((t for t in tests if t["significant"]), key=lambda t: t["p_value"])
        note_parts.append(
            f"{small['test']} change is significant but small "
            f"({'PSI' if small['floor'] == min_psi else 'h'} {abs(small['effect']):.3f} "
            f"< {small['floor']})"
        )
    if drifted:
        note_parts.append(_explain(firing, col, miss_ref, miss_cur, new_values))
    name = "psi" if best["test"] in ("location", "spread", "shape") else (
        "missing_h" if best["test"] == "missing" else "new_values_h")
    return ColumnDrift(
        name=col.name, type=col.kind, method=method, statistic=float(abs(best["effect"])),
        p_value=p_col, threshold=threshold, drifted=drifted, missing_reference=miss_ref,
        missing_current=miss_cur, tested=True, statistic_name=name,
        note="; ".join(p for p in note_parts if p) or None, tests=tests,
        new_values=new_values, summary=summary, histogram=hist,
    )


def _explain(firing: list[dict[str, Any]], col: ColumnProfile, miss_ref: float,
             miss_cur: float, new_values: list[dict[str, Any]]) -> str:
    parts = []
    for t in firing:
        if t["test"] == "location":
            parts.append("values " + ("higher" if t["statistic"] > 0 else "lower"))
        elif t["test"] == "spread":
            parts.append("spread " + ("wider" if t["statistic"] > 0 else "narrower"))
        elif t["test"] == "shape":
            parts.append("category mix changed" if col.mode == "categories"
                         else "distribution changed")
        elif t["test"] == "missing":
            parts.append(f"missing {miss_ref:.1%} -> {miss_cur:.1%}")
        elif t["test"] == "new_values":
            shown = ", ".join(repr(v["value"]) for v in new_values[:3])
            parts.append(f"new values: {shown}")
    return ", ".join(dict.fromkeys(parts))


def _current_counts(col: ColumnProfile, counts: Any) -> tuple[list[int], dict[Any, int]]:
    """The current batch's counts aligned with the profile's cells, and the values the
    reference never had (key None: values outside a truncated category list)."""
    if col.mode == "bins":
        return [int(x) for x in counts or [0] * (len(col.edges or []) + 1)], {}
    counts = dict(counts or {})
    if col.mode == "values":
        counts = {float(k): int(v) for k, v in counts.items()}
    else:
        counts = {str(k): int(v) for k, v in counts.items()}
    aligned = [counts.pop(v, 0) for v in col.values or []]
    if col.mode == "categories" and col.other:
        return aligned, {None: sum(counts.values())}
    return aligned, counts


def _summary(col: ColumnProfile, cur: dict[str, Any]) -> dict[str, Any]:
    if col.mode not in ("bins", "values"):
        return {}
    return {"reference_mean": col.stats.get("mean"), "reference_std": col.stats.get("std"),
            "current_mean": cur.get("mean")}


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _histogram(col: ColumnProfile, ref: list[int], cur: list[int], unseen: dict[Any, int]
               ) -> dict[str, Any]:
    """Reference and current shares per cell, for reports (at most 20 cells)."""
    n_ref, n_cur = max(sum(ref) + col.other, 1), max(sum(cur) + sum(unseen.values()), 1)
    if col.mode == "bins":
        edges = col.edges or []
        labels = [f"≤ {_fmt(edges[0])}"] + [
            f"{_fmt(a)} – {_fmt(b)}" for a, b in itertools.pairwise(edges)
        ] + [f"> {_fmt(edges[-1])}"]
        rows = list(zip(labels, ref, cur))
    else:
        labels = [_fmt(v) if isinstance(v, float) else str(v) for v in col.values or []]
        rows = list(zip(labels, ref, cur))
        if col.mode == "categories" and len(rows) > 15:
            rest = rows[15:]
            rows = [*rows[:15], ("(other)", sum(r[1] for r in rest), sum(r[2] for r in rest))]
        if col.other:
            rows.append(("(not in profile)", col.other, unseen.get(None, 0)))
        named = sum(v for k, v in unseen.items() if k is not None)
        if named:
            rows.append(("(new values)", 0, named))
    return {
        "labels": [r[0] for r in rows],
        "reference": [r[1] / n_ref for r in rows],
        "current": [r[2] / n_cur for r in rows],
    }


def compare(
    reference: Any,
    current: Any,
    *,
    columns: list[str] | None = None,
    alpha: float = ALPHA,
    min_psi: float = MIN_PSI,
    min_h: float = MIN_H,
) -> DriftResult:
    """Profile ``reference`` and check ``current`` against it (what ``mlcycle drift`` runs).

    Column sets are compared before any data is read, so a bad ``columns`` fails fast, and
    only the columns both files have are profiled.
    """
    ref_rel, ref_label, keep, ref_columnar = _open(reference)
    con = keep[0] if isinstance(keep, tuple) else keep  # one connection for both inputs
    cur_rel, cur_label, _cur_keep, cur_columnar = _open(current, con)
    ref_names, cur_names = list(ref_rel.columns), list(cur_rel.columns)
    _, only_ref, _ = _select(ref_names, cur_names, columns, ref_label, cur_label)
    if only_ref:
        ref_rel = ref_rel.project(", ".join(ident(c) for c in ref_names if c in cur_names))
    prof = profile(ref_rel, _columnar=ref_columnar)
    prof.source = ref_label
    result = check(prof, cur_rel, columns=columns, alpha=alpha, min_psi=min_psi, min_h=min_h,
                   _columnar=cur_columnar)
    result.current = cur_label
    result.only_in_reference = only_ref
    return result
