"""What a folder watcher did with each file, in one line: for 'mlcycle watch' and the TUI."""

from __future__ import annotations

from typing import Any

from mlcycle.app.words import plural


def outcome_line(outcome: Any) -> tuple[str, bool]:
    """A ``mlcycle.monitor.watch.Outcome`` as a line, and whether it is a note (something
    passed over or refused) rather than a check's verdict."""
    name = outcome.path.name
    if outcome.status == "seen":
        earlier = outcome.check or {}
        return (f"{name}: already checked by v{earlier.get('version')} "
                f"(check {earlier.get('id')}), skipped"), True
    if outcome.status == "rejected":
        where = f" (moved to {outcome.moved_to})" if outcome.moved_to else ""
        return f"{name}: rejected: {outcome.error}{where}", True
    if outcome.status == "gone":
        return f"{name}: gone, not checked: {outcome.error}", True
    if outcome.status == "ignored":
        return f"{name}: ignored: {outcome.error}", True
    if outcome.status == "error":
        return f"{name}: not checked: {outcome.error}", True
    if outcome.status == "folder":
        return outcome.error or str(outcome.path), True
    if outcome.status == "decision":  # the watcher carried out a decision (mode auto)
        decision = outcome.decision or {}
        return (f"{name}: {outcome.error}" if outcome.error else
                f"{name}: decision {decision.get('id')} carried out (mode auto): "
                f"{(decision.get('figures') or {}).get('outcome')}"), True
    check = outcome.check or {}
    verdict = "; ".join(check["alerts"]) if check["alerts"] else "no alerts"
    figure = check["performance"] or check["estimated_performance"]
    if figure and figure["value"] is not None:
        estimate = "" if check["performance"] else "estimated "
        verdict += f" ({estimate}{figure['metric']} {figure['value']:.4f})"
    if check.get("retrain_recommended"):  # drift that costs nothing says so in its message
        verdict += "; retraining recommended"
    raised = check.get("decision")
    if raised:
        verdict += (f"; decision {raised['id']} {'raised' if raised['created'] else 'joined'}"
                    " (pending: approve or reject it)")
    return f"{name}: {plural(check['rows'], 'row')}, v{check['version']}: {verdict}", False
