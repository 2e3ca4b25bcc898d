"""The deployment view: parity-checked exports, what serves, the shadow comparison, scoring.

Its actions are the CLI's deployment commands: export a bundle (x), verify one (v), score a
file (p), serve on loopback (s, again to stop), compare champion and challenger (m), edit
the deployment config and its strategy (e), raise the canary a step or send it back (c, C),
switch the blue/green slots or back (w, W), A/B test the canary (a). Export, verify,
scoring, comparing and the A/B test are jobs; a step and a switch are confirmed with a
reason, then written at once (a running server follows within a second); the server
is a service the app owns (it stops when the UI quits), its address shown here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Header, Label, Static

from mlcycle.app.screens import deploy_actions, deploy_strategy
from mlcycle.app.screens.base import ViewScreen
from mlcycle.app.widgets.bar_chart import BarChart
from mlcycle.app.widgets.footer import AppFooter
from mlcycle.app.widgets.table import VimTable
from mlcycle.app.words import plural

if TYPE_CHECKING:
    from mlcycle.deploy.bundle import Export
    from mlcycle.deploy.results import ABLook, Comparison, ScoringRun, Strategy


@dataclass
class Deployment:
    project: str
    serving: dict[str, int]  # alias -> version
    exports: list[Export]
    comparison: Comparison | None
    scoring: list[ScoringRun]
    strategy: Strategy
    abtest: ABLook | None  # the newest A/B test look


class DeployScreen(ViewScreen):
    AUTO_FOCUS = "#scoring-runs"
    BINDINGS = [
        Binding("x", "export_bundle", "Export"),
        Binding("v", "verify", "Verify"),
        Binding("p", "score", "Score file"),
        Binding("s", "serve", "Serve/stop"),
        Binding("m", "compare", "Compare"),
        Binding("e", "edit_strategy", "Strategy"),
        Binding("c", "canary_step", "Canary step"),
        Binding("C", "canary_back", "Canary back", key_display="C"),
        Binding("w", "switch_slots", "Switch slots"),
        Binding("W", "switch_back", "Switch back", key_display="W"),
        Binding("a", "abtest", "A/B test"),
    ]
    last_bundle: str = ""  # the folder the last export wrote, offered to verify
    _strategy: str | None = None  # the loaded deployment strategy

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="deploy-summary")
        yield Static(id="serve-status")
        yield Static(id="strategy")
        with Horizontal():
            with Vertical(id="deploy-left", classes="pane"):
                yield Label("ONNX exports (parity on the holdout)", classes="pane-title")
                yield VimTable(id="exports", cursor_type="none", show_cursor=False,
                               drop=("export", "size"))
                yield Label("Recent scoring runs", classes="pane-title spaced")
                yield VimTable(id="scoring-runs", cursor_type="row",
                               drop=("seconds", "shadow", "version"))
            with VerticalScroll(id="deploy-right", classes="pane"):
                yield Static(id="shadow")
                yield Static(id="abtest")
                yield BarChart(id="scores-chart")
        yield AppFooter()

    def on_mount(self) -> None:
        super().on_mount()
        # The server runs and ends in its own thread: its line follows it.
        self.set_interval(1.0, self.show_server)

    def fetch(self) -> Deployment | None:
        from mlcycle import deploy
        from mlcycle.deploy import abtest, comparison, runs, strategies
        from mlcycle.models import registry

        project = self.app.project
        if project is None:
            return None
        ws = self.app.workspace
        serving = {alias: v.version for v in registry.versions(ws, project)
                   for alias in v.aliases}
        return Deployment(project, serving, deploy.exports(ws, project),
                          comparison.last_comparison(ws, project),
                          runs.recent_runs(ws, project),
                          strategies.overview(ws, project), abtest.last(ws, project))

    def show(self, data: Deployment | None) -> None:
        from mlcycle.models import parity

        summary = self.query_one("#deploy-summary", Static)
        exports = self.query_one("#exports", DataTable)
        runs = self.query_one("#scoring-runs", VimTable)
        exports.clear(columns=True)
        runs.clear(columns=True)
        self._runs = data.scoring if data else []
        self._strategy = data.strategy.strategy if data else None
        self.show_server()
        strategy = self.query_one("#strategy", Static)
        if data is None:
            summary.update("No project selected: pick one in the projects view (1).")
            strategy.update("")
            return
        strategy.update(_strategy_line(data.strategy))
        self.query_one("#abtest", Static).update(_abtest_text(data.abtest))
        text = Text(f"{data.project} ", style="bold")
        # What the registry names, not what serves: the server's own line says that.
        champion = data.serving.get("champion")
        text.append(f"champion: version {champion}" if champion
                    else "no champion: promote a version in the models view (4)")
        challenger = data.serving.get("challenger")
        if challenger and data.strategy.strategy == "shadow":
            text.append(f", challenger version {challenger} (scored in its shadow)")
        summary.update(text)
        exports.add_columns("version", "size", "export", "labels differ", "max difference")
        for e in data.exports:
            diff, mismatches = parity.max_difference(e.parity), parity.label_mismatches(e.parity)
            exports.add_row(str(e.version), f"{e.size_bytes / 1024:,.0f} KiB",
                            f"{e.seconds:.2f} s", "–" if mismatches is None else str(mismatches),
                            "–" if diff is None else f"{diff:.2g}")
        runs.add_columns("when", "version", "shadow", "rows", "seconds", "source")
        for i, r in enumerate(data.scoring):
            runs.add_row(r.ts[5:16].replace("T", " "), str(r.version),
                         str(r.shadow_version or "–"), f"{r.rows:,}",
                         f"{r.seconds:.2f}", Text(r.source.rsplit("/", 1)[-1]),
                         key=str(i))
        self._show_comparison(data.comparison)
        if data.scoring:  # the run the cursor came back to (VimTable keeps it)
            self._chart(int(runs.highlighted_key() or 0))
        else:
            self.query_one("#scores-chart", BarChart).plot(
                "no scoring runs yet: press p to score a file or s to serve", [])

    def _show_comparison(self, comparison: Comparison | None) -> None:
        shadow = self.query_one("#shadow", Static)
        if not comparison:
            shadow.update(Text("No shadow comparison yet: with a challenger, score new data "
                               "(p or s), then press m with its labels.", style="dim"))
            return
        table = Table(title=f"shadow comparison on {plural(comparison.rows, 'labelled row')} "
                            f"({(comparison.ts or '').replace('T', ' ')})")
        table.add_column("metric")
        table.add_column(f"champion v{comparison.champion.version}")
        table.add_column(f"challenger v{comparison.challenger.version}")
        for key, value in comparison.champion.metrics.items():
            other = comparison.challenger.metrics.get(key)
            table.add_row(key, f"{value:.4f}", "–" if other is None else f"{other:.4f}",
                          style="bold" if key == comparison.metric else "")
        shadow.update(_stack(table, comparison.verdict))

    def _chart(self, index: int) -> None:
        run = self._runs[index]
        summary = run.summary
        chart = self.query_one("#scores-chart", BarChart)
        if summary.class_shares:
            when = run.ts[:16].replace("T", " ")  # stored in UTC, shown to the minute
            chart.plot(f"predicted classes, run of {when} UTC",
                       [(str(k), round(v * run.rows)) for k, v in summary.class_shares.items()])
        elif summary.quantiles is not None:
            chart.plot("predicted value quantiles",
                       [(k, float(v)) for k, v in summary.quantiles.to_dict().items()])
        else:
            chart.plot("", [])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "scoring-runs" and event.row_key.value is not None:
            self._chart(int(event.row_key.value))

    def show_server(self) -> None:
        """The server's line: where it answers, or why it ended, or how to start it."""
        project = self.app.project
        line = self.query_one("#serve-status", Static)
        if project is None:
            line.update("")
            return
        service = self.app.background.get(deploy_actions.serve_key(project))
        if service is not None and service.running:
            line.update(Text.assemble(("server: ", "bold"), (service.about, "green"),
                                      " — s stops it"))
        elif service is not None and service.error:
            line.update(Text(f"server ended: {service.error} — s serves again",
                             style="yellow"))
        else:
            line.update(Text("server: not running — s serves on this machine (loopback)",
                             style="dim"))

    # -- actions (each asks its form, then runs its job; see deploy_actions) -------------

    def _project(self) -> str | None:
        if self.app.project is None:
            self.notify("pick a project first (1)", severity="warning")
        return self.app.project

    def action_export_bundle(self) -> None:
        if project := self._project():
            deploy_actions.export(self, project)

    def action_verify(self) -> None:
        deploy_actions.verify(self, self.last_bundle)

    def action_score(self) -> None:
        if project := self._project():
            deploy_actions.score(self, project)

    def action_serve(self) -> None:
        if project := self._project():
            deploy_actions.serve_or_stop(self, project)

    def action_compare(self) -> None:
        if project := self._project():
            deploy_actions.compare(self, project)

    def action_edit_strategy(self) -> None:
        if project := self._project():
            deploy_strategy.edit_config(self, project)

    def action_canary_step(self) -> None:
        if project := self._project():
            deploy_strategy.canary_step(self, project)

    def action_canary_back(self) -> None:
        if project := self._project():
            deploy_strategy.canary_step(self, project, back=True)

    def action_switch_slots(self) -> None:
        if project := self._project():
            deploy_strategy.switch(self, project)

    def action_switch_back(self) -> None:
        if project := self._project():
            deploy_strategy.switch(self, project, back=True)

    def strategy_name(self) -> str | None:
        """The deployment strategy as last loaded (None before the first load)."""
        return self._strategy

    def edited(self, message: str | None) -> None:
        """The editor closed: say what it stored, and show it."""
        if message:
            self.notify(message, markup=False)
            self.reload()

    def action_abtest(self) -> None:
        if project := self._project():
            deploy_actions.abtest(self, project)

    def bundle_written(self, folder: str | Path) -> None:
        self.last_bundle = str(folder)


