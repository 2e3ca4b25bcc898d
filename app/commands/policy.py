from __future__ import annotations

import click

from mlcycle.app.output import Context, emit_json, json_option, read_user_file


@click.group()
def policy() -> None:
    """A project's monitoring policy (TOML): alert thresholds, retraining triggers and
    window, the challenger gate, and the mode (off, prompt, auto).

    \b
    mode = "off" | "prompt" | "auto"
    [alerts]   drift_share, min_psi, min_h, prediction_drift, max_loss,
               max_estimated_loss, min_labelled
    [retrain]  on_alert = [kinds], labelled_rows, every_batches, every_days, manual,
               window = "all" | { batches = N } | { days = N }, search, trials
    [gate]     margin, confidence, rounds
    'mlcycle policy template' prints every key with its default and meaning.
    """


@policy.command("show")
@click.argument("project")
@click.argument("version", default="latest")
@json_option
@click.pass_obj
def show(ctx: Context, project: str, version: str, as_json: bool) -> None:
    """Print the policy the project follows (VERSION: latest or a number), every key with
    its value, defaults marked; without a stored policy, the defaults. The output is a
    policy file: edit it and store it with 'mlcycle policy set'."""
    from mlcycle.monitor import policy as policies

    shown = policies.get(ctx.workspace(), project, version)
    if as_json:
        emit_json({"project": project, **shown.to_dict()})
        return
    click.echo(policies.render(shown, project), nl=False)


@policy.command("set")
@click.argument("project")
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
@click.pass_obj
def set_(ctx: Context, project: str, file: str, as_json: bool) -> None:
    """Check a policy file and store it as the project's newest version (unchanged text
    stores nothing)."""
    from mlcycle.monitor import policy as policies

    ws = ctx.workspace()
    parsed = policies.parse(read_user_file(file, "policy"), file)
    stored, created = policies.store(ws, project, parsed, source=file)
    if as_json:
        emit_json({"project": project, "created": created, **stored.to_dict()})
    elif created:
        click.echo(f"stored policy v{stored.version} of {project} (mode {stored.mode})")
    else:
        click.echo(f"policy unchanged: still v{stored.version}")


@policy.command("template")
def template() -> None:
    """Print the default policy, every key explained: a file to start from."""
    from mlcycle.monitor import policy as policies

    click.echo(policies.template(), nl=False)
