"""How far a pipeline's ONNX graph may stray from scikit-learn, derived from how it computes.

The graph reads the same float32 inputs the pipeline was trained on, and skl2onnx shifts each
tree threshold to the float32 that routes a float32 input as scikit-learn's float64 threshold
does, so both runtimes take the same branches. What differs is the arithmetic after them:
onnxruntime adds in float32 (unit roundoff u = 2^-24 ≈ 6e-8) where scikit-learn adds in
float64. Adding n float32 terms, each itself rounded once, errs by at most n·u·Σ|term|
(Higham, *Accuracy and Stability of Numerical Algorithms*, §4.2), so every model kind's bound is

    tolerance = slope · terms · u · magnitude + rounding of the output

- boosting: terms = iterations + 1 (one tree per class per iteration, and the baseline),
  magnitude = |baseline| + the sum over iterations of the largest leaf of any class; the
  softmax moves a probability by at most half the largest change of a raw score (slope 1/2),
  the sigmoid of a two-class model by a quarter (slope 1/4); a regression value, slope 1.
- forests: terms = trees, magnitude = 1 for probabilities (an average of proportions), the
  largest leaf value for regression values.
- linear models: terms = inputs after one-hot + 4 (the scaling's subtraction and product, the
  intercept, the product with the weight), magnitude = the largest |intercept| + Σ|weight| ·
  (|scaled input| + 2·|mean / scale|) over the rows compared; the link's slope as above.
- nearest neighbours: probabilities are votes / k and are exact once the neighbours agree
  (terms = k, magnitude 1); a regression value is a mean of k targets (magnitude: the largest
  |target|). A neighbour swapped by float32 distances moves a vote (1/k) and fails parity.

The rounding of the output itself adds 4u to a probability (its own rounding and the exp of the
softmax) and u·|value| to a regression value. ``scale`` multiplies the whole bound: 1 is the
bound above; a smaller one asks more of a graph than float32 can give.

Labels must be identical, except on a row whose two most probable classes (by the pipeline)
are within twice the tolerance of each other: there each probability may move by the tolerance,
so the order of the two is not decided by the arithmetic, and that row's label may differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcycle.models.model_input import Signature, label_texts

if TYPE_CHECKING:
    import polars as pl

U32 = 2.0**-24  # float32's unit roundoff
OUTPUT_ULPS = 4  # a probability's own rounding and the softmax's exp, in units of u


@dataclass(frozen=True)
class Bound:
    """The tolerance of one fitted pipeline's graph, and the figures it is derived from."""

    kind: str
    terms: int
    magnitude: float
    slope: float
    tolerance: float
    scale: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "terms": self.terms, "magnitude": self.magnitude,
                "slope": self.slope, "unit_roundoff": U32, "scale": self.scale,
                "tolerance": self.tolerance}


def _link_slope(classes: int) -> float:
    """How much a probability moves per unit of raw score: sigmoid 1/4, softmax 1/2."""
    return 0.25 if classes <= 2 else 0.5


def _boosting(estimator: Any, pipeline: Any, inputs: Any) -> tuple[str, int, float, float]:
    import numpy as np

    largest = sum(max(float(np.max(np.abs(tree.nodes["value"]))) for tree in iteration)
                  for iteration in estimator._predictors)
    magnitude = float(np.max(np.abs(estimator._baseline_prediction))) + largest
    terms = len(estimator._predictors) + 1
    if hasattr(estimator, "classes_"):
        return "boosting", terms, magnitude, _link_slope(len(estimator.classes_))
    return "boosting", terms, magnitude, 1.0


def _forest(estimator: Any, pipeline: Any, inputs: Any) -> tuple[str, int, float, float]:
    import numpy as np

    terms = len(estimator.estimators_)
    if hasattr(estimator, "classes_"):
        return "forest", terms, 1.0, 1.0
    largest = max(float(np.max(np.abs(tree.tree_.value))) for tree in estimator.estimators_)
    return "forest", terms, largest, 1.0


