"""Model development (lifecycle stage 5): seeded searches over the catalog, every trial a run.

``train`` checks everything that could fail before any work starts, then for the baseline
and each catalog model samples parameter sets (scikit-learn's ParameterSampler, seeded) and
cross-validates each on the training part of the stored holdout split, in the order and the
time ``mlcycle.models.schedule`` gives. The best trial of each model is refit on the whole
training part, converted to ONNX and judged on the holdout (``mlcycle.models.judging``:
parity of its graph, metrics, error analysis, model file); the best of all whose graph keeps
parity (``mlcycle.models.exportable``) is registered here, so every registered version can be
scored. A model whose graph fails is named in the result with its figures. Progress goes to
the ``progress`` callback as typed events (``mlcycle.models.events``). Ctrl-C, or
cancelling the ``CancelToken`` passed as ``cancel``, stops between trials, keeps every
trial that finished and registers nothing.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import shlex
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.data.columns import by_name
from mlcycle.models import (
    catalog,
    evaluation,
    events,
    judging,
    model_input,
    schedule,
    search,
    threads,
    tracking,
)
from mlcycle.projects.metrics import CATALOG as METRICS
from mlcycle.store import events as store_events
from mlcycle.store.cancel import CancelToken
from mlcycle.store.errors import InvalidInput

# What `mlcycle train` gives itself unless told otherwise: the sample data's default search
# (every family, successive halving) fits in it on this project's shared 2-core machine.
DEFAULT_TIME_BUDGET = 50.0


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
    # Per model name, what multiplies its derived parity bound (mlcycle.models.parity); 1
    # when absent, the bound float32 arithmetic guarantees. Below 1 a graph is asked for
    # more than float32 gives: how a caller sees what a failing graph does to a training.
    parity_scale: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_options(cls, project: str, *, data: str = "latest", models: str | None = None,
                     trials: int = 10, cv: int = 5, time_budget: float | None = None,
                     seed: int = 0, features: str = "latest") -> TrainConfig:
        """The configuration as ``mlcycle train``'s flags and the TUI's form give it:
        ``models`` comma-separated (empty: every model), a budget of 0 or none meaning no
        budget, ``features = "none"`` training on the raw columns."""
        names = [m.strip() for m in (models or "").split(",") if m.strip()]
        return cls(project, data, names or None, trials, cv, time_budget or None, seed,
                   None if features == "none" else features)

    def validate(self) -> None:
        if self.trials < 1:
            raise InvalidInput("--trials must be at least 1")
        if self.cv < 2:
            raise InvalidInput("--cv must be at least 2 folds")
        if self.time_budget is not None and self.time_budget <= 0:
            raise InvalidInput("--time-budget must be a positive number of seconds")
        if not all(scale >= 0 for scale in self.parity_scale.values()):
            raise InvalidInput("a parity scale must be a number of at least 0")


@dataclass(frozen=True)
class TrainResult:
    """One training's answer, which every face shows: the judged models, every family's
    best (``families``), the trials counted (``progress``) and what was registered."""

    group: str
    dataset: str
    metric: str
    baseline: dict[str, Any] | None = None
    models: list[dict[str, Any]] = field(default_factory=list)  # judged, best first
    best_run: str | None = None
    registered_version: int | None = None
    trials_finished: int = 0
    stopped: str | None = None  # why the search ended early, if it did
    # Models whose ONNX graph failed parity: model, run, reason (with the figures), parity.
    unexportable: list[dict[str, Any]] = field(default_factory=list)
    not_registered: str | None = None  # why nothing was registered, when models were judged
    # Every family's best with its figures, or why it has none (skipped for time...).
    families: tuple[judging.FamilyBest, ...] = ()
    progress: events.Tally | None = None  # the trials planned, run, pruned and skipped
    # What the model reads and why every other column is left out (as ``columns`` says).
    inputs: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()
    feature_set: str | None = None
    left_out: tuple[events.LeftOut, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
    left_out: dict[str, list[str]]  # reason -> the data columns the model does not read


def prepare(ws: Any, project: str, data: str, folds: int,
            feature_ref: str | None = "latest") -> Prepared:
    """Load a version and check it can be trained on; raises before any work is done."""

    from mlcycle.prep import features
    from mlcycle.prep.expressions import schema_types

    proj = projects.get(ws, project)
    version = datasets.get(ws, project, data)
    dictionary = datasets.dictionary(ws, project, version.id)
    names = [c["name"] for c in dictionary]
    if proj.target not in names:
        raise InvalidInput(f"version {version.id} has no target column {proj.target!r}")
    raw = datasets.frame(ws, version)
    types = schema_types(raw.collect_schema())
    # With no feature set, dates still count: the default derives their parts. A run made
    # with it names it by id (reproduce, retrain), even once the project stores its own.
    default = features.default_for(dictionary, types, proj.target) if feature_ref else None
    if default is not None and feature_ref == default.id:
        feature_set: features.FeatureSet | None = default
    else:
        feature_set = features.resolve(ws, project, feature_ref) if feature_ref else None
        feature_set = feature_set or default
    if feature_set is None:
        signature = model_input.infer(dictionary, proj.target, proj.task)
    else:
        derived = features.apply(feature_set, raw)
        signature = model_input.infer(dictionary, proj.target, proj.task,
                                      {c: str(t) for c, t in derived.schema.items()})
        signature.feature_set = feature_set.to_dict()
        signature.dates = {c: types[c] for c in model_input.raw_columns(signature)
                           if types.get(c) in ("date", "datetime")}
    _refuse_personal_data(dictionary, model_input.raw_columns(signature), project)
    before = raw.height
    raw = raw.filter(by_name(proj.target).is_not_null())
    y = model_input.target_values(raw, signature)
    signature.classes = evaluation.check_trainable(y, proj.task, folds)
    if proj.task == "classification":
        signature.label_type = model_input.label_type_of(raw.schema[proj.target])
    inputs = model_input.frame(raw, signature)
    signature.categories = {
        c: sorted(v for v in inputs.select(by_name(c).unique()).to_series().to_list()
                  if v != model_input.MISSING_CATEGORY)
        for c in signature.categorical
    }
    identifier = next((c["name"] for c in dictionary if c["role"] == "identifier"), None)
    holdout = evaluation.holdout_mask(ws, version, proj.target, y, proj.task)
    return Prepared(
        proj, version, signature, inputs, y, raw, holdout, identifier, before - raw.height,
        model_input.left_out(dictionary, signature),
    )


def _columns(prepared: Prepared) -> events.ModelColumns:
    """What the model reads and why every other column is left out, as training reports it."""
    signature = prepared.signature
    fs = signature.feature_set or {}
    made = {d["name"] for d in fs.get("derived", [])}
    return events.ModelColumns(
        tuple(signature.inputs), tuple(c for c in signature.inputs if c in made),
        fs.get("name"),
        tuple(events.LeftOut(reason, tuple(names))
              for reason, names in prepared.left_out.items()))


def _refuse_personal_data(dictionary: list[dict[str, Any]], read: list[str],
                          project: str) -> None:
    """A model reads no personal data a user has not opted in, not even through a feature
    derived from it (a column's role keeps it out of the inputs, not out of a formula)."""
    kept_out = {c["name"]: c["sensitive"] for c in dictionary
                if c["sensitive"] and not (c["privacy"] or {}).get("allowed")}
    for name in read:
        if name in kept_out:
            raise InvalidInput(
                f"the feature set reads {name!r}, which holds personal data "
                f"({kept_out[name]}); change the feature set, or opt the column in with "
                f"'mlcycle data role {project} {shlex.quote(name)} --allow-sensitive "
                "--reason TEXT'")


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
    prepared: Prepared, entry: catalog.Entry, params: dict[str, Any], seed: int, folds: int,
    rows: int | None = None, deadline: float | None = None,
) -> dict[str, float]:
    """Mean and spread of every metric over the folds of the training part.

    ``rows``: cross-validate on that many rows of the training part only (a rung of the
    search: the first rows of ``search.nested_order``); None, all of them. Gradient boosting
    also reports ``iterations``, the mean its early stopping kept. ``deadline`` (a
    ``time.monotonic()`` value): folds run one at a time, and no fold starts that would end
    past it at the pace of the folds before it (``search.OutOfTime``): a fit slower than its
    estimate must not carry the search past its budget.
    """
    import numpy as np
    from sklearn.model_selection import cross_validate as sk_cross_validate

    inputs, y = _training_rows(prepared, seed, rows)
    scoring = evaluation.cv_scoring(prepared.project.task, prepared.signature.classes)
    model = catalog.pipeline(entry, prepared.signature, seed, params)
    splits = _cv(prepared, seed, folds)
    with threads.for_folds(model) as n_jobs:
        if deadline is None or n_jobs:  # folds in parallel processes cannot stop one by one
            result = sk_cross_validate(model, inputs, y, cv=splits, scoring=scoring,
                                       error_score=np.nan, n_jobs=n_jobs,
                                       return_estimator=True)
        else:
            parts, began = [], time.monotonic()
            for done, fold in enumerate(splits.split(inputs, y)):
                # A fold is not started if, taking as long as those before it, it would
                # end past the deadline: the budget is a promise, a fold the unit kept.
                pace = (time.monotonic() - began) / done if done else 0.0
                if time.monotonic() + pace > deadline:
                    raise search.OutOfTime(f"stopped after {done} of {folds} folds: the time "
                                           "budget would be overrun")
                parts.append(sk_cross_validate(model, inputs, y, cv=[fold], scoring=scoring,
                                               error_score=np.nan, return_estimator=True))
            result = {key: np.concatenate([p[key] for p in parts]) if key != "estimator"
                      else [e for p in parts for e in p[key]] for key in parts[0]}
    out: dict[str, float] = {}
    for name in scoring:
        values = result[f"test_{name}"] * (-1 if name in evaluation.NEGATED else 1)
        out[f"cv.{name}"] = float(np.mean(values))
        out[f"cv.{name}.std"] = float(np.std(values))
    iterations = [e[-1].n_iter_ for e in result["estimator"] if hasattr(e[-1], "n_iter_")]
    if iterations and entry.name == "hist_gradient_boosting":
        out["iterations"] = float(np.mean(iterations))
    return out


