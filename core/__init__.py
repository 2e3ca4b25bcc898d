"""mlcycle: the machine-learning lifecycle of a tabular problem, local and offline.

The supported Python API is what ``__all__`` lists (documented in docs/api.md)::

    import mlcycle

    with mlcycle.start_run("churn", name="my-model"):
        mlcycle.log_param("alpha", 0.1)
        mlcycle.log_metric("loss", 0.42, step=1)
    best = mlcycle.search_runs("churn", order_by=["metrics.loss ASC"], limit=5)

Every call works on a workspace: the one passed as ``workspace=``, else
``$MLCYCLE_WORKSPACE``, else ``./.mlcycle``. The engine's lifecycle stages are subpackages,
each importing only those below it: ``store`` < ``projects`` < ``data`` < ``drift`` <
``collect`` < ``prep`` < ``models`` < ``deploy`` < ``monitor``; ``mlcycle.app`` holds the
terminal UI and the CLI. Attributes load on first use (PEP 562), so ``import mlcycle``
imports none of scikit-learn, onnxruntime, polars, DuckDB or Textual.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcycle.deploy.inference import predict
    from mlcycle.models.fluent import (
        active_run,
        end_run,
        log_artifact,
        log_dict,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        search_runs,
        set_tag,
        set_tags,
        start_run,
    )
    from mlcycle.store.errors import InvalidInput, MlcycleError, NotFound
    from mlcycle.store.workspace import Workspace
    from mlcycle.verbs import (
        Bundle,
        collect_source,
        decide,
        export,
        promote,
        request,
        retrain,
        train,
    )

# public name -> the module that defines it
_ATTRIBUTES = {
    "Workspace": "mlcycle.store.workspace",
    "MlcycleError": "mlcycle.store.errors",
    "InvalidInput": "mlcycle.store.errors",
    "NotFound": "mlcycle.store.errors",
    "start_run": "mlcycle.models.fluent",
    "active_run": "mlcycle.models.fluent",
    "end_run": "mlcycle.models.fluent",
    "log_param": "mlcycle.models.fluent",
    "log_params": "mlcycle.models.fluent",
    "log_metric": "mlcycle.models.fluent",
    "log_metrics": "mlcycle.models.fluent",
    "set_tag": "mlcycle.models.fluent",
    "set_tags": "mlcycle.models.fluent",
    "log_artifact": "mlcycle.models.fluent",
    "log_dict": "mlcycle.models.fluent",
    "search_runs": "mlcycle.models.fluent",
    "predict": "mlcycle.deploy.inference",
    # The lifecycle's actions, each returning a typed result (mlcycle.verbs).
    "Bundle": "mlcycle.verbs",
    "collect_source": "mlcycle.verbs",
    "train": "mlcycle.verbs",
    "promote": "mlcycle.verbs",
    "export": "mlcycle.verbs",
    "retrain": "mlcycle.verbs",
    "decide": "mlcycle.verbs",
    "request": "mlcycle.verbs",
}
_SUBPACKAGES = ("store", "projects", "data", "drift", "prep", "models", "deploy", "monitor")

# A literal list, so linters and IDEs read it; tests/test_api.py checks it against the two above.
__all__ = [
    "Bundle",
    "InvalidInput",
    "MlcycleError",
    "NotFound",
    "Workspace",
    "active_run",
    "collect_source",
    "data",
    "decide",
    "deploy",
    "drift",
    "end_run",
    "export",
    "log_artifact",
    "log_dict",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "models",
    "monitor",
    "open",
    "predict",
    "prep",
    "projects",
    "promote",
    "request",
    "retrain",
    "search_runs",
    "set_tag",
    "set_tags",
    "start_run",
    "store",
    "train",
]


def open(path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Workspace:
    """The workspace at ``path`` (default ``$MLCYCLE_WORKSPACE``, then ``./.mlcycle``),
    created when missing unless ``create=False``, as MLflow creates its local store."""
    from mlcycle.store.workspace import open_workspace

    return open_workspace(path, create=create)[0]


def __getattr__(name: str) -> Any:
    if name in _ATTRIBUTES:
        value = getattr(importlib.import_module(_ATTRIBUTES[name]), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"mlcycle.{name}")
    else:
        raise AttributeError(f"module 'mlcycle' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
