"""Evaluation (lifecycle stage 6): one fixed holdout per dataset version, metrics, error analysis.

Every model of a project is judged on the same holdout rows: they are drawn once per dataset
version and target (seeded, stratified for classification), stored in the workspace, and
reused by every later training, reproduction and comparison.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from mlcycle.data.columns import by_name
from mlcycle.store.errors import InvalidInput
from mlcycle.store.sql import fetch_one

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from mlcycle.data.datasets import DatasetVersion
    from mlcycle.store.workspace import Workspace

HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 20240601


def holdout_mask(
    ws: Workspace, version: DatasetVersion, target: str, y: np.ndarray, task: str
) -> np.ndarray:
    """The stored holdout of a dataset version, drawn on first use; True marks holdout rows."""
    import numpy as np
    import polars as pl

    from mlcycle.store.workspace import file_sha256

    query = "SELECT path, sha256 FROM holdouts WHERE dataset_id = ? AND target = ?"
    with ws.read() as con:
        row = fetch_one(con, query, [version.id, target])
    if row is None:
        indices = _draw(y, task)
        temp = ws.temp_path(".parquet")
        pl.DataFrame({"row": indices}).write_parquet(temp)
        digest = file_sha256(temp)
        relpath = f"holdouts/{version.id}-{_safe(target)}.parquet"
        try:
            with ws.write() as con:
                # A concurrent trainer may have drawn first: its file, which its recorded
                # hash vouches for, stays in place and everyone uses it.
                row = fetch_one(con, query, [version.id, target])
                if row is None:
                    ws.commit_file(temp, relpath)
                    con.execute(
                        "INSERT INTO holdouts VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [version.id, target, HOLDOUT_SEED, HOLDOUT_FRACTION, relpath,
                         len(indices), digest],
                    )
                    row = (relpath, digest)
        finally:
            temp.unlink(missing_ok=True)
    path = ws.verified_path(row[0], row[1], f"the holdout of version {version.id}")
    indices = pl.read_parquet(path, glob=False).get_column("row").to_numpy()
    mask = np.zeros(len(y), dtype=bool)
    mask[indices] = True
    return mask


def _safe(name: str) -> str:
    import hashlib

    return hashlib.blake2b(name.encode(), digest_size=6).hexdigest()


def _draw(y: np.ndarray, task: str) -> np.ndarray:
    import numpy as np
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    stratify = y if task == "classification" and _stratifiable(y) else None
    _, held = train_test_split(
        rows, test_size=HOLDOUT_FRACTION, random_state=HOLDOUT_SEED, stratify=stratify
    )
    return np.sort(held)


def _stratifiable(y: np.ndarray) -> bool:
    import numpy as np

    _, counts = np.unique(y, return_counts=True)
    return bool(counts.min() >= 2)


# -- metrics --------------------------------------------------------------------------------


def positive_class(classes: list[str]) -> str:
    """The class whose probability ROC AUC and F1 are about: the last in sorted order
    (True over False, "yes" over "no", 1 over 0)."""
    return classes[-1]


def scores(
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None = None,
    classes: list[str] | None = None,
    only: str | None = None,
) -> dict[str, float]:
    """Every metric of the task that can be computed on these rows (``only``: just that
    one, for the many resamples of a bootstrap)."""
    import numpy as np
    from sklearn import metrics as m

    def wanted(name: str) -> bool:
        return only is None or only == name

    out: dict[str, float] = {}
    if task == "regression":
        if wanted("rmse"):
            out["rmse"] = float(np.sqrt(m.mean_squared_error(y_true, y_pred)))
        if wanted("mae"):
            out["mae"] = float(m.mean_absolute_error(y_true, y_pred))
        if len(y_true) > 1 and wanted("r2"):
            out["r2"] = float(m.r2_score(y_true, y_pred))
        nonzero = y_true != 0
        if nonzero.any() and wanted("mape"):
            out["mape"] = float(
                np.mean(np.abs((y_true[nonzero] - y_pred[nonzero]) / y_true[nonzero]))
            )
        return out
    classes = classes or sorted(set(y_true))
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    pos = positive_class(classes) if binary else 1
    if wanted("accuracy"):
        out["accuracy"] = float(m.accuracy_score(y_true, y_pred))
    if wanted("balanced_accuracy"):
        out["balanced_accuracy"] = float(m.balanced_accuracy_score(y_true, y_pred))
    for name, fn in (
        ("precision", m.precision_score),
        ("recall", m.recall_score),
        ("f1", m.f1_score),
    ):
        if wanted(name):
            out[name] = float(fn(y_true, y_pred, average=average, pos_label=pos,
                                 zero_division=0))
    if proba is not None and len(set(y_true)) > 1:
        if binary and wanted("roc_auc"):
            out["roc_auc"] = float(m.roc_auc_score(y_true == pos, proba[:, -1]))
        elif wanted("roc_auc") and len(set(y_true)) == len(classes):
            out["roc_auc"] = float(
                m.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
            )
        if wanted("log_loss"):
            out["log_loss"] = float(m.log_loss(y_true, np.clip(proba, 1e-15, 1),
                                               labels=classes))
    return out


def bootstrap_se(task: str, metric: str, y_true: np.ndarray, y_pred: np.ndarray,
                 proba: np.ndarray | None = None, classes: list[str] | None = None,
                 rounds: int = 100, cap: int = 20_000, seed: int = 0) -> float | None:
    """The sampling error of ``metric`` on these rows: the spread of its value over
    bootstrap resamples. Beyond ``cap`` rows a resample of ``cap`` rows is drawn and the
    error scaled by sqrt(cap / rows), which keeps large batches cheap."""
    import numpy as np

    n = len(y_true)
    if n < 2:
        return None
    rng = np.random.default_rng(seed)
    size = min(n, cap)
    values = []
    for _ in range(rounds):
        rows = rng.integers(0, n, size)
        value = scores(task, y_true[rows], y_pred[rows],
                       None if proba is None else proba[rows], classes, only=metric).get(metric)
        if value is not None and np.isfinite(value):
            values.append(value)
    if len(values) < rounds // 2:
        return None
    return float(np.std(values, ddof=1) * np.sqrt(size / n))


def cv_scoring(task: str, classes: list[str]) -> dict[str, Any]:
    """scikit-learn scorers for cross-validation, keyed by mlcycle's metric names."""
    from sklearn.metrics import f1_score, make_scorer, precision_score, recall_score

    if task == "regression":
        return {
            "rmse": "neg_root_mean_squared_error",
            "mae": "neg_mean_absolute_error",
            "r2": "r2",
            "mape": "neg_mean_absolute_percentage_error",
        }
    binary = len(classes) == 2
    kw: dict[str, Any] = (
        {"average": "binary", "pos_label": positive_class(classes)}
        if binary
        else {"average": "macro"}
    )
    return {
        "accuracy": "accuracy",
        "balanced_accuracy": "balanced_accuracy",
        "precision": make_scorer(precision_score, zero_division=0, **kw),
        "recall": make_scorer(recall_score, zero_division=0, **kw),
        "f1": make_scorer(f1_score, zero_division=0, **kw),
        "roc_auc": "roc_auc" if binary else "roc_auc_ovr",
        "log_loss": "neg_log_loss",
    }


