"""Two models judged on the same rows: is one really better, or is the difference noise?

The retraining gate (does a candidate beat the champion by the policy's margin?) and
``mlcycle compare`` (champion against challenger on labelled shadow rows) both ask it here.
Both models are scored on the same rows, and the difference of the project metric (candidate
minus champion, signed so that positive means better) is judged with a **paired
bootstrap**: each resample draws rows with replacement and scores both models on the same
draw, so the noise the two share (a hard batch is hard for both) cancels and the interval
is of the difference itself. The candidate passes when the difference is at least the
policy's margin and the interval at the policy's confidence lies above zero; a comparison
with no margin says "no clear difference" while the interval holds zero (:func:`verdict`).

Resamples are bootstrap counts (how often each row was drawn), so every metric is a
weighted sum over rows: all resamples of a chunk are one matrix product. ROC AUC is the
weighted Mann-Whitney statistic over rows sorted once by score, with ties sharing half.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mlcycle.models.evaluation import positive_class
from mlcycle.projects.metrics import CATALOG
from mlcycle.store.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np

CELLS = 2_000_000  # bootstrap weights held at once (resamples x rows)


def bootstrap_weights(n: int, rounds: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Bootstrap counts, ``rounds`` rows of ``n`` in chunks: row r, column i is how many
    times row i was drawn in resample r."""
    import numpy as np

    rng = np.random.default_rng(seed)
    chunk = max(1, CELLS // max(n, 1))
    done = 0
    while done < rounds:
        size = min(chunk, rounds - done)
        draws = rng.integers(0, n, (size, n)) + (np.arange(size) * n)[:, None]
        yield np.bincount(draws.ravel(), minlength=size * n).reshape(size, n).astype(
            np.float64)
        done += size


def _auc(w: np.ndarray, positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Weighted ROC AUC of ``score`` for each row of weights ``w`` (NaN without both
    classes)."""
    import numpy as np

    order = np.argsort(score, kind="stable")
    s = score[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of tied scores
    pos = positive[order]
    ws = w[:, order]
    p = np.add.reduceat(ws * pos, starts, axis=1)
    q = np.add.reduceat(ws * ~pos, starts, axis=1)
    below = np.cumsum(q, axis=1) - q
    total = p.sum(axis=1) * q.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (p * (below + 0.5 * q)).sum(axis=1) / total, np.nan)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    import numpy as np

    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, 0.0)  # zero_division=0, as evaluation says


def metric_values(metric: str, task: str, classes: list[str], y: np.ndarray,
                  pred: np.ndarray, proba: np.ndarray | None, w: np.ndarray) -> np.ndarray:
    """``metric`` of the predictions for each row of weights ``w`` (a resample each), as
    ``mlcycle.models.evaluation.scores`` computes it on the rows drawn."""
    import numpy as np

    total = w.sum(axis=1)
    if task == "regression":
        y = y.astype(np.float64)
        err = pred.astype(np.float64) - y
        if metric == "rmse":
            return np.sqrt(w @ err**2 / total)
        if metric == "mae":
            return w @ np.abs(err) / total
        if metric == "r2":
            spread = w @ y**2 - (w @ y) ** 2 / total
            return np.where(spread > 0, 1 - _ratio(w @ err**2, spread), np.nan)
        if metric == "mape":
            nonzero = y != 0
            safe = np.where(nonzero, y, 1.0)
            return _ratio(w @ (np.abs(err / safe) * nonzero), w @ nonzero)
    else:
        binary = len(classes) == 2
        if metric == "accuracy":
            return w @ (pred == y) / total
        if metric == "roc_auc":
            if proba is None:
                raise InvalidInput("roc_auc needs the models' probabilities")
            if binary:
                return _auc(w, y == positive_class(classes), proba[:, -1])
            return np.mean([_auc(w, y == c, proba[:, i]) for i, c in enumerate(classes)],
                           axis=0)
        if metric == "log_loss":
            if proba is None:
                raise InvalidInput("log_loss needs the models' probabilities")
            p = np.clip(proba, 1e-15, 1)
            p = p / p.sum(axis=1, keepdims=True)
            index = np.searchsorted(np.asarray(classes), y)
            return w @ -np.log(p[np.arange(len(y)), index]) / total
        if metric == "balanced_accuracy":
            actual = np.array([w @ (y == c) for c in classes])
            hits = np.array([w @ ((pred == c) & (y == c)) for c in classes])
            return _ratio(hits, actual).sum(axis=0) / (actual > 0).sum(axis=0)
        if metric in ("precision", "recall", "f1"):
            values = []
            for c in [positive_class(classes)] if binary else classes:
                tp = w @ ((pred == c) & (y == c))
                actual, predicted = w @ (y == c), w @ (pred == c)
                values.append({"precision": _ratio(tp, predicted), "recall": _ratio(tp, actual),
                               "f1": _ratio(2 * tp, actual + predicted)}[metric])
            return np.mean(values, axis=0)
    raise InvalidInput(f"a paired comparison cannot judge metric {metric!r}")


def judge(metric: str, task: str, classes: list[str], y: np.ndarray,
          champion: tuple[np.ndarray, np.ndarray | None],
          candidate: tuple[np.ndarray, np.ndarray | None], *, margin: float = 0.0,
          confidence: float = 0.95, rounds: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The gate's verdict on the same rows: each model's metric, the difference (positive:
    the candidate is better), its paired bootstrap interval, and whether it passes."""
    import numpy as np

    n = len(y)
    if n < 2:
        raise InvalidInput(f"the gate needs at least 2 rows to compare the models on, not {n}")
    sign = 1.0 if CATALOG[metric].greater_is_better else -1.0
    ones = np.ones((1, n))
    base = float(metric_values(metric, task, classes, y, *champion, ones)[0])
    new = float(metric_values(metric, task, classes, y, *candidate, ones)[0])
    differences = []
    for w in bootstrap_weights(n, rounds, seed):
        differences.append(sign * (metric_values(metric, task, classes, y, *candidate, w)
                                   - metric_values(metric, task, classes, y, *champion, w)))
    spread = np.concatenate(differences)
    spread = spread[np.isfinite(spread)]
    tail = (1 - confidence) / 2
    low, high = ((float(np.quantile(spread, tail)), float(np.quantile(spread, 1 - tail)))
                 if spread.size else (float("nan"), float("nan")))
    difference = sign * (new - base)
    passed = bool(difference >= margin and low > 0)
    if passed:
        why = (f"{metric} {new:.4f} vs {base:.4f}: better by {difference:.4f} "
               f"(≥ margin {margin:g}), {confidence:.0%} interval [{low:.4f}, {high:.4f}] "
               "excludes 0")
    elif difference < margin:
        why = (f"{metric} {new:.4f} vs {base:.4f}: difference {difference:+.4f} is below "
               f"the margin {margin:g}")
    else:
        why = (f"{metric} {new:.4f} vs {base:.4f}: better by {difference:.4f}, but the "
               f"{confidence:.0%} interval [{low:.4f}, {high:.4f}] includes 0")
    return {"metric": metric, "rows": n, "champion": base, "candidate": new,
            "difference": difference, "low": low, "high": high, "confidence": confidence,
            "margin": margin, "rounds": rounds, "resamples_used": int(spread.size),
            "seed": seed, "passed": passed, "why": why}


def verdict(judged: dict[str, Any], newer: str = "the candidate", older: str = "the champion"
            ) -> tuple[bool | None, str]:
    """Which of two judged models is better beyond the noise (None: no clear difference),
    and that in words with the difference and its interval."""
    low, high = judged["low"], judged["high"]
    better = True if low > 0 else False if high < 0 else None
    said = {True: f"{newer} is better", False: f"{older} is better",
            None: "no clear difference"}[better]
    return better, (f"{said}: {judged['metric']} {judged['candidate']:.4f} vs "
                    f"{judged['champion']:.4f}, difference {judged['difference']:+.4f}, "
                    f"{judged['confidence']:.0%} interval [{low:+.4f}, {high:+.4f}] "
                    f"on {judged['rows']:,} rows")
