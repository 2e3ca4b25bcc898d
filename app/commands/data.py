from __future__ import annotations

import click

from mlcycle.app.output import Context, console, emit_json, json_option
from mlcycle.app.words import plural, shape


@click.group()
def data() -> None:
    """Collect data: versions, data dictionaries, quality reports and personal data."""


@data.command("add")
@click.argument("project")
@click.argument("path")
@json_option
@click.pass_obj
def add(ctx: Context, project: str, path: str, as_json: bool) -> None:
    """Store a CSV, Parquet, JSON or NDJSON file, folder or glob as a dataset version."""
    from mlcycle.data import datasets

    ws = ctx.workspace()
    with console().status("adding data", spinner="dots") as status:
        result = datasets.add(ws, project, path, progress=lambda msg: status.update(msg))
    v = result.version
    if as_json:
        emit_json(result.to_dict())
    elif result.stored:
        click.echo(f"stored version {v.id}: {shape(v.n_rows, v.n_columns)}")
    else:
        click.echo(f"already stored as version {v.id}; nothing new written")


@data.command("list")
@click.argument("project")
@json_option
@click.pass_obj
def list_(ctx: Context, project: str, as_json: bool) -> None:
    """List a project's dataset versions, newest first."""
    from mlcycle.data import datasets

    versions = datasets.list_versions(ctx.workspace(), project)
    if as_json:
        emit_json([v.to_dict() for v in versions])
        return
    if not versions:
        click.echo(f"project {project} has no data yet; add some with 'mlcycle data add'")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table("version", "rows", "columns", "added", "source")
    for v in versions:
        table.add_row(
            v.id, f"{v.n_rows:,}", str(v.n_columns), f"{v.added_at:%Y-%m-%d %H:%M}",
            Text(v.source),
        )
    console().print(table)


@data.command("show")
@click.argument("project")
@click.argument("version", default="latest")
@json_option
@click.option("--markdown", is_flag=True, help="Print the report as Markdown.")
@click.pass_obj
def show(ctx: Context, project: str, version: str, as_json: bool, markdown: bool) -> None:
    """Show a version's data dictionary and quality report (VERSION: id, prefix or latest)."""
    from mlcycle.data import datasets
    from mlcycle.data import report as data_report

    ws = ctx.workspace()
    v = datasets.get(ws, project, version)
    dictionary = datasets.dictionary(ws, project, v.id)
    report = datasets.quality_report(ws, project, v.id)
    if as_json:
        emit_json({"version": v.to_dict(), "dictionary": dictionary, "quality": report})
        return
    if markdown:
        click.echo(data_report.to_markdown(v, dictionary, report), nl=False)
        return
    _print_report(v, dictionary, report)


def _print_report(v, dictionary, report) -> None:
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from mlcycle.data import report as data_report

    out = console()
    out.print(
        f"[bold]version {v.id}[/bold] of {v.project}: {shape(report['rows'], report['columns'])}, "
        f"{plural(report['duplicate_rows'], 'duplicate row')}"
    )
    roles = {c["name"]: c for c in dictionary}
    table = Table("column", "type", "kind", "role", "missing", "distinct", "summary", "description")
    for s in report["column_stats"]:
        if s.get("top"):
            summary = ", ".join(f"{t['value']} {t['count']:,}" for t in s["top"][:3])
        elif s.get("mean") is not None:
            summary = f"{s['min']:.4g} … {s['max']:.4g}, mean {s['mean']:.4g}"
        else:
            summary = f"{s.get('min', '')} … {s.get('max', '')}" if s.get("min") else ""
        c = roles[s["name"]]
        flag = " [yellow](constant)[/yellow]" if s["constant"] else ""
        # Names, values and descriptions come from the data and the user: never markup.
        table.add_row(
            escape(s["name"]) + flag,
            s["dtype"],
            s["kind"],
            c["role"] + (f" ({c['sensitive']})" if c["sensitive"] else ""),
            f"{s['missing_share']:.1%}",
            f"{s['distinct']:,}",
            Text(summary),
            Text(c["description"] or ""),
        )
    out.print(table)
    for line in data_report.guessed_roles(v.project, dictionary, report):
        out.print(Text(line))
    target = report["target"]
    if not target["present"]:
        out.print(Text(f"target {target['name']} is missing", style="red"))
    elif "classes" in target:
        out.print(Text(
            f"target {target['name']}: "
            + ", ".join(f"{c['value']} {c['share']:.1%}" for c in target["classes"])
        ))


@data.command("describe")
@click.argument("project")
@click.argument("column")
@click.argument("text")
@click.pass_obj
def describe(ctx: Context, project: str, column: str, text: str) -> None:
    """Write the data dictionary's description of a column."""
    from mlcycle.data import datasets

    datasets.describe_column(ctx.workspace(), project, column, text)
    click.echo(f"described {column}")