NEGATED = {"rmse", "mae", "mape", "log_loss"}  # scikit-learn reports these negated


# -- error analysis -------------------------------------------------------------------------


def analyse(
    model: Any,
    inputs: pl.DataFrame,
    y: np.ndarray,
    raw: pl.DataFrame,
    task: str,
    metric: str,
    identifier: str | None,
    seed: int,
) -> dict[str, Any]:
    """Error analysis of a fitted pipeline on the holdout rows."""
    import numpy as np

    pred = model.predict(inputs)
    proba = model.predict_proba(inputs) if task == "classification" else None
    classes = [str(c) for c in getattr(model, "classes_", [])]
    out: dict[str, Any] = {"rows": len(y), "metrics": scores(task, y, pred, proba, classes or None)}
    if task == "classification":
        from sklearn.metrics import confusion_matrix

        out["confusion_matrix"] = {
            "labels": classes,
            "counts": confusion_matrix(y, pred, labels=classes).tolist(),
        }
        out["calibration"] = _calibration(y, proba, classes)
        true_index = np.searchsorted(classes, y)
        loss = -np.log(np.clip(proba[np.arange(len(y)), true_index], 1e-15, 1))
    else:
        loss = np.abs(y - pred)
    worst = np.argsort(-loss)[:20]
    out["worst_rows"] = [
        {
            "row": int(i),
            "id": None if identifier is None else str(raw[identifier][int(i)]),
            "actual": _plain(y[i]),
            "predicted": _plain(pred[i]),
            "loss": float(loss[i]),
        }
        for i in worst
    ]
    out["segments"] = _segments(raw, inputs, y, pred, proba, classes, task)
    out["permutation_importance"] = _permutation_importance(
        model, inputs, y, task, metric, classes, seed
    )
    return out


REPEATS = 3  # shuffles per input column in the permutation importance


def analysis_predictions(columns: int) -> int:
    """How many predictions over the holdout ``analyse`` makes for ``columns`` inputs: the
    unshuffled ones, then ``REPEATS`` per input. A caller with a deadline times one and
    multiplies: the analysis' cost is in these, not in the fit."""
    return 2 + REPEATS * columns


