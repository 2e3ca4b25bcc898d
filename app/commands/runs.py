from __future__ import annotations

import click

from mlcycle.app.output import Context, console, emit_json, json_option
from mlcycle.app.words import plural


class _RunsGroup(click.Group):
    """`mlcycle runs PROJECT` lists; `mlcycle runs compare A B` compares."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RunsGroup)
def runs() -> None:
    """Tracked runs: `runs PROJECT` lists them, `runs compare A B` sets two side by side."""


@runs.command("list")
@click.argument("project")
@click.option("--sort", "sort_metric", help="Sort by the latest value of this metric.")
@click.option("--ascending", is_flag=True, help="Smallest first (for errors and losses).")
@click.option("--limit", type=int, help="Show at most this many runs.")
@json_option
@click.pass_obj
def list_(
    ctx: Context,
    project: str,
    sort_metric: str | None,
    ascending: bool,
    limit: int | None,
    as_json: bool,
) -> None:
    """List a project's runs, newest first or sorted by a metric."""
    from mlcycle import projects
    from mlcycle.models import tracking

    ws = ctx.workspace()
    found = tracking.runs(ws, project, sort=sort_metric, descending=not ascending, limit=limit)
    if as_json:
        emit_json([r.to_dict() for r in found])
        return
    from rich.table import Table
    from rich.text import Text

    metric = sort_metric or f"cv.{projects.get(ws, project).metric}"
    table = Table("run", "name", "kind", "status", metric, "started", "seconds")
    for r in found:
        value = r.metrics.get(metric)
        table.add_row(
            r.id,
            Text(r.name or ""),
            r.kind,
            _status(r),
            "–" if value is None else f"{value:.4f}",
            f"{r.started_at:%m-%d %H:%M:%S}",
            "–" if r.duration is None else f"{r.duration:.1f}",
        )
    console().print(table)


@runs.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@json_option
@click.pass_obj
def compare(ctx: Context, run_a: str, run_b: str, as_json: bool) -> None:
    """Two runs' parameters and metrics side by side, differences first."""
    from mlcycle.models import tracking

    ws = ctx.workspace()
    result = tracking.compare(tracking.get_run(ws, run_a), tracking.get_run(ws, run_b))
    if as_json:
        emit_json(result)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table("", "key", result["a"], result["b"])
    for section in ("params", "metrics"):
        for row in result[section]:
            style = "" if row["same"] else "bold"
            table.add_row(section[:-1], Text(row["key"]), Text(_cell(row["a"])),
                          Text(_cell(row["b"])), style=style)
    console().print(table)


def _status(record) -> str:
    """A pruned trial says so, with the resource it got before the search left it."""
    tags = record.tags
    if tags.get("mlcycle.pruned") != "true":
        return record.status
    got = f"{plural(int(tags['mlcycle.rows']), 'row')}" if "mlcycle.rows" in tags else ""
    if "mlcycle.iterations" in tags:
        got += f", {tags['mlcycle.iterations']} iterations"
    return f"pruned ({got})" if got else "pruned"


def _cell(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


@click.group()
def run() -> None:
    """One tracked run: show it, or reproduce it."""


@run.command("show")
@click.argument("run_id")
@json_option
@click.pass_obj
def show(ctx: Context, run_id: str, as_json: bool) -> None:
    """A run's parameters, metrics, tags and artifacts."""
    from mlcycle.models import tracking

    record = tracking.get_run(ctx.workspace(), run_id)
    if as_json:
        emit_json(record.to_dict())
        return
    from rich.markup import escape

    out = console()
    # Names, keys and values a run logged are escaped: they are never markup.
    out.print(
        f"[bold]run {record.id}[/bold] {escape(record.name or '')} of {record.project}: "
        f"{record.kind}, {record.status}, started {record.started_at:%Y-%m-%d %H:%M:%S}"
    )
    for title, values in (
        ("params", record.params),
        ("metrics", record.metrics),
        (
            "tags",
            {
                k: v
                for k, v in record.tags.items()
                if k not in ("mlcycle.config", "mlcycle.environment")
            },
        ),
    ):
        out.print(f"[dim]{title}[/dim]")
        for key, value in sorted(values.items()):
            out.print(f"  {escape(key)} = {escape(_cell(value))}")
    if record.artifacts:
        out.print("[dim]artifacts[/dim]")
        for name, info in record.artifacts.items():
            out.print(f"  {escape(name)} ({info['size']:,} bytes, sha256 {info['sha256'][:12]}…)")


@run.command("reproduce")
@click.argument("run_id")
@json_option
@click.pass_obj
def reproduce(ctx: Context, run_id: str, as_json: bool) -> None:
    """Train a run's configuration again on the same data and compare every metric."""
    from mlcycle.models import training

    result = training.reproduce(ctx.workspace(), run_id)
    if as_json:
        emit_json(result)
    else:
        from rich.table import Table

        table = Table("metric", "original", "reproduced", "same")
        for row in result["metrics"]:
            table.add_row(
                row["metric"],
                _cell(row["original"]),
                _cell(row["reproduced"]),
                "yes" if row["same"] else "[red]NO[/red]",
            )
        console().print(table)
        console().print(
            "reproduced exactly" if result["identical"] else "[red]the metrics differ[/red]"
        )
    if not result["identical"]:
        raise click.exceptions.Exit(1)