def _training_rows(prepared: Prepared, seed: int, rows: int | None) -> tuple[Any, Any]:
    train = ~prepared.holdout
    inputs, y = prepared.inputs.filter(train), prepared.y[train]
    if rows is None or rows >= len(y):
        return inputs, y
    order = search.nested_order(y, seed, prepared.project.task == "classification")
    chosen = order[:rows]
    return inputs[chosen], y[chosen]


@dataclass
class _Search:
    """What every trial of one training shares."""

    ws: Any
    config: TrainConfig
    prepared: Prepared
    group: str
    tags: dict[str, Any]
    full_rows: int


def _trial(job: _Search, entry: catalog.Entry, cand: search.Candidate, rung: int,
           rows: int, deadline: float | None = None) -> tuple[dict[str, float], float]:
    """Cross-validate one candidate on one rung, as a new run or more steps of its run.
    Past ``deadline`` the trial stops between folds (``search.OutOfTime``), its run killed
    and marked pruned with the rows it was given."""
    config, prepared = job.config, job.prepared
    part = None if rows >= job.full_rows else rows
    run_config = {
        "model": entry.name,
        "params": cand.params,
        "seed": config.seed,
        "cv": config.cv,
        "dataset": prepared.version.id,
        "features": job.tags["mlcycle.features"],
        "rows": part,
    }
    tags = {"mlcycle.config": json.dumps(run_config), "mlcycle.rows": rows,
            "mlcycle.rung": rung}
    if cand.run_id is None:
        run = tracking.start_run(
            job.ws, config.project, name=entry.name,
            kind="baseline" if entry.name == "baseline" else "trial", group=job.group,
            tags={**job.tags, "mlcycle.model": entry.name, **tags},
        )
        run.log_params({k.removeprefix("model__"): v for k, v in cand.params.items()})
        cand.run_id = run.id
    else:
        run = tracking.resume_run(job.ws, cand.run_id)
        run.set_tags(tags)
    with run:
        t0 = time.monotonic()
        try:
            scores = cross_validate(prepared, entry, cand.params, config.seed, config.cv,
                                    part, deadline)
        except search.OutOfTime as stopped:
            run.set_tags({"mlcycle.pruned": "true", "mlcycle.stopped": str(stopped)})
            cand.pruned = True
            raise
        seconds = time.monotonic() - t0
        iterations = scores.pop("iterations", None)
        run.log_metrics(scores, step=rung)
        run.log_metric("train_seconds", seconds, step=rung)
        if iterations is not None:
            run.log_metric("iterations", iterations, step=rung)
            run.set_tag("mlcycle.iterations", round(iterations))
    cand.score = scores.get(f"cv.{prepared.project.metric}", float("nan"))
    cand.rung, cand.rows, cand.iterations = rung, rows, iterations
    return scores, seconds


