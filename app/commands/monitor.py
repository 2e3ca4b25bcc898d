from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from mlcycle.app.output import Context, console, emit_json, json_default, json_option, note
from mlcycle.app.words import plural

if TYPE_CHECKING:
    from rich.text import Text


@click.command()
@click.argument("project")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--labels", type=click.Path(dir_okay=False),
              help="Labels for the batch: identifier and target, the target alone (one per "
                   "row, in order) or the batch's rows with their target. Also checks "
                   "performance.")
@click.option("--model", "ref", default="champion", show_default=True,
              help="Version number or alias that scores the batch.")
@click.option("--report", type=click.Path(dir_okay=False), metavar="FILE.md|FILE.html",
              help="Also write the check as a report (alerts, performance, drift).")
@click.option("--fail-on-alert", is_flag=True, help="Exit with code 1 when a check alerts.")
@click.option("--again", is_flag=True,
              help="Check FILE even if the model version checked the same content before.")
@json_option
@click.pass_context
def monitor(ctx: click.Context, project: str, file: str | None, labels: str | None, ref: str,
            report: str | None, fail_on_alert: bool, again: bool, as_json: bool) -> None:
    """Check a new batch FILE: score it, test data and prediction drift against the model's
    training data and, with --labels, its performance. Without FILE, list the checks.

    A content (FILE's bytes, with its labels' bytes) is checked once per model version, by
    'monitor' and 'watch' alike: a repeat names the earlier check and writes nothing (with
    --json, prints that check with "repeat_of"); --again checks it anew.

    Exit code 0 whatever is found (1 with --fail-on-alert when the check, or the earlier
    check a repeat names, alerts), 2 for bad input.
    """
    from mlcycle.monitor import monitoring
    from mlcycle.monitor.batch import check_batch
    from mlcycle.store import safety
    from mlcycle.store.errors import InvalidInput

    obj: Context = ctx.obj
    if report and not report.lower().endswith((".md", ".markdown", ".html", ".htm")):
        raise InvalidInput(f"{report}: the report must end in .md or .html")
    if file is None:
        if labels or report:
            raise InvalidInput("--labels and --report need a FILE to check")
        checks = monitoring.history(obj.workspace(), project)
        if as_json:
            emit_json(checks)
        else:
            _print_history(project, checks)
        return
    ws = obj.workspace()
    # Checked before the batch is scored: a report never replaces an input.
    target = safety.output_path(report, "--report", workspace=ws.root,
                                inputs=[file, labels]) if report else None
    result = check_batch(ws, project, file, labels=labels, ref=ref, note=note, again=again,
                         say=note, progress=note)
    if target:
        monitoring.write_report(result, target)
    if result.get("repeat_of"):
        note(f"{file}: already checked by v{result['version']} (check {result['repeat_of']}); "
             "not checked again (--again checks it anew)")
    if as_json:
        emit_json(result)
    elif not result.get("repeat_of"):
        print_check(result)
    if report:
        note(f"report written to {report}")
    if fail_on_alert and result["alerts"]:
        ctx.exit(1)


def print_check(result: dict[str, Any]) -> None:
    """A check as a person reads it: the verdict first, then what it rests on."""
    from rich.text import Text

    from mlcycle.app.commands.decisions import summary as decision_summary
    from mlcycle.app.commands.drift import print_result
    from mlcycle.monitor import monitoring

    out = console()
    out.print(Text(f"{result['source']}: {plural(result['rows'], 'row')} scored by "
                   f"v{result['version']} "
              f"(scoring run {result['scoring_run']}, check {result['id']})"))
    if result["alerts"]:
        for alert in result.get("alert_details") or []:
            out.print(Text(f"ALERT {alert['message']}", style="bold red"))
            out.print(Text(f"  kind: {alert['kind']}"))
            for step in alert["playbook"]:
                out.print(Text(f"  - {step}"))
        out.print(Text(result["advice"], style="yellow"))
    else:
        out.print(Text("no alerts: inputs, scores and performance look like training",
                       style="bold green"))
    raised = result.get("decision")  # an alert's, or another trigger's (labelled rows, …)
    if raised and raised["status"] != "pending":
        out.print(Text(f"decision {raised['id']} ({raised['kind']}, carried out under mode "
                       f"auto): {raised['status']}: {decision_summary(raised)}",
                       style="yellow"))
    elif raised:
        out.print(Text(f"decision {raised['id']} ({raised['kind']}) is pending: mlcycle decide "
                       f"{result['project']} {raised['id']} --approve|--reject --reason TEXT",
                       style="yellow"))
    elif result["retrain_recommended"]:
        out.print(Text("retrain with: mlcycle retrain "
                       f"{result['project']} --with FILE --labels FILE", style="yellow"))
    from mlcycle.drift.check import effect_label

    score = result["prediction_drift"]["columns"][0]
    out.print(f"prediction drift: {'yes' if score['drifted'] else 'no'} "
              f"({effect_label(score['statistic_name'])} {score['statistic'] or 0:.3f})")
    performance = result["performance"]
    if performance:
        out.print(f"{performance['metric']} on "
                  f"{plural(performance['labelled_rows'], 'labelled row')}: "
                  f"{_fmt(performance['value'])} (holdout {_fmt(performance['reference'])})")
        if performance.get("join_note"):  # a check stored before joins were counted has none
            out.print(performance["join_note"])
    estimated = result["estimated_performance"]
    if estimated:
        # A check stored before estimates had intervals has none.
        interval = (f" [{_fmt(estimated['low'])}, {_fmt(estimated['high'])}] (95 % interval, "
                    if estimated.get("low") is not None else " (")
        out.print(f"{estimated['metric']} estimated without labels: "
                  f"~{_fmt(estimated['value'])}{interval}holdout estimate "
                  f"{_fmt(estimated['reference'])})")
    print_result(monitoring.drift_result(result), _inputs_line(result.get("inputs")))


