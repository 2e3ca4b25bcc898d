from __future__ import annotations

from pathlib import Path

import click

from mlcycle.app.output import Context, console, emit_json, json_option
from mlcycle.app.words import plural


@click.command()
@click.argument("project")
@click.option("--with", "batches", multiple=True, required=True,
              type=click.Path(dir_okay=False), metavar="FILE",
              help="A batch of new rows (repeat for several).")
@click.option("--labels", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Labels for the batches, in the same order (identifier and target, the "
                   "target alone with one label per row, or full rows with their target, as "
                   "'monitor --labels'); not needed when a batch holds its target.")
@click.option("--trials", default=10, show_default=True, type=click.IntRange(1),
              help="Parameter settings to try for the champion's model.")
@click.option("--promote", is_flag=True,
              help="Make the new version champion if it beats the champion; otherwise a "
                   "better version becomes challenger and shadows it.")
@click.option("--drop-old-rows", is_flag=True,
              help="Train on the new batches' rows alone, not on the champion's rows too "
                   "(the world changed and the old rows no longer describe it).")
@json_option
@click.pass_obj
def retrain(ctx: Context, project: str, batches: tuple[str, ...], labels: tuple[str, ...],
            trials: int, promote: bool, drop_old_rows: bool, as_json: bool) -> None:
    """Retrain the champion on its data plus new labelled batches, and compare the two on
    the same holdout rows."""
    from mlcycle.monitor import retraining
    from mlcycle.store.errors import InvalidInput

    if labels and len(labels) != len(batches):
        raise InvalidInput(f"{plural(len(batches), 'batch')} but "
                           f"{plural(len(labels), 'label file')}; give one --labels per "
                           "--with, in the same order, or none")
    pairs = [(Path(b), Path(labels[i]) if labels else None) for i, b in enumerate(batches)]
    out = console()
    with out.status("retraining", spinner="dots") as status:
        result = retraining.retrain(ctx.workspace(), project, pairs, trials=trials,
                                    promote=promote, progress=status.update,
                                    old_rows="drop" if drop_old_rows else "keep")
    if as_json:
        emit_json(result)
        return
    metric = result["metric"]
    champion, candidate = result["champion"], result["candidate"]
    added = plural(result["rows_added"], "labelled row", sign=True)
    click.echo(f"new data {result['dataset']}: {added}"
               + (f" ({result['unlabelled_rows_skipped']:,} without a label skipped)"
                  if result["unlabelled_rows_skipped"] else ""))
    for line in result["labels_joined"]:
        click.echo(line)
    for part, what in (("recent", "the new rows of the holdout"), ("holdout", "the holdout")):
        if part in candidate:
            click.echo(f"{metric} on {what}: v{candidate['version']} "
                       f"{candidate[part][metric]:.4f}, champion v{champion['version']} "
                       f"{champion[part][metric]:.4f}"
                       + (" (decides)" if part == result["judged_on"] else ""))
    if result["alias"] == "champion":
        click.echo(f"v{candidate['version']} is now the champion")
    elif result["alias"]:
        click.echo(f"v{candidate['version']} is better and now the challenger: it shadows the "
                   f"champion; promote with 'mlcycle compare {project} LABELS --promote' or "
                   f"'mlcycle promote {project} {candidate['version']}'")
    else:
        click.echo(f"v{candidate['version']} is registered but not better; the champion stays")
