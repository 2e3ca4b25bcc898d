"""One error budget per check: how often an unshifted batch may raise an alert.

A monitoring check asks several questions of one batch (did an input move or break, did the
inputs move jointly, did the model's scores move, is the metric, estimated or measured,
worse), and each could fire by chance. Judged each at its own 5 %, an unchanged world
raises some alert far more often than 5 % of the time. So the check as a whole has one
budget, ``CHECK_ALPHA``, split between the kinds of alert up front (Bonferroni: the chance
that any fires is at most the sum of their shares, whatever the dependence between them):

- ``INPUTS``: every input's tests, drift and breakage alike, and the joint test of the
  inputs taken together, one Bonferroni family inside ``mlcycle.drift.check`` (each column,
  and the joint test, at ``INPUTS / (columns + 1)``). The largest share: the most
  questions, and where a real change shows first.
- ``PREDICTIONS``: the test of the model's scores (one column: its own tests share it).
- ``ESTIMATED_LOSS``: the estimated metric must be worse than the policy's loss even at
  the better end of a one-sided interval at this level.
- ``MEASURED_LOSS``: likewise for the metric measured on labels, against the sampling
  error of the batch's and the holdout's figures.

The shares are fixed here rather than in the policy: they make a promise (at most 2 % of
unshifted checks alert, at any batch size; ``bench/monitor_rates.py`` measures it) that
per-project tuning would break silently.
"""

from __future__ import annotations

from statistics import NormalDist

INPUTS = 0.012
PREDICTIONS = 0.004
ESTIMATED_LOSS = 0.002
MEASURED_LOSS = 0.002
CHECK_ALPHA = INPUTS + PREDICTIONS + ESTIMATED_LOSS + MEASURED_LOSS  # 0.02


def z(alpha: float) -> float:
    """The one-sided normal quantile a loss must clear to fire at level ``alpha``."""
    return NormalDist().inv_cdf(1 - alpha)


Z_ESTIMATED = z(ESTIMATED_LOSS)
Z_MEASURED = z(MEASURED_LOSS)
