"""The success metrics a project can be judged by, per task."""

from __future__ import annotations

from dataclasses import dataclass

from mlcycle.store.errors import InvalidInput

TASKS = ("classification", "regression")


@dataclass(frozen=True)
class Metric:
    name: str
    task: str
    greater_is_better: bool
    description: str


CATALOG: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", "classification", True, "share of correct predictions"),
        Metric("balanced_accuracy", "classification", True, "mean recall over classes"),
        Metric("precision", "classification", True, "share of predicted positives that are right"),
        Metric("recall", "classification", True, "share of actual positives found"),
        Metric("f1", "classification", True, "harmonic mean of precision and recall"),
        Metric("roc_auc", "classification", True, "ranking quality of the scores"),
        Metric("log_loss", "classification", False, "cross-entropy of the probabilities"),
        Metric("rmse", "regression", False, "root mean squared error"),
        Metric("mae", "regression", False, "mean absolute error"),
        Metric("r2", "regression", True, "share of variance explained"),
        Metric("mape", "regression", False, "mean absolute percentage error"),
    ]
}
DEFAULT_METRIC = {"classification": "roc_auc", "regression": "rmse"}


def for_task(task: str) -> list[str]:
    return [name for name, m in CATALOG.items() if m.task == task]


def validate_task(task: str) -> str:
    if task not in TASKS:
        raise InvalidInput(f"unknown task {task!r}; use one of: {', '.join(TASKS)}")
    return task


def validate_metric(name: str | None, task: str) -> Metric:
    """The metric for a task, or a one-line error listing the ones that fit."""
    validate_task(task)
    chosen = name or DEFAULT_METRIC[task]
    metric = CATALOG.get(chosen)
    if metric is None or metric.task != task:
        raise InvalidInput(
            f"metric {chosen!r} does not fit a {task} task; use one of: {', '.join(for_task(task))}"
        )
    return metric


def meets_goal(metric: str, value: float, goal: float) -> bool:
    return value >= goal if CATALOG[metric].greater_is_better else value <= goal
