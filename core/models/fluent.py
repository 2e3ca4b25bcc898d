"""Tracking in MLflow's fluent style: an active run, and small verbs that log to it.

``start_run`` opens a run and makes it the active one of the calling thread (as MLflow keeps
one per thread); ``log_param``, ``log_metric``, ``set_tag``, ``log_artifact`` … log to it;
leaving the ``with`` block, or ``end_run``, ends it. Runs started by a search in another
thread never become another thread's active run. ``search_runs`` reads them back, filtered
and ordered with MLflow's grammar (``metrics.roc_auc > 0.8 and params.model = 'knn'``).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from mlcycle.models import run_search, tracking
from mlcycle.models.run_search import ATTRIBUTES, Clause
from mlcycle.models.tracking import Run, RunRecord
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace, use

_local = threading.local()


def _stack() -> list[Run]:
    if not hasattr(_local, "runs"):
        _local.runs = []
    stack: list[Run] = _local.runs
    while stack and stack[-1].ended:  # ended by its own context manager or .end()
        stack.pop()
    return stack


def start_run(project: str, name: str | None = None, *, nested: bool = False,
              tags: dict[str, Any] | None = None,
              workspace: Workspace | str | None = None) -> Run:
    """Start a run of ``project`` and make it the active run; use it as a context manager.

    A second run while one is active must say ``nested=True``, as in MLflow.
    """
    stack = _stack()
    if stack and not nested:
        raise InvalidInput(
            f"run {stack[-1].id} is already active; end it first, or pass nested=True"
        )
    run = tracking.start_run(use(workspace, create=True), project, name, tags=tags)
    stack.append(run)
    return run


def active_run() -> Run | None:
    """The calling thread's active run, or None."""
    stack = _stack()
    return stack[-1] if stack else None


def end_run(status: str = "finished") -> None:
    """End the active run (``finished``, ``failed`` or ``killed``); nothing if none is."""
    run = active_run()
    if run is not None:
        run.end(status)
        _stack()


def _active() -> Run:
    run = active_run()
    if run is None:
        raise InvalidInput("no active run: call mlcycle.start_run(project) first")
    return run


def log_param(key: str, value: Any) -> None:
    _active().log_param(key, value)


def log_params(params: dict[str, Any]) -> None:
    _active().log_params(params)


def log_metric(key: str, value: float, step: int | None = None) -> None:
    _active().log_metric(key, value, step or 0)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    _active().log_metrics(metrics, step or 0)


def set_tag(key: str, value: Any) -> None:
    _active().set_tag(key, value)


def set_tags(tags: dict[str, Any]) -> None:
    _active().set_tags(tags)


def log_artifact(path: str | Path, name: str | None = None) -> str:
    """Copy a file into the active run's artifacts; returns its SHA-256."""
    return _active().log_artifact(path, name)


def log_dict(obj: Any, name: str) -> str:
    """Store ``obj`` as a JSON artifact of the active run; returns its SHA-256."""
    return _active().log_dict(obj, name)


# -- searching ------------------------------------------------------------------------------

_CLAUSE = re.compile(
    r"""^\s*(?P<field>(?:metrics|params|tags|attributes)\.(?:`[^`]+`|"[^"]+"|[\w./\- ]+?)|\w+)\s*
    (?P<op>!=|<=|>=|=|<|>)\s*(?P<value>'[^']*'|"[^"]*"|[-+0-9.eE]+)\s*$""",
    re.VERBOSE,
)


def _field(text: str) -> tuple[str, str]:
    scope, _, key = text.partition(".")
    if not key:  # a bare attribute: status = 'finished'
        scope, key = "attributes", scope
    key = key.strip("`\"")
    if scope == "attributes" and key not in ATTRIBUTES:
        raise InvalidInput(f"unknown run attribute {key!r}; use one of: {', '.join(ATTRIBUTES)}")
    return scope, key


def _parse_filter(text: str) -> list[Clause]:
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        m = _CLAUSE.match(part)
        if not m:
            raise InvalidInput(
                f"cannot read the filter clause {part.strip()!r}: write e.g. "
                "\"metrics.roc_auc > 0.8 and params.model = 'knn'\""
            )
        scope, key = _field(m["field"])
        raw = m["value"]
        value: float | str = raw[1:-1] if raw[0] in "'\"" else float(raw)
        if scope == "metrics" and isinstance(value, str):
            raise InvalidInput(f"metric {key!r} compares with a number, not {raw}")
        clauses.append(Clause(scope, key, m["op"], value))
    return clauses


def _order(order_by: list[str] | str | None) -> tuple[str | None, bool]:
    if not order_by:
        return None, True
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    if len(items) > 1:
        raise InvalidInput("order_by takes one key, e.g. ['metrics.roc_auc DESC']")
    text, direction = items[0].strip(), "DESC"
    head, _, tail = text.rpartition(" ")
    if head and tail.upper() in ("ASC", "DESC"):
        text, direction = head.strip(), tail.upper()
    scope, key = _field(text)
    if scope != "metrics":
        raise InvalidInput(f"runs are ordered by a metric (metrics.KEY), not {items[0]!r}")
    return key, direction == "DESC"


def search_runs(project: str, filter: str | None = None, order_by: list[str] | str | None = None,
                limit: int | None = None, *,
                workspace: Workspace | str | None = None) -> list[RunRecord]:
    """A project's runs, newest first or by ``order_by`` (``["metrics.KEY DESC|ASC"]``),
    keeping those matching ``filter`` (clauses on ``metrics.``, ``params.``, ``tags.`` and
    attributes such as ``status``, joined by ``and``), at most ``limit``."""
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise InvalidInput(f"limit must be a positive whole number, not {limit!r}")
    clauses = _parse_filter(filter) if filter else []
    sort, descending = _order(order_by)
    return run_search.page(use(workspace), project, sort=sort, descending=descending,
                           limit=limit, where=clauses).records
