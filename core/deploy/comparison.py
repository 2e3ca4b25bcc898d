"""Champion against challenger: both models' metrics on the shadowed rows whose labels have
arrived, judged against noise (the gate's paired bootstrap), and the promotion it may justify."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from mlcycle import deploy, projects
from mlcycle.deploy.labels import labels_frame
from mlcycle.deploy.results import Comparison, Side
from mlcycle.models import evaluation, model_input, paired, registry
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso

if TYPE_CHECKING:
    from mlcycle.store.workspace import Workspace


def compare(ws: Workspace, project: str, labels: str | Path,
            promote: bool = False, reason: str | None = None) -> Comparison:
    """Both models' metrics on the shadowed rows that now have labels."""
    import numpy as np
    import polars as pl

    proj = projects.get(ws, project)
    with ws.read() as con:
        latest = con.execute(
            "SELECT version, shadow_version FROM scoring_runs WHERE project = ? AND "
            "shadow_path IS NOT NULL ORDER BY ts DESC LIMIT 1", [project]).fetchall()
        if not latest:
            raise NotFound(f"project {project!r} has no shadowed scoring runs; name a "
                           "challenger ('mlcycle promote PROJECT V --alias challenger') and "
                           "score with 'mlcycle predict' or 'mlcycle serve'")
        champion_v, challenger_v = latest[0]
        stored = con.execute(
            "SELECT id, shadow_path, shadow_sha256 FROM scoring_runs WHERE project = ? AND "
            "version = ? AND shadow_version = ? AND shadow_path IS NOT NULL ORDER BY ts", [
                project, champion_v, challenger_v]).fetchall()
    main = registry.get(ws, project, str(champion_v))
    signature = deploy.signature_of(ws, main)
    identifier = deploy.identifier_of(ws, main)
    source = Path(labels).expanduser()
    truth = labels_frame(source, signature, identifier)
    scored = pl.concat([
        pl.read_parquet(ws.verified_path(path, sha, f"the shadow scores of scoring run {run}"),
                        glob=False)
        for run, path, sha in stored]).unique("id", keep="last")
    joined = scored.join(truth, on="id", how="inner")
    if not joined.height:
        raise InvalidInput(f"none of the labelled rows in {source.name} were shadow-scored")
    y = joined.get_column("y").to_numpy()
    if signature.task == "regression":
        y = y.astype(np.float64)
    figures, sides = {}, {}
    for side in ("champion", "challenger"):
        pred = model_input.predicted_values(joined.get_column(f"{side}_prediction"), signature)
        proba = None
        if signature.task == "classification":
            proba = np.column_stack([joined.get_column(f"{side}_probability_{c}").to_numpy()
                                     for c in signature.classes]).astype(np.float64)
            # float32 probabilities sum to 1 within 1e-7; log loss wants it exact
            proba = proba / proba.sum(axis=1, keepdims=True)
        sides[side] = (pred, proba)
        figures[side] = evaluation.scores(signature.task, y, pred, proba,
                                          signature.classes or None)
    metric = proj.metric
    # Judged against noise: both models on the same resampled rows (the gate's bootstrap).
    judged = paired.judge(metric, signature.task, list(signature.classes or []), y,
                          sides["champion"], sides["challenger"])
    better, verdict = paired.verdict(judged, f"the challenger v{challenger_v}",
                                     f"the champion v{champion_v}")
    result = Comparison(
        project, joined.height, metric,
        Side(champion_v, figures["champion"]), Side(challenger_v, figures["challenger"]),
        {k: judged[k] for k in ("difference", "low", "high", "confidence", "rounds")},
        better, verdict)
    with ws.write() as con:
        events.record(con, "deploy.compared", project=project, subject=f"v{challenger_v}",
                      detail=result.recorded())
    if promote:
        if not better:
            raise InvalidInput(f"not promoted: {verdict}")
        why = (f"{reason or 'shadow comparison'}: {metric} "
               f"{_fmt(figures['challenger'].get(metric))} vs champion v{champion_v}'s "
               f"{_fmt(figures['champion'].get(metric))} on {joined.height} labelled rows")
        registry.promote(ws, project, str(challenger_v), registry.CHAMPION, why)
        result = replace(result, promoted=True, reason=why)
    return result


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def last_comparison(ws: Workspace, project: str) -> Comparison | None:
    """The project's newest comparison, as its event recorded it."""
    for event in events.recent(ws, project, limit=200):
        if event["kind"] == "deploy.compared":
            return Comparison.from_event(project, iso(event["ts"]), event["detail"])
    return None
