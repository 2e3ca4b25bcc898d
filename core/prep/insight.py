"""Feature insight (lifecycle stage 4): what each feature of a feature set shows.

Per feature: its definition and type, its missing share, its relation to the target (mutual
information in bins, and correlation for numbers) and its stability, the population
stability index measured by the drift engine between two parts of the data.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.data.columns import by_name
from mlcycle.prep import expressions
from mlcycle.prep.features import apply, resolve

if TYPE_CHECKING:
    import polars as pl

    from mlcycle.store.workspace import Workspace

BINS = 10  # quantile bins for mutual information
TOP = 20  # categories kept by name for the same; the rest pooled
SHIFTING, UNSTABLE = 0.1, 0.25  # PSI rules of thumb


def insight(ws: Workspace, project: str, ref: str | None = "latest", data: str = "latest",
            against: str | None = None) -> dict[str, Any]:
    """Per feature: definition, type, missing share, relation to the target, stability.

    Stability is the population stability index between the first and second half of the
    data's rows (or between ``against`` and ``data``), in quantile bins of the first; above
    0.25 a feature is flagged unstable, above 0.1 shifting.
    """

    proj = projects.get(ws, project)
    fs = resolve(ws, project, ref)
    version = datasets.get(ws, project, data)
    frame = datasets.frame(ws, version)
    roles = {c["name"]: c["role"] for c in datasets.dictionary(ws, project, version.id)}
    applied = apply(fs, frame) if fs else frame
    derived = {d.name: d for d in fs.derived} if fs else {}
    names = [
        c for c in applied.columns
        if c != proj.target and (c in derived or roles.get(c, "feature") == "feature"
                                 or (fs is not None and fs.keep is not None))
    ]
    if against:
        other = datasets.get(ws, project, against)
        base = datasets.frame(ws, other)
        reference = apply(fs, base) if fs else base
        current, basis = applied, f"version {other.id} → {version.id}"
    else:
        half = applied.height // 2
        reference, current = applied.head(half), applied.slice(half)
        basis = "first half → second half of the rows"
    relations = relationships(applied, proj.target, proj.task, names)
    psis = stability(reference, current, names)
    rows = []
    for name in names:
        series = applied[name]
        kind = expressions.type_of(series.dtype)
        missing = series.null_count() + (int(series.is_nan().sum()) if kind == "float" else 0)
        psi = psis.get(name)
        rows.append({
            "name": name,
            "definition": derived[name].expr if name in derived else "input column",
            "description": derived[name].description if name in derived else "",
            "type": kind,
            "missing_share": missing / applied.height if applied.height else 0.0,
            **relations.get(name, {"mutual_info": None, "correlation": None}),
            "psi": psi,
            "stability": _stability_label(psi),
        })
    return {
        "project": project,
        "target": proj.target,
        "feature_set": fs.to_dict() if fs else None,
        "data": version.id,
        "rows": applied.height,
        "stability_basis": basis,
        "correlation_with": relations.get("__positive__"),
        "features": rows,
    }


def _stability_label(psi: float | None) -> str:
    if psi is None:
        return "–"
    if psi >= UNSTABLE:
        return "unstable"
    return "shifting" if psi >= SHIFTING else "stable"


def _codes(reference: pl.DataFrame, name: str) -> Any:
    """A function turning the column into small integer cells fitted on ``reference``
    (for mutual information): quantile bins for many-valued numbers, values for the rest
    (top ones), -1 for missing."""
    import polars as pl

    series = reference[name]
    kind = expressions.type_of(series.dtype)
    col = by_name(name)
    if kind in ("date", "datetime"):
        col = col.cast(pl.Int64)
        series = series.cast(pl.Int64)
        kind = "integer"
    if kind == "float":
        col = col.fill_nan(None)
        series = series.fill_nan(None)
    if kind in ("integer", "float") and series.n_unique() > BINS:
        qs = [i / BINS for i in range(1, BINS)]
        edges = sorted({float(v) for v in (series.quantile(q, "nearest") for q in qs)
                        if v is not None})

        def numeric(expr: pl.Expr = col) -> pl.Expr:
            cells = pl.sum_horizontal([(expr > e).cast(pl.Int32) for e in edges])
            return pl.when(expr.is_null()).then(-1).otherwise(cells)

        return numeric
    text = series.cast(pl.String)
    top = text.drop_nulls().value_counts(sort=True).head(TOP)[text.name or name].to_list()
    mapping = {v: i for i, v in enumerate(sorted(top))}

    def categorical(expr: pl.Expr = col) -> pl.Expr:
        as_text = expr.cast(pl.String)
        return (pl.when(as_text.is_null()).then(-1)
                .otherwise(as_text.replace_strict(mapping, default=len(mapping),
                                                  return_dtype=pl.Int32)))

    return categorical


def stability(reference: pl.DataFrame, current: pl.DataFrame, names: list[str]
              ) -> dict[str, float]:
    """PSI of each column between two frames, as the drift engine measures it (its bins, its
    merging of sparse cells), so a feature's stability here and its drift in monitoring are
    the same figure. Columns the engine does not test by distribution (identifiers, free
    text, datetimes) have none."""
    from mlcycle import drift

    common = [n for n in names if n in reference.columns and n in current.columns]
    if reference.height == 0 or current.height == 0 or not common:
        return {}
    result = drift.check(drift.profile(reference.select(common)), current.select(common))
    out = {}
    for col in result.columns:
        shape = [t["effect"] for t in col.tests if t["test"] == "shape"]
        if shape and shape[0] is not None:
            out[col.name] = round(float(shape[0]), 4)
    return out


def relationships(frame: pl.DataFrame, target: str, task: str, names: list[str]
                  ) -> dict[str, Any]:
    """Mutual information (nats, in binned cells) of each column with the target, and the
    Pearson correlation of numeric columns with a numeric or two-class target.

    The key ``__positive__`` says what a positive correlation means for a two-class target.
    """
    import polars as pl

    out: dict[str, Any] = {}
    if target not in frame.columns:
        return out
    labelled = frame.filter(by_name(target).is_not_null())
    if labelled.height == 0:
        return out
    t_kind = expressions.type_of(labelled[target].dtype)
    t_code = _codes(labelled, target)() if task != "classification" else None
    if task == "classification":
        values = labelled[target].cast(pl.String)
        counts = values.value_counts(sort=True)
        classes = counts[values.name].to_list()
        mapping = {v: i for i, v in enumerate(classes)}
        t_code = by_name(target).cast(pl.String).replace_strict(mapping, default=len(mapping),
                                                               return_dtype=pl.Int32)
        numeric_target = None
        if len(classes) == 2:
            # A positive correlation means "more of the rarer class" (true for booleans).
            positive = "true" if t_kind == "boolean" else classes[-1]
            numeric_target = (by_name(target).cast(pl.String) == positive).cast(pl.Float64)
            out["__positive__"] = f"{target} = {positive}"
    else:
        numeric_target = by_name(target).cast(pl.Float64)
        out["__positive__"] = target
    for name in names:
        if name not in labelled.columns:
            continue
        cells = labelled.select(_codes(labelled, name)().alias("f"), t_code.alias("t"))
        table = cells.group_by("f", "t").len()
        mi = _mutual_info(table["f"].to_list(), table["t"].to_list(), table["len"].to_list())
        corr = None
        kind = expressions.type_of(labelled[name].dtype)
        if numeric_target is not None and kind in ("integer", "float", "boolean"):
            value = labelled.select(pl.corr(by_name(name).cast(pl.Float64).fill_nan(None),
                                            numeric_target)).item()
            corr = round(value, 4) if value is not None and math.isfinite(value) else None
        out[name] = {"mutual_info": round(mi, 4), "correlation": corr}
    return out


def _mutual_info(fs: list[int], ts: list[int], ns: list[int]) -> float:
    total = sum(ns)
    if not total:
        return 0.0
    pf: dict[int, int] = {}
    pt: dict[int, int] = {}
    for f, t, n in zip(fs, ts, ns):
        pf[f] = pf.get(f, 0) + n
        pt[t] = pt.get(t, 0) + n
    # Sum over the (at most ~21 x 21) cells of the contingency table, not over rows.
    return max(sum(n / total * math.log(n * total / (pf[f] * pt[t]))
                   for f, t, n in zip(fs, ts, ns) if n), 0.0)


def target_correlations(ws: Workspace, project: str, ref: str = "latest"
                        ) -> dict[str, Any]:
    """Correlation (and mutual information) of every numeric column with the target, for
    the data view's chart."""

    proj = projects.get(ws, project)
    version = datasets.get(ws, project, ref)
    frame = datasets.frame(ws, version)
    roles = {c["name"]: c["role"] for c in datasets.dictionary(ws, project, version.id)}
    names = [c for c in frame.columns if c != proj.target and roles.get(c) == "feature"
             and expressions.type_of(frame[c].dtype) in ("integer", "float", "boolean")]
    found = relationships(frame, proj.target, proj.task, names)
    return {
        "positive": found.pop("__positive__", None),
        "columns": sorted(
            ({"name": n, **found[n]} for n in names if n in found),
            key=lambda r: -abs(r["correlation"] or 0.0),
        ),
    }
