"""Model development (lifecycle stage 5): seeded searches over the catalog, every trial a run.

``train`` checks everything that could fail before any work starts, then for the baseline
and each catalog model samples parameter sets (scikit-learn's ParameterSampler, seeded) and
cross-validates each on the training part of the stored holdout split. The best trial of each
model is refit on the whole training part and judged on the holdout (metrics, error analysis,
model file); the best of all is registered. Ctrl-C, or cancelling the ``CancelToken`` passed
as ``cancel``, stops between trials, keeps every trial that finished and registers nothing.
"""

from __future__ import annotations

import json
import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.data.columns import by_name
from mlcycle.models import catalog, evaluation, model_input, threads, tracking
from mlcycle.projects.metrics import CATALOG as METRICS
from mlcycle.store import events
from mlcycle.store.cancel import CancelToken
from mlcycle.store.errors import InvalidInput

Progress = Callable[[dict[str, Any]], None]


@dataclass
class TrainConfig:
    """What to train; everything a reproduction needs is in here or in the stored data."""

    project: str
    data: str = "latest"
    models: list[str] | None = None
    trials: int = 10
    cv: int = 5
    time_budget: float | None = None
    seed: int = 0
    features: str | None = "latest"  # feature set ref; None trains on the raw columns

    def validate(self) -> None:
        if self.trials < 1:
            raise InvalidInput("--trials must be at least 1")
        if self.cv < 2:
            raise InvalidInput("--cv must be at least 2 folds")
        if self.time_budget is not None and self.time_budget <= 0:
            raise InvalidInput("--time-budget must be a positive number of seconds")


@dataclass
class TrainResult:
    group: str
    dataset: str
    metric: str
    baseline: dict[str, Any] | None = None
    models: list[dict[str, Any]] = field(default_factory=list)
    best_run: str | None = None
    registered_version: int | None = None
    trials_finished: int = 0
    stopped: str | None = None  # why the search ended early, if it did

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Prepared:
    """The data of one training: inputs and target, split by the stored holdout."""

    project: projects.Project
    version: datasets.DatasetVersion
    signature: model_input.Signature
    inputs: Any
    y: Any
    raw: Any
    holdout: Any
    identifier: str | None
    dropped_target_rows: int


def prepare(ws: Any, project: str, data: str, folds: int,
            feature_ref: str | None = "latest") -> Prepared:
    """Load a version and check it can be trained on; raises before any work is done."""
    import polars as pl

    from mlcycle.prep import features

    proj = projects.get(ws, project)
    version = datasets.get(ws, project, data)
    dictionary = datasets.dictionary(ws, project, version.id)
    names = [c["name"] for c in dictionary]
    if proj.target not in names:
        raise InvalidInput(f"version {version.id} has no target column {proj.target!r}")
    raw = pl.read_parquet(datasets.data_path(ws, version))
    feature_set = features.resolve(ws, project, feature_ref) if feature_ref else None
    if feature_set is None:
        signature = model_input.infer(dictionary, proj.target, proj.task)
    else:
        derived = features.apply(feature_set, raw)
        signature = model_input.infer(dictionary, proj.target, proj.task,
                                      {c: str(t) for c, t in derived.schema.items()})
        signature.feature_set = feature_set.to_dict()
    before = raw.height
    raw = raw.filter(by_name(proj.target).is_not_null())
    y = model_input.target_values(raw, signature)
    signature.classes = evaluation.check_trainable(y, proj.task, folds)
    inputs = model_input.frame(raw, signature)
    signature.categories = {
        c: sorted(v for v in inputs.select(by_name(c).unique()).to_series().to_list()
                  if v != model_input.MISSING_CATEGORY)
        for c in signature.categorical
    }
    identifier = next((c["name"] for c in dictionary if c["role"] == "identifier"), None)
    holdout = evaluation.holdout_mask(ws, version, proj.target, y, proj.task)
    return Prepared(
        proj, version, signature, inputs, y, raw, holdout, identifier, before - raw.height
    )


def _cv(prepared: Prepared, seed: int, folds: int) -> Any:
    from sklearn.model_selection import KFold, StratifiedKFold

    if prepared.project.task == "classification":
        return StratifiedKFold(folds, shuffle=True, random_state=seed)
    return KFold(folds, shuffle=True, random_state=seed)


def _native(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _sampled(entry: catalog.Entry, trials: int, seed: int) -> list[dict[str, Any]]:
    from sklearn.model_selection import ParameterSampler

    if not entry.space:
        return [{}]
    grid_size = None
    if all(isinstance(v, list) for v in entry.space.values()):
        grid_size = 1
        for v in entry.space.values():
            grid_size *= len(v)
    n = min(trials, grid_size) if grid_size else trials
    return [
        {k: _native(v) for k, v in p.items()}
        for p in ParameterSampler(entry.space, n_iter=n, random_state=seed)
    ]


def environment() -> dict[str, str]:
    import numpy
    import polars
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "polars": polars.__version__,
    }