def _prune(ws: Any, pruned: list[search.Candidate]) -> None:
    """Mark the candidates a rung left behind: their runs keep the resource they got."""
    for cand in pruned:
        if cand.run_id and not cand.pruned:
            with tracking.resume_run(ws, cand.run_id) as run:
                run.set_tag("mlcycle.pruned", "true")
        cand.pruned = True


def train(
    ws: Any, config: TrainConfig, progress: events.Progress | None = None,
    register: bool = True, cancel: CancelToken | None = None,
) -> TrainResult:
    """Search the catalog for the project's best model; see the module docstring."""
    clock = schedule.Clock(time.monotonic(), config.time_budget)
    config.validate()
    proj = projects.get(ws, config.project)
    names = config.models or catalog.names(proj.task)
    entries = {name: catalog.get(name, proj.task) for name in names}  # unknown names fail here
    entries["baseline"] = catalog.get("baseline", proj.task)
    prepared = prepare(ws, config.project, config.data, config.cv, config.features)
    feature_id = (prepared.signature.feature_set or {}).get("id")
    say = progress or (lambda _event: None)
    sign = 1 if METRICS[proj.metric].greater_is_better else -1
    full_rows = int((~prepared.holdout).sum())
    job = _Search(ws, config, prepared, uuid.uuid4().hex[:12], {
        "mlcycle.dataset": prepared.version.id,
        "mlcycle.features": feature_id, "mlcycle.seed": config.seed,
        "mlcycle.environment": json.dumps(environment()),
    }, full_rows)
    judging.load_libraries()
    costs = search.Costs()
    plan = schedule.Schedule(_families(entries, names, config, full_rows), costs, clock,
                             config.cv, proj.metric, sign, say)
    columns = _columns(prepared)
    say(plan.started(job.group, prepared.version.id, prepared.dropped_target_rows, columns))

    def run_trial(family: search.Family, rung: int, cand: search.Candidate, rows: int,
                  deadline: float | None) -> float:
        return _trial(job, entries[family.name], cand, rung, rows, deadline)[1]

    try:
        outcome = plan.search(run_trial, lambda pruned: _prune(ws, pruned), cancel)
        judged = judging.judge(ws, prepared, entries, plan.families, costs, clock, outcome,
                               config.parity_scale, config.seed, config.cv, say, cancel)
    except KeyboardInterrupt:
        return _stopped(job.group, prepared, plan, "interrupted", say)
    except schedule.Stop as stop:
        return _stopped(job.group, prepared, plan, str(stop), say)
    scorable = [m for m in judged.models if m["exportable"]]
    best_run = scorable[0]["run"] if scorable else None
    result = TrainResult(
        job.group, prepared.version.id, proj.metric, baseline=judged.baseline,
        models=judged.models, best_run=best_run, trials_finished=outcome.trials_finished,
        stopped=judged.stopped, unexportable=judged.unexportable,
        not_registered=(_why_none(judged.unexportable) if judged.models and not scorable
                        else None),
        families=judged.families, progress=plan.tally(), **vars(columns))
    _record(ws, proj, result)
    if register and best_run:
        from mlcycle.models import registry

        version = registry.register(ws, config.project, best_run,
                                    reason=f"best of training {job.group}")
        result = dataclasses.replace(result, registered_version=version.version)
    return result