def _permutation_importance(
    model: Any,
    inputs: pl.DataFrame,
    y: np.ndarray,
    task: str,
    metric: str,
    classes: list[str],
    seed: int,
    repeats: int = REPEATS,
) -> list[dict[str, Any]]:
    """How much the metric worsens when one input column is shuffled (mean over repeats)."""
    import numpy as np

    from mlcycle.projects.metrics import CATALOG

    fallback = "accuracy" if task == "classification" else "r2"

    def score(frame: pl.DataFrame) -> float:
        # One prediction and one metric per shuffle: there are 3 per input column, and on
        # digits' 64 inputs the labels, the probabilities and all seven metrics each time
        # took a nearest-neighbour model's judging to 17 s, past the training's budget.
        if task == "classification":
            proba = model.predict_proba(frame)
            pred = np.asarray(model.classes_)[proba.argmax(axis=1)]
        else:
            proba, pred = None, model.predict(frame)
        values = scores(task, y, pred, proba, classes or None, only=metric)
        wanted = metric if metric in values else fallback
        if wanted not in values:  # the project's metric cannot be computed on these rows
            values = scores(task, y, pred, proba, classes or None, only=wanted)
        return values[wanted] if CATALOG[wanted].greater_is_better else -values[wanted]

    base = score(inputs)
    rows = []
    for i, column in enumerate(inputs.columns):
        drops = [
            base - score(inputs.with_columns(by_name(column).shuffle(seed + 1000 * i + r)))
            for r in range(repeats)
        ]
        rows.append({"feature": column, "mean": float(np.mean(drops)), "std": float(np.std(drops))})
    return sorted(rows, key=lambda row: -row["mean"])


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _calibration(y: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict[str, Any]:
    import numpy as np

    if len(classes) != 2:
        return {}
    p = proba[:, -1]
    hit = (y == classes[-1]).astype(float)
    bins = np.minimum((p * 10).astype(int), 9)
    table = []
    for b in range(10):
        sel = bins == b
        if sel.any():
            table.append(
                {
                    "bin": f"{b / 10:.1f}-{(b + 1) / 10:.1f}",
                    "rows": int(sel.sum()),
                    "mean_predicted": float(p[sel].mean()),
                    "observed": float(hit[sel].mean()),
                }
            )
    gap = sum(t["rows"] * abs(t["mean_predicted"] - t["observed"]) for t in table) / len(y)
    return {
        "brier": float(np.mean((p - hit) ** 2)),
        "expected_calibration_error": float(gap),
        "bins": table,
    }


def _segments(
    raw: pl.DataFrame,
    inputs: pl.DataFrame,
    y: np.ndarray,
    pred: np.ndarray,
    proba: np.ndarray | None,
    classes: list[str],
    task: str,
) -> dict[str, Any]:
    """Metrics per category of each categorical input, largest segments first."""
    import numpy as np

    out: dict[str, Any] = {}
    for column in inputs.columns:
        if inputs[column].dtype.is_numeric():
            continue
        values = inputs[column].to_numpy()
        rows = []
        for value in np.unique(values):
            sel = values == value
            if sel.sum() < 10:
                continue
            seg = scores(
                task, y[sel], pred[sel], None if proba is None else proba[sel], classes or None
            )
            rows.append({"value": str(value) or "(missing)", "rows": int(sel.sum()), **seg})
        out[column] = sorted(rows, key=lambda r: -r["rows"])[:15]
    return out


def beats(metric: str, value: float | None, other: float | None) -> bool | None:
    """Whether ``value`` is better than ``other`` on ``metric`` (None if either is missing)."""
    from mlcycle.projects.metrics import CATALOG

    if value is None or other is None or any(map(math.isnan, (value, other))):
        return None
    return value > other if CATALOG[metric].greater_is_better else value < other


def check_trainable(y: np.ndarray, task: str, folds: int) -> list[str]:
    """The classes of a classification target, after checking training can work at all."""
    import numpy as np

    if len(y) < 2 * folds:
        raise InvalidInput(
            f"{len(y)} rows are too few for {folds}-fold cross-validation; "
            f"use fewer folds (--cv) or more data"
        )
    if task == "regression":
        return []
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise InvalidInput(
            f"the target has one class only ({classes[0]!r}); a classifier needs at least two"
        )
    if counts.min() < folds:
        rare = classes[int(np.argmin(counts))]
        raise InvalidInput(
            f"class {rare!r} has {counts.min()} rows, fewer than the "
            f"{folds} cross-validation folds; use --cv {max(2, counts.min())}"
        )
    return [str(c) for c in classes]
