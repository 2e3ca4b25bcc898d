"""The tests and effect sizes the drift engine judges a column by, on exact bin counts."""

from __future__ import annotations

import math

# Chi-square cells are merged until every expected count is at least MIN_EXPECTED, into at
# most MAX_CELLS cells.
MIN_EXPECTED = 5
MAX_CELLS = 50


def normal_sf2(z: float) -> float:
    """Two-sided normal tail probability P(|Z| >= |z|)."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def chi2_sf(x: float, df: int) -> float:
    """Upper tail of the chi-square distribution (scipy's regularised incomplete gamma)."""
    if df <= 0 or x <= 0:
        return 1.0
    from scipy.special import chdtrc  # scipy.special alone: stats would cost ~0.3 s to import

    return float(chdtrc(df, x))


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


def shift_in_sd(ref: list[int], cur: list[int]) -> float:
    """The location change as a shift in standard deviations: the rank-sum's probability of
    superiority (the chance a current value beats a reference one, ties counting half) read
    as the mean shift of two normals that would give it, sqrt(2) * Phi^-1(AUC).

    Unlike PSI, which grows with the square of a shift, this measures a shift on the scale
    users state them ("a tenth of a standard deviation"), whatever the distribution."""
    n_cur, n_ref = sum(cur), sum(ref)
    if n_cur == 0 or n_ref == 0:
        return 0.0
    below = 0  # reference values in the cells before this one
    wins = 0.0
    for r, c in zip(ref, cur):
        wins += c * (below + r / 2.0)
        below += r
    auc = min(max(wins / (n_cur * n_ref), 1e-12), 1 - 1e-12)
    return math.sqrt(2.0) * _normal_quantile(auc)


def _normal_quantile(p: float) -> float:
    """Phi^-1(p) by bisection on erfc: no SciPy on the drift path, and 100 halvings are exact
    to double precision."""
    lo, hi = -40.0, 40.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if 0.5 * math.erfc(-mid / math.sqrt(2.0)) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


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
    return sum(psi_terms(ref, cur))


def psi_terms(ref: list[int], cur: list[int]) -> list[float]:
    """Each cell's share of the PSI (all non-negative): which cells moved the most."""
    k = len(ref)
    n_ref, n_cur = sum(ref) + 0.5 * k, sum(cur) + 0.5 * k
    terms = []
    for r, c in zip(ref, cur):
        p, q = (r + 0.5) / n_ref, (c + 0.5) / n_cur
        terms.append((q - p) * math.log(q / p))
    return terms


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