def cross_validate(
    prepared: Prepared, entry: catalog.Entry, params: dict[str, Any], seed: int, folds: int
) -> dict[str, float]:
    """Mean and spread of every metric over the folds of the training part."""
    import numpy as np
    from sklearn.model_selection import cross_validate as sk_cross_validate

    train = ~prepared.holdout
    scoring = evaluation.cv_scoring(prepared.project.task, prepared.signature.classes)
    model = catalog.pipeline(entry, prepared.signature, seed, params)
    with threads.fitting():
        result = sk_cross_validate(
            model,
            prepared.inputs.filter(train),
            prepared.y[train],
            cv=_cv(prepared, seed, folds),
            scoring=scoring,
            error_score=np.nan,
        )
    out: dict[str, float] = {}
    for name in scoring:
        values = result[f"test_{name}"] * (-1 if name in evaluation.NEGATED else 1)
        out[f"cv.{name}"] = float(np.mean(values))
        out[f"cv.{name}.std"] = float(np.std(values))
    return out


def evaluate_on_holdout(
    ws: Any,
    prepared: Prepared,
    entry: catalog.Entry,
    params: dict[str, Any],
    seed: int,
    run_id: str,
) -> dict[str, float]:
    """Refit on the training part, judge on the holdout, store the model and its analysis."""
    from skops.io import dumps

    train, hold = ~prepared.holdout, prepared.holdout
    model = catalog.pipeline(entry, prepared.signature, seed, params)
    with threads.fitting():
        model.fit(prepared.inputs.filter(train), prepared.y[train])
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
    metrics = {f"holdout.{k}": v for k, v in analysis["metrics"].items()}
    run = tracking.resume_run(ws, run_id)
    run.log_metrics(metrics)
    run.log_dict(analysis, "evaluation.json")
    run.log_dict(prepared.signature.to_dict(), "signature.json")
    run.log_bytes(dumps(model), "model.skops")
    run.set_tag("mlcycle.evaluated", "true")
    run.end()
    return metrics


