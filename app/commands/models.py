from __future__ import annotations

import click

from mlcycle.app.output import Context, console, emit_json, json_option


@click.command()
@click.argument("project")
@click.option("--history", is_flag=True, help="Show the audit trail of alias moves instead.")
@json_option
@click.pass_obj
def models(ctx: Context, project: str, history: bool, as_json: bool) -> None:
    """Registered model versions with their aliases (or, with --history, every alias move).

    A version whose ONNX graph fails parity is flagged: it cannot be scored, so retrain or
    promote another version."""
    from mlcycle import projects
    from mlcycle.models import exportable, registry

    ws = ctx.workspace()
    if history:
        trail = registry.history(ws, project)
        if as_json:
            emit_json(trail)
            return
        from rich.table import Table
        from rich.text import Text

        table = Table("when", "alias", "action", "version", "previous", "reason")
        for h in trail:
            table.add_row(
                h["ts"],
                h["alias"],
                h["action"],
                str(h["version"] or "–"),  # none once cleared
                str(h["previous"] or "–"),
                Text(h["reason"] or ""),
            )
        console().print(table)
        return
    found = registry.versions(ws, project)
    problems = exportable.problems(ws, project)
    if as_json:
        emit_json([{**v.to_dict(), "cannot_score": problems.get(v.version)} for v in found])
        return
    if not found:
        click.echo(f"project {project} has no registered models; run 'mlcycle train {project}'")
        return
    from rich.table import Table
    from rich.text import Text

    metric = projects.get(ws, project).metric
    table = Table("version", "aliases", "model", f"holdout {metric}", "run", "registered", "")
    for v in found:
        value = v.summary.get("metrics", {}).get(f"holdout.{metric}")
        table.add_row(
            str(v.version),
            ", ".join(v.aliases),
            str(v.summary.get("model")),
            "–" if value is None else f"{value:.4f}",
            v.run_id,
            f"{v.created_at:%Y-%m-%d %H:%M}",
            "archived" if v.archived else ("cannot be scored" if v.version in problems else ""),
        )
    out = console()
    out.print(table)
    for version, reason in sorted(problems.items()):
        out.print(Text(f"warning: {exportable.advice(project, version, reason)}"),
                  style="bold red")


@click.command()
@click.argument("project")
@click.argument("version")
@click.option("--alias", default="champion", show_default=True)
@click.option("--reason", required=True, help="Why: kept in the audit trail.")
@json_option
@click.pass_obj
def promote(
    ctx: Context, project: str, version: str, alias: str, reason: str, as_json: bool
) -> None:
    """Give a model version an alias (champion by default).

    One version per alias, and one alias per version: a version holding another alias gives
    it up (promoting the challenger to champion leaves no challenger). The champion keeps
    its alias until another version is promoted to champion, so giving the champion another
    alias is refused. 'mlcycle alias clear' takes an alias off its version.
    """
    from mlcycle.models import registry

    moved = registry.promote(ctx.workspace(), project, version, alias, reason)
    if as_json:
        emit_json(moved.to_dict())
    else:
        click.echo(f"version {moved.version} is now {alias}")


@click.command()
@click.argument("project")
@click.option("--alias", default="champion", show_default=True)
@click.option("--reason", help="Why: kept in the audit trail.")
@json_option
@click.pass_obj
def rollback(ctx: Context, project: str, alias: str, reason: str | None, as_json: bool) -> None:
    """Give the alias back to the version that held it before."""
    from mlcycle.models import registry

    moved = registry.rollback(ctx.workspace(), project, alias, reason)
    if as_json:
        emit_json(moved.to_dict())
    else:
        click.echo(f"rolled back: version {moved.version} is {alias} again")


@click.group()
def alias() -> None:
    """Model aliases: take one off its version."""


@alias.command("clear")
@click.argument("project")
@click.argument("name", metavar="ALIAS")
@click.option("--reason", required=True, help="Why: kept in the audit trail.")
@json_option
@click.pass_obj
def clear(ctx: Context, project: str, name: str, reason: str, as_json: bool) -> None:
    """Take ALIAS off the version that holds it, so that no version does.

    Recorded in the audit trail like every alias move ('mlcycle models PROJECT --history').
    Clearing the challenger stops shadow scoring; clearing the champion leaves nothing for
    'predict' and 'serve' to score with until a version is promoted.
    """
    from mlcycle.models import registry

    version = registry.clear(ctx.workspace(), project, name, reason)
    if as_json:
        emit_json({"project": project, "alias": name, "cleared_from": version})
    else:
        click.echo(f"cleared {name}: version {version} no longer holds it")


@click.group()
def model() -> None:
    """One registered model version: its card, registration and archiving."""


@model.command("card")
@click.argument("project")
@click.argument("version", default="champion")
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file.")
@click.pass_obj
def card(ctx: Context, project: str, version: str, out: str | None) -> None:
    """The model card in Markdown (VERSION: number or alias)."""
    from mlcycle.models import card as model_card
    from mlcycle.store import safety

    ws = ctx.workspace()
    target = safety.output_path(out, "--out", workspace=ws.root) if out else None
    text = model_card.render(ws, project, version)
    if target:
        safety.write_text(target, text)
        click.echo(f"wrote {out}")
    else:
        click.echo(text, nl=False)


@model.command("register")
@click.argument("project")
@click.argument("run_id")
@click.option("--reason", help="Why: kept in the activity log.")
@json_option
@click.pass_obj
def register(ctx: Context, project: str, run_id: str, reason: str | None, as_json: bool) -> None:
    """Register an evaluated run's model as the next version."""
    from mlcycle.models import registry

    version = registry.register(ctx.workspace(), project, run_id, reason)
    if as_json:
        emit_json(version.to_dict())
    else:
        click.echo(f"registered run {version.run_id} as version {version.version}")


@model.command("archive")
@click.argument("project")
@click.argument("version")
@click.option("--reason", help="Why: kept in the activity log.")
@click.pass_obj
def archive(ctx: Context, project: str, version: str, reason: str | None) -> None:
    """Archive a version that holds no alias."""
    from mlcycle.models import registry

    done = registry.archive(ctx.workspace(), project, version, reason)
    click.echo(f"archived version {done.version}")
