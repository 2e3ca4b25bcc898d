from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mlcycle.app.output import emit_json, json_option, note
from mlcycle.app.words import plural

if TYPE_CHECKING:
    from rich.text import Text

    from mlcycle.drift.check import ColumnDrift, DriftResult


def _split_columns(value: tuple[str, ...]) -> list[str] | None:
    names: list[str] = []
    for item in value:
        names += [part.strip() for part in item.split(",") if part.strip()]
    return names or None


@click.command()
@click.argument("reference", type=click.Path(dir_okay=True))
@click.argument("current", type=click.Path(dir_okay=True))
@json_option
@click.option("--columns", "columns", multiple=True, metavar="A,B,...",
              help="Test only these columns, which both files must have (comma-separated; "
                   "may be repeated).")
@click.option("--fail-on-drift", is_flag=True,
              help="Exit with code 1 when drift is detected.")
@click.option("--report", "report", type=click.Path(dir_okay=False), default=None,
              metavar="FILE.md|FILE.html", help="Also write a Markdown or HTML report.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.05, show_default=True,
              help="Dataset-level false-alarm rate.")
@click.pass_context
def drift(ctx: click.Context, reference: str, current: str, as_json: bool,
          columns: tuple[str, ...], fail_on_drift: bool, report: str | None,
          alpha: float) -> None:
    """Compare CURRENT with REFERENCE (CSV or Parquet files) for drift.

    The columns both files have are compared; those only one has (such as the target of
    training data against a scoring batch) are listed as not compared. Each column gets
    tests chosen for its type; a column drifts when the change is both statistically clear
    (after correcting for the number of columns) and large enough to matter. Exit code 0
    whatever is found (1 with --fail-on-drift when there is drift), 2 for bad input.
    """
    from mlcycle import drift as engine
    from mlcycle.store import safety
    from mlcycle.store.errors import InvalidInput
    from mlcycle.store.workspace import resolve_path

    if report and not report.lower().endswith((".md", ".markdown", ".html", ".htm")):
        raise InvalidInput(f"{report}: the report must end in .md or .html")
    target = safety.output_path(report, "--report", inputs=[reference, current],
                                workspace=resolve_path(ctx.obj.workspace_path)) if report else None
    result = engine.compare(reference, current, columns=_split_columns(columns), alpha=alpha)
    if target:
        from mlcycle.drift.report import write_report

        write_report(result, target)
    if as_json:
        emit_json(result.to_dict())
    else:
        print_result(result)
    if report:
        note(f"report written to {report}")
    if fail_on_drift and result.drift_detected:
        ctx.exit(1)


def _order(col: ColumnDrift) -> tuple[int, float]:
    if col.drifted:
        return 0, col.p_value or 0.0
    if col.tested:
        return 1, col.p_value if col.p_value is not None else 1.0
    return 2, 0.0


def print_result(result: DriftResult, verdict: Text | None = None) -> None:
    """The drift report: ``verdict`` (the table's own, unless a check counted its inputs),
    the test's settings, then a row per column."""
    from rich.table import Table
    from rich.text import Text

    from mlcycle.app.output import console
    from mlcycle.drift.report import dataset_verdict, multivariate_line

    out = console()
    out.print(verdict or Text(dataset_verdict(result).rstrip("."),
                              style="bold red" if result.drift_detected else "bold green"))
    out.print(f"reference {plural(result.n_reference, 'row')}, "
              f"current {plural(result.n_current, 'row')}; "
              f"false-alarm rate {result.alpha:g} for the whole table "
              f"(per column p < {result.threshold:.2g})")
    joint = multivariate_line(result)
    if joint:
        drifted = result.multivariate is not None and result.multivariate.drifted
        out.print(Text(joint, style="bold red" if drifted else ""))
    for side, names in (("reference", result.only_in_reference),
                        ("current", result.only_in_current)):
        if names:
            out.print(Text(f"not compared, only in the {side}: {', '.join(names)}",
                           style="yellow"))
    table = Table("column", "type", "drift", "p-value", "effect", "missing ref → cur", "detail")
    for col in sorted(result.columns, key=_order):
        if col.drifted:
            verdict = Text("DRIFT", style="bold red")
        elif col.tested:
            verdict = Text("ok", style="green")
        else:
            verdict = Text("–", style="dim")
        p = "" if col.p_value is None else f"{col.p_value:.2g}"
        effect = "" if not col.tested else f"{col.statistic_name} {col.statistic:.3f}"
        missing = f"{col.missing_reference:.1%} → {col.missing_current:.1%}"
        detail = col.note if col.note and col.drifted else col.method
        if col.note and not col.drifted:
            detail = f"{col.method}; {col.note}"
        table.add_row(Text(col.name), col.type, verdict, p, effect, missing,
                      Text(detail, style="dim" if not col.tested else ""))
    out.print(table)
