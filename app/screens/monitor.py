"""The monitoring view: checks of new batches over time, what drifted, and retraining.

Its actions are the CLI's monitoring commands: check a batch (c), watch a folder (w, again
to stop; the watcher is a service the app owns and stops when the UI quits), retrain on new
labelled batches (R, prefilled with the batch last checked), export a check (e), answer a
pending decision (D), edit the monitoring policy (P). Where the loop stands (``mlcycle
status``) and the decisions are ``monitor_loop``'s; they refresh on their own too, so a
watcher's heartbeat from another process shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Header, Label, Static

from mlcycle.app.screens import monitor_actions, monitor_loop
from mlcycle.app.screens.base import ViewScreen
from mlcycle.app.widgets.bar_chart import BarChart, Mark
from mlcycle.app.widgets.footer import AppFooter
from mlcycle.app.widgets.line_plot import LinePlot, Series
from mlcycle.app.widgets.table import VimTable
from mlcycle.app.words import plural
from mlcycle.store.errors import MlcycleError


@dataclass
class Monitoring:
    project: str
    metric: str
    checks: list[dict[str, Any]]  # oldest first
    latest: dict[str, Any] | None  # the newest check with its report
    retrains: list[dict[str, Any]]  # retrain events, newest first
    greater_is_better: bool = True
    alerts: Any = None  # the policy's alert limits (mlcycle.monitor.policy.Alerts)
    aliases: dict[int, tuple[str, ...]] = field(default_factory=dict)  # each version's, now

    @property
    def champion(self) -> int | None:
        return next((v for v, held in self.aliases.items() if "champion" in held), None)


class MonitorScreen(ViewScreen):
    AUTO_FOCUS = "#checks"
    BINDINGS = [
        Binding("c", "check_batch", "Check file"),
        Binding("w", "watch", "Watch/stop"),
        Binding("R", "retrain", "Retrain", key_display="R"),
        Binding("e", "export", "Export check"),
        Binding("D", "decision", "Decision", key_display="D"),
        Binding("P", "policy", "Policy", key_display="P"),
    ]
    _check: dict[str, Any] | None = None  # the check whose inputs are charted
    _latest: dict[str, Any] | None = None  # the newest check: what R offers to retrain on
    _loop: monitor_loop.Loop | None = None  # the status and decisions shown
    _decision_cells: list[str] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="monitor-top"):
            yield Static(id="monitor-summary")
            yield Static(id="watch-status")
            yield Static(id="loop-status")
        with Horizontal():
            with Vertical(id="monitor-left", classes="pane"):
                yield Label("Checks of new batches (newest first)", classes="pane-title")
                # At 80 columns: which batch, how much drifted, the metric and the alerts.
                yield VimTable(id="checks", cursor_type="row",
                               drop=("version", "rows", "scores", "when"))
                yield Label("Decisions (pending first; D answers one)",
                            classes="pane-title spaced")
                yield VimTable(id="decisions", cursor_type="row", shrink=("outcome",),
                               drop=("created", "trigger"))
                yield Label("Retraining", classes="pane-title spaced")
                yield Static(id="retrains")
            with VerticalScroll(id="monitor-right", classes="pane"):
                yield LinePlot(id="metric-history")
                yield BarChart(id="drift-history", classes="spaced")
                yield BarChart(id="check-columns", classes="spaced")
        yield AppFooter()

    def on_mount(self) -> None:
        super().on_mount()
        # The watcher reports from its own thread: its lines follow it.
        self.set_interval(1.0, self.show_services)
        # A watcher's heartbeat ages, and one in another process may stop beating without
        # a trace: while watchers are listed, read the loop again (other changes to the
        # workspace reload the whole view).
        self.set_interval(2.0, self._loop_tick)

    def fetch(self) -> Monitoring | None:
        from mlcycle import projects
        from mlcycle.monitor import monitoring
        from mlcycle.store import events

        project = self.app.project
        if project is None:
            return None
        ws = self.app.workspace
        checks = monitoring.history(ws, project)
        latest = monitoring.get_check(ws, project, checks[-1]["id"]) if checks else None
        retrains = [e for e in events.recent(ws, project, limit=200)
                    if e["kind"] == "retrain.completed"]
        from mlcycle.models import registry
        from mlcycle.monitor import policy

        card = projects.get(ws, project)
        aliases = {v.version: tuple(v.aliases) for v in registry.versions(ws, project)}
        return Monitoring(project, card.metric, checks, latest, retrains,
                          card.greater_is_better, policy.current(ws, project).alerts, aliases)

    def show(self, data: Monitoring | None) -> None:
        summary = self.query_one("#monitor-summary", Static)
        table = self.query_one("#checks", DataTable)
        table.clear(columns=True)
        self.show_services()
        self._latest = data.latest if data else None
        if data is None:
            summary.update("No project selected: pick one in the projects view (1).")
            self.query_one("#loop-status", Static).update("")
            return
        summary.update(_summary(data))
        table.add_columns("when", "version", "file", "rows", "drifted", "scores",
                          data.metric, "alerts")
        for c in reversed(data.checks):
            table.add_row(
                c["ts"][5:16].replace("T", " "), f"v{c['version']}",
                Text(c["source"].rsplit("/", 1)[-1]), f"{c['rows']:,}",
                _drifted_cell(c),
                Text("drift", style="red") if c["prediction_drift"]
                else Text("ok", style="green"),
                _metric(c),
                Text(str(len(c["alerts"])), style="bold red" if c["alerts"] else "green"),
                key=c["id"])
        self.query_one("#retrains", Static).update(_retrains(data.retrains, data.aliases))

        batches = _batches(data.checks)
        self._metric_plot(data, batches)
        limit = data.alerts.drift_share * 100
        self.query_one("#drift-history", BarChart).plot(
            "% of inputs drifted per batch, oldest first",
            [(name, round(c["share_drifted"] * 100)) for name, c in batches],
            unit="%", start=0, end=100,
            marks=[Mark("alerts past", limit)] if limit else [])
        self._columns(data.latest)

    def _metric_plot(self, data: Monitoring, batches: list[tuple[str, dict[str, Any]]]) -> None:
        """The metric per batch, measured and estimated as two lines, with the champion's
        holdout figure and the level past which the policy alerts."""
        from mlcycle.monitor.monitoring import metric_of

        measured, estimated = Series("measured", [], []), Series("~ estimated", [], [])
        reference = None
        for i, (_, check) in enumerate(batches, start=1):
            value, guessed = metric_of(check)
            if value is not None:
                line = estimated if guessed else measured
                line.xs.append(i)
                line.ys.append(value)
            reference = check["metric_reference"] if check["metric_reference"] is not None \
                else reference
        references = []
        if reference is not None:
            loss = data.alerts.max_loss * abs(reference)
            references = [("champion", reference),
                          ("alert", reference - loss if data.greater_is_better
                           else reference + loss)]
        plot = self.query_one("#metric-history", LinePlot)
        plot.display = bool(measured.xs or estimated.xs)  # no batch yet: no empty frame
        plot.draw(
            f"{data.metric} per batch (1 = oldest); alert past a {data.alerts.max_loss:.0%} loss",
            [s for s in (measured, estimated) if s.xs], references, "batch", data.metric)

    def _columns(self, check: dict[str, Any] | None) -> None:
        from mlcycle.drift.check import effect_label

        self._check = check
        chart = self.query_one("#check-columns", BarChart)
        if check is None:
            chart.plot("no checks yet: press c to check a batch or w to watch a folder", [])
            return
        columns = [c for c in check["data_drift"]["columns"] if c["tested"]]
        floors = {c["name"]: _floor(c) for c in columns}
        columns.sort(key=lambda c: -(c["statistic"] or 0) / floors[c["name"]])
        name = check["source"].rsplit("/", 1)[-1]
        # Each input against its own floor (PSI or h): how far past it, not how it compares
        # with the batch's most drifted input, so a calm batch draws short bars.
        ratios = [(c["statistic"] or 0) / floors[c["name"]] for c in columns]

        chart.plot(f"drift effect per input, {name}, in multiples of the effect that counts "
                   "as drift (* drifted)",
                   [(("* " if c["drifted"] else "") + c["name"], ratio,
                     f"{effect_label(c['statistic_name'])} "
                     f"{c['statistic'] or 0:.3f} ({ratio:.1f}x)")
                    for c, ratio in zip(columns, ratios)],
                   unit="x", start=0, end=max(3.0, *ratios), marks=[Mark("drift", 1.0)])

    def action_export(self) -> None:
        if self._check is None:
            self.notify("nothing to export yet", severity="warning")
            return
        from mlcycle.monitor.monitoring import write_report

        check = self._check
        self.export(f"{self.app.project}-check-{check['id']}.html",
                    lambda path: write_report(check, path))

    def show_services(self) -> None:
        """The watcher's line: what it watches and the last files it took, or how to start."""
        project = self.app.project
        line = self.query_one("#watch-status", Static)
        if project is None:
            line.update("")
            return
        service = self.app.background.get(monitor_actions.watch_key(project))
        if service is not None and service.running:
            text = Text.assemble((service.about, "bold green"), " — w stops")
            for entry in list(service.log)[-3:]:
                text.append(f"\n  {entry}", style="dim")
            line.update(text)
        elif service is not None and service.error:
            line.update(Text(f"the watcher ended: {service.error} — w watches again",
                             style="yellow"))
        else:
            line.update(Text("not watching a folder — w watches one", style="dim"))

    def reload(self) -> None:
        super().reload()
        self._load_loop()

    def _loop_tick(self) -> None:
        if self.is_current and self._loop is not None and self._loop.status["watchers"]:
            self._load_loop()

    @work(thread=True, exclusive=True, group="loop", exit_on_error=False)
    def _load_loop(self) -> None:
        project = self.app.project
        if project is None:
            return
        try:
            loop = monitor_loop.fetch(self.app.workspace, project)
        except MlcycleError:
            return  # the project went away or the workspace is busy: the next tick reads
        self.app.call_from_thread(self._show_loop, loop)

    def _show_loop(self, loop: monitor_loop.Loop) -> None:
        self._loop = loop
        self.query_one("#loop-status", Static).update(monitor_loop.status_text(loop.status))
        table = self.query_one("#decisions", DataTable)
        rows = monitor_loop.decision_rows(loop.decisions)
        if [str(c) for r in rows for c in r] == self._decision_cells:
            return  # unchanged: keep the cursor where the user left it
        self._decision_cells = [str(c) for r in rows for c in r]
        table.clear(columns=True)
        table.add_columns("id", "trigger", "status", "created", "outcome")
        for row in rows:
            table.add_row(*row, key=row[0])

    def action_decision(self) -> None:
        """Answer the decision under the cursor, else the first pending one."""
        loop = self._loop
        chosen = None
        if loop is not None and loop.decisions:
            table = self.query_one("#decisions", DataTable)
            if self.focused is table and 0 <= table.cursor_row < len(loop.decisions):
                chosen = loop.decisions[table.cursor_row]
            else:
                chosen = next((d for d in loop.decisions if d["status"] == "pending"), None)
        if chosen is None:
            self.notify("no pending decision", markup=False)
            return
        self.app.decision_prompt.open(chosen)

    def action_policy(self) -> None:
        if project := self._project():
            monitor_loop.edit_policy(self, project)

    def edited(self, message: str | None) -> None:
        if message:
            self.notify(message, markup=False)
            self.reload()

    # -- actions (each asks its form, then runs its job; see monitor_actions) ------------

    def _project(self) -> str | None:
        if self.app.project is None:
            self.notify("pick a project first (1)", severity="warning")
        return self.app.project

    def action_check_batch(self) -> None:
        if project := self._project():
            monitor_actions.check(self, project)

    def action_watch(self) -> None:
        if project := self._project():
            monitor_actions.watch_or_stop(self, project)

    def action_retrain(self) -> None:
        if project := self._project():
            batch, labels = _retrain_inputs(self._latest)
            monitor_actions.retrain(self, project, batch, labels)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "checks" and event.row_key.value is not None:
            self._load_check(event.row_key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter on a check: its inputs one by one, reference against current.
        if event.data_table.id == "checks" and event.row_key.value is not None:
            self._load_check(event.row_key.value, open_it=True)

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def _load_check(self, check_id: str, open_it: bool = False) -> None:
        from mlcycle.monitor import monitoring

        try:
            check = monitoring.get_check(self.app.workspace, self.app.project, check_id)
        except MlcycleError as exc:
            self.app.call_from_thread(self.app.notify, str(exc), severity="error",
                                      markup=False)
            return
        if open_it:
            from mlcycle.app.screens.check_detail import CheckScreen

            self.app.call_from_thread(self.app.push_screen, CheckScreen(self.app.project, check))
        else:
            self.app.call_from_thread(self._columns, check)


def _retrain_inputs(check: dict[str, Any] | None) -> tuple[str, str]:
    """The batch a check was of and its labels, to offer for retraining."""
    if check is None:
        return "", ""
    labels = (check.get("performance") or {}).get("labels") or ""
    return check["source"], labels




def _floor(column: dict[str, Any]) -> float:
    """The effect size from which a significant change counts as drift, for the test that
    gave the column's statistic."""
    from mlcycle.drift.check import MIN_PSI

    tests = [t for t in column.get("tests") or [] if t.get("effect") is not None
             and abs(t["effect"]) == column["statistic"]]
    floor = tests[0]["floor"] if tests else MIN_PSI
    return floor or MIN_PSI


def _batches(checks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The checks to chart per batch, oldest first, with their bars' names: each content
    once per version, by its newest check ('--again' checks a content more than once).
    Bars are named by file, and by version too when the checks span several versions."""
    newest: dict[Any, dict[str, Any]] = {}
    for c in checks:
        # A check stored before checks knew their content is a batch of its own.
        key = (c["sha256"], c["labels_sha256"], c["version"]) if c["sha256"] else c["id"]
        newest.pop(key, None)  # the batch moves to where its newest check is
        newest[key] = c
    several = len({c["version"] for c in newest.values()}) > 1
    return [(c["source"].rsplit("/", 1)[-1] + (f" v{c['version']}" if several else ""), c)
            for c in newest.values()]


def _drifted_cell(check: dict[str, Any]) -> Text:
    """Inputs drifted of those tested, as the engine counted them (+ those broken by their
    source); a check made before they were counted shows its share of columns drifted."""
    inputs = check.get("inputs")
    if inputs is None:
        return Text(f"{check['share_drifted']:.0%}",
                    style="red" if check["data_drift"] else "green")
    text = f"{len(inputs['drifted'])}/{inputs['tested']}"
    if inputs["broken"]:
        text += f" +{len(inputs['broken'])} broken"
    return Text(text, style="red" if inputs["drifted"] or inputs["broken"] else "green")


def _metric(check: dict[str, Any]) -> str:
    from mlcycle.monitor.monitoring import metric_of

    value, estimated = metric_of(check)
    return "–" if value is None else f"{'~' if estimated else ''}{value:.4f}"


def _summary(data: Monitoring) -> Text:
    from mlcycle.monitor import alerts

    text = Text(f"{data.project} ", style="bold")
    if not data.checks:
        text.append("has no checks yet: press c to check a batch or w to watch a folder",
                    style="dim")
        return text
    last = data.checks[-1]
    name = last["source"].rsplit("/", 1)[-1]
    text.append(f"{plural(len(data.checks), 'check')}; the newest, of {name} "
                f"by v{last['version']}: ")
    if not last["alerts"]:
        text.append("no alerts", style="bold green")
        return text
    latest = data.latest if data.latest and data.latest.get("id") == last["id"] else None
    details = (latest or {}).get("alert_details") or alerts.from_messages(last["alerts"])
    # What to do comes first: on a small terminal the alerts' lines below it may be cut.
    if data.champion not in (None, last["version"]):
        # Answered since: a retraining or a person made another version champion.
        text.append(f"\nv{data.champion} has been champion since this check: check a new "
                    "batch to see where it stands", style="yellow")
    elif alerts.retrain_recommended(details):
        text.append(f"\nretraining recommended: press R to retrain with {name}",
                    style="yellow")
    else:
        text.append(f"\n{alerts.advice(details)}", style="yellow")
    for item in details:
        text.append(f"\n[{item['kind'].replace('_', ' ')}] ", style="bold red")
        text.append(item["message"])
    if details and details[0].get("playbook"):
        text.append(f"\nfirst: {details[0]['playbook'][0]}", style="yellow")
    return text


def _retrains(retrains: list[dict[str, Any]], aliases: dict[int, tuple[str, ...]]) -> Text:
    """The newest retrainings, each with what its model is now (its aliases may have moved
    since: a challenger promoted, a champion replaced)."""
    if not retrains:
        return Text("No retraining yet.", style="dim")
    text = Text()
    for event in retrains[:5]:
        detail = event["detail"]
        now = aliases.get(int(event["subject"].removeprefix("v")), ())
        outcome = ("now the champion" if "champion" in now
                   else "now the challenger" if "challenger" in now
                   else "was the challenger, no longer" if detail.get("alias")
                   else "not better, kept as a candidate")
        text.append(f"{event['ts']:%Y-%m-%d %H:%M} {event['subject']}: {outcome}\n",
                    style="bold" if detail.get("alias") else "")
        text.append(f"  {detail.get('reason', '')}\n", style="dim")
    return text
