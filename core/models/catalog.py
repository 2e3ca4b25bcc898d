"""The estimators mlcycle trains, each a full scikit-learn Pipeline with a search space.

Only estimators that skl2onnx converts are here (a test converts every one and runs it in
onnxruntime). Preprocessing lives inside the pipeline so one ONNX graph carries it:
median imputation for numbers (plus scaling for the distance- and weight-based models) and
one-hot encoding for categories, with unseen categories ignored at scoring time. Tree sizes
are bounded so exported models stay small and fast.
"""

from __future__ import annotations

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
    space: dict[str, Any]  # parameter distributions, keys prefixed "model__"
    scaled: bool  # whether numeric inputs are standardised first


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
    boosting = {
        "model__learning_rate": _loguniform(0.02, 0.3),
        "model__max_iter": [100, 200],
        "model__max_leaf_nodes": [15, 31, 63],
        "model__l2_regularization": _loguniform(1e-4, 1.0),
    }
    knn = {"model__n_neighbors": list(range(5, 51, 5)), "model__weights": ["uniform", "distance"]}
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
            lambda s: HistGradientBoostingClassifier(random_state=s),
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
            lambda s: HistGradientBoostingRegressor(random_state=s),
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


def pipeline(entry: Entry, signature: Signature, seed: int, params: dict[str, Any] | None = None):
    """The whole pipeline (preprocessing + estimator) for ``entry``, unfitted."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if entry.scaled:
        numeric_steps.append(("scale", StandardScaler()))
    parts = []
    if signature.numeric:
        parts.append(("numeric", Pipeline(numeric_steps), signature.numeric))
    if signature.categorical:
        parts.append(("categorical", OneHotEncoder(handle_unknown="ignore"), signature.categorical))
    model = Pipeline([("prepare", ColumnTransformer(parts)), ("model", entry.build(seed))])
    if params:
        model.set_params(**params)
    return model
