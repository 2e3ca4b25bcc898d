from __future__ import annotations

from pathlib import Path

import click

from mlcycle.app.output import Context, console, emit_json, json_option, read_user_file
from mlcycle.app.words import plural


@click.command()
@click.argument("project")
@click.option("--set", "ref", default="latest",
              help="Feature set: latest, NAME, NAME@VERSION or an id (default: latest).")
@click.option("--data", default="latest", help="Dataset version to describe (default: latest).")
@click.option("--against", default=None,
              help="Measure stability against this version instead of the data's first half.")
@json_option
@click.pass_obj
def features(ctx: Context, project: str, ref: str, data: str, against: str | None,
             as_json: bool) -> None:
    """Feature insight: definition, type, missing share, relation to the target, stability.

    Without a feature set (see 'mlcycle featureset set'), the data's feature columns.
    """
    from mlcycle.prep import insight

    with console().status("computing feature insight", spinner="dots"):
        report = insight.insight(ctx.workspace(), project, ref, data, against)
    if as_json:
        emit_json(report)
        return
    from rich.table import Table

    out = console()
    fs = report["feature_set"]
    head = (f"feature set {fs['name']}@{fs['version']} ({fs['id']})" if fs
            else "no feature set: the data's feature columns")
    out.print(f"[bold]{head}[/bold] on version {report['data']}, {plural(report['rows'], 'row')}; "
              f"target {report['target']}")
    corr_label = f"corr ({report['correlation_with']})" if report["correlation_with"] else "corr"
    table = Table("feature", "definition", "type", "missing", "MI", corr_label, "PSI",
                  "stability")
    for r in report["features"]:
        style = {"unstable": "red", "shifting": "yellow"}.get(r["stability"], "")
        table.add_row(
            r["name"], r["definition"], r["type"], f"{r['missing_share']:.1%}",
            _f(r["mutual_info"]), _f(r["correlation"], signed=True), _f(r["psi"]),
            f"[{style}]{r['stability']}[/{style}]" if style else r["stability"],
        )
    out.print(table)
    out.print(f"MI: mutual information with the target (nats, binned); stability: PSI, "
              f"{report['stability_basis']} (≥ 0.1 shifting, ≥ 0.25 unstable)", style="dim")


def _f(value, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


@click.group()
def featureset() -> None:
    """Define named, versioned feature sets (TOML) that models reference.

    \b
    name = "churn-base"
    [[derive]]
    name = "charge_per_month"
    expr = "total_charges / tenure_months"     # safe division: / 0 gives null
    [select]
    drop = ["customer_id"]                     # or keep = [...]; the target always stays
    Functions: log log1p sqrt exp abs round year month day weekday quarter hour
    length lower upper bin(x, e1, e2, ...) coalesce min max if(cond, a, b)
    """


@featureset.command("set")
@click.argument("project")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--data", default=None, help="Check against this version (default: latest).")
@json_option
@click.pass_obj
def set_(ctx: Context, project: str, file: str, data: str | None, as_json: bool) -> None:
    """Check a feature definition file against the data and store it as a new version."""
    from mlcycle.prep import features as engine
    text = read_user_file(file, "feature set")
    fs, created = engine.store(ctx.workspace(), project, text, source=Path(file).name, data=data)
    if as_json:
        emit_json({**fs.to_dict(), "created": created})
    elif created:
        click.echo(f"stored feature set {fs.ref} ({fs.id}): {len(fs.derived)} derived columns")
    else:
        click.echo(f"feature set unchanged: still {fs.ref} ({fs.id})")


@featureset.command("show")
@click.argument("project")
@click.argument("ref", default="latest")
@json_option
@click.pass_obj
def show(ctx: Context, project: str, ref: str, as_json: bool) -> None:
    """Print a stored feature set (REF: latest, NAME, NAME@VERSION or an id)."""
    from mlcycle.prep import features as engine
    from mlcycle.store.errors import NotFound

    fs = engine.resolve(ctx.workspace(), project, ref)
    if fs is None:
        raise NotFound(f"project {project!r} has no feature set yet; store one with "
                       f"'mlcycle featureset set {project} FILE'")
    if as_json:
        emit_json(fs.to_dict())
        return
    click.echo(f"# feature set {fs.ref} ({fs.id}) of {project}")
    click.echo(fs.text, nl=not fs.text.endswith("\n"))


@featureset.command("history")
@click.argument("project")
@json_option
@click.pass_obj
def history(ctx: Context, project: str, as_json: bool) -> None:
    """Every stored feature set version, newest first."""
    from mlcycle.prep import features as engine

    found = engine.history(ctx.workspace(), project)
    if as_json:
        emit_json([fs.to_dict() for fs in found])
        return
    if not found:
        click.echo(f"project {project} has no feature set yet")
        return
    from rich.table import Table

    table = Table("feature set", "id", "saved", "derived", "selection")
    for fs in found:
        selection = (f"keep {len(fs.keep)}" if fs.keep is not None
                     else f"drop {', '.join(fs.drop)}" if fs.drop else "all columns")
        table.add_row(fs.ref, fs.id, f"{fs.created_at:%Y-%m-%d %H:%M}",
                      ", ".join(d.name for d in fs.derived) or "–", selection)
    console().print(table)
