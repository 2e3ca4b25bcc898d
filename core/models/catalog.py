"""The estimators mlcycle trains, each a full scikit-learn Pipeline with a search space.

Only estimators that skl2onnx converts are here (a test converts every one and runs it in
onnxruntime). Preprocessing lives inside the pipeline so one ONNX graph carries it:
median imputation for numbers (plus scaling for the distance- and weight-based models) and
one-hot encoding for categories, with unseen categories ignored at scoring time. Tree sizes
are bounded so exported models stay small and fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcycle.models.model_input import Signature
from mlcycle.store.errors import InvalidInput


@dataclass(frozen=True)
class Entry:
    name: str
    task: str
    build: Callable[[int], Any]  # seed -> unfitted estimator
    # Parameter distributions: keys prefixed "model__" go to the estimator; SCALE, where a
    # family searches it, chooses whether numeric inputs are standardised.
    space: dict[str, Any]
    scaled: bool  # whether numeric inputs are standardised first, unless SCALE says


BOOSTING_ROUNDS = 300
# Standardising suits inputs on unrelated scales; on inputs that share one (pixels, counts
# of the same thing) it blows near-constant columns up to full weight, which costs a
# distance-based model dearly: digits' nearest neighbours lose 2 points of accuracy with it.
SCALE = "scale"


def _loguniform(low: float, high: float) -> Any:
    from scipy.stats import loguniform

    return loguniform(low, high)


def _entries() -> list[Entry]:
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    forest = {
        "model__n_estimators": [50, 100, 200],
        "model__max_depth": [4, 6, 8, 10],
        "model__min_samples_leaf": [1, 2, 5, 10],
        "model__max_features": ["sqrt", 0.5, 1.0],
    }
    # Boosting stops early on a tenth of its rows (10 rounds without improvement), so
    # BOOSTING_ROUNDS is a ceiling and each fit spends the iterations its data rewards.
    boosting = {
        "model__learning_rate": _loguniform(0.02, 0.3),
        "model__max_leaf_nodes": [7, 15, 31, 63],
        "model__min_samples_leaf": [10, 20, 50],
        "model__l2_regularization": _loguniform(1e-4, 1.0),
    }
    stopping = {"max_iter": BOOSTING_ROUNDS, "early_stopping": True, "n_iter_no_change": 10,
                "validation_fraction": 0.1}
    # Neighbours vote with equal weight: weighted by distance, the ONNX graph's float32
    # distances gave probabilities 0.05-0.11 away from scikit-learn's on digits' holdout
    # (a label changed), so export refused the model; equal votes agreed within 1e-7.
    knn = {"model__n_neighbors": [3, *range(5, 51, 5)], SCALE: [True, False]}
    return [
        Entry(
            "baseline",
            "classification",
            lambda s: DummyClassifier(strategy="prior"),
            {},
            False,
        ),
        Entry(
            "baseline",
            "regression",
            lambda s: DummyRegressor(strategy="mean"),
            {},
            False,
        ),
        Entry(
            "logistic",
            "classification",
            lambda s: LogisticRegression(max_iter=2000, random_state=s),
            {"model__C": _loguniform(1e-3, 1e2)},
            True,
        ),
        Entry(
            "random_forest",
            "classification",
            lambda s: RandomForestClassifier(random_state=s, n_jobs=2),
            forest,
            False,
        ),
        Entry(
            "extra_trees",
            "classification",
            lambda s: ExtraTreesClassifier(random_state=s, n_jobs=2),
            forest,
            False,
        ),
        Entry(
            "hist_gradient_boosting",
            "classification",
            lambda s: HistGradientBoostingClassifier(random_state=s, **stopping),
            boosting,
            False,
        ),
        Entry(
            "knn",
            "classification",
            lambda s: KNeighborsClassifier(n_jobs=2),
            knn,
            True,
        ),
        Entry("linear", "regression", lambda s: LinearRegression(), {}, True),
        Entry(
            "ridge",
            "regression",
            lambda s: Ridge(random_state=s),
            {"model__alpha": _loguniform(1e-3, 1e3)},
            True,
        ),
        Entry(
            "random_forest",
            "regression",
            lambda s: RandomForestRegressor(random_state=s, n_jobs=2),
            forest,
            False,
        ),
        Entry(
            "extra_trees",
            "regression",
            lambda s: ExtraTreesRegressor(random_state=s, n_jobs=2),
            forest,
            False,
        ),
        Entry(
            "hist_gradient_boosting",
            "regression",
            lambda s: HistGradientBoostingRegressor(random_state=s, **stopping),
            boosting,
            False,
        ),
        Entry(
            "knn",
            "regression",
            lambda s: KNeighborsRegressor(n_jobs=2),
            knn,
            True,
        ),
    ]


def names(task: str) -> list[str]:
    """Model names for a task, without the baseline (which always runs)."""
    return [e.name for e in _entries() if e.task == task and e.name != "baseline"]


def get(name: str, task: str) -> Entry:
    for entry in _entries():
        if entry.name == name and entry.task == task:
            return entry
    raise InvalidInput(f"unknown model {name!r} for {task}; use one of: {', '.join(names(task))}")


# What a fitted catalog pipeline holds besides its estimators and transformers: the state
# scikit-learn builds while fitting (trees, histogram binners, losses, neighbour indexes), and
# the containers, numpy and scipy types skops stores it in. tests/store/test_trust.py fits every
# entry and checks that its skops file names nothing outside trusted_types().
FITTED_STATE_TYPES = (
    "builtins.bool", "builtins.dict", "builtins.float", "builtins.int", "builtins.list",
    "builtins.slice", "builtins.str", "builtins.tuple",
    "numpy.dtype", "numpy.ndarray", "numpy.float32", "numpy.float64", "numpy.int32",
    "numpy.int64", "numpy.uint64", "numpy.random._generator.Generator",
    "scipy.sparse._csr.csr_matrix",
    "sklearn.tree._tree.Tree",
    "sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier", "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn._loss.link.Interval", "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink", "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfBinomialLoss", "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError", "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss", "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn.neighbors._kd_tree.KDTree", "sklearn.metrics._dist_metrics.EuclideanDistance64",
)


@functools.cache
def trusted_types() -> frozenset[str]:
    """Every type a model file of mlcycle's may name: nothing else is ever loaded.

    The estimators and preprocessing steps are read off the catalog's own pipelines, so a
    model added to the catalog is trusted with it; what fitting adds is FITTED_STATE_TYPES.
    """
    names = set(FITTED_STATE_TYPES)
    for entry in _entries():
        # Both branches of the preprocessing, so every step the entry can have is listed.
        unfitted = pipeline(entry, Signature(["n"], ["c"], "t", entry.task), seed=0)
        parts = [unfitted, *(v for v in unfitted.get_params(deep=True).values()
                             if hasattr(v, "get_params"))]
        names.update(f"{type(p).__module__}.{type(p).__qualname__}" for p in parts)
    return frozenset(names)


def pipeline(entry: Entry, signature: Signature, seed: int, params: dict[str, Any] | None = None):
    """The whole pipeline (preprocessing + estimator) for ``entry``, unfitted."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    params = dict(params or {})
    scaled = params.pop(SCALE, entry.scaled)
    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if scaled:
        numeric_steps.append(("scale", StandardScaler()))
    parts = []
    if signature.numeric:
        parts.append(("numeric", Pipeline(numeric_steps), signature.numeric))
    if signature.categorical:
        parts.append(("categorical", OneHotEncoder(handle_unknown="ignore"), signature.categorical))
    # Gradient boosting takes dense input only; one-hot columns of many categories would
    # otherwise come out sparse (below ColumnTransformer's 0.3 density) and every fit fail.
    dense = {"sparse_threshold": 0} if entry.name == "hist_gradient_boosting" else {}
    model = Pipeline([("prepare", ColumnTransformer(parts, **dense)),
                      ("model", entry.build(seed))])
    if params:
        model.set_params(**params)
    return model
