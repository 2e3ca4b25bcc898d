"""Successive halving over the catalog's trials: many parameter sets on few rows, few on all.

Each model family's sampled parameter sets are cross-validated on a small, stratified share
of the training part (rung 0); the best third of each family go on to three times the rows,
and so on until the survivors see every training row. Rungs run breadth first across the
families, cheapest family first, so a time budget that ends the search early has looked at
every family before spending on any one of them.

Why a scheduler of our own rather than scikit-learn's ``HalvingRandomSearchCV``: that class
searches one estimator as one opaque call, so (1) its evaluations cannot each be a tracked
run as they happen, (2) families cannot share one clock with the cheap ones first, and (3) a
time budget cannot refuse the next fit that would overrun it. The halving rule is the same
(factor ``ETA``, at least ``MIN_RUNG_ROWS`` rows on the first rung). Halving is per family,
not pooled: on a few hundred rows simple models look better than they are, and a pooled cut
would drop the boosting family before it reached the rows where it wins; per family, every
family's best is judged on all rows and on the holdout, as before.

Gradient boosting also spends iterations well within each fit: it stops early on a
validation share of its rows, so ``max_iter`` is a ceiling, and the iterations it used are
recorded with the rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlcycle.store.cancel import Cancelled

ETA = 3


class OutOfTime(Cancelled):
    """A trial stopped between its folds: finishing it would overrun the time budget. Its
    run ends as killed (a stopped run, as MLflow marks one) and is marked pruned."""

EXPORT_PRIOR = 1.0  # seconds; the imports took 0.9 s of CPU on this project's machine
SLOPE = 0.6  # how a fit's time grows with its rows, log-log (see Costs.estimate)
MIN_RUNG_ROWS = 1000
MAX_RUNGS = 4

# Relative cost of one cross-validation by family, measured on the sample data (logistic =
# 1): the estimate for a family's first fit, before any of its own fits were timed.
PRIOR_COST = {
    "baseline": 0.0,
    "linear": 0.5,
    "ridge": 0.5,
    "logistic": 1.0,
    "knn": 2.0,
    "hist_gradient_boosting": 7.0,
    "extra_trees": 8.0,
    "random_forest": 12.0,
}
# Judging on the holdout, against one CV fold's fit: a refit on the whole training part plus
# the error analysis (permutation importance: 3 predictions per input column), measured at
# 3.8x for a 200-tree forest on the sample data; or the refit and the metrics only.
ANALYSIS_FACTOR = 4.0
METRICS_FACTOR = 1.5
# How judging's time grows with the rows where it is not as a fit's: nearest neighbours are
# judged by comparing every holdout row with every training row (the ONNX graph's distances
# are brute force), both growing with the table. Judging one on 40,000 training rows took
# 12.5 s under load where a rows ** 0.6 growth from its CV on 4,445 rows foretold under 1 s.
JUDGING_SLOPE = {"knn": 2.0}


def rung_rows(train_rows: int, candidates: int) -> list[int]:
    """The rows each rung trains on, smallest first; the last rung is the whole part."""
    rungs = 1
    while (
        rungs < MAX_RUNGS
        and train_rows / ETA**rungs >= MIN_RUNG_ROWS
        and candidates / ETA**rungs >= 1
    ):
        rungs += 1
    return [math.ceil(train_rows / ETA ** (rungs - 1 - k)) for k in range(rungs)]


def nested_order(y: Any, seed: int, stratified: bool) -> Any:
    """An order of the training rows whose every prefix keeps the classes' shares.

    Rung k trains on the first ``rung_rows[k]`` rows of this order, so each rung's rows hold
    the previous rung's. Each row's rank within its class over the class's size is the
    position its class would give it in an evenly mixed sequence.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(y))
    if not stratified:
        return shuffled
    _, codes, counts = np.unique(np.asarray(y)[shuffled], return_inverse=True,
                                 return_counts=True)
    rank = np.empty(len(y), dtype=float)
    for code in range(len(counts)):
        where = np.flatnonzero(codes == code)
        rank[where] = (np.arange(len(where)) + 0.5) / len(where)
    return shuffled[np.argsort(rank, kind="stable")]


@dataclass
class Candidate:
    """One sampled parameter set of one family, and how far it got."""

    family: str
    params: dict[str, Any]
    run_id: str | None = None
    score: float = float("nan")  # cross-validated, at the latest rung it trained on
    rung: int = -1
    rows: int = 0
    iterations: float | None = None  # gradient boosting's mean over the folds
    pruned: bool = False


def survivors(candidates: list[Candidate], sign: int) -> tuple[list[Candidate], list[Candidate]]:
    """The best ``ceil(n / ETA)`` of a family's candidates go on; the rest are pruned.

    A candidate that failed (NaN score) never goes on.
    """
    scored = [c for c in candidates if c.score == c.score]
    scored.sort(key=lambda c: -sign * c.score)
    keep = scored[: math.ceil(len(candidates) / ETA)]
    return keep, [c for c in candidates if c not in keep]


