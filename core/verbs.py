"""The lifecycle's actions as small Python verbs: ``mlcycle.train``, ``promote``, ``export``…

Each is the engine call the CLI and the TUI make for the same action, on the workspace given
(else ``$MLCYCLE_WORKSPACE``, else ``./.mlcycle``), and returns a typed result: a dataclass,
never a dict to read by string keys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlcycle.store.workspace import Workspace, use

if TYPE_CHECKING:
    from mlcycle.collect.collecting import CollectResult
    from mlcycle.deploy.bundle import Export
    from mlcycle.models.registry import ModelVersion
    from mlcycle.models.training import TrainResult
    from mlcycle.monitor.verdict import Decision, Retraining

Where = Workspace | str | os.PathLike[str] | None


@dataclass(frozen=True)
class Bundle:
    """A version exported as a folder that runs on its own (see ``mlcycle export``)."""

    export: Export  # the parity-checked graph it holds
    folder: Path
    files: dict[str, str]  # relative path -> SHA-256
    seconds: float


def collect_source(project: str, source: str, *, strict: bool = False,
                   workspace: Where = None) -> CollectResult:
    """Collect the named source into a dataset version, as ``mlcycle collect`` does (not
    ``collect``: that name is the engine's stage, ``mlcycle.collect``)."""
    from mlcycle.collect import collecting

    return collecting.collect(use(workspace), project, source, strict=strict)


def train(project: str, *, data: str = "latest", models: list[str] | None = None,
          trials: int = 10, cv: int = 5, time_budget: float | None = None, seed: int = 0,
          features: str | None = "latest", workspace: Where = None) -> TrainResult:
    """Search the catalog's models on the project's data and register the best, as
    ``mlcycle train`` does; ``time_budget`` in seconds."""
    from mlcycle.models import training

    config = training.TrainConfig(project, data=data, models=models, trials=trials, cv=cv,
                                  time_budget=time_budget, seed=seed, features=features)
    config.validate()
    return training.train(use(workspace), config)


def promote(project: str, version: int | str, *, reason: str, alias: str = "champion",
            workspace: Where = None) -> ModelVersion:
    """Point ``alias`` (default the champion) at ``version``, recording ``reason``."""
    from mlcycle.models import registry

    return registry.promote(use(workspace), project, str(version), alias, reason)


def export(project: str, out: str | os.PathLike[str], *, version: int | str = "champion",
           force: bool = False, workspace: Where = None) -> Bundle:
    """Write ``version``'s bundle (ONNX graph, standalone server, Dockerfile) to ``out``."""
    from mlcycle.deploy import bundle

    ws = use(workspace)
    done = bundle.export(ws, project, str(version), out, force)
    exported = next(e for e in bundle.exports(ws, project) if e.version == done.version)
    return Bundle(exported, Path(done.out), dict(done.files), done.seconds)


def retrain(project: str, batches: list[str | os.PathLike[str]],
            labels: list[str | os.PathLike[str]] | None = None, *, trials: int = 10,
            promote: bool = False, workspace: Where = None) -> Retraining:
    """Train a successor of the champion on its data plus ``batches`` (each with its labels
    file, in order, when they hold no target), as ``mlcycle retrain`` does."""
    from mlcycle.monitor import retraining
    from mlcycle.monitor.verdict import Retraining
    from mlcycle.store.errors import InvalidInput

    if labels is not None and len(labels) != len(batches):
        raise InvalidInput("give one labels file per batch, in the same order, or none")
    pairs = [(Path(b), Path(labels[i]) if labels else None) for i, b in enumerate(batches)]
    return Retraining.from_dict(retraining.retrain(use(workspace), project, pairs,
                                                   trials=trials, promote=promote))


def decide(project: str, decision: str, *, approve: bool, reason: str,
           workspace: Where = None) -> Decision:
    """Approve (retrain, or promote) or reject a pending decision, as ``mlcycle decide``
    does; the decision as it ends up."""
    from mlcycle.monitor import decisions
    from mlcycle.monitor.verdict import Decision

    ws = use(workspace)
    decided = decisions.decide(ws, project, decision, approve=approve, reason=reason)
    return Decision.from_dict(decisions.get(ws, project, decided["id"]))


def request(project: str, reason: str, workspace: Where = None) -> Decision:
    """Ask for a retraining by hand, as ``mlcycle decide PROJECT --request`` does: a pending
    decision to answer like any the policy raises."""
    from mlcycle.monitor import decisions
    from mlcycle.monitor.verdict import Decision

    ws = use(workspace)
    made = decisions.request(ws, project, reason)
    return Decision.from_dict(decisions.get(ws, project, made["id"]))


__all__ = ["Bundle", "collect_source", "decide", "export", "promote", "request", "retrain",
           "train"]
