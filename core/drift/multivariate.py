"""Multivariate drift: has the joint distribution of the inputs changed?

The per-column tests of :mod:`mlcycle.drift.check` look at each input on its own, so a change
that leaves every input's own distribution as it was (two inputs whose correlation reverses,
a segment whose usual combination of plan and bill no longer holds) passes them all. This
test looks at the inputs together, by *data reconstruction error* (as NannyML does):

1. A sample of the reference (up to ``2 * FIT_ROWS`` rows, fixed seed) is split at random
   into a fitting part and a held-out part. The inputs are standardised with the fitting
   part's mean and spread (numeric and few-valued columns as numbers; categories and
   booleans by their share of the reference, "frequency encoding"); a missing value is
   put at the mean.
2. A principal component analysis of the fitting part keeps the fewest components that
   explain ``VARIANCE`` of the variance (and always drops at least one). Each row's
   reconstruction error is the distance between its standardised values and their
   projection on those components: large where the row breaks the reference's
   correlations.
3. The held-out rows' errors become a binned "column" like any numeric input (quantile
   edges, exact counts), stored in the profile, so monitoring needs no reference rows.
   A batch's rows (up to ``BATCH_ROWS``, fixed seed) are scored by the same model, counted
   into those bins and judged by the engine's own column judgement: rank tests for location
   and spread plus a chi-square test, with the PSI floor against negligible changes.

The held-out part is never used to fit, so under "same distribution" its errors and the
batch's are draws from one distribution and the p-value is valid at any size;
``tests/drift/test_drift_multivariate.py`` and ``bench/drift_rates.py`` measure the rates. The
test is one more member of the dataset's Bonferroni family (see :mod:`mlcycle.drift.check`).
A change of one input's own distribution usually moves the error too, so this test fires
alongside the column that drifted; its own job is the change no column shows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlcycle.drift.profile import (
    BINS,
    MIN_VALUES,
    SAMPLE_SEED,
    ColumnProfile,
    finite_expr,
)
from mlcycle.store.errors import InvalidInput
from mlcycle.store.sql import ident

if TYPE_CHECKING:
    import duckdb
    import numpy as np

FIT_ROWS = 5_000  # reference rows to fit on, and as many held out
BATCH_ROWS = 20_000  # batch rows scored: the held-out side has at most FIT_ROWS, so more add
# little power, and at this size the PSI floor, not the p-value, decides on large batches
VARIANCE = 0.65  # share of the variance the kept components explain (NannyML's default)
MAX_COLUMNS = 100  # a larger model would bloat every stored profile
ERROR = "reconstruction error"
METHOD = "PCA reconstruction error (rank + chi-square tests on quantile bins)"


@dataclass
class MultivariateDrift:
    """The verdict on the inputs taken together."""

    applicable: bool
    drifted: bool
    method: str
    columns: list[str]
    statistic: float | None = None
    statistic_name: str = "psi"
    p_value: float | None = None
    threshold: float | None = None
    mean_error_reference: float | None = None
    mean_error_current: float | None = None
    components: int | None = None
    variance_explained: float | None = None
    n_reference: int = 0  # held-out reference rows the errors were taken on
    n_current: int = 0  # batch rows scored
    reason: str | None = None
    note: str | None = None
    tests: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from mlcycle.drift.check import _clean

        return {k: _clean(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MultivariateDrift:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def not_applicable(reason: str, columns: list[str] | None = None) -> MultivariateDrift:
    return MultivariateDrift(applicable=False, drifted=False, method="not tested: " + reason,
                             columns=columns or [], reason=reason)


# --------------------------------------------------------------------------- fit


def _candidates(cols: list[ColumnProfile]) -> tuple[list[ColumnProfile], list[str]]:
    """The reference columns that can take part: numbers, categories and booleans the
    engine tests by distribution (identifiers, free text and datetimes are left out, as
    in the per-column tests)."""
    usable = [c for c in cols if c.mode in ("bins", "values")
              or (c.mode == "categories" and c.n_distinct >= 2)]
    return usable[:MAX_COLUMNS], [c.name for c in usable[MAX_COLUMNS:]]


def _numeric(col: ColumnProfile) -> bool:
    return col.mode in ("bins", "values")


def _select_sql(cols: list[ColumnProfile], dtypes: dict[str, str], rows: int) -> str:
    # Identifiers are quoted by ident() and the numbers are ours: nothing from the data
    # reaches this SQL text. Categories are fetched as text and encoded in numpy.
    exprs = ", ".join(
        (finite_expr(ident(c.name), dtypes[c.name]) if _numeric(c)
         else f"CAST({ident(c.name)} AS VARCHAR)") + f" AS c{i}"
        for i, c in enumerate(cols))
    return (f"SELECT {exprs} FROM drift_rows "  # noqa: S608
            f"USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE ({SAMPLE_SEED})")


def _fetch(rel: duckdb.DuckDBPyRelation, cols: list[ColumnProfile], dtypes: dict[str, str],
           rows: int, label: str | None) -> np.ndarray:
    """A sample of ``rows`` rows of ``cols``, encoded as numbers (rows x columns)."""
    import duckdb
    import numpy as np

    try:
        data = rel.query("drift_rows", _select_sql(cols, dtypes, rows)).fetchnumpy()
    except duckdb.Error as exc:
        from mlcycle.data.sources import error_text

        raise InvalidInput(f"cannot read {label or 'the data'}: {error_text(exc)}") from None
    out = np.empty((len(data["c0"]) if cols else 0, len(cols)))
    for i, col in enumerate(cols):
        values = data[f"c{i}"]
        if _numeric(col):
            out[:, i] = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan)
        else:
            out[:, i] = _frequencies(col, values)
    return out


def _frequencies(col: ColumnProfile, values: Any) -> np.ndarray:
    """Each value's share of the reference: a category the reference never had gets 0,
    a missing value the reference's missing share. One dictionary look-up per distinct
    value, not per row."""
    import numpy as np

    missing = np.ma.getmaskarray(values)
    text = np.ma.getdata(values).astype(object)
    text[missing] = ""
    n = max(col.n, 1)
    share = dict(zip(col.values or [], (c / n for c in col.counts or [])))
    uniques, inverse = np.unique(text.astype(str), return_inverse=True)
    encoded = np.array([share.get(u, 0.0) for u in uniques.tolist()])[inverse.ravel()]
    encoded[missing] = col.n_missing / n
    return encoded


def _errors(x: np.ndarray, center: np.ndarray, scale: np.ndarray, components: np.ndarray
            ) -> np.ndarray:
    """Per row, the distance between the standardised values and their reconstruction."""
    import numpy as np

    z = np.nan_to_num((x - center) / scale, nan=0.0)  # a missing value sits at the mean
    residual = z - (z @ components.T) @ components
    return np.sqrt(np.einsum("ij,ij->i", residual, residual))


def _binned(errors: np.ndarray) -> ColumnProfile:
    """The held-out errors as a binned column, as :mod:`mlcycle.drift.profile` bins one."""
    import numpy as np

    qs = [k / BINS for k in range(1, BINS)]
    edges = sorted({float(q) for q in np.quantile(errors, qs, method="inverted_cdf")})
    n = len(errors)
    return ColumnProfile(name=ERROR, dtype="DOUBLE", kind="numeric", identifier=False,
                         mode="bins", n=n, n_missing=0, n_distinct=n, edges=edges,
                         counts=_counts(edges, errors),
                         stats={"mean": float(errors.mean()), "std": float(errors.std())})


def _counts(edges: list[float], errors: np.ndarray) -> list[int]:
    import numpy as np

    # side="left": a value equal to an edge belongs to the bin below it, as in count_exprs.
    cells = np.searchsorted(np.asarray(edges), errors, side="left")
    return np.bincount(cells, minlength=len(edges) + 1).tolist()


def fit(rel: duckdb.DuckDBPyRelation, cols: list[ColumnProfile], dtypes: dict[str, str],
        label: str | None = None) -> dict[str, Any]:
    """The reconstruction model of a reference, as JSON-serialisable numbers (kept in the
    :class:`~mlcycle.drift.profile.Profile`), or a ``reason`` why there is none."""
    import numpy as np

    cols, too_many = _candidates(cols)
    left_out = [{"name": n, "reason": f"more than {MAX_COLUMNS} inputs"} for n in too_many]
    if len(cols) < 2:
        return {"reason": "fewer than 2 inputs to compare jointly", "columns": [],
                "left_out": left_out}
    x = _fetch(rel, cols, dtypes, 2 * FIT_ROWS, label)
    # A fixed order before the random split: the sample's row order may vary between runs.
    x = x[np.lexsort(np.nan_to_num(x, nan=np.inf).T[::-1])]
    order = np.random.default_rng(SAMPLE_SEED).permutation(len(x))
    fit_rows, held = x[order[: len(x) // 2]], x[order[len(x) // 2:]]
    with np.errstate(invalid="ignore", divide="ignore"):
        center = np.nanmean(fit_rows, axis=0) if len(fit_rows) else np.zeros(len(cols))
        scale = np.nanstd(fit_rows, axis=0) if len(fit_rows) else np.zeros(len(cols))
    keep = np.isfinite(center) & np.isfinite(scale) & (scale > 0)
    left_out += [{"name": c.name, "reason": "constant in the reference sample"}
                 for c, k in zip(cols, keep) if not k]
    names = [c.name for c, k in zip(cols, keep) if k]
    if len(names) < 2:
        return {"reason": "fewer than 2 inputs that vary", "columns": names,
                "left_out": left_out}
    if len(held) < MIN_VALUES or len(fit_rows) < 2 * len(names):
        return {"reason": f"too few reference rows ({len(x)}) for {len(names)} inputs",
                "columns": names, "left_out": left_out}
    center, scale = center[keep], scale[keep]
    z = np.nan_to_num((fit_rows[:, keep] - center) / scale, nan=0.0)
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    explained = np.cumsum(singular**2) / max(float(np.sum(singular**2)), 1e-300)
    # Keeping every component would reconstruct every row exactly: drop at least one.
    k = min(int(np.searchsorted(explained, VARIANCE) + 1), len(names) - 1)
    components = vt[:k]
    errors = _binned(_errors(held[:, keep], center, scale, components))
    return {
        "columns": names,
        "center": center.tolist(),
        "scale": scale.tolist(),
        "components": components.tolist(),
        "variance_explained": float(explained[k - 1]),
        "n_fit": len(fit_rows),
        "errors": errors.to_dict(),
        "left_out": left_out,
    }


# --------------------------------------------------------------------------- check


def applicable(model: dict[str, Any] | None, selected: set[str], current: dict[str, str]
               ) -> str | None:
    """Why the batch cannot be tested jointly, or None when it can."""
    if model is None:
        return "the reference profile has no multivariate model (made by an older mlcycle)"
    if model.get("reason"):
        return model["reason"]
    names = model["columns"]
    lacking = [n for n in names if n not in current]
    if lacking:
        return f"the current data lacks {', '.join(lacking[:5])}"
    unselected = [n for n in names if n not in selected]
    if unselected:
        return f"the model covers {', '.join(unselected[:5])}, which were not selected"
    return None


def check(model: dict[str, Any], profiles: dict[str, ColumnProfile],
          rel: duckdb.DuckDBPyRelation, current: dict[str, str], n_current: int,
          threshold: float, min_psi: float, min_h: float, label: str | None = None
          ) -> MultivariateDrift:
    """Score a batch with the reference's model and judge its errors against the reference's
    held-out errors. ``current``: the batch's column types."""
    import numpy as np

    from mlcycle.drift.check import judge_column

    names = model["columns"]
    if n_current < MIN_VALUES:
        return not_applicable(f"only {n_current} rows in the current data "
                              f"(need {MIN_VALUES})", names)
    cols = [profiles[n] for n in names]
    x = _fetch(rel, cols, current, BATCH_ROWS, label)
    errors = _errors(x, np.asarray(model["center"]), np.asarray(model["scale"]),
                     np.asarray(model["components"]).reshape(-1, len(names)))
    ref = ColumnProfile.from_dict(model["errors"])
    cur = {"n_values": len(errors), "mean": float(errors.mean()),
           "counts": _counts(ref.edges or [], errors)}
    verdict = judge_column(ref, cur, len(errors), threshold, min_psi, min_h)
    note = verdict.note
    if verdict.drifted:
        higher = cur["mean"] > ref.stats["mean"]
        note = ("rows fit the reference's correlations " + ("worse" if higher else "better")
                + f" (mean reconstruction error {ref.stats['mean']:.3g} -> {cur['mean']:.3g})")
    return MultivariateDrift(
        applicable=True, drifted=verdict.drifted, method=METHOD, columns=names,
        statistic=verdict.statistic, p_value=verdict.p_value, threshold=threshold,
        mean_error_reference=ref.stats["mean"], mean_error_current=cur["mean"],
        components=len(model["components"]), variance_explained=model["variance_explained"],
        n_reference=ref.n, n_current=len(errors), note=note,
        tests=[t for t in verdict.tests if t["test"] != "missing"],
    )
