from __future__ import annotations

import click

from mlcycle.app.output import Context, console, emit_json, json_option
from mlcycle.app.words import plural


@click.group()
def source() -> None:
    """Name a project's data sources: files, SQLite and DuckDB files, PostgreSQL servers.

    \b
    URIs:
      data/orders.csv, file:///data/orders/, 'data/*.parquet'   files, folders, globs
      sqlite:///path/to/shop.db     duckdb:///path/to/shop.duckdb
      postgresql://USER@HOST:PORT/DATABASE   (the password comes from PGPASSWORD or
                                              ~/.pgpass, never from the URI)
      sources:orders,customers      an aggregate: its query combines those sources
    A file source's query reads the file as a table named after the source. A query is
    one read-only SELECT (WITH … SELECT) over the source's own tables, checked when it is
    added and each time it is collected: COPY, ATTACH, INSTALL/LOAD, PRAGMA, SET, CALL,
    EXPORT/IMPORT, table functions (read_csv, glob…) and several statements are refused.
    Each changed definition is a new version of the source; 'mlcycle collect' runs it.
    """


@source.command("add")
@click.argument("project")
@click.argument("name")
@click.option("--uri", required=True, help="Where the rows are (see 'mlcycle source --help').")
@click.option("--query", default=None,
              help="The one SELECT that returns the rows, over the source's own tables.")
@click.option("--incremental", default=None, metavar="COLUMN",
              help="Collect only rows whose COLUMN is past the last value collected.")
@json_option
@click.pass_obj
def add(ctx: Context, project: str, name: str, uri: str, query: str | None,
        incremental: str | None, as_json: bool) -> None:
    """Store a source definition (a new version when it differs from the newest)."""
    from mlcycle import collect

    stored, created = collect.add(ctx.workspace(), project, name, uri, query, incremental)
    if as_json:
        emit_json({**stored.to_dict(), "created": created})
        return
    click.echo(f"stored source {name} v{stored.version} ({stored.kind})" if created
               else f"source {name} unchanged: still v{stored.version}")


@source.command("list")
@click.argument("project")
@json_option
@click.pass_obj
def list_(ctx: Context, project: str, as_json: bool) -> None:
    """The project's sources, newest version of each, with their last collection."""
    from rich.table import Table
    from rich.text import Text

    from mlcycle import collect

    ws = ctx.workspace()
    found = collect.list_sources(ws, project)
    last = {}
    for c in reversed(collect.history(ws, project)):
        last[c["source"]] = c
    if as_json:
        emit_json([{**s.to_dict(), "last_collection": last.get(s.name)} for s in found])
        return
    if not found:
        click.echo(f"project {project} has no sources; add one with "
                   f"'mlcycle source add {project} NAME --uri URI'")
        return
    table = Table("source", "version", "kind", "uri", "incremental", "last collected")
    for s in found:
        c = last.get(s.name)
        when = (f"{c['ts'][:19]} → {c['version']} ({plural(c['rows_read'], 'row')}"
                + (", BREAKING" if c["breaking"] else "") + ")") if c else "never"
        table.add_row(s.name, f"v{s.version}", s.kind, Text(s.uri), s.incremental or "–",
                      when)
    console().print(table)


@source.command("show")
@click.argument("project")
@click.argument("name")
@click.option("--version", "ref", default="latest", help="A version number (default: newest).")
@json_option
@click.pass_obj
def show(ctx: Context, project: str, name: str, ref: str, as_json: bool) -> None:
    """One source: its definition, its versions and its collections."""
    from mlcycle import collect
    from mlcycle.collect import definitions

    ws = ctx.workspace()
    stored = collect.get(ws, project, name, ref)
    versions = definitions.history(ws, project, name)
    collections = collect.history(ws, project, name)
    if as_json:
        emit_json({**stored.to_dict(), "versions": [v.to_dict() for v in versions],
                   "collections": collections})
        return
    click.echo(f"source {name} v{stored.version} ({stored.kind}), of "
               f"{plural(len(versions), 'version')}")
    click.echo(f"  uri: {stored.uri}")
    if stored.query:
        click.echo(f"  query: {stored.query}")
    if stored.incremental:
        click.echo(f"  incremental on: {stored.incremental}")
    for c in collections:
        click.echo(f"  {c['ts'][:19]}  v{c['source_version']} → {c['version']}  "
                   f"{plural(c['rows_read'], 'row')} read"
                   + ("  BREAKING" if c["breaking"] else ""))
        for change in c["changes"]:
            click.echo(f"      {'!' if change['breaking'] else '-'} {change['message']}")


@click.command()
@click.argument("project")
@click.argument("name", required=False)
@click.option("--strict", is_flag=True,
              help="Stop and write nothing if the source changed in a breaking way.")
@json_option
@click.pass_obj
def collect(ctx: Context, project: str, name: str | None, strict: bool, as_json: bool) -> None:
    """Run a source (or every source of the project) into a dataset version.

    The same content gives the same version. Each collection is compared with the
    previous one: columns added, removed or retyped, row-count and missing-rate jumps,
    drift. A breaking change is a system issue in 'mlcycle status'; with --strict it
    stops the collection (exit 1) before anything is written. Without NAME, every source
    but those an aggregate reads is collected, each on its own: --strict stops at the
    first that broke, after those collected before it.
    """
    from mlcycle import collect as core
    from mlcycle.app.output import error

    ws = ctx.workspace()
    with console().status("collecting") as status:
        try:
            results = ([core.collect(ws, project, name, strict=strict, progress=status.update)]
                       if name else core.collect_all(ws, project, strict=strict,
                                                      progress=status.update))
        except core.SourceBroke as exc:
            if as_json:
                emit_json([exc.result.to_dict()])
            else:
                _print(exc.result)
            error(str(exc))
            raise SystemExit(exc.exit_code) from None
    if as_json:
        emit_json([r.to_dict() for r in results])
        return
    for result in results:
        _print(result)


def _print(result) -> None:
    if result.version is None:
        click.echo(f"source {result.source.name}: {plural(result.rows_read, 'row')} read, "
                   "not stored")
    else:
        state = "stored" if result.stored else "unchanged"
        click.echo(f"source {result.source.name} v{result.source.version}: "
                   f"{plural(result.rows_read, 'row')} read → version {result.version.id} "
                   f"({plural(result.version.n_rows, 'row')}, {state})")
    if result.note:
        click.echo(f"  {result.note}")
    for change in result.changes:
        click.echo(f"  {'breaking: ' if change.breaking else ''}{change.message}")
