"""Estimating a binary classifier's metrics on a batch before its labels arrive.

Labels come late (in the sample data, a month late); until then a loss of performance can
only be estimated. This is confidence-based estimation, as NannyML's CBPE does it: the
model's positive-class scores are calibrated on its holdout (isotonic regression against the
observed outcomes), each calibrated score is read as the probability that the row is
positive, and every metric is computed as its expectation over those probabilities.

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


@dataclass
class Calibration:
    """Scores to probabilities of the positive class, fitted on the holdout."""

    model: Any  # a fitted IsotonicRegression

    def probability(self, scores: np.ndarray) -> np.ndarray:
        import numpy as np

        # Clipped away from 0 and 1: an expected log loss needs finite logarithms.
        return np.clip(self.model.predict(scores), 1e-6, 1 - 1e-6)


def calibrate(scores: np.ndarray, positive: np.ndarray) -> Calibration:
    """Fit the calibration from holdout scores and whether each row was positive."""
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    return Calibration(model.fit(scores, positive.astype(float)))


def expected_metrics(scores: np.ndarray, predicted_positive: np.ndarray,
                     calibration: Calibration) -> dict[str, float]:
    """Every supported metric's expectation on a batch without labels.

    ``scores``: the model's positive-class probabilities; ``predicted_positive``: whether
    the model's label is the positive class.
    """
    import numpy as np

    p = calibration.probability(scores)
    pred = predicted_positive.astype(bool)
    tp, fp = float(p[pred].sum()), float((1 - p[pred]).sum())
    fn, tn = float(p[~pred].sum()), float((1 - p[~pred]).sum())
    n = len(p)
    q = np.clip(scores, 1e-15, 1 - 1e-15)
    return {
        "accuracy": (tp + tn) / n,
        "balanced_accuracy": (_ratio(tp, tp + fn) + _ratio(tn, tn + fp)) / 2,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "roc_auc": expected_auc(scores, p),
        "log_loss": float(-np.mean(p * np.log(q) + (1 - p) * np.log(1 - q))),
    }


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


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0