def _stack(table: Table, verdict: str) -> Table:
    grid = Table.grid()
    grid.add_row(table)
    grid.add_row(Text(verdict, style="bold"))
    return grid


def _strategy_line(view: Strategy) -> Text:
    """The deployment strategy and where it stands, with the keys that move it."""
    from mlcycle.deploy import strategies

    keys = {"canary": "c steps it, C sends it back, ",
            "blue_green": "w switches, W switches back, "}.get(view.strategy, "")
    keys = f" — {keys}e edits it"
    return Text.assemble(("strategy: ", "bold"), strategies.summary_line(view), (keys, "dim"))


def _abtest_text(look: ABLook | None) -> Text:
    if not look:
        return Text("No A/B test yet: with a canary answering, press a with its labels.",
                    style="dim")
    res = look.result
    text = Text(f"A/B test on {look.metric} ({(look.ts or '').replace('T', ' ')}): "
                f"champion v{look.control.version} ({plural(look.control.rows, 'row')}) vs "
                f"canary v{look.treatment.version} ({plural(look.treatment.rows, 'row')})\n")
    if res:
        text.append(f"difference {res.difference:+.4f}, {res.confidence:.0%} CI "
                    f"[{res.low:+.4f}, {res.high:+.4f}], p = {res.p_value:.4f} "
                    f"({res.test}, fixed-horizon)\n")
    text.append(f"verdict: {look.verdict}", style="bold")
    if look.rows_needed:
        text.append(f" ({look.rows_needed:,} more labelled rows per arm before it concludes)")
    return text
