"""The estimator a version's monitoring reference keeps, to judge batches without labels:
confidence-based for classifiers (``mlcycle.monitor.estimation``), direct loss estimation
for regression (``mlcycle.monitor.dle``). Each is fitted once, on the holdout, when the
reference is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mlcycle.models import evaluation
from mlcycle.monitor import dle, estimation

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from mlcycle.models.model_input import Signature


class Estimator(Protocol):
    method: str

    def estimate(self, inputs: pl.DataFrame, pred: dict[str, np.ndarray]
                 ) -> estimation.Estimate: ...


@dataclass
class Confidence:
    """CBPE: class scores calibrated on the holdout."""

    metric: str
    classes: list[str]
    calibration: estimation.Calibration
    anchor: float  # the holdout figure's standard error
    method: str = "calibrated confidence (CBPE)"

    def estimate(self, inputs: pl.DataFrame, pred: dict[str, np.ndarray]
                 ) -> estimation.Estimate:
        scores, predicted = _classified(pred, self.classes)
        return estimation.estimate(self.metric, scores, predicted, self.calibration,
                                   self.anchor)


@dataclass
class DirectLoss:
    """DLE: a nanny model of each row's loss, fitted on the holdout."""

    nanny: dle.Nanny
    method: str = "direct loss estimation (DLE)"

    def estimate(self, inputs: pl.DataFrame, pred: dict[str, np.ndarray]
                 ) -> estimation.Estimate:
        return self.nanny.estimate(inputs, pred["value"])


def _confidence(signature: Signature, metric: str, inputs: pl.DataFrame,
                pred: dict[str, np.ndarray], y: np.ndarray, anchor: float
                ) -> Estimator | None:
    import numpy as np

    if metric not in estimation.METRICS:
        return None
    classes = signature.classes
    positive = (classes.index(evaluation.positive_class(classes)) if len(classes) == 2
                else None)
    scores, _ = _classified(pred, classes)
    # Each row's class index; a class the model never learnt is no class's (-1).
    seen, inverse = np.unique(np.asarray(y).astype(str), return_inverse=True)
    truth = np.array([classes.index(c) if c in classes else -1 for c in seen])[inverse]
    return Confidence(metric, classes, estimation.calibrate(scores, truth, positive), anchor)


def _direct_loss(signature: Signature, metric: str, inputs: pl.DataFrame,
                 pred: dict[str, np.ndarray], y: np.ndarray, anchor: float
                 ) -> Estimator | None:
    if metric not in dle.METRICS:
        return None
    return DirectLoss(dle.fit(metric, inputs, pred["value"], y.astype("float64"), signature,
                              anchor))


_BY_TASK: dict[str, Callable[..., Estimator | None]] = {
    "classification": _confidence, "regression": _direct_loss}


def fit(signature: Signature, metric: str, inputs: pl.DataFrame, pred: dict[str, np.ndarray],
        y: np.ndarray, anchor: float | None) -> Estimator | None:
    """The estimator of ``metric`` fitted on the holdout (its model inputs, the version's
    predictions, the targets; ``anchor``: the holdout figure's standard error, which every
    interval carries); None when the metric cannot be estimated without labels (R², which
    needs the targets' spread)."""
    return _BY_TASK[signature.task](signature, metric, inputs, pred, y, anchor or 0.0)


def _classified(pred: dict[str, Any], classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The class scores (rows × classes, each row summing to 1) and each row's predicted
    class index."""
    import numpy as np

    proba = np.asarray(pred["proba"], dtype=np.float64)
    proba = proba / np.where(proba.sum(axis=1, keepdims=True) > 0,
                             proba.sum(axis=1, keepdims=True), 1)
    labels, inverse = np.unique(np.asarray(pred["label"]).astype(str), return_inverse=True)
    index = np.array([classes.index(c) for c in labels], dtype=np.int64)
    return proba, index[inverse]
