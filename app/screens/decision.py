"""A pending decision, asked: what fired, the evidence, the labelled rows and the proposed
window (a retraining), or the gate's figures (a promotion).

``y`` carries it out as ``mlcycle decide --approve`` does (``decisions.decide``): a
retraining runs as a job, with progress here and in the jobs panel; its outcome is the
gate's verdict and the alias that moved, and a candidate that passed the gate brings the
second question, whether to promote it, into this same modal. ``n`` asks why and records
the rejection. ``escape`` puts it off: it stays pending, listed in the monitoring view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from mlcycle.app.jobs import FAILED, RUNNING, Job, Lead
from mlcycle.app.output import inputs_summary
from mlcycle.app.words import plural
from mlcycle.store.errors import MlcycleError

if TYPE_CHECKING:
    from mlcycle.app.decisions_prompt import DecisionPrompt

APPROVED_HERE = "approved in the terminal UI"


def _name(path: str | None) -> str:
    return (path or "").rsplit("/", 1)[-1]


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _firing(text: Text, firing: dict[str, Any]) -> None:
    """One trigger that fired and its figures."""
    figures = firing.get("figures") or {}
    trigger = firing["trigger"]
    where = f" ({_name(firing['source'])})" if firing.get("source") else ""
    text.append(f"\n• {trigger.replace('_', ' ')}{where}", style="bold")
    if trigger == "on_alert":
        text.append(f": {', '.join(k.replace('_', ' ') for k in firing.get('kinds', []))}")
        if firing.get("advice"):  # why retraining is recommended (raised before: none kept)
            text.append(f"\n    {firing['advice']}", style="yellow")
        for alert in firing.get("alerts", [])[:3]:
            text.append(f"\n    {alert}", style="red")
        if figures.get("inputs"):  # as the check counted them
            parts = [inputs_summary(figures["inputs"])]
        else:  # a decision raised before checks counted their inputs
            parts = [f"{_percent(figures.get('share_drifted'))} of columns drifted"]
            if figures.get("drifted"):
                parts.append("drifted: " + ", ".join(figures["drifted"][:5]))
        if figures.get("prediction_drift") is not None:
            parts.append("scores " + ("moved" if figures["prediction_drift"] else "steady"))
        if figures.get("value") is not None:
            loss = figures.get("relative_loss")
            parts.append(f"{figures.get('metric')} {figures['value']:.4f}"
                         + (f" vs {figures['reference']:.4f}" if figures.get("reference")
                            is not None else "")
                         + _loss_words(loss))
        text.append("\n    " + "; ".join(parts), style="dim")
    elif trigger == "manual":
        text.append(f": {firing.get('reason', '')}")
    else:
        shown = {k: v for k, v in figures.items() if k != "threshold"}
        text.append(": " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in shown.items())
                    + f" (threshold {figures.get('threshold')})")


def _loss_words(loss: float | None) -> str:
    """A relative loss in words: a negative loss is a gain, and says so."""
    if loss is None:
        return ""
    return f" ({abs(loss):.1%} {'worse' if loss > 0 else 'better'})" if loss else " (no change)"


def _gate(text: Text, gate: dict[str, Any]) -> None:
    verdict = ("passed", "bold green") if gate["passed"] else ("failed", "bold red")
    text.append("\nThe gate ", style="bold")
    text.append(verdict[0], style=verdict[1])
    text.append(f": {gate['why']}")
    text.append(f"\n    {gate['metric']} candidate {gate['candidate']:.4f}, champion "
                f"{gate['champion']:.4f}, difference {gate['difference']:+.4f}, "
                f"{gate['confidence']:.0%} interval [{gate['low']:.4f}, {gate['high']:.4f}]"
                f", margin {gate['margin']:g}, {plural(gate['rows'], 'row')}, {gate['rounds']:,} "
                "paired resamples", style="dim")


def describe(decision: dict[str, Any]) -> Text:
    """The decision as the modal shows it."""
    project, kind = decision["project"], decision["kind"]
    text = Text()
    if kind == "promote":
        proposal = decision["proposal"]
        text.append(f"Promote v{proposal['promote']} of {project} to champion?", style="bold")
        text.append(f"  (replaces v{proposal['replaces']})")
        _gate(text, decision["evidence"]["gate"])
        text.append(f"\n    judged on the {decision['evidence'].get('judged_on', '')} rows",
                    style="dim")
        return text
    text.append(f"Retrain {project}?", style="bold")
    text.append(f"  decision {decision['id']}, raised {decision['created'][:16]}"
                .replace("T", " "), style="dim")
    text.append("\nWhat fired:", style="bold")
    for firing in decision["evidence"]["fired"]:
        _firing(text, firing)
    proposal = decision["proposal"]
    batches = proposal["batches"]
    text.append(f"\nLabelled rows available: {proposal['labelled_rows']:,}", style="bold")
    text.append(f"\nProposed window: {proposal['describe']}", style="bold")
    if not batches:
        text.append("\n    no batch was checked with its labels yet", style="yellow")
    for b in batches[-6:]:
        labels = f" + labels {_name(b['labels'])}" if b.get("labels") else ""
        text.append(f"\n    {_name(b['batch'])}{labels}  {plural(b['labelled_rows'], 'row')}",
                    style="dim")
    if len(batches) > 6:
        text.append(f"\n    … and {len(batches) - 6} earlier batch(es)", style="dim")
    return text


def outcome_line(decision: dict[str, Any], aliases: list[str]) -> str:
    """What a carried-out decision did: the gate's verdict and the alias that moved."""
    figures = decision.get("figures") or {}
    candidate = figures.get("candidate")
    moved = (f"v{candidate} is now the {' and '.join(aliases)}" if aliases
             else f"v{candidate} holds no alias")
    gate = figures.get("gate") or {}
    verdict = f"gate {'passed' if gate.get('passed') else 'failed'}: {gate.get('why', '')}"
    return f"decision {decision['id']} done: {moved}; {verdict}"


