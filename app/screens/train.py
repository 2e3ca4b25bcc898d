"""Training from the TUI: the form that asks what to train, and the job that trains it.

The form mirrors ``mlcycle train`` (same options, same checks: ``TrainConfig.validate`` and the
catalog's names); the job calls ``training.train`` with the job's cancel token and turns its
progress events into the jobs panel's bar and one live row per finished trial. Cancelling keeps
every finished trial (they are runs) and registers nothing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from mlcycle.app.jobs import Job, Lead
from mlcycle.app.screens.form import CHECK, FLOAT, INT, TEXT, Field, refusal
from mlcycle.app.words import plural
from mlcycle.models import events, judging, training
from mlcycle.store.cancel import Cancelled

TRIAL_COLUMNS = ("#", "model", "cv {metric}", "best so far")


def form_fields(model_names: Sequence[str]) -> list[Field]:
    """The train form: the CLI's options, with its defaults."""
    defaults = training.TrainConfig("")
    return [
        Field("models", "Models", TEXT, help="comma-separated, empty = all: "
              + ", ".join(model_names)),
        Field("trials", "Trials per model", INT, default=defaults.trials, required=True,
              help="parameter sets sampled for each model"),
        Field("time_budget", "Time budget (seconds)", FLOAT,
              default=training.DEFAULT_TIME_BUDGET,
              help="the search ends in time to judge its best; empty or 0 = no budget"),
        Field("cv", "Folds", INT, default=defaults.cv, required=True,
              help="cross-validation folds, at least 2"),
        Field("seed", "Seed", INT, default=defaults.seed, required=True),
        Field("data", "Dataset version", TEXT, default=defaults.data, required=True),
        Field("features", "Feature set", TEXT, default=defaults.features, required=True,
              help="latest, none (raw columns), NAME, NAME@N or an id"),
        Field("register", "Register the best model", CHECK, default=True),
    ]


def config_from(project: str, values: dict[str, Any]) -> training.TrainConfig:
    """The form's values as the configuration ``mlcycle train`` would build from its flags."""
    return training.TrainConfig.from_options(
        project, data=values["data"], models=values.get("models"), trials=values["trials"],
        cv=values["cv"], time_budget=values.get("time_budget"), seed=values["seed"],
        features=values["features"])


def form_check(project: str, task: str) -> Callable[[dict[str, Any]], str | None]:
    """What is wrong with the form's values, by the engine's own checks (before any work)."""
    from mlcycle.models import catalog

    def check(values: dict[str, Any]) -> str | None:
        config = config_from(project, values)

        def valid() -> None:
            config.validate()
            for name in config.models or ():
                catalog.get(name, task)

        return refusal(valid)

    return check


