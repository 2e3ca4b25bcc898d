"""The data view: a project's dataset versions, data dictionary, quality report and charts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Header, Input, Label, Static

from mlcycle.app.screens import column_detail
from mlcycle.app.screens.base import ViewScreen
from mlcycle.app.widgets.bar_chart import BarChart
from mlcycle.app.widgets.column_chart import plot_column
from mlcycle.app.widgets.footer import AppFooter
from mlcycle.app.widgets.prep_panels import FeatureSetPanel, RecipePanel
from mlcycle.app.widgets.signed_bars import SignedBars
from mlcycle.app.widgets.table import VimTable
from mlcycle.app.words import plural
from mlcycle.data.datasets import DatasetVersion


@dataclass
class DataView:
    project: str
    versions: list[DatasetVersion]
    version: DatasetVersion | None
    dictionary: list[dict[str, Any]]
    report: dict[str, Any] | None
    # Preparation and features: correlations with the target, recipe, validation, feature set.
    correlations: dict[str, Any] | None = None
    prep: dict[str, Any] | None = None


class DataScreen(ViewScreen):
    # The footer shows these in order and an 80-column one cuts the tail: the actions that
    # move the lifecycle on come first.
    BINDINGS = [
        Binding("a", "add_data", "Add data"),
        Binding("s", "collect_source", "Source"),
        Binding("c", "edit_column", "Column"),
        Binding("p", "apply_recipe", "Apply recipe"),
        Binding("r", "edit_recipe", "Edit recipe"),
        Binding("f", "edit_features", "Edit features"),
        Binding("e", "export", "Export report"),
        Binding("o", "allow_sensitive", "Opt in"),
        Binding("x", "redact", "Redact"),
        Binding("P", "purge", "Purge", key_display="P"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("v", "focus_versions", "Versions"),
    ]
    # The column keys (c, o, x, enter) act on the columns table: it has the focus first.
    AUTO_FOCUS = "#columns"

    def __init__(self) -> None:
        super().__init__()
        self._view: DataView | None = None
        self._version_id: str | None = None
        self._correlations: dict[str, dict[str, Any]] = {}  # by version id: data never changes

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="data-summary")
        with Horizontal():
            with Vertical(id="data-left", classes="pane"):
                yield Label("Versions", classes="pane-title")
                # `/` in this view filters the columns (its own box), whichever table has focus.
                yield VimTable(id="versions", cursor_type="row", own_filter=True, drop=("cols",))
                yield Label("Columns", classes="pane-title spaced")
                yield Input(placeholder="filter columns", id="column-filter")
                yield VimTable(id="columns", cursor_type="row", zebra_stripes=True,
                               own_filter=True, shrink=("column", "summary"),
                               drop=("distinct", "summary", "role"))
            with VerticalScroll(id="data-right", classes="pane"):
                yield Static(id="column-detail")
                yield BarChart(id="column-chart")
                yield Static(id="target-summary")
                yield BarChart(id="target-chart")
                yield SignedBars(id="correlation-chart")
                yield RecipePanel(id="recipe-panel")
                yield FeatureSetPanel(id="featureset-panel")
        yield AppFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#versions", DataTable).add_columns("version", "rows", "cols", "added")
        self.query_one("#columns", DataTable).add_columns(
            "column", "kind", "role", "missing", "distinct", "summary"
        )
        self.query_one("#column-filter").display = False

    def fetch(self) -> DataView | None:
        from mlcycle.data import datasets

        project = self.app.project
        if project is None:
            return None
        ws = self.app.workspace
        versions = datasets.list_versions(ws, project)
        ids = [v.id for v in versions]
        chosen = self._version_id if self._version_id in ids else (ids[0] if ids else None)
        if chosen is None:
            return DataView(project, versions, None, [], None)
        from mlcycle import prep
        from mlcycle.prep import insight

        if chosen not in self._correlations:
            self._correlations[chosen] = insight.target_correlations(ws, project, chosen)
        return DataView(
            project,
            versions,
            next(v for v in versions if v.id == chosen),
            datasets.dictionary(ws, project, chosen),
            datasets.quality_report(ws, project, chosen),
            self._correlations[chosen],
            prep.overview(ws, project, chosen),
        )

    def show(self, data: DataView | None) -> None:
        self._view = data
        summary = self.query_one("#data-summary", Static)
        versions = self.query_one("#versions", DataTable)
        versions.clear()
        if data is None:
            summary.update("No project selected: pick one in the projects view (1).")
            self._fill_columns()
            return
        for v in data.versions:
            versions.add_row(
                v.id, f"{v.n_rows:,}", str(v.n_columns), f"{v.added_at:%Y-%m-%d %H:%M}", key=v.id
            )
        if data.version is None:
            summary.update(Text(
                f"{data.project}: no data yet. Press a to add a file, folder or glob."
            ))
            self._fill_columns()
            return
        self._version_id = data.version.id
        versions.move_cursor(row=[v.id for v in data.versions].index(data.version.id))
        report = data.report or {}
        text = Text()
        text.append(f"{data.project} ", style="bold")
        text.append(
            f"version {data.version.id}: {plural(report['rows'], 'row')} × {report['columns']} "
            f"columns, {plural(report['duplicate_rows'], 'duplicate row')}"
        )
        if report["constant_columns"]:
            text.append(f", constant: {', '.join(report['constant_columns'])}", style="yellow")
        text.append(f"\nsource {data.version.source}", style="dim")
        summary.update(text)
        self._fill_columns()
        self._show_target(report.get("target") or {})
        self._show_preparation(data)

    def _stats(self) -> dict[str, dict[str, Any]]:
        if not self._view or not self._view.report:
            return {}
        return {s["name"]: s for s in self._view.report["column_stats"]}

    def _fill_columns(self) -> None:
        table = self.query_one("#columns", VimTable)
        table.clear()
        if not self._view or not self._view.report:
            self.query_one("#column-detail", Static).update("")
            self.query_one("#column-chart", BarChart).plot("", [])
            return
        needle = self.query_one("#column-filter", Input).value.strip().lower()
        stats = self._stats()
        for entry in self._view.dictionary:
            if needle and needle not in entry["name"].lower():
                continue
            s = stats[entry["name"]]
            missing = Text(
                f"{s['missing_share']:.1%}", style="yellow" if s["missing_share"] > 0.05 else ""
            )
            # DataTable reads a str cell as markup: names and values go in as Text.
            table.add_row(
                Text(entry["name"]),
                entry["kind"],
                _role(entry),
                missing,
                f"{s['distinct']:,}",
                Text(_summary(s)),
                key=entry["name"],
            )
        if table.row_count:  # the row the cursor came back to (VimTable keeps it)
            self._show_column(str(table.highlighted_key()))

    def _show_column(self, name: str) -> None:
        s = self._stats().get(name)
        if s is None:
            return
        entry = next(e for e in self._view.dictionary if e["name"] == name)
        self.query_one("#column-detail", Static).update(column_detail.profile_text(s, entry))
        plot_column(self.query_one("#column-chart", BarChart), s)

    def _show_target(self, target: dict[str, Any]) -> None:
        summary = self.query_one("#target-summary", Static)
        chart = self.query_one("#target-chart", BarChart)
        if not target:
            summary.update("")
            chart.plot("", [])
            return
        if not target.get("present"):
            summary.update(
                Text(f"target {target['name']} is missing from this version", style="red")
            )
            chart.plot("", [])
            return
        summary.update(
            Text(f"\ntarget {target['name']}: missing {target['missing_share']:.1%}", style="bold")
        )
        if "classes" in target:
            chart.plot(f"class balance, {len(target['classes'])} classes",
                       [(str(c["value"]), c["count"]) for c in target["classes"]], unit="rows")
        else:
            chart.plot("", [])

    def _show_preparation(self, data: DataView) -> None:
        chart = self.query_one("#correlation-chart", SignedBars)
        found = data.correlations or {}
        rows = [(c["name"], c["correlation"]) for c in found.get("columns", [])
                if c["correlation"] is not None]
        note = f"positive: more {found['positive']}" if found.get("positive") else ""
        shown = rows[:15]
        title = "\ncorrelation with the target" + (
            f", the {len(shown)} strongest of {len(rows)}" if len(rows) > len(shown) else "")
        chart.plot(title, shown, note)
        self.query_one("#recipe-panel", RecipePanel).show(data.prep)
        self.query_one("#featureset-panel", FeatureSetPanel).show(
            (data.prep or {}).get("feature_set"))

    def action_edit_recipe(self) -> None:
        from mlcycle import prep
        from mlcycle.app.screens.text_editor import TextEditorScreen
        from mlcycle.data import datasets
        from mlcycle.prep import recipes

        project = self.app.project
        if project is None:
            self.notify("pick a project first", severity="warning")
            return
        ws = self.app.workspace
        current = recipes.latest(ws, project)
        text = current.text if current else recipes.template(project)

        def save(edited: str) -> str:
            # Checked against the data before it is stored: a bad recipe is never saved.
            parsed = recipes.parse(edited, "recipe")
            if datasets.list_versions(ws, project):
                prep.check(ws, project, parsed)
            stored, created = recipes.store(ws, project, parsed, source="edited in mlcycle")
            return (f"saved recipe v{stored.version}" if created
                    else f"recipe unchanged (v{stored.version})")

        self.app.push_screen(TextEditorScreen(f"recipe of {project}", text, save),
                             self._edited)

    def action_edit_features(self) -> None:
        from mlcycle.app.screens.text_editor import TextEditorScreen
        from mlcycle.prep import features

        project = self.app.project
        if project is None:
            self.notify("pick a project first", severity="warning")
            return
        ws = self.app.workspace
        current = features.resolve(ws, project)
        text = current.text if current else features.TEMPLATE

        def save(edited: str) -> str:
            fs, created = features.store(ws, project, edited, source="feature set")
            return f"saved feature set {fs.ref}" if created else f"{fs.ref} unchanged"

        self.app.push_screen(TextEditorScreen(f"feature set of {project}", text, save),
                             self._edited)

    def _edited(self, message: str | None) -> None:
        if message:
            self.notify(message, markup=False)
            self.reload()

    def _project_or_say(self) -> str | None:
        if self.app.project is None:
            self.notify("pick a project first: press 1 for the projects", severity="warning")
        return self.app.project

    def open_version(self, version_id: str) -> None:
        """Show ``version_id`` (one a job just stored) once the view has reloaded."""
        self._version_id = version_id
        self.reload()

    def action_add_data(self) -> None:
        from mlcycle.app.screens.data_actions import add_data

        project = self._project_or_say()
        if project:
            add_data(self, project, self.open_version)

    def action_collect_source(self) -> None:
        from mlcycle import collect
        from mlcycle.app.screens.data_actions import collect_source

        project = self._project_or_say()
        if project:
            stored = [s.name for s in collect.list_sources(self.app.workspace, project)]
            collect_source(self, project, stored, self.open_version)

    def _selected_column(self) -> dict[str, Any] | None:
        table = self.query_one("#columns", DataTable)
        if not self._view or not table.row_count:
            return None
        name = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return next((e for e in self._view.dictionary if e["name"] == name), None)

    def action_edit_column(self) -> None:
        from mlcycle.app.screens.data_actions import edit_column

        entry = self._selected_column()
        if self._project_or_say() is None:
            return
        if entry is None:
            self.notify("no column to edit: press a to add data", severity="warning")
            return
        edit_column(self, self._view.project, entry)

    def action_allow_sensitive(self) -> None:
        from mlcycle.app.screens.privacy_actions import allow_sensitive

        entry = self._selected_column()
        if self._project_or_say() is None:
            return
        if entry is None:
            self.notify("no column to opt in: press a to add data", severity="warning")
            return
        allow_sensitive(self, self._view.project, entry)

    def action_redact(self) -> None:
        from mlcycle.app.screens.privacy_actions import redact_column

        entry = self._selected_column()
        if self._project_or_say() is None:
            return
        if entry is None:
            self.notify("no column to redact: press a to add data", severity="warning")
            return
        view = self._view
        # The target as the loaded report names it: no workspace read on the UI thread.
        redact_column(self, view.project, view.report["target"]["name"], view.version.id,
                      view.dictionary, entry, self.open_version)

    def action_purge(self) -> None:
        from mlcycle.app.screens.privacy_actions import purge_data

        project = self._project_or_say()
        if project:
            purge_data(self, project)

    def action_apply_recipe(self) -> None:
        from mlcycle.app.screens.data_actions import apply_recipe

        project = self._project_or_say()
        if project is None:
            return
        view = self._view
        if not view or not view.versions:
            self.notify("no data to prepare: press a to add some", severity="warning")
            return
        recipe = (view.prep or {}).get("recipe")
        apply_recipe(self, project, [v.id for v in view.versions],
                     recipe["version"] if recipe else None, self.open_version)

    def palette_commands(self) -> list[tuple[str, Callable[[], object], str]]:
        out = super().palette_commands()
        entry = self._selected_column()
        if entry is not None:
            # The column action acts on the highlighted column: the entry names it.
            out = [c for c in out if not c[0].startswith(("column:", "opt in:", "redact:"))]
            subject = f"{self._view.project} {entry['name']}"
            out.append((f"edit column: {subject}", self.action_edit_column,
                        "its role and description (key c)"))
            if entry["sensitive"]:
                out.append((f"opt in: {subject}", self.action_allow_sensitive,
                            "use its personal data in models, with a reason (key o)"))
            out.append((f"redact: {subject}", self.action_redact,
                        "a new version with it hashed, generalised or dropped (key x)"))
        return out

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter on a column: its whole profile.
        entry = self._selected_column() if event.data_table.id == "columns" else None
        if entry is not None:
            self.app.push_screen(column_detail.ColumnScreen(
                self._view.project, entry, self._stats()[entry["name"]]))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if event.data_table.id == "columns" and key:
            self._show_column(key)
        elif (event.data_table.id == "versions" and key and key != self._version_id
              # Refilling the table highlights row 0 on the way to the shown version's row:
              # only where the cursor still is counts, or two versions reload each other.
              and event.cursor_row == event.data_table.cursor_row):
            self._version_id = key
            self.reload()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "column-filter":
            self._fill_columns()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#columns", DataTable).focus()

    def action_filter(self) -> None:
        box = self.query_one("#column-filter", Input)
        box.display = True
        box.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            # No filter open: escape goes on to the app, which stays in this view.
            return bool(self.query_one("#column-filter", Input).display)
        return True

    def action_clear_filter(self) -> None:
        box = self.query_one("#column-filter", Input)
        box.value = ""
        box.display = False
        self.query_one("#columns", DataTable).focus()

    def action_focus_versions(self) -> None:
        self.query_one("#versions", DataTable).focus()

    def action_export(self) -> None:
        view = self._view
        if not view or not view.version or not view.report:
            self.notify("nothing to export yet", severity="warning")
            return
        from mlcycle.data.report import to_markdown
        from mlcycle.store import safety

        text = to_markdown(view.version, view.dictionary, view.report)
        self.export(f"{view.project}-{view.version.id}-data.md",
                    lambda path: safety.write_text(path, text))


def _role(entry: dict[str, Any]) -> str:
    return f"{entry['role']} ({entry['sensitive']})" if entry["sensitive"] else entry["role"]


def _summary(s: dict[str, Any]) -> str:
    if s.get("top"):
        # Whole values that fit the summary column, and how many more: never a list cut
        # mid-value by the table.
        values = [str(t["value"]) for t in s["top"]]
        total = max(s.get("distinct", 0), len(values))
        shown = values[:1]
        for value in values[1:]:
            rest = total - len(shown) - 1
            if len(", ".join([*shown, value])) + (len(f" +{rest:,} more") if rest else 0) > 26:
                break
            shown.append(value)
        more = total - len(shown)
        return ", ".join(shown) + (f" +{more:,} more" if more else "")
    if s.get("mean") is not None:
        return f"{column_detail.number(s['min'])} … {column_detail.number(s['max'])}"
    if s.get("min") is not None:
        return f"{s['min']} … {s['max']}"
    return ""