def _inputs_line(inputs: dict[str, Any] | None) -> Text | None:
    """The check's inputs as the engine counted them (None for a check made before)."""
    from rich.text import Text

    from mlcycle.app.output import inputs_summary

    if inputs is None:
        return None
    return Text(inputs_summary(inputs, names=len(inputs["drifted"]) + len(inputs["broken"])),
                style="bold red" if inputs["drifted"] or inputs["broken"] else "bold green")


def _print_history(project: str, checks: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    from mlcycle.monitor import monitoring

    if not checks:
        note(f"project {project!r} has no checks yet; run 'mlcycle monitor {project} FILE'")
        return
    table = Table("check", "when", "version", "file", "rows", "data drift", "prediction drift",
                  "metric (~ estimated)", "alerts")
    for c in checks:
        value, estimated = monitoring.metric_of(c)
        metric = "–" if value is None else f"{'~' if estimated else ''}{value:.4f}"
        table.add_row(c["id"], c["ts"], f"v{c['version']}", Text(c["source"].rsplit("/", 1)[-1]),
                      f"{c['rows']:,}", f"{c['share_drifted']:.0%}" if c["data_drift"] else "no",
                      "yes" if c["prediction_drift"] else "no", metric,
                      Text(str(len(c["alerts"])), style="red" if c["alerts"] else "green"))
    console().print(table)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


@click.command()
@click.argument("project")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--labels", type=click.Path(file_okay=False),
              help="Folder of label files named like the batches they label.")
@click.option("--once", is_flag=True, help="Check the files already there, then stop.")
@click.option("--settle", default=0.5, show_default=True, type=click.FloatRange(0),
              help="Seconds a new file must stay unchanged before its check is stored.")
@click.option("--recursive", is_flag=True, help="Also watch the files in subfolders.")
@click.option("--again", is_flag=True,
              help="Check again the contents checked before this watch started.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file, one per line.")
@click.pass_obj
def watch(ctx: Context, project: str, folder: str, labels: str | None, once: bool,
          settle: float, recursive: bool, again: bool, as_json: bool) -> None:
    """Watch FOLDER: check every data file that lands in it (see 'mlcycle monitor').

    A content the champion has checked before (here or by 'mlcycle monitor', under any
    name) is skipped, unless --again; a new champion checks it anew. A file that cannot be
    checked is moved
    to FOLDER/rejected/ with its error beside it, and watching goes on. Files of other types,
    and subfolders without --recursive, are reported once and left alone. Stop with Ctrl-C.
    With --json, one JSON object per file, one per line.
    """
    import gc
    import threading

    from mlcycle.app.watch_lines import outcome_line
    from mlcycle.monitor.watch import Outcome, Watcher
    from mlcycle.store import allocator

    allocator.limit_arenas()  # before the workspace's threads start (see allocator)

    def report(outcome: Outcome) -> None:
        if as_json:
            click.echo(json.dumps(outcome.to_dict(), default=json_default), nl=True)
            return
        line, is_note = outcome_line(outcome)
        if is_note:
            note(line)
        else:
            click.echo(line)

    watcher = Watcher(ctx.workspace(), project, folder, labels=labels, report=report,
                      settle=settle, recursive=recursive, again=again)
    if once:
        watcher.scan()
        return
    stop = threading.Event()
    try:
        watcher.run(stop, started=lambda: note(
            f"watching {watcher.folder} for {watcher.project} (Ctrl-C to stop)"))
    except KeyboardInterrupt:
        stop.set()
        note("stopped")
        # The process ends now: spare it the last full collection of every object left
        # (seconds, with models and batches in memory), so Ctrl-C ends it at once.
        gc.freeze()
