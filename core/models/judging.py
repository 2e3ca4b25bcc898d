"""Judging a search's leaders on the holdout: which family's best is refit, converted to
ONNX and scored there, in the time the budget leaves, and the summary of every family.

The baseline is judged first (cheap; the best is compared with it), then each family's best
in order of their cross-validated figure; under a budget the others are judged only while
the estimate fits, the first model only without its error analysis when that would not.
Until a model whose graph keeps parity is judged, the next best is judged too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcycle.models import catalog, evaluation, events, exportable, search, threads, tracking
from mlcycle.models.schedule import RECORDING, Clock, Outcome, Stop
from mlcycle.projects.metrics import CATALOG as METRICS
from mlcycle.store.cancel import CancelToken

if TYPE_CHECKING:
    from mlcycle.models.training import Prepared


@dataclass(frozen=True)
class FamilyBest:
    """One family's row of the training summary: its best trial, its figures, and what
    became of it (``status``: judged, not judged, no score, skipped for time)."""

    model: str
    status: str
    run: str | None = None
    cv: float | None = None  # the project's metric, cross-validated on ``rows`` rows
    rows: int | None = None
    holdout: float | None = None
    reason: str | None = None  # why it was not judged, when it was not


@dataclass(frozen=True)
class Judged:
    """The judging's outcome, in the shape ``TrainResult`` keeps."""

    baseline: dict[str, Any] | None
    models: list[dict[str, Any]]
    unexportable: list[dict[str, Any]]
    families: tuple[FamilyBest, ...]
    stopped: str | None


def load_libraries() -> None:
    """Import what judging uses (skl2onnx, onnxruntime, skops: 2-4 s together under load,
    skops alone scanning every scikit-learn estimator): a training does it before its
    search, so the time judging takes is the refit's and the conversion's, which the search
    reserves, and not also the imports'."""
    import onnxruntime  # noqa: F401
    import skl2onnx  # noqa: F401
    import skops.io  # noqa: F401


def judge(ws: Any, prepared: Prepared, entries: dict[str, catalog.Entry],
          families: list[search.Family], costs: search.Costs, clock: Clock,
          outcome: Outcome, parity_scale: dict[str, float], seed: int, folds: int,
          say: events.Progress, cancel: CancelToken | None = None) -> Judged:
    """Judge the families' bests as the module docstring says; ``Stop('cancelled')`` when
    ``cancel`` fires before judging is done (nothing of it is the training's outcome)."""
    metric = prepared.project.metric
    sign = 1 if METRICS[metric].greater_is_better else -1
    full_rows = max(f.rows[-1] for f in families)
    stopped = outcome.stopped
    bests = [(f.name, f.best(sign)) for f in families]
    chosen = [(n, c) for n, c in bests if c is not None]
    chosen.sort(key=lambda nc: (nc[0] != "baseline", -sign * nc[1].score))
    baseline, models, unexportable = None, [], []
    judged_one = False
    for name, cand in chosen:
        full = name != "baseline" and not judged_one
        if full and clock.budget is not None and (
                clock.elapsed() + costs.evaluation(name, full_rows, folds) > clock.budget):
            full = False  # the metrics in time rather than the error analysis late
        if cancel is not None and cancel.cancelled:
            raise Stop("cancelled")
        # A model beyond the first is judged only if twice its estimate fits: judging's
        # cost is the refit and the predictions, which a CV fit's time foretells loosely
        # (nearest neighbours predict slowly), and the budget is a promise.
        if clock.budget is not None and judged_one and (
                clock.elapsed() + 2 * costs.evaluation(name, full_rows, folds, False)
                + RECORDING > clock.budget):
            stopped = clock.used
            continue
        say(events.Evaluating(name, cand.run_id))
        holdout, verdict = evaluate_on_holdout(
            ws, prepared, entries[name], cand.params, seed, cand.run_id, analyse=full,
            deadline=None if clock.budget is None else clock.started + clock.budget,
            parity_scale=parity_scale.get(name, 1.0))
        costs.exported(verdict.checking)
        summary = {"model": name, "run": cand.run_id, f"cv.{metric}": cand.score,
                   "rows": cand.rows, **holdout, "exportable": verdict.passed,
                   "parity": verdict.figures}
        if not verdict.passed and name != "baseline":
            unexportable.append({"model": name, "run": cand.run_id,
                                 "reason": verdict.reason, "parity": verdict.figures})
            say(events.Unexportable(name, cand.run_id, verdict.reason))
        if name == "baseline":
            baseline = summary
        else:
            models.append(summary)
            judged_one = judged_one or verdict.passed
    models.sort(key=lambda m: -sign * m[f"cv.{metric}"])
    rows = tuple(_row(f, f.best(sign), models, baseline, outcome, metric) for f in families)
    return Judged(baseline, models, unexportable, rows, stopped)


