"""The A/B test's error rates, measured: how often it concludes a difference where there is
none (goal: at most alpha, 5 %) and how often it finds an effect of the planned size (goal:
the planned power, 80 %), each over many simulated tests decided at their fixed horizon, for
the three tests it uses (accuracy: two-proportion z-test; MAE: Welch's t-test; ROC AUC:
bootstrap). Beside them, the same decisions taken with scipy.stats (chi2_contingency with
Yates' correction; ttest_ind(equal_var=False)), what a user would otherwise reach for, and
their agreement.

    python bench/abtest.py [--sims 2000] [--auc-sims 100]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.stats import chi2_contingency, ttest_ind

from mlcycle.deploy import abstats

CLASSES = ["no", "yes"]


def accuracy_arm(rng: np.random.Generator, n: int, accuracy: float) -> abstats.Arm:
    y = rng.choice(np.array(CLASSES), n)
    pred = np.where(rng.random(n) < accuracy, y, np.where(y == "yes", "no", "yes"))
    return abstats.Arm(y, pred)


def error_arm(rng: np.random.Generator, n: int, spread: float) -> abstats.Arm:
    y = rng.normal(size=n)
    return abstats.Arm(y, y + rng.normal(0, spread, n))


def score_arm(rng: np.random.Generator, n: int, signal: float) -> abstats.Arm:
    labels = rng.random(n) < 0.5
    p = np.clip(labels * signal + rng.random(n) * (1 - signal), 0, 1)
    return abstats.Arm(np.where(labels, "yes", "no"), np.where(p > 0.5, "yes", "no"),
                       np.column_stack([1 - p, p]))


def scipy_p(metric: str, control: abstats.Arm, treatment: abstats.Arm) -> float | None:
    if metric == "accuracy":
        right = [int((a.pred == a.y).sum()) for a in (control, treatment)]
        table = [[right[0], len(control) - right[0]], [right[1], len(treatment) - right[1]]]
        return float(chi2_contingency(table, correction=True)[1])
    if metric == "mae":
        errors = [np.abs(a.pred - a.y) for a in (control, treatment)]
        return float(ttest_ind(errors[1], errors[0], equal_var=False).pvalue)
    return None  # no scipy function tests a difference of two ROC AUCs


def rate(hits: int, n: int) -> str:
    share = hits / n
    half = 1.96 * math.sqrt(share * (1 - share) / n)
    return f"{share:6.1%} (95% CI {max(0, share - half):.1%}–{min(1, share + half):.1%})"


def run(metric: str, task: str, make, base: float, effect: float, mde: float, sims: int,
        rng: np.random.Generator) -> None:
    variance = abstats.row_variance(metric, task, make(rng, 20_000, base), CLASSES)
    plan = abstats.Plan(metric, mde, 0.05, 0.8,
                        abstats.per_arm_size(variance, mde, 0.05, 0.8), variance)
    started = time.perf_counter()
    found = {"none": 0, "effect": 0}
    agree, compared = 0, 0
    for label, other in (("none", base), ("effect", effect)):
        for _ in range(sims):
            control, treatment = make(rng, plan.per_arm, base), make(rng, plan.per_arm, other)
            out = abstats.analyse(metric, task, control, treatment, CLASSES, plan, rounds=200)
            decided = out.verdict != abstats.NO_DIFFERENCE
            found[label] += decided
            theirs = scipy_p(metric, control, treatment)
            if theirs is not None:
                compared += 1
                agree += decided == (theirs < plan.alpha)
    seconds = time.perf_counter() - started
    versus = f"; same decision as scipy in {agree}/{compared}" if compared else ""
    print(f"{metric:8} {abstats.fitting_test(metric):22} {plan.per_arm:6,} rows/arm  "
          f"false positives {rate(found['none'], sims)}  power {rate(found['effect'], sims)}"
          f"{versus}  ({seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=2000)
    parser.add_argument("--auc-sims", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    # Each effect is the MDE in the metric's own units: MAE of N(0, s) errors is
    # s * sqrt(2/pi); ROC AUC goes from 0.836 to 0.886 between signals 0.30 and 0.343.
    run("accuracy", "classification", accuracy_arm, 0.80, 0.85, 0.05, args.sims, rng)
    run("mae", "regression", error_arm, 1.0, 1.1, 0.1 * math.sqrt(2 / math.pi), args.sims,
        rng)
    run("roc_auc", "classification", score_arm, 0.30, 0.343, 0.05, args.auc_sims, rng)


if __name__ == "__main__":
    main()
