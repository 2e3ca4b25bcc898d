"""Data drift: is a new batch of rows distributed like the reference the model was built on?

Two steps, so that monitoring never has to read the reference again:

* :func:`profile` reads the reference once and keeps a small, JSON-serialisable
  :class:`Profile`: per column the row count, missing count, kind (decided by
  :mod:`mlcycle.data.columns`, so it matches the data dictionary), and either exact counts in
  quantile bins (numeric columns), exact counts per value (numbers with few distinct values,
  categories, booleans), or just the range (datetimes).
* :func:`check` counts a batch into the same bins and categories in one aggregate pass and
  tests each column. :func:`compare` is both steps for two files; ``mlcycle drift`` uses it.

How a column is judged, and why
-------------------------------
Users of drift tools mostly complain about two failures: alarms on large data for shifts
far too small to matter (any p-value becomes tiny at a million rows), and silence on small
data. The rules below are designed against both, and ``tests/drift/test_drift_rates.py`` and
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
   ``alpha`` (5%) by Bonferroni: each of the m tested columns gets ``alpha / m``, plus one
   part for the inputs taken together (:mod:`mlcycle.drift.multivariate`, which finds
   changes of the joint distribution that leave every column's own as it was), when that
   applies (as recommended for multi-feature shift detection by Rabanser et al., "Failing
   Loudly", 2019). Within a column the part is split between its tests by weight
   (``SHARES``: location 45 %, spread 20 % and shape the rest for numbers; the category mix
   55 % and never-seen values 30 % for categories; 10 % for the missing rate), so the
   changes users most need found are not diluted by the checks that rarely fire; a test's
   adjusted p-value is its p-value divided by its share. The dataset drifts if any column
   drifts or the inputs drift jointly; Evidently's default "half the columns" rule misses
   the common case of one broken feature. ``share_drifted`` is reported too.
4. *A floor on effect size.* A column drifts only if it is significant *and* the change is
   large enough to matter: a location change of at least 0.06 standard deviations (read
   from the rank-sum's probability of superiority, so a 0.1 sd shift is found from about
   5,000 rows while the 0.02 sd shifts a million rows make significant are not); for
   spread and shape a population stability index (PSI, on the same merged bins or
   categories) of at least 0.02 (a variance x1.5 is PSI 0.05-0.06); for missing rates and
   never-seen values a Cohen's h of at least 0.1 (0% to 0.25%, 10% to 13%, 50% to 55%). At
   small n these estimates are biased upwards, so the floors bind only on large data, where
   they stop significant-but-negligible shifts from raising alarms.
5. *Left out, with the reason:* identifiers and free text (nearly all values distinct, or
   more than 1,000 distinct strings), columns with fewer than 30 values on either side (only
   their missing rate is tested), and datetimes: time moves on between batches, so a
   datetime range always "drifts"; their ranges are reported and only their missing rate
   is tested. Columns that are all missing in the reference are tested for missing rate only.

NaN and infinite numbers count as missing.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from mlcycle.drift import multivariate
from mlcycle.drift.multivariate import MultivariateDrift
from mlcycle.drift.profile import (
    COMPONENTS,
    COUNTED,
    MIN_VALUES,
    SPLIT_ROWS,
    ColumnProfile,
    Profile,
    aggregate,
    aggregate_groups,
    as_number,
    bin_counts,
    count_exprs,
    finite_expr,
    open_table,
    profile,
)
from mlcycle.drift.statistics import (
    chi2_sf,
    chi_square,
    cohen_h,
    merge_categories,
    merge_ordered,
    new_values_test,
    normal_sf2,
    proportion_test,
    psi,
    rank_tests,
    shift_in_sd,
)
from mlcycle.store.errors import InvalidInput
from mlcycle.store.sql import ident

ALPHA = 0.05
MIN_PSI = 0.02
MIN_H = 0.1
# A location change counts from 0.06 standard deviations: a 0.1 sd shift (found from about
# 5,000 rows) clears it, the 0.02-0.05 sd shifts that a million rows make significant do
# not. PSI cannot hold this line: it grows with the square of a shift (0.1 sd is PSI 0.01).
MIN_SHIFT = 0.06
# Each column's part of the error budget, split between its tests (weighted Bonferroni: the
# shares sum to one, so the column's false-alarm rate stays within its part). The change
# users most need found gets most: a location shift for numbers; the mix of categories,
# which takes what the other tests leave (0.2 for numbers, 0.55 for categories, 0.85 for
# booleans). Missing-rate changes that matter are large and need little of it.
SHARES = {"location": 0.45, "spread": 0.2, "new_values": 0.3, "missing": 0.1, "constant": 0.05}
CHI_CELLS = 10


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
    # The inputs taken together; None in checks stored before the test existed.
    multivariate: MultivariateDrift | None = None

    @property
    def drifted(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.drifted]

    @property
    def threshold(self) -> float:
        """The p-value a column (or the joint test) must beat: alpha over the family size."""
        joint = self.multivariate is not None and self.multivariate.applicable
        return self.alpha / max(self.n_tested + joint, 1)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DriftResult:
        """The inverse of :meth:`to_dict` (a stored check holds its results as JSON)."""
        fields = {k: v for k, v in d.items()
                  if k not in ("columns", "n_drifted", "multivariate")}
        columns = [ColumnDrift(**{k: (math.nan if v is None and k == "statistic" else v)
                                  for k, v in c.items()}) for c in d["columns"]]
        joint = d.get("multivariate")
        return cls(columns=columns, **fields,
                   multivariate=MultivariateDrift.from_dict(joint) if joint else None)

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
            "multivariate": self.multivariate.to_dict() if self.multivariate else None,
        }


def _components(col: ColumnProfile) -> tuple[str, ...]:
    if col.mode == "categories" and col.kind == "boolean":
        return COMPONENTS["boolean"]
    return COMPONENTS[col.mode]


def check(
    reference: Profile,
    data: Any,
    *,
    columns: list[str] | None = None,
    alpha: float = ALPHA,
    min_psi: float = MIN_PSI,
    min_h: float = MIN_H,
    _columnar: bool | None = None,
    _label: str | None = None,
) -> DriftResult:
    """Test a batch (path, DuckDB relation or polars DataFrame) against a reference profile.

    Reads the batch once. The columns both sides have are compared, and those only one side
    has are listed in the result. ``columns`` restricts testing to those names (the other
    common columns are listed as not selected); a name one side lacks raises
    :class:`InvalidInput` naming that side.
    """
    if not 0 < alpha < 1:
        raise InvalidInput(f"alpha must be between 0 and 1, not {alpha}")
    rel, label, _con, columnar = open_table(data)
    label = label or _label
    if _columnar is not None:
        columnar = _columnar
    current_names = list(rel.columns)
    cur_types = {n: str(t) for n, t in zip(rel.columns, rel.dtypes)}
    selected, only_ref, only_cur = _select(reference.names, current_names, columns,
                                           reference.source, label)

    # On Parquet the row count comes from the file footer, before deciding how to read.
    split = columnar and int(aggregate(rel, ["count(*)"], label)[0]) >= SPLIT_ROWS
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
            val = finite_expr(name, cur_types[col.name])
            exprs += [f"count({val})", f"avg({val})"]
            if col.mode == "bins":  # a batch whose every value is one (stuck feed)
                exprs += [f"min({val})::DOUBLE", f"max({val})::DOUBLE"]
        else:
            exprs.append(f"count({name})")
        if col.mode == "datetime":
            exprs += [f"min({name})::VARCHAR", f"max({name})::VARCHAR"]
        exprs += count_exprs(col, cur_types[col.name])
    row = iter(aggregate_groups(rel, groups, split, label))
    n_cur = int(next(row))
    if not n_cur:
        # "No drift" in no rows would be a verdict on nothing.
        raise InvalidInput(f"{label or 'the current data'}: has no rows to check")

    partial: list[tuple[ColumnProfile, dict[str, Any]]] = []
    unselected: dict[str, int] = {}
    for col in common:
        if col.name not in selected:
            unselected[col.name] = int(next(row))
            continue
        cur: dict[str, Any] = {"n_values": int(next(row))}
        if col.mode in ("bins", "values"):
            cur["mean"] = as_number(next(row))
        if col.mode == "bins":
            lowest, highest = next(row), next(row)
            cur["single"] = lowest if lowest is not None and lowest == highest else None
        if col.mode == "datetime":
            cur["min"], cur["max"] = next(row), next(row)
        results = [next(row) for _ in count_exprs(col, cur_types[col.name])]
        if col.mode == "bins":
            cur["counts"] = bin_counts(col, results, cur["n_values"])
        elif col.mode in COUNTED:
            cur["counts"] = results[0]
        partial.append((col, cur))

    tested = [c for c, _ in partial if _components(c)]
    why_not = multivariate.applicable(reference.multivariate, selected, cur_types)
    threshold = alpha / max(len(tested) + (why_not is None), 1)
    results = []
    for col in common:
        if col.name not in selected:
            out = _not_tested(col, "not selected", threshold)
            out.missing_current = 1 - unselected[col.name] / n_cur if n_cur else 0.0
            results.append(out)
    for col, cur in partial:
        results.append(judge_column(col, cur, n_cur, threshold, min_psi, min_h))
    order = {name: i for i, name in enumerate(reference.names)}
    results.sort(key=lambda r: order[r.name])
    drifted = sum(r.drifted for r in results)
    if why_not is None:
        joint = multivariate.check(reference.multivariate or {},
                                   {c.name: c for c in reference.columns}, rel, cur_types,
                                   n_cur, threshold, min_psi, min_h, label)
    else:
        joint = multivariate.not_applicable(
            why_not, (reference.multivariate or {}).get("columns"))
    return DriftResult(
        drift_detected=drifted > 0 or joint.drifted,
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
        multivariate=joint,
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


def judge_column(col: ColumnProfile, cur: dict[str, Any], n_cur: int, threshold: float,
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
        ref_counts, cur_counts, unseen, labels = _cells(col, cur.get("counts"))
        known_cur = sum(cur_counts)
        summary = _summary(col, cur)
        hist = _histogram(col, ref_counts, cur_counts, unseen, labels)
        if col.n_values < MIN_VALUES or known_cur < MIN_VALUES:
            which = "current" if known_cur < MIN_VALUES else "reference"
            have = known_cur if which == "current" else col.n_values
            method = f"missing rate only ({have} values in {which}, need {MIN_VALUES})"
            if "new_values" in components and col.n_values >= MIN_VALUES and unseen:
                # Too few known values, because most are new (codes instead of names):
                # the very change the new-value test is for.
                test, new_values = _new_values(col, ref_counts, cur_counts, unseen,
                                               cur_values, min_h)
                tests.append(test)
                method = (f"new-value test ({known_cur} known values in current, "
                          f"need {MIN_VALUES} for the others)")
        else:
            dist_tested = True
            n_min = min(col.n_values, known_cur)
            if col.mode == "categories":
                cells_r, cells_c = merge_categories(
                    ref_counts, cur_counts, col.other, unseen.get(None, 0), n_min)
            else:
                cells_r, cells_c = merge_ordered(ref_counts, cur_counts, n_min, CHI_CELLS)
            effect = psi(cells_r, cells_c)
            off = sum(c for r, c in zip(ref_counts, cur_counts) if r == 0)
            if off:
                # Numbers off the reference's own values (only gaps have no reference
                # count): merging folds them into their neighbours, this share stays seen.
                effect = max(effect, psi([sum(ref_counts), 0], [known_cur - off, off]))
            if "location" in components:
                z_loc, z_spread = rank_tests(ref_counts, cur_counts)
                tests.append({"test": "location", "statistic": z_loc,
                              "p_value": normal_sf2(z_loc),
                              "effect": shift_in_sd(ref_counts, cur_counts),
                              "floor": MIN_SHIFT, "effect_name": "shift_sd"})
                tests.append({"test": "spread", "statistic": z_spread,
                              "p_value": normal_sf2(z_spread), "effect": effect,
                              "floor": min_psi})
            stat, df = chi_square(cells_r, cells_c)
            tests.append({"test": "shape", "statistic": stat, "df": df,
                          "p_value": chi2_sf(stat, df), "effect": effect, "floor": min_psi})
            if "new_values" in components:
                test, new_values = _new_values(col, ref_counts, cur_counts, unseen,
                                               cur_values, min_h)
                tests.append(test)
            stuck = _constant(col, cur, ref_counts, known_cur, min_h)
            if stuck is not None:
                tests.append(stuck)
            cells = len(cells_r)
            if col.mode == "bins":
                method = f"rank + chi-square tests on quantile bins ({cells} cells)"
            elif col.mode == "values":
                method = (f"rank + chi-square tests on {len(col.values or [])} values "
                          f"({cells} cells)")
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

    if not dist_tested:
        tests = [t for t in tests if t["test"] in ("missing", "new_values", "constant")]
    shares = _shares([t["test"] for t in tests])
    for t in tests:
        t["p_adjusted"] = min(1.0, t["p_value"] / shares[t["test"]])
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
            f"({_effect_name(small)} {abs(small['effect']):.3f} < {small['floor']})"
        )
    if drifted:
        note_parts.append(_explain(firing, col, miss_ref, miss_cur, new_values))
    name = best.get("effect_name") or ("psi" if best["test"] in ("spread", "shape")
                                       else f"{best['test']}_h")
    return ColumnDrift(
        name=col.name, type=col.kind, method=method, statistic=float(abs(best["effect"])),
        p_value=p_col, threshold=threshold, drifted=drifted, missing_reference=miss_ref,
        missing_current=miss_cur, tested=True, statistic_name=name,
        note="; ".join(p for p in note_parts if p) or None, tests=tests,
        new_values=new_values, summary=summary, histogram=hist,
    )


def _shares(names: list[str]) -> dict[str, float]:
    """Each test's part of its column's error budget (see SHARES): the distribution test
    takes what the others leave, and the parts of the tests a column runs sum to one."""
    weights = {n: SHARES.get(n, 0.0) for n in names}
    if "shape" in weights:
        weights["shape"] = 1.0 - sum(weights.values())
    total = sum(weights.values())
    return {n: w / total for n, w in weights.items()}


def effect_label(statistic_name: str) -> str:
    """How a column's effect statistic reads to a user: ``PSI 0.241``, ``shift (sd) 0.102``,
    ``h 0.034`` (Cohen's h of a missing rate, new values or a stuck value)."""
    if statistic_name.endswith("_h"):
        return "h"
    return {"psi": "PSI", "shift_sd": "shift (sd)"}.get(statistic_name, statistic_name)


def _effect_name(test: dict[str, Any]) -> str:
    return effect_label(test.get("effect_name") or (
        "psi" if test["test"] in ("spread", "shape") else f"{test['test']}_h"))


def _constant(col: ColumnProfile, cur: dict[str, Any], ref_counts: list[int], n_cur: int,
              min_h: float) -> dict[str, Any] | None:
    """The test for a batch whose every value is one, in a column that varied in the
    reference (a stuck sensor, a default filled in): None unless the batch is so.

    Equal values share a cell, so the chance that ``n_cur`` values drawn like the reference's
    are all equal is at most the sum over its cells of (cell share)^n_cur."""
    if col.mode == "bins":
        single = cur.get("single")
    else:
        seen = [k for k, v in dict(cur.get("counts") or {}).items() if v]
        single = seen[0] if len(seen) == 1 else None
    if single is None or col.n_distinct < 2 or not col.n_values:
        return None
    shares = [r / col.n_values for r in [*ref_counts, col.other] if r]
    p_value = min(1.0, sum(share ** n_cur for share in shares))
    return {"test": "constant", "statistic": n_cur, "p_value": p_value,
            "effect": cohen_h(max(shares), 1.0), "floor": min_h, "value": _as_held(single)}


def _as_held(value: Any) -> Any:
    """A value as the data holds it: a whole number without a decimal point."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _new_values(col: ColumnProfile, ref_counts: list[int], cur_counts: list[int],
                unseen: dict[Any, int], cur_values: int, min_h: float
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The test for values the reference never had, and the commonest of them."""
    named = {k: v for k, v in unseen.items() if k is not None}
    n_new = sum(named.values())
    if col.other == 0:
        pooled = [r + c for r, c in zip(ref_counts, cur_counts)]
        p_new = new_values_test(list(named.values()), pooled, col.n_values, cur_values)
    else:
        p_new = 1.0  # the profile kept only the commonest categories
    h_new = cohen_h(0.0, n_new / cur_values if cur_values else 0.0)
    test = {"test": "new_values", "statistic": n_new, "p_value": p_new, "effect": h_new,
            "floor": min_h}
    return test, [{"value": k, "count": v} for k, v in
                  sorted(named.items(), key=lambda kv: (-kv[1], str(kv[0])))[:20]]


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
        elif t["test"] == "constant":
            parts.append(f"every value is {t['value']!r}")
    return ", ".join(dict.fromkeys(parts))


def _cells(col: ColumnProfile, counts: Any
           ) -> tuple[list[int], list[int], dict[Any, int], list[str] | None]:
    """The reference's and the current batch's counts in the same cells; the categories the
    reference never had (key None: categories outside a truncated list); and, for few-valued
    numbers, each cell's label."""
    if col.mode == "bins":
        return (list(col.counts or []),
                [int(x) for x in counts or [0] * (len(col.edges or []) + 1)], {}, None)
    if col.mode == "values":
        ref, cur, labels = _ordered_values(col, counts)
        return ref, cur, {}, labels
    current = {str(k): int(v) for k, v in dict(counts or {}).items()}
    aligned = [current.pop(v, 0) for v in col.values or []]
    if col.other:
        return list(col.counts or []), aligned, {None: sum(current.values())}, None
    return list(col.counts or []), aligned, current, None


def _ordered_values(col: ColumnProfile, counts: Any) -> tuple[list[int], list[int], list[str]]:
    """A few-valued number's cells in order, with their labels: each reference value, and a
    cell wherever the batch has values below, between or above them. A number the reference
    never had is no new category: it takes its place in the order, so a shift is tested (and
    reported) as a shift."""
    known = [float(v) for v in col.values or []]
    current = {float(k): int(v) for k, v in dict(counts or {}).items()}
    gaps = [0] * (len(known) + 1)
    for value, n in current.items():
        i = bisect.bisect_left(known, value)
        if i == len(known) or known[i] != value:
            gaps[i] += n
    ref: list[int] = []
    cur: list[int] = []
    labels: list[str] = []
    for i, gap in enumerate(gaps):
        if gap:
            ref.append(0)
            cur.append(gap)
            labels.append(f"below {_fmt(known[0])}" if i == 0 else
                          f"above {_fmt(known[-1])}" if i == len(known) else
                          f"between {_fmt(known[i - 1])} and {_fmt(known[i])}")
        if i < len(known):
            ref.append(int((col.counts or [])[i]))
            cur.append(current.get(known[i], 0))
            labels.append(_fmt(known[i]))
    return ref, cur, labels


def _summary(col: ColumnProfile, cur: dict[str, Any]) -> dict[str, Any]:
    if col.mode not in ("bins", "values"):
        return {}
    return {"reference_mean": col.stats.get("mean"), "reference_std": col.stats.get("std"),
            "current_mean": cur.get("mean")}


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _histogram(col: ColumnProfile, ref: list[int], cur: list[int], unseen: dict[Any, int],
               labels: list[str] | None) -> dict[str, Any]:
    """Reference and current shares per cell, for reports (at most 20 cells)."""
    n_ref, n_cur = max(sum(ref) + col.other, 1), max(sum(cur) + sum(unseen.values()), 1)
    if col.mode == "bins":
        edges = col.edges or []
        labels = [f"≤ {_fmt(edges[0])}"] + [
            f"{_fmt(a)} – {_fmt(b)}" for a, b in itertools.pairwise(edges)
        ] + [f"> {_fmt(edges[-1])}"]
        rows = list(zip(labels, ref, cur))
    elif col.mode == "values":
        rows = list(zip(labels or [], ref, cur))
    else:
        rows = list(zip([str(v) for v in col.values or []], ref, cur))
        if len(rows) > 15:
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
    ref_rel, ref_label, keep, ref_columnar = open_table(reference)
    con = keep[0] if isinstance(keep, tuple) else keep  # one connection for both inputs
    cur_rel, cur_label, _cur_keep, cur_columnar = open_table(current, con)
    ref_names, cur_names = list(ref_rel.columns), list(cur_rel.columns)
    selected, only_ref, _ = _select(ref_names, cur_names, columns, ref_label, cur_label)
    if only_ref:
        ref_rel = ref_rel.project(", ".join(ident(c) for c in ref_names if c in cur_names))
    prof = profile(ref_rel, _columnar=ref_columnar, _label=ref_label, _joint=selected)
    prof.source = ref_label
    result = check(prof, cur_rel, columns=columns, alpha=alpha, min_psi=min_psi, min_h=min_h,
                   _columnar=cur_columnar, _label=cur_label)
    result.current = cur_label
    result.only_in_reference = only_ref
    return result
