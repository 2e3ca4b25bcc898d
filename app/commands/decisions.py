from __future__ import annotations

from typing import Any

import click

from mlcycle.app.output import Context, console, emit_json, json_option
from mlcycle.app.words import plural


@click.command()
@click.argument("project")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected", "done",
                                            "superseded"]),
              help="Only the decisions of this status.")
@json_option
@click.pass_obj
def decisions(ctx: Context, project: str, status: str | None, as_json: bool) -> None:
    """The project's decisions, newest first: what fired, the evidence, the labelled rows
    and the proposed window, and what became of each (decide with 'mlcycle decide')."""
    from mlcycle.monitor import decisions as core

    found = core.list_decisions(ctx.workspace(), project, status)
    if as_json:
        emit_json(found)
        return
    if not found:
        click.echo(f"project {project} has no {status + ' ' if status else ''}decisions")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table("id", "kind", "trigger", "status", "created", "labelled rows", "summary")
    for d in found:
        table.add_row(d["id"], d["kind"], d["trigger"], d["status"], d["created"][:19],
                      "–" if d["labelled_rows"] is None else f"{d['labelled_rows']:,}",
                      Text(summary(d)))
    console().print(table)


def summary(decision: dict[str, Any]) -> str:
    """One line on a decision: its outcome, else what it asks."""
    figures = decision.get("figures") or {}
    if figures.get("outcome"):
        return figures["outcome"]
    if decision["status"] in ("rejected", "superseded"):
        return f"{decision['status']}: {decision['reason']}"
    if decision["kind"] == "promote":
        gate = decision["evidence"]["gate"]
        return f"promote v{decision['proposal']['promote']}? {gate['why']}"
    fired = decision["evidence"]["fired"]
    alerts = [a for f in fired for a in f.get("alerts", [])]
    what = "; ".join(alerts[:2]) if alerts else ", ".join(f["trigger"] for f in fired)
    batches = decision["proposal"]["batches"]
    return f"retrain? {what} (adds {plural(len(batches), 'labelled batch')})"


@click.command()
@click.argument("project")
@click.argument("decision_id", metavar="ID", required=False)
@click.option("--approve", "verdict", flag_value="approve",
              help="Carry it out: retrain (then the gate), or promote.")
@click.option("--reject", "verdict", flag_value="reject", help="Turn it down.")
@click.option("--request", "verdict", flag_value="request",
              help="Ask for a retraining by hand (no ID): a new pending decision.")
@click.option("--reason", default=None, help="Why (kept in the audit trail).")
@json_option
@click.pass_obj
def decide(ctx: Context, project: str, decision_id: str | None, verdict: str | None,
           reason: str | None, as_json: bool) -> None:
    """Decide a pending decision ID: --approve or --reject, with --reason. Approving a
    retraining runs it with the proposed window and judges the candidate with the policy's
    gate: a candidate that passes raises a second decision, to promote it; one that fails
    stays challenger and shadows the champion. --request (without ID) raises a decision
    to retrain by hand."""
    from mlcycle.monitor import decisions as core
    from mlcycle.store.errors import InvalidInput

    if verdict is None:
        raise InvalidInput("say --approve, --reject or --request")
    if (verdict == "request") == (decision_id is not None):
        raise InvalidInput("--request takes no ID" if decision_id
                           else f"give the decision's ID (see 'mlcycle decisions {project}')")
    ws = ctx.workspace()
    if verdict == "request":
        result = core.request(ws, project, reason or "")
    elif verdict == "reject":
        result = core.decide(ws, project, decision_id or "", approve=False, reason=reason or "")
    else:
        with console().status("deciding", spinner="dots") as status:
            result = core.decide(ws, project, decision_id or "", approve=True,
                                 reason=reason or "", progress=status.update)
    if as_json:
        emit_json(result)
        return
    click.echo(f"decision {result['id']} ({result['kind']}): {result['status']}: "
               f"{summary(result)}")
    follow_up = (result.get("figures") or {}).get("promotion")
    if follow_up:
        click.echo(f"promote it with 'mlcycle decide {project} {follow_up} --approve "
                   "--reason TEXT'")
