from __future__ import annotations

import click

from mlcycle.app.output import Context, console, emit_json, json_option


@click.command()
@click.argument("project")
@json_option
@click.pass_obj
def status(ctx: Context, project: str, as_json: bool) -> None:
    """Where the project's loop stands: the champion and its age (flagged when it cannot be
    scored), the last batches with
    drift and performance (~ estimated), open alerts, pending decisions, the watchers
    (alive, stalled: running but its loop stuck, or stale: not running) and the files set
    aside as malformed."""
    from rich.table import Table
    from rich.text import Text

    from mlcycle.app.commands.decisions import summary
    from mlcycle.monitor.status import status as core

    found = core(ctx.workspace(), project)
    if as_json:
        emit_json(found)
        return
    out = console()
    champion = found["champion"]
    out.print(Text(f"champion: v{champion['version']} ({champion['model']}), "
                   f"{champion['age_days']:.1f} days old" if champion else "champion: none"))
    if champion and champion["cannot_score"]:
        out.print(Text(f"warning: {champion['cannot_score']}", style="bold red"))
    policy = found["policy"]
    which = "the defaults" if policy["default"] else f"v{policy['version']}"
    out.print(Text(f"policy: {which}, mode {policy['mode']}"))
    if found["batches"]:
        table = Table("when", "file", "version", "rows", "data drift", "prediction drift",
                      "metric (~ estimated)", "alerts")
        for b in found["batches"]:
            metric = ("–" if b["value"] is None
                      else f"{'~' if b['estimated'] else ''}{b['value']:.4f}")
            table.add_row(b["ts"][:19], Text(b["source"].rsplit("/", 1)[-1]), f"v{b['version']}",
                          f"{b['rows']:,}", f"{b['share_drifted']:.0%}" if b["data_drift"]
                          else "no", "yes" if b["prediction_drift"] else "no", metric,
                          str(len(b["alerts"])))
        out.print(table)
    else:
        out.print("no batches checked yet")
    for alert in found["open_alerts"]:
        out.print(Text(f"open alert ({alert['source'].rsplit('/', 1)[-1]}): {alert['alert']}",
                       style="red"))
    for d in found["pending_decisions"]:
        out.print(Text(f"pending decision {d['id']}: {summary(d)}", style="yellow"))
    for w in found["watchers"]:
        stuck = (f", its loop stuck for {w['seconds_since_loop']:.0f} s"
                 if w["state"] == "stalled" else "")
        out.print(Text(f"watcher {w['state']}: {w['folder']} (pid {w['pid']}, last heartbeat "
                       f"{w['seconds_since_heartbeat']:.0f} s ago{stuck})",
                       style="green" if w["state"] == "alive" else "red"))
    if not found["watchers"]:
        out.print("no watcher running")
    for q in found["quarantined"]:
        out.print(Text(f"quarantined: {q['path']}: {q['error']}"))