class TrialFeed:
    """The progress callback of one training: a bar, a row per trial, the best so far."""

    def __init__(self, job: Job, metric: str, greater_is_better: bool) -> None:
        self.job = job
        self.metric = metric
        self.sign = 1 if greater_is_better else -1
        self.best: tuple[float, str] | None = None  # value, model; the baseline never counts

    @functools.singledispatchmethod
    def __call__(self, event: events.TrainEvent) -> None:
        """Events the panel has nothing to show for."""

    @__call__.register(events.TrainStarted)
    def _started(self, event: events.TrainStarted) -> None:
        self.job.progress(0, event.total, f"training {plural(event.total, 'trial')} "
                          f"on dataset {event.dataset}")

    @__call__.register(events.TrialFinished)
    def _trial(self, event: events.TrialFinished) -> None:
        value, model = event.value, event.model
        scored = not math.isnan(value)
        if model != "baseline" and scored and (
                self.best is None or self.sign * value > self.sign * self.best[0]):
            self.best = (value, model)
        self.job.add_row(event.index, model, f"{value:.4f}" if scored else "–",
                         f"{self.best[0]:.4f} ({self.best[1]})" if self.best else "–")
        self._count(event.progress, f"{model}: {self.metric} {value:.4f}{self._best_text()}")
        self.job.expect(event.eta)

    @__call__.register(events.TrialStopped)
    def _trial_stopped(self, event: events.TrialStopped) -> None:
        self.job.add_row("–", event.model, "stopped at the deadline", "–")
        self._count(event.progress, f"{event.model}: {event.reason}")

    @__call__.register(events.TrialsSkipped)
    def _skipped(self, event: events.TrialsSkipped) -> None:
        self._count(event.progress, event.progress.text())

    @__call__.register(events.FamilySkipped)
    def _family_skipped(self, event: events.FamilySkipped) -> None:
        self.job.add_row("–", event.model, "skipped for time", event.reason)

    @__call__.register(events.Eta)
    def _eta(self, event: events.Eta) -> None:
        self.job.expect(event.seconds)

    @__call__.register(events.Evaluating)
    def _evaluating(self, event: events.Evaluating) -> None:
        self.job.say(f"judging {event.model} on the holdout{self._best_text()}")

    @__call__.register(events.Unexportable)
    def _unexportable(self, event: events.Unexportable) -> None:
        self.job.say(f"{event.model} will not be registered: {event.reason}")

    @__call__.register(events.Stopped)
    def _stopped(self, event: events.Stopped) -> None:
        self.job.say(f"stopping: {event.finished} finished trials are kept")

    def _count(self, tally: events.Tally, message: str) -> None:
        # Trials that ran out of those that will: one skipped for time shrinks the total
        # rather than counting as done.
        self.job.progress(tally.run + tally.pruned, tally.planned - tally.skipped, message)

    def _best_text(self) -> str:
        if self.best is None:
            return ""
        return f"; best so far {self.best[1]} {self.best[0]:.4f}"


def start(view: Any, project: str, values: dict[str, Any], metric: str,
          greater_is_better: bool) -> Job:
    """Start the job 'train: PROJECT' and open the jobs panel on it."""
    from mlcycle.app.screens.jobs import JobsScreen

    config = config_from(project, values)
    register = bool(values.get("register", True))

    def work(job: Job) -> training.TrainResult:
        feed = TrialFeed(job, metric, greater_is_better)
        result = training.train(view.app.workspace, config, progress=feed, register=register,
                                cancel=job.cancel)
        if result.stopped == "cancelled":
            raise Cancelled(f"cancelled: {plural(result.trials_finished, 'trial')} kept, "
                            "nothing registered")
        for row in result.families:  # the summary: every family's best, or why none
            job.add_row("best", row.model, "–" if row.cv is None else f"{row.cv:.4f}",
                        summary_note(row, metric))
        return result

    def done(job: Job) -> str:
        view.reload()
        return outcome(job.result, metric)

    job = view.start_job(
        f"train: {project}", work, done=done,
        lead=Lead("models", project, "open the Models view"),
        columns=tuple(c.format(metric=metric) for c in TRIAL_COLUMNS),
    )
    view.app.push_screen(JobsScreen(select=job.id))
    return job


def summary_note(row: judging.FamilyBest, metric: str) -> str:
    """The last cell of a family's summary row: its holdout figure, or why it has none."""
    if row.holdout is not None:
        return f"holdout {metric} {row.holdout:.4f}"
    return row.status if row.status == "judged" else f"{row.status}: {row.reason}"


def outcome(result: training.TrainResult, metric: str) -> str:
    """One line: the best model, its holdout figure, and what was registered."""
    if not result.models:
        return f"{plural(result.trials_finished, 'trial')}; no model to judge"
    best = result.models[0]
    held = best.get(f"holdout.{metric}")
    line = f"best {best['model']} (run {best['run']})"
    if held is not None:
        line += f", holdout {metric} {held:.4f}"
    if result.unexportable:
        line += "; graph failed parity: " + ", ".join(u["model"] for u in result.unexportable)
    if result.registered_version:
        line += f"; registered as version {result.registered_version}"
        if result.best_run != best["run"]:
            chosen = next(m["model"] for m in result.models if m["run"] == result.best_run)
            line += f" ({chosen}, the best that scores)"
    else:
        line += f"; not registered{': ' + result.not_registered if result.not_registered else ''}"
    if result.stopped:
        line += f" (stopped early: {result.stopped})"
    return line
