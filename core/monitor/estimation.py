"""Estimating a classifier's metrics on a batch before its labels arrive.

Labels come late (in the sample data, a month late); until then a loss of performance can
only be estimated. This is confidence-based estimation, as NannyML's CBPE does it: the
model's class scores are calibrated on its holdout (isotonic regression of each class's
score against whether the row was of that class, one-vs-rest; a binary model's positive
score alone), each row's calibrated scores are read as the probabilities of its classes,
and every metric is computed as its expectation over those probabilities.

The interval is for the metric the labels will show. Two errors move it: the batch's own
sampling (labels are drawn from the calibrated probabilities ``DRAWS`` times and the metric
computed on each draw) and the calibration's, fitted on a holdout of finite size (the
holdout figure's bootstrap standard error, ``anchor``). The interval is the estimate ± ``Z``
times both standard deviations combined: a small batch or a small holdout gets a wide one.
A loss is judged on the batch's sampling error alone (``Estimate.error``): it is measured
against the holdout's estimate by the same calibration, whose error the two share.

It assumes the relation between inputs and outcome is unchanged (no concept drift): it sees
the effect of shifted inputs on performance, not a changed world. Labels, when given, are
the truth; the estimate is for the weeks without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
Z = 1.96  # a 95 % interval under a normal spread
DRAWS = 100  # label draws behind each interval
CAP = 20_000  # beyond this many rows the draws use a sample, the spread scaled by sqrt(CAP/n)


@dataclass(frozen=True)
class Estimate:
    """A metric expected on a batch without its labels, with its 95 % interval."""

    value: float
    low: float
    high: float
    error: float  # the batch's own sampling error (standard deviation), for a loss's test


@dataclass
class Calibration:
    """Class scores to class probabilities, fitted on the holdout: one isotonic regression
    per class (only the positive class's for a binary model)."""

    models: list[Any]  # fitted IsotonicRegression, one per calibrated column
    positive: int | None  # the positive class's column of a binary model; None: multiclass

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Rows × classes probabilities for rows × classes scores."""
        import numpy as np

        if self.positive is not None:
            p = self.models[0].predict(scores[:, self.positive])
            out = np.empty((len(p), 2))
            out[:, self.positive], out[:, 1 - self.positive] = p, 1 - p
        else:
            out = np.column_stack([m.predict(scores[:, k]) for k, m in enumerate(self.models)])
            total = out.sum(axis=1, keepdims=True)
            # A row every calibrator gave 0 keeps the model's own scores.
            out = np.where(total > 0, out / np.where(total > 0, total, 1), scores)
        # Clipped away from 0 and 1: an expected log loss needs finite logarithms.
        return np.clip(out, 1e-6, 1 - 1e-6)


def calibrate(scores: np.ndarray, truth: np.ndarray, positive: int | None) -> Calibration:
    """Fit the calibration from holdout scores (rows × classes) and each row's class index;
    ``positive``: the positive class's index of a binary model, None for multiclass."""
    from sklearn.isotonic import IsotonicRegression

    columns = [positive] if positive is not None else range(scores.shape[1])
    return Calibration([IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
                        .fit(scores[:, k], (truth == k).astype(float)) for k in columns],
                       positive)


def expected_metrics(scores: np.ndarray, predicted: np.ndarray, p: np.ndarray,
                     positive: int | None) -> dict[str, float]:
    """Every supported metric's expectation when row i is of class k with probability
    p[i, k]. ``scores``: the model's class scores; ``predicted``: its class index per row;
    ``positive``: as in :func:`calibrate` (binary metrics are the positive class's,
    multiclass ones the macro average over classes, as in training)."""
    import numpy as np

    rows, k = np.arange(len(p)), p.shape[1]
    mine = p[rows, predicted]  # the chance each row's prediction is right
    tp = np.bincount(predicted, weights=mine, minlength=k)
    fp = np.bincount(predicted, weights=1 - mine, minlength=k)
    fn = p.sum(axis=0) - tp
    # A macro average counts only the classes that occur (in the labels, or in the labels
    # or predictions for precision, recall and F1): each class weighs by its chance to.
    occurs = 1 - np.exp(np.log1p(-np.clip(p, 0, 1 - 1e-12)).sum(axis=0))
    shown = np.where(np.bincount(predicted, minlength=k) > 0, 1.0, occurs)
    if positive is not None:
        shown = np.arange(k) == positive
    q = np.clip(scores, 1e-15, 1)
    aucs = [expected_auc(scores[:, c], p[:, c]) for c in ([positive] if positive is not None
                                                          else range(k))]
    return {
        "accuracy": float(mine.mean()),
        "balanced_accuracy": _mean(_ratio(tp, tp + fn), occurs),
        "precision": _mean(_ratio(tp, tp + fp), shown),
        "recall": _mean(_ratio(tp, tp + fn), shown),
        "f1": _mean(_ratio(2 * tp, 2 * tp + fp + fn), shown),
        "roc_auc": float(np.mean(aucs)),
        "log_loss": float(-np.mean((p * np.log(q / q.sum(axis=1, keepdims=True))).sum(axis=1))),
    }


def estimate(metric: str, scores: np.ndarray, predicted: np.ndarray, calibration: Calibration,
             anchor: float = 0.0, seed: int = 0) -> Estimate:
    """``metric`` expected on a batch (scores rows × classes, predicted class indices) and
    its interval (see module; ``anchor``: the calibration's own standard error)."""
    import numpy as np

    p = calibration.probabilities(scores)
    value = expected_metrics(scores, predicted, p, calibration.positive)[metric]
    n = len(p)
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, CAP, replace=False) if n > CAP else np.arange(n)
    spread = _draw_spread(metric, scores[rows], predicted[rows], p[rows],
                          calibration.positive, rng) * np.sqrt(len(rows) / n)
    half = Z * float(np.hypot(spread, anchor))
    low, high = value - half, value + half
    if metric != "log_loss":  # a share: it cannot leave [0, 1]
        low, high = max(low, 0.0), min(high, 1.0)
    return Estimate(value, float(max(low, 0.0)), float(high), float(spread))