def train(
    ws: Any, config: TrainConfig, progress: Progress | None = None, register: bool = True,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Search the catalog for the project's best model; see the module docstring."""
    config.validate()
    proj = projects.get(ws, config.project)
    names = config.models or catalog.names(proj.task)
    entries = [catalog.get(name, proj.task) for name in names]  # unknown names fail here
    prepared = prepare(ws, config.project, config.data, config.cv, config.features)
    feature_id = (prepared.signature.feature_set or {}).get("id")
    say = progress or (lambda _event: None)
    metric = proj.metric
    group = uuid.uuid4().hex[:12]
    result = TrainResult(group, prepared.version.id, metric)
    baseline = catalog.get("baseline", proj.task)
    plan = [(baseline, {})] + [
        (e, p) for e in entries for p in _sampled(e, config.trials, config.seed)
    ]
    say(
        {
            "event": "start",
            "total": len(plan),
            "group": group,
            "dataset": prepared.version.id,
            "dropped_target_rows": prepared.dropped_target_rows,
        }
    )
    started = time.monotonic()
    env = json.dumps(environment())
    best: dict[str, tuple[float, str, dict[str, Any]]] = {}
    sign = 1 if METRICS[metric].greater_is_better else -1
    try:
        for index, (entry, params) in enumerate(plan):
            if cancel is not None and cancel.cancelled:
                result.stopped = "cancelled"
                break
            if (
                config.time_budget is not None
                and index > 0
                and time.monotonic() - started > config.time_budget
            ):
                result.stopped = f"time budget of {config.time_budget:g}s used"
                break
            kind = "baseline" if entry.name == "baseline" else "trial"
            short = {k.removeprefix("model__"): v for k, v in params.items()}
            run_config = {
                "model": entry.name,
                "params": params,
                "seed": config.seed,
                "cv": config.cv,
                "dataset": prepared.version.id,
                "features": feature_id,
            }
            with tracking.start_run(
                ws,
                config.project,
                name=entry.name,
                kind=kind,
                group=group,
                tags={
                    "mlcycle.model": entry.name,
                    "mlcycle.dataset": prepared.version.id,
                    "mlcycle.features": feature_id,
                    "mlcycle.seed": config.seed,
                    "mlcycle.config": json.dumps(run_config),
                    "mlcycle.environment": env,
                },
            ) as run:
                run.log_params(short)
                t0 = time.monotonic()
                scores = cross_validate(prepared, entry, params, config.seed, config.cv)
                run.log_metrics(scores)
                run.log_metric("train_seconds", time.monotonic() - t0)
            result.trials_finished += 1
            value = scores.get(f"cv.{metric}", float("nan"))
            key = entry.name
            if value == value and (key not in best or sign * value > sign * best[key][0]):
                best[key] = (value, run.id, params)
            say(
                {
                    "event": "trial",
                    "index": index + 1,
                    "total": len(plan),
                    "model": entry.name,
                    "run": run.id,
                    "value": value,
                    "metric": metric,
                }
            )
    except KeyboardInterrupt:
        result.stopped = "interrupted"
    if result.stopped in ("interrupted", "cancelled"):
        say({"event": "stopped", "finished": result.trials_finished})
        return result

    for name, (value, run_id, params) in best.items():
        if cancel is not None and cancel.cancelled:
            # Judging is not finished: record nothing as the training's outcome.
            result.stopped = "cancelled"
            say({"event": "stopped", "finished": result.trials_finished})
            return result
        say({"event": "evaluate", "model": name, "run": run_id})
        holdout = evaluate_on_holdout(
            ws, prepared, catalog.get(name, proj.task), params, config.seed, run_id
        )
        summary = {
            "model": name,
            "run": run_id,
            f"cv.{metric}": value,
            **{k: v for k, v in holdout.items()},
        }
        if name == "baseline":
            result.baseline = summary
        else:
            result.models.append(summary)
    result.models.sort(key=lambda m: -sign * m[f"cv.{metric}"])
    if result.models:
        result.best_run = result.models[0]["run"]
    _record(ws, proj, result)
    if register and result.best_run:
        from mlcycle.models import registry

        version = registry.register(
            ws, config.project, result.best_run, reason=f"best of training {group}"
        )
        result.registered_version = version.version
    return result


def _record(ws: Any, proj: projects.Project, result: TrainResult) -> None:
    best = result.models[0] if result.models else None
    key = f"holdout.{proj.metric}"
    detail = {"group": result.group, "trials": result.trials_finished, "best_run": result.best_run}
    if best and result.baseline:
        detail["beats_baseline"] = evaluation.beats(
            proj.metric, best.get(key), result.baseline.get(key)
        )
    if best and proj.goal is not None and best.get(key) is not None:
        from mlcycle.projects.metrics import meets_goal

        detail["meets_goal"] = meets_goal(proj.metric, best[key], proj.goal)
    with ws.write() as con:
        events.record(con, "train.finished", project=proj.name, subject=result.group, detail=detail)
        if best:
            events.record(
                con,
                "evaluate.holdout",
                project=proj.name,
                subject=best["run"],
                detail={key: best.get(key)},
            )


def reproduce(ws: Any, run_id: str) -> dict[str, Any]:
    """Run a trial's configuration again on the same data and compare every metric."""
    import numpy as np

    run = tracking.get_run(ws, run_id)
    if "mlcycle.config" not in run.tags:
        raise InvalidInput(
            f"run {run.id} was not made by 'mlcycle train'; it has no configuration to reproduce"
        )
    config = json.loads(run.tags["mlcycle.config"])
    prepared = prepare(ws, run.project, config["dataset"], config["cv"], config.get("features"))
    entry = catalog.get(config["model"], prepared.project.task)
    again = cross_validate(prepared, entry, config["params"], config["seed"], config["cv"])
    if run.tags.get("mlcycle.evaluated") == "true":
        train, hold = ~prepared.holdout, prepared.holdout
        model = catalog.pipeline(entry, prepared.signature, config["seed"], config["params"])
        with threads.fitting():
            model.fit(prepared.inputs.filter(train), prepared.y[train])
        proba = (
            model.predict_proba(prepared.inputs.filter(hold))
            if prepared.project.task == "classification"
            else None
        )
        holdout = evaluation.scores(
            prepared.project.task,
            prepared.y[hold],
            model.predict(prepared.inputs.filter(hold)),
            proba,
            prepared.signature.classes or None,
        )
        again.update({f"holdout.{k}": v for k, v in holdout.items()})
    rows = []
    for key in sorted(again):
        original = run.metrics.get(key)
        same = original is not None and bool(
            np.isclose(original, again[key], rtol=0, atol=1e-9, equal_nan=True)
        )
        rows.append({"metric": key, "original": original, "reproduced": again[key], "same": same})
    return {
        "run": run.id,
        "config": config,
        "metrics": rows,
        "identical": all(r["same"] for r in rows),
    }
