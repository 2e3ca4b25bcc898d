"""A monitoring check input by input (Enter on a check in the Monitor view): each input's
drift statistic against its threshold, and the highlighted input's reference and current
distributions side by side."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Header, Label, Static

from mlcycle.app.output import inputs_summary
from mlcycle.app.screens.base import DetailScreen
from mlcycle.app.widgets.footer import AppFooter
from mlcycle.app.widgets.paired_bars import PairedBars
from mlcycle.app.widgets.table import VimTable
from mlcycle.app.words import count, plural, value_counts
from mlcycle.drift.check import effect_label


def _g(value: Any) -> str:
    return "–" if value is None else f"{value:.3g}"


class CheckScreen(DetailScreen):
    AUTO_FOCUS = "#check-inputs"

    def __init__(self, project: str, check: dict[str, Any]) -> None:
        super().__init__()
        self.project = project
        self.check = check
        # Most drifted first: the input to look at is on top.
        self.columns = sorted(check["data_drift"]["columns"],
                              key=lambda c: (not c["drifted"], -(c["statistic"] or 0)))

    def compose(self) -> ComposeResult:
        name = self.check["source"].rsplit("/", 1)[-1]
        drift = self.check["data_drift"]
        yield Header()
        yield Static(Text(
            f"{self.project}: check {self.check['id']} of {name} by v{self.check['version']}: "
            + (inputs_summary(self.check["inputs"]) if self.check.get("inputs") else
               f"{count(drift['n_drifted'])} of {plural(drift['n_tested'], 'column')} drifted")
            + f" ({plural(drift['n_current'], 'row')} against {drift['n_reference']:,}); "
            "escape: back to the checks"), id="check-summary")
        with Horizontal():
            with Vertical(id="check-left", classes="pane"):
                yield Label("Inputs (drifted first)", classes="pane-title")
                yield VimTable(id="check-inputs", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="check-right", classes="pane"):
                yield Static(id="input-detail")
                yield PairedBars(id="input-histogram", classes="spaced")
        yield AppFooter()

    def on_mount(self) -> None:
        table = self.query_one("#check-inputs", VimTable)
        table.add_columns("input", "drifted", "statistic", "p", "type")
        for c in self.columns:
            table.add_row(
                Text(c["name"]),
                Text("drifted", style="bold red") if c["drifted"]
                else Text("no" if c["tested"] else "not tested", style="green"),
                f"{effect_label(c.get('statistic_name') or '')} {_g(c['statistic'])}".strip(),
                _g(c.get("p_value")), c["type"], key=c["name"])
        if self.columns:
            self._show(self.columns[0]["name"])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._show(event.row_key.value)

    def _show(self, name: str) -> None:
        c = next(c for c in self.columns if c["name"] == name)
        text = Text(c["name"], style="bold")
        text.append(f"  {c['type']}, {c.get('method') or ''}\n")
        text.append(f"{effect_label(c.get('statistic_name') or 'statistic')} "
                    f"{_g(c['statistic'])}")
        if c.get("p_value") is not None and c.get("threshold"):
            # Drift is a p-value under its (multiple-testing adjusted) threshold.
            text.append(f", p-value {c['p_value']:.3g} against its threshold "
                        f"{c['threshold']:.3g}: " + ("drifted" if c["drifted"] else "not drifted"),
                        style="bold red" if c["drifted"] else "")
        text.append(f"\nmissing: reference {c.get('missing_reference', 0):.1%}, "
                    f"current {c.get('missing_current', 0):.1%}")
        summary = c.get("summary") or {}
        if "reference_mean" in summary:
            text.append(f"\nmean: reference {_g(summary['reference_mean'])}, "
                        f"current {_g(summary.get('current_mean'))}")
        if c.get("new_values"):
            text.append(f"\nnew values: {value_counts(c['new_values'])}", style="yellow")
        if c.get("note"):
            text.append(f"\n{c['note']}", style="dim")
        self.query_one("#input-detail", Static).update(text)
        hist = c.get("histogram") or {}
        bins = list(zip(hist.get("labels", []), hist.get("reference", []),
                        hist.get("current", []), strict=False))
        self.query_one("#input-histogram", PairedBars).plot(
            "reference vs current", [(str(label), r, k) for label, r, k in bins])