def _draw_spread(metric: str, scores: np.ndarray, predicted: np.ndarray, p: np.ndarray,
                 positive: int | None, rng: np.random.Generator) -> float:
    """The standard deviation of the realized metric over label draws from ``p``."""
    import numpy as np
    from scipy.stats import rankdata

    n, k = p.shape
    ranks = rankdata(scores, axis=0) if metric == "roc_auc" else None
    logq = (np.log(np.clip(scores / scores.sum(axis=1, keepdims=True), 1e-15, 1))
            if metric == "log_loss" else None)
    cumulative = np.cumsum(p, axis=1)
    values = []
    for _ in range(DRAWS):
        truth = np.minimum((rng.random((n, 1)) > cumulative).sum(axis=1), k - 1)
        value = realized(metric, truth, predicted, k, positive, ranks, logq)
        if np.isfinite(value):
            values.append(value)
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def realized(metric: str, truth: np.ndarray, predicted: np.ndarray, k: int,
             positive: int | None, ranks: np.ndarray | None = None,
             logq: np.ndarray | None = None) -> float:
    """``metric`` of predictions against known class indices, as training computes it
    (``ranks``: each column's score ranks, for ROC AUC; ``logq``: the logarithm of the
    normalised scores, for log loss). Fast enough to run on every label draw."""
    import numpy as np

    n = len(truth)
    if metric == "log_loss":
        return float(-logq[np.arange(n), truth].mean())
    if metric == "roc_auc":
        aucs = []
        for c in [positive] if positive is not None else range(k):
            hits = truth == c
            n1 = int(hits.sum())
            if 0 < n1 < n:  # the ROC AUC needs both outcomes
                aucs.append((ranks[hits, c].sum() - n1 * (n1 + 1) / 2) / (n1 * (n - n1)))
        return float(np.mean(aucs)) if aucs else float("nan")
    confusion = np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(float)
    actual, called = confusion.sum(axis=1), confusion.sum(axis=0)
    if metric == "accuracy":
        return float(tp.sum() / n)
    recall = _ratio(tp, actual)
    if metric == "balanced_accuracy":  # over the classes that occur
        return float(recall[actual > 0].mean())
    shown = ((actual + called) > 0) if positive is None else (np.arange(k) == positive)
    figure = {"precision": _ratio(tp, called), "recall": recall,
              "f1": _ratio(2 * tp, actual + called)}[metric]
    return float(figure[shown].mean())


def expected_auc(scores: np.ndarray, p: np.ndarray) -> float:
    """The expected ROC AUC when row i is positive with probability p[i]: concordant pairs
    weighted by p[i]·(1 − p[j]) over all weighted pairs, ties counting one half. Sorting
    makes it O(n log n)."""
    import numpy as np

    order = np.argsort(scores, kind="stable")
    s, pos = scores[order], p[order]
    neg = 1 - pos
    # Rows with equal scores form groups; negatives strictly below a row are those of
    # earlier groups, and within its group a pair counts one half (never itself).
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(s)]))
    neg_group = np.add.reduceat(neg, starts)
    neg_below = np.r_[0.0, np.cumsum(neg_group)[:-1]]
    concordant = pos * (neg_below[group] + 0.5 * (neg_group[group] - neg))
    pairs = pos * (neg.sum() - neg)
    total = float(pairs.sum())
    return float(concordant.sum() / total) if total > 0 else float("nan")


def _mean(values: np.ndarray, weights: np.ndarray) -> float:
    import numpy as np

    return float(np.average(values, weights=weights)) if weights.sum() > 0 else 0.0


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.divide(a, b, out=np.zeros_like(a, dtype=float), where=b > 0)
