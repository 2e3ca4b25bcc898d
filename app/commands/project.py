from __future__ import annotations

import click

from mlcycle.app.output import Context, console, emit_json, json_option
from mlcycle.app.words import plural


@click.group()
def project() -> None:
    """Define problems: what to predict, and how success is measured."""


@project.command("create")
@click.argument("name")
@click.option("--target", required=True, help="The column to predict.")
@click.option("--task", required=True, type=click.Choice(["classification", "regression"]))
@click.option("--metric", help="Primary metric (default: roc_auc or rmse).")
@click.option("--goal", type=float, help="Success threshold on the primary metric.")
@click.option("--description", help="The problem statement.")
@click.option("--kpi", help="The business KPI this model should move.")
@json_option
@click.pass_obj
def create(
    ctx: Context,
    name: str,
    target: str,
    task: str,
    metric: str | None,
    goal: float | None,
    description: str | None,
    kpi: str | None,
    as_json: bool,
) -> None:
    """Create a project card."""
    from mlcycle import projects
    from mlcycle.projects import metrics

    # Check the card before a workspace is created for it.
    projects.validate_name(name)
    metrics.validate_metric(metric, task)
    card = projects.create(
        ctx.workspace(create=True),
        name,
        target=target,
        task=task,
        metric=metric,
        goal=goal,
        description=description,
        kpi=kpi,
    )
    if as_json:
        emit_json(card.to_dict())
    else:
        click.echo(
            f"created project {card.name}: predict {card.target} ({card.task}), "
            f"judged by {card.metric}"
        )


@project.command("list")
@json_option
@click.pass_obj
def list_(ctx: Context, as_json: bool) -> None:
    """List projects."""
    from mlcycle.projects import lifecycle

    view = lifecycle.overview(ctx.workspace(), activity=0)
    cards, stages = view.projects, view.stages
    if as_json:
        emit_json([{**p.to_dict(), "stages": stages[p.name]} for p in cards])
        return
    if not cards:
        click.echo("no projects yet; create one with 'mlcycle project create'")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table("project", "target", "task", "metric", "goal", "stage")
    for p in cards:
        table.add_row(
            p.name,
            Text(p.target),
            p.task,
            p.metric,
            "–" if p.goal is None else f"{p.goal:g}",
            lifecycle.current_label(stages[p.name]),
        )
    console().print(table)


@project.command("show")
@click.argument("name")
@json_option
@click.pass_obj
def show(ctx: Context, name: str, as_json: bool) -> None:
    """Show a project card and the lifecycle stages it has reached."""
    from mlcycle import projects
    from mlcycle.projects import lifecycle

    ws = ctx.workspace()
    card = projects.get(ws, name)
    stages = lifecycle.reached(ws, name)
    handling = projects.data_handling(ws, name)
    if as_json:
        emit_json({**card.to_dict(), "stages": stages, "data_handling": handling})
        return
    from rich.markup import escape

    out = console()
    # The description, target and KPI are the user's words: escaped, never read as markup.
    out.print(f"[bold]{card.name}[/bold]  {escape(card.description or '')}")
    out.print(f"  predict   {escape(card.target)} ({card.task})")
    goal = "no goal set" if card.goal is None else f"goal {card.goal:g}"
    direction = "higher" if card.greater_is_better else "lower"
    out.print(f"  metric    {card.metric} ({direction} is better), {goal}")
    out.print(f"  KPI       {escape(card.kpi or '–')}")
    out.print(f"  created   {card.created_at:%Y-%m-%d %H:%M} UTC")
    out.print(
        "  stages    "
        + "  ".join(
            f"[green]✓ {s['label']}[/green]" if s["reached"] else f"[dim]· {s['label']}[/dim]"
            for s in stages
        )
    )
    _print_handling(out, handling)


def _print_handling(out, handling: dict) -> None:
    from rich.markup import escape

    from mlcycle.store.masking import LABELS

    held = handling["sensitive"]
    out.print("  personal data  " + ("none found" if not held else ""))
    for h in held:
        out.print(f"    {LABELS[h['kind']]}: {escape(', '.join(h['columns']))} "
                  f"in {plural(len(h['versions']), 'version')} ({', '.join(h['versions'])})")
    if handling["unscanned_versions"]:
        out.print(f"    not scanned yet: {', '.join(handling['unscanned_versions'])} "
                  "(add the same data again to scan it)")
    days = handling["retention_days"]
    if days is None:
        out.print("  retention      not set ('mlcycle project edit --retention-days N')")
    else:
        due = handling["past_retention"]
        out.print(f"  retention      {days} days"
                  + (f"; {plural(len(due), 'version')} past it ('mlcycle data purge')" if due
                     else ""))
    out.print(f"  lawful basis   {escape(handling['lawful_basis'] or '–')}")


@project.command("edit")
@click.argument("name")
@click.option("--target", help="The column to predict (only while nothing has been trained).")
@click.option("--metric", help="Primary metric (one that fits the project's task).")
@click.option("--goal", type=float, help="Success threshold on the primary metric.")
@click.option("--no-goal", is_flag=True, help="Remove the goal.")
@click.option("--description", help="The problem statement.")
@click.option("--kpi", help="The business KPI this model should move.")
@click.option("--retention-days", type=int,
              help="Keep dataset versions this many days after they were added "
                   "('mlcycle data purge' removes older ones).")
@click.option("--no-retention", is_flag=True, help="Remove the retention period.")
@click.option("--lawful-basis", help="On what ground the project's personal data is processed.")
@json_option
@click.pass_obj
def edit(ctx: Context, name: str, target: str | None, metric: str | None, goal: float | None,
         no_goal: bool, description: str | None, kpi: str | None, retention_days: int | None,
         no_retention: bool, lawful_basis: str | None, as_json: bool) -> None:
    """Change a project card's target (while it has no run or model version), metric, goal,
    description, KPI, retention period or lawful basis (its task stays)."""
    from mlcycle import projects

    if goal is not None and no_goal:
        raise click.UsageError("give --goal or --no-goal, not both")
    if retention_days is not None and no_retention:
        raise click.UsageError("give --retention-days or --no-retention, not both")
    given = {"target": target, "metric": metric, "goal": goal, "description": description,
             "kpi": kpi, "retention_days": retention_days, "lawful_basis": lawful_basis}
    changes = {k: v for k, v in given.items() if v is not None}
    if no_goal:
        changes["goal"] = None
    if no_retention:
        changes["retention_days"] = None
    ws = ctx.workspace()
    before = projects.get(ws, name)
    card = projects.update(ws, name, **changes)
    if as_json:
        emit_json(card.to_dict())
        return
    changed = [f for f in projects.EDITABLE if getattr(card, f) != getattr(before, f)]
    click.echo(f"updated {card.name}: {', '.join(changed)}" if changed
               else f"{card.name} unchanged")


@project.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Delete it even with registered model versions.")
@json_option
@click.pass_obj
def delete(ctx: Context, name: str, yes: bool, force: bool, as_json: bool) -> None:
    """Delete a project with its data versions, runs, models, checks and their files (data
    versions another project also holds stay)."""
    from mlcycle.app.words import removal_summary
    from mlcycle.projects import removal

    ws = ctx.workspace()
    if not yes:
        if as_json:
            raise click.UsageError("--json needs --yes: there is no one to confirm")
        what = removal.plan(ws, name)
        click.confirm(f"delete project {name}: {removal_summary(what)}?", abort=True,
                      err=True)
    done = removal.delete(ws, name, force=force)
    if as_json:
        emit_json(done.to_dict())
    else:
        click.echo(f"deleted project {name}: {removal_summary(done)}")