class DecisionScreen(ModalScreen[None]):
    """Asks one decision; see the module docstring."""

    BINDINGS = [
        Binding("y", "approve", "Approve"),
        Binding("n", "reject", "Reject"),
        Binding("escape", "later", "Later"),
    ]

    def __init__(self, decision: dict[str, Any], prompt: DecisionPrompt) -> None:
        super().__init__()
        self.decision = decision
        self.prompt = prompt
        self.job: Job | None = None
        self.outcome: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="decision"):
            with VerticalScroll(id="decision-scroll"):
                yield Static(id="decision-body")
            yield Static(id="decision-status")
            yield Label(id="decision-keys")

    def on_mount(self) -> None:
        self._show()

    @property
    def asking(self) -> bool:
        return self.decision["status"] == "pending" and (
            self.job is None or self.job.state not in (RUNNING,))

    @property
    def _retrainable(self) -> bool:
        """A promotion, or a retraining with labelled batches to add."""
        return self.decision["kind"] == "promote" or bool(self.decision["proposal"]["batches"])

    def _show(self, status: Text | str = "") -> None:
        self.query_one("#decision-body", Static).update(describe(self.decision))
        line = self.query_one("#decision-status", Static)
        line.update(status)
        line.display = bool(str(status))
        if self.asking and not self._retrainable:
            keys = "n reject · escape later (stays pending; check a labelled batch: 6, c)"
        elif self.asking:
            verb = "promote" if self.decision["kind"] == "promote" else "approve: retrain"
            keys = f"y {verb} · n reject · escape later (stays pending)"
        elif self.job is not None and self.job.state == RUNNING:
            keys = "escape closes (the job goes on; J shows it)"
        else:
            keys = "escape closes"
        self.query_one("#decision-keys", Label).update(Text(keys, style="bold"))

    # -- y: carry it out -----------------------------------------------------------------

    def action_approve(self) -> None:
        if not self.asking:
            return
        if not self._retrainable:
            self.notify("nothing to retrain on yet: no batch was checked with its labels",
                        severity="warning", markup=False)
            return
        decision = self.decision
        ws, project = self.app.workspace, decision["project"]

        def work(job: Job) -> dict[str, Any]:
            from mlcycle.models import registry
            from mlcycle.monitor import decisions

            job.say("approved: retraining" if decision["kind"] == "retrain" else "promoting")
            done = decisions.decide(ws, project, decision["id"], approve=True,
                                    reason=APPROVED_HERE, progress=job.say, cancel=job.cancel)
            candidate = (done.get("figures") or {}).get("candidate")
            aliases = registry.get(ws, project, str(candidate)).aliases if candidate else []
            follow_up = (done.get("figures") or {}).get("promotion")
            return {"decision": done, "aliases": list(aliases),
                    "follow_up": decisions.get(ws, project, follow_up) if follow_up else None}

        def finished(job: Job) -> str:
            line = outcome_line(job.result["decision"], job.result["aliases"])
            if self in self.app.screen_stack:
                self._ended(job.result, line)
            return line

        what = "retrain" if decision["kind"] == "retrain" else "promote"
        self.job = self.app.jobs.start(f"{what}: {project} (decision {decision['id']})", work,
                                       done=finished, lead=Lead("monitor", project))
        self._show(Text("starting…", style="yellow"))

    def job_changed(self, job: Job) -> None:
        if job is not self.job or self.outcome is not None:
            return
        if job.state == RUNNING:
            self._show(Text(f"{job.message or 'working'}  ({job.elapsed:.0f} s)",
                            style="yellow"))
        elif job.state != "done":
            # Not carried out: the decision is pending again (core reopens it).
            style = "red" if job.state == FAILED else "yellow"
            self._show(Text(f"{job.state}: {job.outcome}", style=style))

    def _ended(self, result: dict[str, Any], line: str) -> None:
        follow_up = result["follow_up"]
        if follow_up is not None:
            # The candidate passed the gate: the second question, here and now.
            self.prompt.seen(follow_up["id"])
            self.decision, self.job = follow_up, None
            self._show(Text(line, style="green"))
            return
        self.decision, self.outcome = result["decision"], line
        self._show(Text(line, style="green"))

    # -- n: reject, with why ---------------------------------------------------------------

    def action_reject(self) -> None:
        if not self.asking:
            return
        from mlcycle.app.screens.confirm import ConfirmScreen

        what = ("promoting v{}".format(self.decision["proposal"]["promote"])
                if self.decision["kind"] == "promote" else "retraining")
        question = (f"Reject {what} {self.decision['project']} (decision "
                    f"{self.decision['id']})? Say why: the audit trail keeps it.")
        self.app.push_screen(ConfirmScreen(question), self._rejected)

    def _rejected(self, reason: str | None) -> None:
        if reason is None:
            return
        decision, ws = self.decision, self.app.workspace

        def reject() -> None:
            from mlcycle.monitor import decisions

            try:
                done = decisions.decide(ws, decision["project"], decision["id"],
                                        approve=False, reason=reason)
            except MlcycleError as exc:
                self.app.call_from_thread(self.app.show_error, exc)
                return
            self.app.call_from_thread(self._after_reject, done)

        self.run_worker(reject, thread=True, exit_on_error=False, group="decide")

    def _after_reject(self, done: dict[str, Any]) -> None:
        self.app.notify(f"decision {done['id']} rejected: {done['reason']}", markup=False)
        self.dismiss(None)

    def action_later(self) -> None:
        self.dismiss(None)
