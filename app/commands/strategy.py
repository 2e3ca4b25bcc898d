from __future__ import annotations

import click

from mlcycle.app.output import Context, emit_json, json_option, read_user_file
from mlcycle.app.words import plural


@click.group()
def deploy() -> None:
    """How 'mlcycle serve' routes requests: the deployment config (TOML) and its state.

    \b
    strategy = "shadow" | "canary" | "blue_green"
    [canary]      key, header, steps, min_requests, min_keys, max_error_rate,
                  max_latency_p95, max_psi
    [blue_green]  blue, green
    'mlcycle deploy show PROJECT' prints every key with its value and meaning.
    A running server follows every change within a second, without a restart.
    """


@deploy.command("show")
@click.argument("project")
@click.argument("version", default="latest")
@json_option
@click.pass_obj
def show(ctx: Context, project: str, version: str, as_json: bool) -> None:
    """Print the deployment config (VERSION: latest or a number), every key with its value,
    defaults marked, and where the deployment stands. The output is a config file: edit it
    and store it with 'mlcycle deploy set'."""
    from mlcycle.deploy import config as configs
    from mlcycle.deploy import strategies

    ws = ctx.workspace()
    shown = configs.get(ws, project, version)
    view = strategies.overview(ws, project)
    if as_json:
        emit_json({"project": project, **shown.to_dict(), "state": view.to_dict()})
        return
    click.echo(configs.render(shown, project), nl=False)
    click.echo(f"\n# now: {strategies.summary_line(view)}")


@deploy.command("set")
@click.argument("project")
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
@click.pass_obj
def set_(ctx: Context, project: str, file: str, as_json: bool) -> None:
    """Check a deployment config file and store it as the project's newest version
    (unchanged text stores nothing)."""
    from mlcycle.deploy import config as configs

    parsed = configs.parse(read_user_file(file, "deployment config"), file)
    stored, created = configs.store(ctx.workspace(), project, parsed, source=file)
    if as_json:
        emit_json({"project": project, "created": created, **stored.to_dict()})
    elif created:
        click.echo(f"stored deployment config v{stored.version} of {project} "
                   f"(strategy {stored.strategy})")
    else:
        click.echo(f"deployment config unchanged: still v{stored.version}")


@deploy.command("step")
@click.argument("project")
@click.option("--back", is_flag=True, help="Send every row back to the champion instead.")
@click.option("--reason", help="Why, for the audit trail.")
@json_option
@click.pass_obj
def step(ctx: Context, project: str, back: bool, reason: str | None, as_json: bool) -> None:
    """Raise the canary to its next share (the config's steps); recorded in the audit trail.
    Keys already meeting the canary keep meeting it. The server rolls the canary back by
    itself when it crosses a limit of the config."""
    from mlcycle.deploy import strategies

    result = strategies.step(ctx.workspace(), project, back=back, reason=reason)
    if as_json:
        emit_json(result.to_dict())
    elif back:
        click.echo(f"canary v{result.challenger} of {project} sent back: the champion "
                   f"v{result.champion} answers every row")
    else:
        click.echo(f"canary v{result.challenger} of {project} now answers "
                   f"{result.to_share:.0%} of rows (step {result.step} of {result.steps}; "
                   f"champion v{result.champion} the rest)")


@deploy.command("switch")
@click.argument("project")
@click.option("--back", is_flag=True, help="Return to the slot live before the last switch.")
@click.option("--reason", help="Why, for the audit trail.")
@json_option
@click.pass_obj
def switch(ctx: Context, project: str, back: bool, reason: str | None, as_json: bool) -> None:
    """Make the idle blue/green slot live; recorded in the audit trail. A running server
    swaps between requests: requests in flight finish on the slot they started with."""
    from mlcycle.deploy import strategies

    result = strategies.switch(ctx.workspace(), project, back=back, reason=reason)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"{project}: {result.to_slot} slot live (v{result.to_version}); "
               f"{result.from_slot} idle (v{result.from_version})")


@click.command()
@click.argument("project")
@click.argument("labels", type=click.Path(dir_okay=False))
@click.option("--mde", type=click.FloatRange(min=0, min_open=True),
              help="Smallest difference in the project metric worth detecting; needed once, "
                   "when the test starts (it sizes the test).")
@click.option("--alpha", type=click.FloatRange(0.001, 0.2),
              help="False-positive rate (two-sided) of a new plan; default 0.05.")
@click.option("--power", type=click.FloatRange(0.5, 0.99),
              help="Chance of finding a difference of --mde, for a new plan; default 0.8.")
@json_option
@click.pass_obj
def abtest(ctx: Context, project: str, labels: str, mde: float | None, alpha: float | None,
           power: float | None, as_json: bool) -> None:
    """A/B test of the canary against the champion on the rows each answered whose labels
    arrived (LABELS: identifier + target).

    \b
    Fixed-horizon: the first run stores the plan (rows per arm for --mde, at --alpha and
    --power, sized from the champion's spread on its holdout). Below the planned rows it
    reports interim figures and refuses to conclude; at them it decides once, on the first
    planned rows of each arm, so looking again never changes the answer. Tests: accuracy,
    two-proportion z-test; MAE, RMSE, MAPE, log loss, Welch's t-test on per-row losses;
    other metrics (ROC AUC, F1, R2...), bootstrap.
    """
    from mlcycle.deploy import abtest as tests

    result = tests.report(ctx.workspace(), project, labels, mde, alpha, power)
    if as_json:
        emit_json(result.to_dict())
        return
    plan, res = result.plan, result.result
    click.echo(f"A/B test of {project} on {result.metric}: champion "
               f"v{result.control.version} ({plural(result.control.rows, 'labelled row')}) "
               f"vs canary v{result.treatment.version} "
               f"({plural(result.treatment.rows, 'labelled row')})")
    if plan is not None:
        click.echo(f"method: {plan.method}, {plural(plan.per_arm, 'row')} per arm planned on "
                   f"{plan.planned_at} for an MDE of {plan.mde:g} (alpha {plan.alpha:g}, "
                   f"power {plan.power:g}); test: {result.test}")
    if res:
        interim = " (interim: not a conclusion)" if result.verdict == "collecting" else ""
        click.echo(f"difference {res.difference:+.4f} ({res.treatment:.4f} vs "
                   f"{res.control:.4f}), {res.confidence:.0%} CI "
                   f"[{res.low:+.4f}, {res.high:+.4f}], p = {res.p_value:.4f}"
                   f"{interim}")
    click.echo(f"verdict: {result.verdict}")
    click.echo(f"recommendation: {result.recommendation}")
