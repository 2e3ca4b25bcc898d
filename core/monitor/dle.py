"""Estimating a regression model's error on a batch before its labels arrive.

This is direct loss estimation, as NannyML's DLE does it: a second model (the "nanny"),
fitted on the version's holdout, predicts each row's loss (its absolute error for MAE, its
squared error for RMSE, its absolute percentage error for MAPE) from the model's inputs and
its prediction; the metric on a batch is then the mean of the predicted losses (the square
root of it for RMSE). The nanny is the catalog's gradient boosting, so it is a pipeline of
the kinds mlcycle trains and trusts.

A second nanny predicts each row's squared loss, so each row's loss has an expected value
and a variance (the second moment less the square of the first): the realized metric's
sampling error on this batch (through the square root for RMSE). The nannies, fitted on a
holdout of finite size, add the holdout figure's own error (``anchor``); the interval is the
estimate ± ``Z`` times both combined. A loss against the holdout's estimate by the same
nannies is judged on the batch's error alone (``Estimate.error``), as in CBPE.

Like CBPE it assumes the relation between inputs and outcome is unchanged, and it sees a
shift only in regions of the inputs the holdout covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcycle.monitor.estimation import Estimate, Z

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from mlcycle.models.model_input import Signature

METRICS = ("mae", "rmse", "mape")
PREDICTION = "model prediction"  # the nanny's extra input (renamed if an input has the name)
# Holdout rows a nanny learns from at most: beyond, a random sample, so a version's
# reference is built in seconds however large its holdout.
FIT_ROWS = 20_000


def loss(metric: str, y: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Each row's loss behind ``metric`` (a row with a zero target has no percentage error,
    so none, as in training's MAPE)."""
    import numpy as np

    error = y - prediction
    if metric == "mape":
        return np.abs(error[y != 0] / y[y != 0])
    return np.abs(error) if metric == "mae" else error**2


@dataclass
class Nanny:
    """The two loss models of one metric, fitted on the holdout."""

    metric: str
    first: Any  # fitted Pipeline: inputs + prediction -> the row's loss
    second: Any  # -> the row's squared loss
    column: str  # the prediction's column name among the nanny's inputs
    anchor: float  # the holdout figure's standard error

    def estimate(self, inputs: pl.DataFrame, prediction: np.ndarray) -> Estimate:
        """The metric expected on these rows and its 95 % interval (see module)."""
        import numpy as np

        frame = _with_prediction(inputs, prediction, self.column)
        mean = np.clip(self.first.predict(frame), 0, None)
        variance = np.clip(self.second.predict(frame) - mean**2, 0, None)
        centre = float(mean.mean())
        error = float(np.sqrt(variance.sum())) / len(mean)
        value = centre
        if self.metric == "rmse":  # the root's error, to first order
            value = float(np.sqrt(centre))
            error = error / (2 * value) if value > 0 else 0.0
        half = Z * float(np.hypot(error, self.anchor))
        return Estimate(value, max(value - half, 0.0), value + half, error)


def fit(metric: str, inputs: pl.DataFrame, prediction: np.ndarray, y: np.ndarray,
        signature: Signature, anchor: float = 0.0, seed: int = 0) -> Nanny:
    """The nanny of ``metric`` from the holdout's model inputs, predictions and targets;
    ``anchor``: the holdout figure's standard error."""
    import numpy as np
    import polars as pl

    from mlcycle.models import catalog
    from mlcycle.models.model_input import Signature

    column = PREDICTION
    while column in inputs.columns:
        column += "_"
    if len(y) > FIT_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(y), FIT_ROWS, replace=False))
        inputs, prediction, y = inputs[rows], prediction[rows], y[rows]
    frame = _with_prediction(inputs, prediction, column)
    if metric == "mape":
        frame = frame.filter(pl.Series(y != 0))
    target = loss(metric, y, prediction)
    shape = Signature([*signature.numeric, column], list(signature.categorical), "loss",
                      "regression")
    entry = catalog.get("hist_gradient_boosting", "regression")
    first = catalog.pipeline(entry, shape, seed).fit(frame, target)
    second = catalog.pipeline(entry, shape, seed).fit(frame, target**2)
    return Nanny(metric, first, second, column, anchor)


def _with_prediction(inputs: pl.DataFrame, prediction: np.ndarray, column: str
                     ) -> pl.DataFrame:
    import polars as pl

    return inputs.with_columns(pl.Series(column, prediction, dtype=pl.Float64))