def _linear(estimator: Any, pipeline: Any, inputs: Any) -> tuple[str, int, float, float]:
    import numpy as np

    prepare = pipeline[:-1]
    scaled = np.asarray(_dense(prepare.transform(inputs)), dtype=np.float64)
    shift = np.zeros(scaled.shape[1])
    numeric = prepare[-1].named_transformers_.get("numeric")
    if numeric is not None and "scale" in numeric.named_steps:
        scaler = numeric.named_steps["scale"]
        shift[: len(scaler.mean_)] = np.abs(scaler.mean_ / scaler.scale_)
    weights = np.abs(np.atleast_2d(estimator.coef_))
    reach = (np.abs(scaled) + 2 * shift) @ weights.T if len(scaled) else np.zeros((0, 1))
    intercept = float(np.max(np.abs(np.atleast_1d(estimator.intercept_))))
    magnitude = intercept + (float(np.max(reach)) if reach.size else 0.0)
    terms = scaled.shape[1] + 4
    if hasattr(estimator, "classes_"):
        return "linear", terms, magnitude, _link_slope(len(estimator.classes_))
    return "linear", terms, magnitude, 1.0


def _dense(matrix: Any) -> Any:
    return matrix.toarray() if hasattr(matrix, "toarray") else matrix


def _neighbours(estimator: Any, pipeline: Any, inputs: Any) -> tuple[str, int, float, float]:
    import numpy as np

    if hasattr(estimator, "classes_"):
        return "neighbours", estimator.n_neighbors, 1.0, 1.0
    return "neighbours", estimator.n_neighbors, float(np.max(np.abs(estimator._y))), 1.0


Derivation = Callable[[Any, Any, Any], tuple[str, int, float, float]]
# Every estimator of the catalog but the baseline's, which has no ONNX converter (a test
# checks that none is missing).
DERIVATIONS: dict[str, Derivation] = {
    "HistGradientBoostingClassifier": _boosting,
    "HistGradientBoostingRegressor": _boosting,
    "RandomForestClassifier": _forest,
    "RandomForestRegressor": _forest,
    "ExtraTreesClassifier": _forest,
    "ExtraTreesRegressor": _forest,
    "LogisticRegression": _linear,
    "LinearRegression": _linear,
    "Ridge": _linear,
    "KNeighborsClassifier": _neighbours,
    "KNeighborsRegressor": _neighbours,
}


def bound(pipeline: Any, inputs: pl.DataFrame, values: Any, scale: float = 1.0) -> Bound:
    """The tolerance for ``pipeline``'s graph on ``inputs``; ``values`` are the pipeline's
    probabilities (classification) or predicted values (regression) on them."""
    import numpy as np

    estimator = pipeline.steps[-1][1]
    derive = DERIVATIONS.get(type(estimator).__name__)
    if derive is None:
        raise ValueError(f"no parity bound is derived for {type(estimator).__name__}")
    kind, terms, magnitude, slope = derive(estimator, pipeline, inputs)
    if hasattr(estimator, "classes_"):
        output = OUTPUT_ULPS * U32
    else:
        output = U32 * (float(np.max(np.abs(values))) if len(values) else 0.0)
    tolerance = scale * (slope * terms * U32 * magnitude + output)
    return Bound(kind, terms, magnitude, slope, tolerance, scale)


def compare(pipeline: Any, outputs: list[Any], inputs: pl.DataFrame, signature: Signature,
            scale: float = 1.0) -> dict[str, Any]:
    """How closely the graph's ``outputs`` reproduce the pipeline on ``inputs``, judged by the
    pipeline's bound (see the module docstring)."""
    import numpy as np

    out: dict[str, Any] = {"rows": inputs.height}
    if signature.task == "classification":
        proba = pipeline.predict_proba(inputs)
        limit = bound(pipeline, inputs, proba, scale)
        labels = pipeline.predict(inputs).astype(str)
        differ = label_texts(outputs[0], signature) != labels
        top_two = np.sort(proba, axis=1)[:, -2:] if proba.shape[1] > 1 else np.ones((len(proba), 2))
        tied = (top_two[:, 1] - top_two[:, 0]) <= 2 * limit.tolerance
        diff = float(np.max(np.abs(outputs[1] - proba))) if inputs.height else 0.0
        out.update(label_mismatches=int(differ.sum()),
                   label_mismatches_at_ties=int((differ & tied).sum()),
                   max_abs_proba_diff=diff, tolerance=limit.tolerance,
                   passed=bool(not (differ & ~tied).any() and diff <= limit.tolerance))
    else:
        values = pipeline.predict(inputs)
        limit = bound(pipeline, inputs, values, scale)
        diff = np.abs(np.asarray(outputs[0], dtype=np.float64).ravel() - values)
        largest = float(np.max(diff)) if inputs.height else 0.0
        out.update(max_abs_diff=largest, tolerance=limit.tolerance,
                   passed=largest <= limit.tolerance)
    out["bound"] = limit.to_dict()
    return out


