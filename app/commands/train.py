from __future__ import annotations

import functools
from typing import Any

import click

from mlcycle.app.output import Context, console, emit_json, json_option, note
from mlcycle.app.words import plural
from mlcycle.models import events, training


@click.command()
@click.argument("project")
@click.option("--data", default="latest", show_default=True, help="Dataset version to train on.")
@click.option("--models", help="Comma-separated catalog names (default: all for the task).")
@click.option(
    "--trials", type=int, default=10, show_default=True, help="Parameter sets sampled per model."
)
@click.option("--cv", type=int, default=5, show_default=True, help="Cross-validation folds.")
@click.option("--time-budget", type=float, default=training.DEFAULT_TIME_BUDGET, show_default=True,
              help="Seconds for the whole training, holdout judging included; a trial that "
              "would not finish in it is not started, one running at the deadline stops "
              "between its folds. 0: no limit.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--features", "feature_ref", default="latest", show_default=True,
              help="Feature set to train with (NAME, NAME@N or id); 'none' for raw columns.")
@click.option("--no-register", is_flag=True, help="Do not register the best model.")
@json_option
@click.pass_obj
def train(
    ctx: Context,
    project: str,
    data: str,
    models: str | None,
    trials: int,
    cv: int,
    time_budget: float | None,
    seed: int,
    feature_ref: str,
    no_register: bool,
    as_json: bool,
) -> None:
    """Search the model catalog; every trial is a tracked run, the best one is registered.

    Successive halving: each model's parameter sets are cross-validated on a share of the
    rows, the best third go on to three times the rows, until the survivors see them all;
    pruned trials stay runs, marked with the rows they got. Ctrl-C stops at once, keeps the
    finished trials and registers nothing; a time budget ends the search in time to judge
    and register the best so far.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    config = training.TrainConfig.from_options(
        project, data=data, models=models, trials=trials, cv=cv, time_budget=time_budget,
        seed=seed, features=feature_ref)
    ws = ctx.workspace()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(),
        transient=True,
        disable=as_json,
    ) as bar:
        show = _Bar(bar, bar.add_task("preparing data", total=None), as_json)
        result = training.train(ws, config, progress=show, register=not no_register)
    if as_json:
        emit_json(result.to_dict())
    else:
        _print(result, config.project)
    if result.stopped == "interrupted":
        raise click.exceptions.Exit(130)


class _Bar:
    """The training's events on a rich progress bar (nothing but notes under --json)."""

    def __init__(self, bar: Any, task: Any, as_json: bool) -> None:
        self.bar, self.task, self.as_json = bar, task, as_json

    @functools.singledispatchmethod
    def __call__(self, event: events.TrainEvent) -> None:
        """Events a terminal has nothing to show for."""

    @__call__.register(events.TrainStarted)
    def _started(self, event: events.TrainStarted) -> None:
        self.bar.update(self.task, total=event.total, description="training")
        if event.dropped_target_rows:
            note(f"left out {plural(event.dropped_target_rows, 'row')} without a target")
        if not self.as_json:
            self.bar.console.print(_columns(event.columns), markup=False, highlight=False)
            self.bar.console.print(_plan(event))

    @__call__.register(events.Eta)
    def _eta(self, event: events.Eta) -> None:
        if not self.as_json:
            self.bar.console.print(f"estimated: about {event.seconds:.0f}s more "
                                   f"({event.elapsed:.0f}s so far)")

    @__call__.register(events.TrialFinished)
    def _trial(self, event: events.TrialFinished) -> None:
        self._count(event.progress, f"{event.model}: {event.metric} {event.value:.4f}")

    @__call__.register(events.TrialStopped)
    def _trial_stopped(self, event: events.TrialStopped) -> None:
        self._count(event.progress, f"{event.model}: stopped at the deadline")

    @__call__.register(events.TrialsSkipped)
    def _skipped(self, event: events.TrialsSkipped) -> None:
        self._count(event.progress, event.progress.text())

    @__call__.register(events.FamilySkipped)
    def _family_skipped(self, event: events.FamilySkipped) -> None:
        if not self.as_json:
            self.bar.console.print(f"{event.model}: skipped for time: {event.reason}",
                                   markup=False)

    @__call__.register(events.Evaluating)
    def _evaluating(self, event: events.Evaluating) -> None:
        self.bar.update(self.task, description=f"holdout: {event.model}")

    def _count(self, tally: events.Tally, description: str) -> None:
        # The bar counts the trials that ran out of those that will: one skipped for time
        # shrinks the total rather than counting as done.
        self.bar.update(self.task, completed=tally.run + tally.pruned,
                        total=tally.planned - tally.skipped, description=description)


def _columns(columns: events.ModelColumns) -> str:
    """The model's inputs, the derived ones among them, and every other column's reason."""
    lines = [f"inputs ({len(columns.inputs)}): {', '.join(columns.inputs)}"]
    if columns.derived:
        lines.append(f"  derived by feature set {columns.feature_set}: "
                     f"{', '.join(columns.derived)}")
    lines += [f"left out ({group.reason}): {', '.join(group.columns)}"
              for group in columns.left_out]
    return "\n".join(lines)


def _plan(start: events.TrainStarted) -> str:
    """What the training will do: its families, their trials and rungs, the budget."""
    lines = []
    for f in start.families:
        rungs = " → ".join(f"{r:,}" for r in f.rows)
        lines.append(f"  {f.model}: {plural(f.trials, 'trial')}, rows {rungs}")
    limit = f"a time budget of {start.budget:g}s" if start.budget else "no time budget"
    return (f"training on {start.dataset}: {start.folds}-fold CV, {limit}\n"
            + "\n".join(lines))


def _figure(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _print(result: training.TrainResult, project: str) -> None:
    from rich.table import Table

    out = console()
    if result.stopped == "interrupted":
        out.print(
            f"stopped: {result.trials_finished} finished trials are kept "
            f"(training group {result.group})"
        )
        return
    table = Table("model", "run", "rows", f"cv {result.metric}", f"holdout {result.metric}",
                  "", title=f"training {result.group} on dataset {result.dataset}")
    for row in result.families:
        table.add_row(row.model, row.run or "–", f"{row.rows:,}" if row.rows else "–",
                      _figure(row.cv), _figure(row.holdout),
                      "" if row.status == "judged" else f"{row.status}: {row.reason}")
    out.print(table)
    if result.progress:
        out.print(result.progress.text())
    if result.stopped:
        out.print(f"stopped early: {result.stopped}")
    for failed in result.unexportable:
        out.print(f"not registrable: {failed['model']} (run {failed['run']}): {failed['reason']}",
                  markup=False)
    if result.not_registered:
        out.print(result.not_registered, markup=False)
    if result.registered_version:
        chosen = next(m["model"] for m in result.models if m["run"] == result.best_run)
        which = "best" if result.best_run == result.models[0]["run"] else "best that scores"
        out.print(
            f"registered the {which} ({chosen}, run {result.best_run}) "
            f"as version {result.registered_version}; promote it with "
            f"'mlcycle promote {project} {result.registered_version} --reason ...'"
        )