@dataclass
class Costs:
    """Measured seconds of each family's cross-validations, to estimate what the next fit
    will take before starting it."""

    seconds: dict[str, dict[int, float]] = field(default_factory=dict)  # family -> rows -> s
    # Converting a judged model to ONNX and checking its parity: the slowest measured; before
    # any, EXPORT_PRIOR, what the first check pays to import skl2onnx and onnxruntime.
    export: float = EXPORT_PRIOR
    export_measured: bool = False

    def record(self, family: str, rows: int, seconds: float) -> None:
        seen = self.seconds.setdefault(family, {})
        # The slowest seen: parameter sets differ in cost, and overrunning is the worse error.
        seen[rows] = max(seconds, seen.get(rows, 0.0))

    def exported(self, seconds: float) -> None:
        self.export = max(seconds, self.export if self.export_measured else 0.0)
        self.export_measured = True

    def estimate(self, family: str, rows: int, slope: float | None = None) -> float:
        """From the family's measured rung nearest in rows, scaled as ``rows ** slope``.

        Fits carry fixed costs (trees, iterations, folds), so time grows slower than rows:
        measured on the sample data from 1,067 to 9,600 rows, x1.8 (logistic) to x3.4 (knn)
        for x9 rows, slopes 0.3-0.55. The slope is read off two measured rungs when there
        are two, else ``SLOPE``, a little above what was measured so that it errs long. Before
        any fit of the family: from the measured family nearest to it in ``PRIOR_COST`` and
        their relative costs. The nearest in cost is the nearest in kind (the forests, the
        boosting), where fixed costs scale alike: on 1,778 rows under load, a logistic fit's
        overhead foretold 5.4 s for a forest that took 1.3 s, its sibling extra trees 1.5 s.
        ``slope``, when given, is how the cost is known to grow instead.
        """
        if family in self.seconds:
            seen = self.seconds[family]
            near = min(seen, key=lambda r: abs(math.log(r / rows)))
            if slope is not None:
                return seen[near] * (rows / near) ** slope
            slope = SLOPE
            if len(seen) > 1:
                low, high = sorted(seen)[-2:]
                slope = math.log(seen[high] / seen[low]) / math.log(high / low)
                slope = min(max(slope, SLOPE / 2), 1.0)
            return seen[near] * (rows / near) ** slope
        # The baseline's time is all overhead: it says nothing of a real model's cost.
        known = [f for f in self.seconds if f != "baseline"]
        if not known:
            return 0.0
        prior = PRIOR_COST.get(family, 10.0)
        if prior <= 0:
            return 0.0
        base = min(known, key=lambda f: (abs(math.log(PRIOR_COST.get(f, 10.0) / prior)),
                                         -PRIOR_COST.get(f, 10.0)))
        return self.estimate(base, rows) * prior / PRIOR_COST.get(base, 10.0)

    def evaluation(self, family: str, rows: int, folds: int, analyse: bool = True) -> float:
        """A refit on ``rows`` and the holdout judging, from the family's CV cost."""
        factor = ANALYSIS_FACTOR if analyse else METRICS_FACTOR
        cv = self.estimate(family, rows, JUDGING_SLOPE.get(family))
        return cv / folds * factor + self.export


@dataclass
class Family:
    """One model family's candidates and rungs; ``left[k]``: evaluations still due on rung k."""

    name: str
    candidates: list[Candidate]
    rows: list[int]
    left: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        counts = [len(self.candidates)]
        for _ in self.rows[1:]:
            counts.append(math.ceil(counts[-1] / ETA))
        self.left = counts

    def best(self, sign: int) -> Candidate | None:
        """The candidate that got furthest, best scored among those: the family's choice."""
        scored = [c for c in self.candidates if c.run_id and c.score == c.score]
        return max(scored, key=lambda c: (c.rung, sign * c.score), default=None)


def eta(families: list[Family], costs: Costs, folds: int) -> float:
    """Seconds the evaluations still due and the holdout judging will take, as estimated."""
    due = sum(
        left * costs.estimate(f.name, rows) for f in families for left, rows in zip(f.left, f.rows)
    )
    judging = [costs.evaluation(f.name, f.rows[-1], folds, False) for f in families]
    return due + sum(judging) + max(judging, default=0.0) * (ANALYSIS_FACTOR / METRICS_FACTOR - 1)


def by_time_spent(queues: list[list[Any]], spent: dict[str, float]) -> Iterator[Any]:
    """Each queue's items in order, next from the family that has spent least so far.

    Items are ``(family, rung, candidate)``; ``spent`` (family name -> seconds) is what the
    caller has measured, updated as trials finish. A family not yet tried has spent nothing,
    so every family's first trial comes before any family's second, cheapest family first.
    After that the families share the clock rather than take turns: a family whose fits take
    a second gets about as many seconds as one whose fits take twenty, and so ten times the
    trials. Taking turns let one dear family (gradient boosting on ten classes: 15-27 s a
    trial) hold the budget while nearest neighbours, a second a trial and the best family on
    digits, had two looks.
    """
    pending = [list(q) for q in queues if q]
    while pending:
        # min() keeps the first of equals: on a tie, the order given (cheapest first).
        queue = min(pending, key=lambda q: spent.get(q[0][0].name, 0.0))
        yield queue.pop(0)
        if not queue:
            pending.remove(queue)