def _row(family: search.Family, best: search.Candidate | None, models: list[dict[str, Any]],
         baseline: dict[str, Any] | None, outcome: Outcome, metric: str) -> FamilyBest:
    """The family's line of the summary, whatever became of it."""
    if family.name in outcome.untried:
        return FamilyBest(family.name, "skipped for time", reason=outcome.untried[family.name])
    if best is None:
        stopped = [c for c in family.candidates if c.run_id and c.pruned and c.rung < 0]
        run = next((c.run_id for c in family.candidates if c.run_id), None)
        return FamilyBest(family.name, "no score", run, reason="stopped at the deadline"
                          if stopped else "every trial failed")
    judged = baseline if family.name == "baseline" else next(
        (m for m in models if m["run"] == best.run_id), None)
    holdout = None if judged is None else judged.get(f"holdout.{metric}")
    if judged is None:
        return FamilyBest(family.name, "not judged", best.run_id, best.score, best.rows,
                          reason="no time left to judge it on the holdout")
    return FamilyBest(family.name, "judged", best.run_id, best.score, best.rows, holdout)


def evaluate_on_holdout(
    ws: Any,
    prepared: Prepared,
    entry: catalog.Entry,
    params: dict[str, Any],
    seed: int,
    run_id: str,
    analyse: bool = True,
    deadline: float | None = None,
    parity_scale: float = 1.0,
) -> tuple[dict[str, float], exportable.Verdict]:
    """Refit on the training part, prove its ONNX graph on the holdout, judge it there, and
    store the model, its parity verdict and its analysis.

    The verdict (``exportable.check``, its bound times ``parity_scale``) is kept as the run's
    ``parity.json`` and tags; a model whose graph fails gets no error analysis (it will not
    be registered).

    ``analyse=False`` stores the holdout metrics only: the error analysis (permutation
    importance above all) costs several refits' time on a forest, so a training spends it
    on the model it registers. With a ``deadline`` (a ``time.monotonic()`` value) the
    analysis is made only if one timed prediction over the holdout, times the predictions
    it needs, ends before it: on digits' 64 inputs a nearest-neighbour model's analysis took
    14 s, where an estimate from its fitting took it for under one.
    """
    from skops.io import dumps

    train, hold = ~prepared.holdout, prepared.holdout
    model = catalog.pipeline(entry, prepared.signature, seed, params)
    with threads.fitting():
        model.fit(prepared.inputs.filter(train), prepared.y[train])
    verdict = exportable.check(model, prepared.signature, prepared.inputs.filter(hold),
                               parity_scale)
    analyse = analyse and verdict.passed
    if analyse and deadline is not None:
        started = time.monotonic()
        model.predict(prepared.inputs.filter(hold))
        took = time.monotonic() - started
        needed = took * evaluation.analysis_predictions(prepared.inputs.width)
        analyse = time.monotonic() + needed <= deadline
    if analyse:
        analysis = evaluation.analyse(
            model,
            prepared.inputs.filter(hold),
            prepared.y[hold],
            prepared.raw.filter(hold),
            prepared.project.task,
            prepared.project.metric,
            prepared.identifier,
            seed,
        )
    else:
        inputs, task = prepared.inputs.filter(hold), prepared.project.task
        proba = model.predict_proba(inputs) if task == "classification" else None
        analysis = {"rows": int(hold.sum()), "analysed": False, "permutation_importance": [],
                    "segments": {}, "worst_rows": [],
                    "metrics": evaluation.scores(task, prepared.y[hold], model.predict(inputs),
                                                 proba, prepared.signature.classes or None)}
    metrics = {f"holdout.{k}": v for k, v in analysis["metrics"].items()}
    run = tracking.resume_run(ws, run_id)
    run.log_metrics(metrics)
    run.log_dict(analysis, "evaluation.json")
    run.log_dict(prepared.signature.to_dict(), "signature.json")
    run.log_bytes(dumps(model), "model.skops")
    run.log_dict(verdict.figures, "parity.json")
    run.set_tags({exportable.TAG: exportable.PASSED if verdict.passed else exportable.FAILED,
                  exportable.REASON_TAG: verdict.reason})
    run.set_tag("mlcycle.evaluated", "true")
    run.end()
    return metrics, verdict