def line(figures: dict[str, Any]) -> str:
    """The parity figures in one line, as a person reads them."""
    rows = f"parity on {figures['rows']} holdout rows"
    if "error" in figures:
        return f"{rows}: not checked, the conversion failed ({figures['error']})"
    made = f" ({figures['bound']['kind']} bound)" if "bound" in figures else ""
    if "label_mismatches" in figures:
        ties = figures.get("label_mismatches_at_ties", 0)
        at_ties = f" ({ties} at near-ties)" if ties else ""
        return (f"{rows}: {figures['label_mismatches']} labels differ{at_ties}, probabilities "
                f"within {figures['max_abs_proba_diff']:.2g} "
                f"(allowed {figures['tolerance']:.2g}{made})")
    if "max_rel_diff" in figures:  # exports checked before bounds were derived per model
        return (f"{rows}: values within {figures['max_rel_diff']:.2g} relative, "
                f"{figures['max_abs_diff']:.3g} absolute "
                f"(allowed {figures['tolerance']:g} relative)")
    return (f"{rows}: values within {figures['max_abs_diff']:.3g} "
            f"(allowed {figures['tolerance']:.2g}{made})")


def figure_rows(figures: dict[str, Any]) -> list[tuple[str, str]]:
    """The parity figures as (name, value) rows, as the TUI's export job lists them."""
    rows = [("rows compared (holdout)", f"{figures['rows']:,}")]
    if "label_mismatches" in figures:
        rows += [("labels that differ", str(figures["label_mismatches"])),
                 ("max probability difference", f"{figures['max_abs_proba_diff']:.2g}")]
    elif "max_rel_diff" in figures:  # checked before bounds were derived per model
        rows += [("max relative difference", f"{figures['max_rel_diff']:.2g}"),
                 ("max absolute difference", f"{figures['max_abs_diff']:.3g}")]
    else:
        rows.append(("max difference", f"{figures['max_abs_diff']:.3g}"))
    if "bound" in figures:
        rows.append(("bound", f"{figures['bound']['kind']}: {figures['bound']['terms']} "
                              f"float32 terms, magnitude {figures['bound']['magnitude']:.3g}"))
    rows += [("allowed", f"{figures['tolerance']:.2g}"),
             ("parity", "pass" if figures["passed"] else "fail")]
    return rows


def label_mismatches(figures: dict[str, Any]) -> int | None:
    """Labels that differ between the graph and the pipeline (a classifier's figure)."""
    return figures.get("label_mismatches")


def max_difference(figures: dict[str, Any]) -> float | None:
    """The largest difference found: in probabilities for a classifier, else in values
    (relative, for exports checked before bounds were derived per model)."""
    return figures.get("max_abs_proba_diff", figures.get("max_rel_diff",
                                                          figures.get("max_abs_diff")))


def failure(figures: dict[str, Any]) -> str:
    """Why a graph was refused, with its figures, in one clause."""
    if "error" in figures:
        return f"it does not convert to ONNX: {figures['error']}"
    if "label_mismatches" in figures:
        beyond = figures["label_mismatches"] - figures.get("label_mismatches_at_ties", 0)
        return (f"the ONNX graph differs from the pipeline on the holdout: {beyond} of "
                f"{figures['rows']} labels differ away from near-ties, probabilities by up to "
                f"{figures['max_abs_proba_diff']:.3g} (allowed {figures['tolerance']:.3g})")
    return (f"the ONNX graph's values differ from the pipeline's by up to "
            f"{figures['max_abs_diff']:.3g} on the holdout (allowed {figures['tolerance']:.3g})")