@data.command("role")
@click.argument("project")
@click.argument("column")
@click.argument("role", type=click.Choice(["feature", "identifier", "ignored"]), required=False)
@click.option("--allow-sensitive", is_flag=True,
              help="Let a column found to hold personal data be used (ROLE defaults to feature).")
@click.option("--reason", help="Why this personal data may be used (with --allow-sensitive).")
@click.pass_obj
def role(ctx: Context, project: str, column: str, role: str | None, allow_sensitive: bool,
         reason: str | None) -> None:
    """Set a column's role, overriding the guess.

    A column guessed an identifier or free text (see 'data show') that is made a feature is
    used as a categorical input, its values the categories. A column holding personal data
    is left out of the features until it is opted in with --allow-sensitive and a --reason,
    both recorded; setting its role again without them takes it out."""
    from mlcycle.data import datasets

    if allow_sensitive and not reason:
        raise click.UsageError("--allow-sensitive needs --reason TEXT")
    if reason and not allow_sensitive:
        raise click.UsageError("--reason goes with --allow-sensitive")
    if role is None:
        if not allow_sensitive:
            raise click.UsageError("give a ROLE: feature, identifier or ignored")
        role = "feature"
    datasets.set_role(ctx.workspace(), project, column, role,
                      allow_sensitive=reason if allow_sensitive else None)
    click.echo(f"{column} is now {role}" + (" (personal data, opted in)" if allow_sensitive
                                            else ""))


@data.command("redact")
@click.argument("project")
@click.argument("version", default="latest")
@click.option("--hash", "hash_", multiple=True, metavar="COLUMN",
              help="Replace the column's values by salted SHA-256 hashes (repeatable).")
@click.option("--generalise", multiple=True, metavar="COLUMN",
              help="Keep only a coarse part: a birth date's year, an IP's network, an "
                   "email's domain (repeatable).")
@click.option("--drop", multiple=True, metavar="COLUMN", help="Leave the column out (repeatable).")
@json_option
@click.pass_obj
def redact(ctx: Context, project: str, version: str, hash_: tuple[str, ...],
           generalise: tuple[str, ...], drop: tuple[str, ...], as_json: bool) -> None:
    """Store a new version with personal data hashed, generalised or dropped.

    Every column found to hold personal data is redacted: identifiers hashed, dates of
    birth and IP addresses generalised, free text dropped, unless an option chooses. The
    hashing key is kept outside the workspace ($MLCYCLE_KEY_FILE, or one file per workspace
    under ~/.config/mlcycle/keys); the lineage records what was done, not the key."""
    from mlcycle.data import redact as redacting

    ws = ctx.workspace()
    with console().status("redacting", spinner="dots") as status:
        result = redacting.redact(ws, project, version, hash_=hash_, generalise=generalise,
                                  drop=drop, progress=lambda msg: status.update(msg))
    if as_json:
        emit_json(result.to_dict())
        return
    v = result.version
    done = "; ".join(f"{name}: {p['how']}" for name, p in result.columns.items())
    head = (f"stored version {v.id}" if result.stored
            else f"already stored as version {v.id}; nothing new written")
    click.echo(f"{head} (from {result.input_id}): {done}")
    if result.key_file:
        click.echo(f"hashing key: {result.key_file} (keep it; it is not in the workspace)")


@data.command("purge")
@click.argument("project")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@click.option("--force", is_flag=True,
              help="Remove versions past retention even if a registered model was trained on "
                   "them.")
@json_option
@click.pass_obj
def purge(ctx: Context, project: str, dry_run: bool, force: bool, as_json: bool) -> None:
    """Remove dataset versions past the project's retention period, with their files.

    The period is set with 'mlcycle project edit PROJECT --retention-days N'. Versions a
    registered model version was trained on stay unless --force; a version another project
    also holds is only unlinked; only files the workspace made are deleted."""
    from mlcycle.data import retention

    result = retention.purge(ctx.workspace(), project, dry_run=dry_run, force=force)
    if as_json:
        emit_json(result)
        return
    verb = "would remove" if dry_run else "removed"
    if not result["removed"]:
        click.echo(f"no version of {project} to remove (retention {result['retention_days']} "
                   "days)")
    for entry in result["removed"]:
        where = (f", still held by {', '.join(entry['still_in'])}" if entry["still_in"]
                 else f", {plural(len(entry['files']), 'file')}")
        click.echo(f"{verb} version {entry['id']} (added {entry['added_at'][:10]}, "
                   f"{plural(entry['rows'], 'row')}{where})")
    for entry in result["kept"]:
        click.echo(f"kept version {entry['id']}: {entry['reason']}")
