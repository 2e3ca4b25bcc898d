from __future__ import annotations

import click

from mlcycle.app.commands.prep import print_expectations, read_recipe
from mlcycle.app.output import Context, console, emit_json, json_option
from mlcycle.app.words import plural


@click.group()
def recipe() -> None:
    """Write, check and version a project's preparation recipe (TOML).

    \b
    Steps ([[step]] tables, applied in order):
      drop         columns = ["a", "b"]
      rename       columns = { old = "new" }
      cast         columns = { a = "integer" }   integer float string boolean date datetime
                   category; on_error = "fail" (default) or "null"
      filter       where = "a > 0 and b in ('x', 'y')"
      deduplicate  columns = [...] (default: all), keep = "first" | "last"
      impute       columns = [...], strategy = "mean" | "median" | "mode" | "constant",
                   value = ... (for constant)
      clip         columns = [...], quantiles = [0.01, 0.99]  or  lower = 0, upper = 100
      parse_dates  columns = [...], format = "%d/%m/%Y" (optional), to = "date" | "datetime"
    Expectations ([expect] for input and output, [expect.input], [expect.output]):
      min_rows, columns, types, ranges, categories, max_missing
    """


def _data_schema_check(ws, project: str, parsed, data: str | None):
    from mlcycle import prep
    from mlcycle.data import datasets

    if data is None and not datasets.list_versions(ws, project):
        return None
    return prep.check(ws, project, parsed, data)


@recipe.command("set")
@click.argument("project")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--data", default=None, help="Check against this version (default: newest).")
@json_option
@click.pass_obj
def set_(ctx: Context, project: str, file: str, data: str | None, as_json: bool) -> None:
    """Check a recipe file against the project's data, then store it as a new version."""
    from mlcycle import projects
    from mlcycle.prep import recipes

    ws = ctx.workspace()
    projects.get(ws, project)
    parsed = read_recipe(file)
    checked = _data_schema_check(ws, project, parsed, data)
    stored, created = recipes.store(ws, project, parsed, source=file)
    if as_json:
        emit_json({**stored.to_dict(), "created": created,
                   "check": checked.to_dict() if checked else None})
        return
    if created:
        click.echo(f"stored recipe v{stored.version} ({stored.id}) with "
                   f"{plural(len(parsed.steps), 'step')}")
    else:
        click.echo(f"recipe unchanged: still v{stored.version} ({stored.id})")
    if checked:
        click.echo(f"checked against version {checked.input.id}: every step applies")
        print_expectations(checked.outcomes)


@recipe.command("show")
@click.argument("project")
@click.argument("version", default="latest")
@json_option
@click.pass_obj
def show(ctx: Context, project: str, version: str, as_json: bool) -> None:
    """Print a stored recipe (VERSION: latest, a number or an id)."""
    from mlcycle.prep import recipes

    stored = recipes.get(ctx.workspace(), project, version)
    # Read back before showing: a stored text edited into something hostile is refused.
    recipe = stored.recipe
    if as_json:
        emit_json({**stored.to_dict(), "recipe": recipe.to_dict()})
        return
    click.echo(f"# recipe v{stored.version} ({stored.id}) of {project}, "
               f"{stored.created_at:%Y-%m-%d %H:%M}" + (f", from {stored.source}"
                                                        if stored.source else ""))
    click.echo(stored.text, nl=not stored.text.endswith("\n"))


@recipe.command("history")
@click.argument("project")
@json_option
@click.pass_obj
def history(ctx: Context, project: str, as_json: bool) -> None:
    """Every version of the recipe, newest first, with the versions each one prepared."""
    from mlcycle import prep
    from mlcycle.prep import recipes

    ws = ctx.workspace()
    versions = recipes.history(ws, project)
    made: dict[str, list[dict]] = {}
    for r in prep.runs(ws, project):
        made.setdefault(r["recipe_id"], []).append(r)
    if as_json:
        emit_json([{**v.to_dict(), "steps": len(v.recipe.steps),
                    "prepared": [{"output": r["output"], "input": r["input"]}
                                 for r in made.get(v.id, [])]} for v in versions])
        return
    if not versions:
        click.echo(f"project {project} has no recipe yet; store one with "
                   f"'mlcycle recipe set {project} FILE'")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table("version", "id", "saved", "steps", "source", "prepared (input → output)")
    for v in versions:
        outputs = ", ".join(f"{r['input']} → {r['output']}" for r in made.get(v.id, []))
        table.add_row(f"v{v.version}", v.id, f"{v.created_at:%Y-%m-%d %H:%M}",
                      str(len(v.recipe.steps)), Text(v.source or ""), outputs or "–")
    console().print(table)


@recipe.command("check")
@click.argument("project")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--data", default=None, help="Version to check against (default: newest raw).")
@json_option
@click.pass_obj
def check(ctx: Context, project: str, file: str | None, data: str | None,
          as_json: bool) -> None:
    """Check a recipe (FILE, or the stored one) against the data without running it."""
    from mlcycle import prep
    from mlcycle.prep import recipes

    ws = ctx.workspace()
    parsed = read_recipe(file) if file else recipes.get(ws, project).recipe
    result = prep.check(ws, project, parsed, data)
    if as_json:
        emit_json({"recipe": parsed.to_dict(), **result.to_dict()})
        return
    click.echo(f"recipe {parsed.id}: every step ({plural(len(parsed.steps), 'step')}) applies "
               f"to version {result.input.id}; output columns: {', '.join(result.columns)}")
    print_expectations(result.outcomes)


@recipe.command("lineage")
@click.argument("project")
@click.argument("version", default="latest")
@json_option
@click.pass_obj
def lineage(ctx: Context, project: str, version: str, as_json: bool) -> None:
    """Where a dataset version came from: input versions and recipes, back to the source."""
    from mlcycle import prep

    chain = prep.lineage(ctx.workspace(), project, version)
    if as_json:
        emit_json(chain)
        return
    for i, link in enumerate(chain):
        indent = "  " * i + ("└ " if i else "")
        if link["operation"] == "collected":
            click.echo(f"{indent}{link['version']}  collected from {link['source']} "
                       f"({plural(link['rows'], 'row')})")
        else:
            v = link.get("recipe_version")
            click.echo(f"{indent}{link['version']}  prepared from {link['input']} by recipe "
                       f"{'v' + str(v) + ' ' if v else ''}({link['recipe_id']}), "
                       f"{plural(link['rows'], 'row')}")


@recipe.command("edit")
@click.argument("project")
@click.pass_obj
def edit(ctx: Context, project: str) -> None:
    """Edit the recipe in $EDITOR; it is checked before it is saved, and reopened if not."""
    from mlcycle import projects
    from mlcycle.data import datasets
    from mlcycle.prep import recipes
    from mlcycle.store.errors import MlcycleError

    ws = ctx.workspace()
    projects.get(ws, project)
    current = recipes.latest(ws, project)
    text = current.text if current else recipes.template(project)
    while True:
        edited = click.edit(text, extension=".toml", require_save=False)
        if edited is None or edited == (current.text if current else None):
            click.echo("recipe unchanged")
            return
        try:
            parsed = recipes.parse(edited, "edited recipe")
            if datasets.list_versions(ws, project):
                from mlcycle import prep

                prep.check(ws, project, parsed)
        except MlcycleError as exc:
            click.echo(f"error: {exc}", err=True)
            if not click.confirm("edit again?", default=True, err=True):
                click.echo("not saved")
                return
            text = edited
            continue
        stored, _ = recipes.store(ws, project, parsed, source="edit")
        click.echo(f"stored recipe v{stored.version} ({stored.id})")
        return
