"""The statistics of an A/B test between two models, each judged on the rows it answered.

The test fits the metric: accuracy is a share of correct rows, so a two-proportion z-test
(pooled, with continuity correction); metrics that are a mean of a per-row loss (MAE, MAPE,
log loss, and RMSE through its mean squared error) take Welch's t-test on those losses;
every other metric (ROC AUC, F1, R², …) has no per-row form, so its difference is bootstrapped
(each arm resampled on its own) and tested with the bootstrap's standard error.

Repeated looks are handled by a fixed-horizon plan: the rows needed per arm are computed for
a minimum detectable effect when the test starts and stored; below them no conclusion is
drawn, and at them the test is decided once, on the first planned rows of each arm (in the
order they were answered), so looking again, or later, never changes the answer and the
false-positive rate stays at alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mlcycle.deploy.results import ABDifference
from mlcycle.drift.statistics import normal_sf2, proportion_test
from mlcycle.models import evaluation
from mlcycle.projects.metrics import CATALOG

if TYPE_CHECKING:
    import numpy as np

METHOD = "fixed-horizon"
PROPORTION, WELCH, BOOTSTRAP = "two-proportion z-test", "Welch t-test", "bootstrap"
# Metrics that are the mean of a per-row quantity, and that quantity's name.
ROW_MEANS = {"accuracy": "correct", "mae": "absolute error", "mape": "absolute % error",
             "rmse": "squared error", "log_loss": "log loss"}


@dataclass
class Arm:
    """One arm's labelled rows: the truth, the predictions, the probabilities (classes)."""

    y: np.ndarray
    pred: np.ndarray
    proba: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    def head(self, n: int) -> Arm:
        return Arm(self.y[:n], self.pred[:n], None if self.proba is None else self.proba[:n])


@dataclass(frozen=True)
class Plan:
    metric: str
    mde: float  # the smallest difference in the metric worth detecting
    alpha: float
    power: float
    per_arm: int  # labelled rows each arm needs before the test is decided
    variance: float  # per-row variance of the metric's estimate the size was computed from

    def to_dict(self) -> dict[str, Any]:
        return {"method": METHOD, "metric": self.metric, "mde": self.mde, "alpha": self.alpha,
                "power": self.power, "per_arm": self.per_arm, "variance": self.variance}


@dataclass(frozen=True)
class Analysis:
    """A test judged under its plan: the interim figures while collecting, else the
    decision on the first ``decided_on`` rows of each arm."""

    control_rows: int
    treatment_rows: int
    still_needed: dict[str, int]  # arm (control, treatment) -> labelled rows
    verdict: str
    result: ABDifference | None  # None below two labelled rows per arm
    decided_on: int | None = None


def fitting_test(metric: str) -> str:
    if metric == "accuracy":
        return PROPORTION
    return WELCH if metric in ROW_MEANS else BOOTSTRAP


def _ndtri(p: float) -> float:
    from scipy.special import ndtri  # scipy.special alone: scipy.stats costs ~0.3 s

    return float(ndtri(p))


def per_arm_size(variance: float, mde: float, alpha: float, power: float) -> int:
    """Rows per arm for a two-sided test at ``alpha`` to find a difference of ``mde`` with
    ``power``, when the metric measured on n rows varies by ``variance / n``."""
    z = _ndtri(1 - alpha / 2) + _ndtri(power)
    return max(2, math.ceil(2 * variance * z * z / (mde * mde)))


def _losses(metric: str, arm: Arm, classes: list[str]) -> np.ndarray:
    import numpy as np

    if metric == "accuracy":
        return (arm.pred == arm.y).astype(np.float64)
    if metric == "log_loss":
        assert arm.proba is not None
        index = {c: i for i, c in enumerate(classes)}
        true = np.array([index[v] for v in arm.y.astype(str)])
        return -np.log(np.clip(arm.proba[np.arange(len(true)), true], 1e-15, 1))
    error = arm.pred.astype(np.float64) - arm.y.astype(np.float64)
    if metric == "mae":
        return np.abs(error)
    if metric == "rmse":
        return error * error
    keep = arm.y != 0  # MAPE leaves out rows whose truth is 0, as evaluation.scores does
    return np.abs(error[keep] / arm.y[keep].astype(np.float64))


def value(metric: str, task: str, arm: Arm, classes: list[str]) -> float:
    return evaluation.scores(task, arm.y, arm.pred, arm.proba, classes or None,
                             only=metric)[metric]


