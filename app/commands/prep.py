from __future__ import annotations

from pathlib import Path

import click

from mlcycle.app.output import Context, console, emit_json, json_option, read_user_file
from mlcycle.app.words import plural, tally


def read_recipe(path: str):  # -> mlcycle.prep.recipes.Recipe
    """A recipe file, parsed; errors name the file and line."""
    from mlcycle.prep import recipes

    return recipes.parse(read_user_file(path, "recipe"), Path(path).name)


@click.command()
@click.argument("project")
@click.option("--recipe", "recipe_file", type=click.Path(dir_okay=False),
              help="Apply this recipe file (and store it as the project's newest recipe).")
@click.option("--data", "data", default=None,
              help="Dataset version to prepare (default: the newest collected one).")
@click.option("--strict", is_flag=True, help="Stop and write nothing if an expectation fails.")
@json_option
@click.pass_obj
def prep(ctx: Context, project: str, recipe_file: str | None, data: str | None, strict: bool,
         as_json: bool) -> None:
    """Apply the project's preparation recipe: a new dataset version with lineage."""
    from mlcycle import prep as engine

    ws = ctx.workspace()
    recipe = read_recipe(recipe_file) if recipe_file else None
    try:
        with console().status("preparing", spinner="dots") as status:
            result = engine.run(ws, project, recipe=recipe, recipe_source=recipe_file,
                                data=data, strict=strict, progress=status.update)
    except engine.ExpectationsFailed as exc:
        _report(exc.result, as_json)
        raise
    _report(result, as_json)


def _report(result, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_dict())
        return
    out = console()
    recipe = f"recipe v{result.recipe_version} ({result.recipe_id})" if result.recipe_version \
        else f"recipe {result.recipe_id}"
    if result.version is None:
        out.print(f"[bold]not prepared[/bold]: {result.input.id} with {recipe}")
    elif result.stored:
        out.print(f"[bold]prepared version {result.output_id}[/bold] from {result.input.id} with "
                  f"{recipe}: {result.rows_in:,} → {plural(result.rows_out, 'row')} "
                  f"in {result.seconds:.2f}s")
    else:
        out.print(f"already prepared: version {result.output_id} from {result.input.id} with "
                  f"{recipe} ({plural(result.rows_out, 'row')}); nothing new written")
    for f in result.fitted:
        value = f["value"] if not isinstance(f["value"], float) else f"{f['value']:.6g}"
        out.print(f"  step {f['step']} {f['op']} {f['column']}: {f['statistic']} = {value}",
                  style="dim")
    print_expectations(result.outcomes)


def print_expectations(outcomes) -> None:
    """Every expectation, side by side, with the violations in red."""
    out = console()
    if not outcomes:
        out.print("no expectations declared", style="dim")
        return
    from rich.table import Table

    bad = [o for o in outcomes if not o.ok]
    table = Table("", "side", "expectation", "found", title=None, box=None, padding=(0, 1))
    for o in outcomes:
        mark = "[green]✓[/green]" if o.ok else "[red]✗[/red]"
        style = "" if o.ok else "red"
        table.add_row(mark, o.side, o.expectation.describe(), o.message, style=style)
    out.print(table)
    said = tally(len(bad), len(outcomes), "expectation", "failed", "met")
    out.print(f"[red]{said}[/red]" if bad else f"[green]{said}[/green]")