def _families(entries: dict[str, catalog.Entry], names: list[str], config: TrainConfig,
              full_rows: int) -> list[search.Family]:
    """The plan: the baseline once on every row, then each model's sampled trials and
    rungs, cheapest model first."""
    families = [search.Family("baseline", [search.Candidate("baseline", {})], [full_rows])]
    for name in sorted(names, key=lambda n: search.PRIOR_COST.get(n, 10.0)):
        sampled = _sampled(entries[name], config.trials, config.seed)
        families.append(search.Family(
            name, [search.Candidate(name, p) for p in sampled],
            search.rung_rows(full_rows, len(sampled))))
    return families


def _stopped(group: str, prepared: Prepared, plan: schedule.Schedule, why: str,
             say: events.Progress) -> TrainResult:
    """Interrupted or cancelled: the finished trials are kept, nothing is judged or
    registered."""
    finished = plan.outcome.trials_finished
    say(events.Stopped(finished))
    return TrainResult(group, prepared.version.id, prepared.project.metric,
                       trials_finished=finished, stopped=why, progress=plan.tally(),
                       **vars(_columns(prepared)))


def _why_none(unexportable: list[dict[str, Any]]) -> str:
    """One line: why no judged model was registered."""
    names = ", ".join(u["model"] for u in unexportable)
    return (f"nothing registered: no judged model's ONNX graph keeps parity ({names}); "
            "train other models with --models, or give the training more time")


def _record(ws: Any, proj: projects.Project, result: TrainResult) -> None:
    best = next((m for m in result.models if m["run"] == result.best_run), None)
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
        store_events.record(con, "train.finished", project=proj.name, subject=result.group,
                            detail=detail)
        if best:
            store_events.record(
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
    again = cross_validate(prepared, entry, config["params"], config["seed"], config["cv"],
                           config.get("rows"))
    again.pop("iterations", None)
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