def row_variance(metric: str, task: str, arm: Arm, classes: list[str]) -> float:
    """n × the variance of the metric measured on ``arm``'s n rows: what sizes a plan."""
    if metric in ROW_MEANS:
        losses = _losses(metric, arm, classes)
        spread = float(losses.var(ddof=1))
        if metric == "rmse":  # delta method: RMSE = sqrt(MSE)
            spread /= 4 * float(losses.mean())
        return spread
    se = evaluation.bootstrap_se(task, metric, arm.y, arm.pred, arm.proba, classes or None,
                                 rounds=200)
    return (se or 0.0) ** 2 * len(arm)


def difference(metric: str, task: str, control: Arm, treatment: Arm, classes: list[str],
               alpha: float, rounds: int = 1000, seed: int = 0) -> ABDifference:
    """The treatment's metric minus the control's, its confidence interval at ``1 - alpha``
    and the two-sided p-value of no difference, by the test that fits the metric."""
    import numpy as np

    test = fitting_test(metric)
    a, b = value(metric, task, control, classes), value(metric, task, treatment, classes)
    diff = b - a
    if test == PROPORTION:
        n1, n2 = len(control), len(treatment)
        k1, k2 = (int(_losses(metric, arm, classes).sum()) for arm in (control, treatment))
        p = proportion_test(k1, n1, k2, n2)
        se = math.sqrt(a * (1 - a) / n1 + b * (1 - b) / n2)
        half = _ndtri(1 - alpha / 2) * se
        low, high = diff - half, diff + half
    elif test == WELCH:
        from scipy.special import stdtr, stdtrit

        x, z = _losses(metric, control, classes), _losses(metric, treatment, classes)
        v1, v2 = x.var(ddof=1) / len(x), z.var(ddof=1) / len(z)
        se_mean = math.sqrt(v1 + v2)
        df = (v1 + v2) ** 2 / (v1 * v1 / (len(x) - 1) + v2 * v2 / (len(z) - 1)) \
            if se_mean > 0 else 1.0
        t = (z.mean() - x.mean()) / se_mean if se_mean > 0 else 0.0
        p = float(2 * stdtr(df, -abs(t)))
        # The interval is of the metric's difference; RMSE's through the delta method.
        se = math.sqrt(v1 / (4 * x.mean()) + v2 / (4 * z.mean())) if metric == "rmse" \
            else se_mean
        half = float(stdtrit(df, 1 - alpha / 2)) * se
        low, high = diff - half, diff + half
    else:
        rng = np.random.default_rng(seed)
        diffs = np.empty(rounds)
        for i in range(rounds):
            picks = [rng.integers(0, len(arm), len(arm)) for arm in (control, treatment)]
            ra, rb = (Arm(arm.y[ix], arm.pred[ix], None if arm.proba is None else
                          arm.proba[ix]) for arm, ix in zip((control, treatment), picks))
            diffs[i] = value(metric, task, rb, classes) - value(metric, task, ra, classes)
        se = float(np.nanstd(diffs, ddof=1))
        p = normal_sf2(diff / se) if se > 0 else 1.0
        low, high = (float(q) for q in np.nanquantile(diffs, [alpha / 2, 1 - alpha / 2]))
    return ABDifference(test, a, b, diff, low, high, float(p), 1 - alpha)


COLLECTING, NO_DIFFERENCE, BETTER, WORSE = ("collecting", "no difference",
                                            "challenger better", "challenger worse")


def analyse(metric: str, task: str, control: Arm, treatment: Arm, classes: list[str],
            plan: Plan, rounds: int = 1000) -> Analysis:
    """The test under its plan: below the planned rows, the interim figures and no
    conclusion; at them, the decision on the first ``plan.per_arm`` rows of each arm."""
    short = max(0, plan.per_arm - len(control)), max(0, plan.per_arm - len(treatment))
    out = Analysis(len(control), len(treatment),
                   {"control": short[0], "treatment": short[1]}, COLLECTING, None)
    if min(len(control), len(treatment)) < 2:
        return out
    if any(short):
        # Shown for information; deciding on it would be peeking.
        return replace(out, result=difference(metric, task, control, treatment, classes,
                                              plan.alpha, rounds))
    result = difference(metric, task, control.head(plan.per_arm),
                        treatment.head(plan.per_arm), classes, plan.alpha, rounds)
    if result.p_value >= plan.alpha:
        verdict = NO_DIFFERENCE
    else:
        higher = result.difference > 0
        verdict = BETTER if higher == CATALOG[metric].greater_is_better else WORSE
    return replace(out, verdict=verdict, result=result, decided_on=plan.per_arm)
