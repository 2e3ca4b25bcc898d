"""Whether a model can be scored: its ONNX graph converts and keeps parity on the holdout.

Training proves it of each family's best model before it can be registered (``check``), and
deployment proves it again before storing a graph. The verdict is kept on the model's run
(tags ``mlcycle.parity`` and ``mlcycle.parity.reason``), so listing versions never converts a
model twice; a version registered before training checked it gets its verdict the first time
it is asked for (``of_version``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcycle.data import datasets
from mlcycle.data.columns import by_name
from mlcycle.models import evaluation, model_input, onnx_graph, parity, registry, tracking
from mlcycle.store.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import polars as pl

    from mlcycle.store.workspace import Workspace

PASSED, FAILED = "passed", "failed"
TAG, REASON_TAG = registry.PARITY_TAG, registry.PARITY_REASON_TAG


@dataclass(frozen=True)
class Verdict:
    """A converted graph (None when the conversion failed) and its parity figures."""

    graph: bytes | None
    figures: dict[str, Any]
    seconds: float  # the conversion's
    checking: float  # the conversion's and the parity run's

    @property
    def passed(self) -> bool:
        return bool(self.figures.get("passed"))

    @property
    def reason(self) -> str | None:
        return None if self.passed else parity.failure(self.figures)


def check(pipeline: Any, signature: model_input.Signature, holdout: pl.DataFrame,
          scale: float = 1.0) -> Verdict:
    """Convert ``pipeline`` and compare its graph with it on ``holdout`` (see
    ``mlcycle.models.parity``; ``scale`` multiplies the derived bound)."""
    started = time.perf_counter()
    try:
        graph = onnx_graph.to_onnx(pipeline, signature)
    except Exception as exc:  # skl2onnx raises many types; the user needs one line
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        took = time.perf_counter() - started
        return Verdict(None, {"rows": holdout.height, "error": first, "passed": False},
                       took, took)
    seconds = time.perf_counter() - started
    outputs = onnx_graph.run(onnx_graph.session(graph), holdout, signature)
    figures = parity.compare(pipeline, outputs, holdout, signature, scale)
    return Verdict(graph, figures, seconds, time.perf_counter() - started)


def remember(ws: Workspace, run_id: str, verdict: Verdict) -> None:
    """Keep the verdict on the model's run, so it is never worked out again."""
    tracking.resume_run(ws, run_id).set_tags(
        {TAG: PASSED if verdict.passed else FAILED, REASON_TAG: verdict.reason})


# -- a registered version ------------------------------------------------------------------


def signature_of(ws: Workspace, version: registry.ModelVersion) -> model_input.Signature:
    run = tracking.get_run(ws, version.run_id)
    path = tracking.artifact_path(ws, run, "signature.json")  # hash-checked
    return model_input.Signature.from_dict(json.loads(path.read_text(encoding="utf-8")))


def training_data(ws: Workspace, version: registry.ModelVersion,
                  signature: model_input.Signature) -> tuple[Any, Any, Any, Any]:
    """The raw rows the version was trained on (target present), their target and holdout."""

    dataset_id = version.summary.get("lineage", {}).get("dataset")
    if not dataset_id:
        raise InvalidInput(f"version {version.version} records no dataset; cannot prove parity")
    data = datasets.get(ws, version.project, dataset_id)
    raw = datasets.frame(ws, data)
    raw = raw.filter(by_name(signature.target).is_not_null())
    y = model_input.target_values(raw, signature)
    mask = evaluation.holdout_mask(ws, data, signature.target, y, signature.task)
    return data, raw, y, mask


def holdout_of(ws: Workspace, version: registry.ModelVersion
               ) -> tuple[Any, model_input.Signature, pl.DataFrame]:
    """The version's pipeline, signature and stored holdout rows, as the model reads them."""
    _, pipeline = registry.load(ws, version.project, str(version.version))
    signature = signature_of(ws, version)
    _, raw, _, mask = training_data(ws, version, signature)
    return pipeline, signature, model_input.frame(raw.filter(mask), signature)


def of_version(ws: Workspace, version: registry.ModelVersion) -> str | None:
    """Why the version cannot be scored, or None when it can; worked out once, then kept."""
    tags = tracking.get_run(ws, version.run_id).tags
    if tags.get(TAG) == PASSED or _exported(ws, version):
        return None
    if tags.get(TAG) == FAILED:
        return tags.get(REASON_TAG) or "its ONNX graph failed parity"
    try:
        verdict = check(*holdout_of(ws, version))
    except (InvalidInput, NotFound) as exc:  # no data to prove it on: not kept, may come back
        return str(exc)
    remember(ws, version.run_id, verdict)
    return verdict.reason


def problems(ws: Workspace, project: str) -> dict[int, str]:
    """Each version in use (not archived) that cannot be scored, with why."""
    found = {v.version: of_version(ws, v) for v in registry.versions(ws, project)
             if not v.archived}
    return {version: reason for version, reason in found.items() if reason}


def _exported(ws: Workspace, version: registry.ModelVersion) -> bool:
    """Whether deployment stored a graph of the version (proved when it was stored)."""
    with ws.read() as con:
        row = con.execute("SELECT 1 FROM onnx_exports WHERE project = ? AND version = ?",
                          [version.project, version.version]).fetchone()
    return row is not None


def advice(project: str, version: int, reason: str) -> str:
    """The flag a listing shows on a version that cannot be scored, with what to do."""
    return f"version {version} cannot be scored: {reason}; {what_to_do(project)}"


def what_to_do(project: str) -> str:
    return (f"retrain ('mlcycle train {project}') or promote a version that scores "
            f"('mlcycle promote {project} VERSION --reason ...')")
