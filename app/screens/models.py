"""The models view: registered versions, aliases, model cards; promote and roll back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Label, Markdown, Static

from mlcycle.app.screens.base import ViewScreen
from mlcycle.app.screens.confirm import ConfirmScreen
from mlcycle.models.registry import ModelVersion
from mlcycle.store.errors import MlcycleError


@dataclass
class Registry:
    project: str
    metric: str
    versions: list[ModelVersion]
    history: list[dict[str, Any]]


class ModelsScreen(ViewScreen):
    BINDINGS = [
        Binding("p", "promote", "Promote to champion"),
        Binding("b", "rollback", "Roll back champion"),
        Binding("e", "export", "Export card"),
    ]

    AUTO_FOCUS = "#versions-table"

    def __init__(self) -> None:
        super().__init__()
        self._data: Registry | None = None
        self._cards: dict[int, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="models-summary")
        with Horizontal():
            with Vertical(id="models-left", classes="pane"):
                yield Label("Versions", classes="pane-title")
                yield DataTable(id="versions-table", cursor_type="row")
                yield Label("Alias history", classes="pane-title spaced")
                yield DataTable(id="alias-history", cursor_type="none", show_cursor=False)
            with VerticalScroll(id="models-right", classes="pane"):
                yield Markdown(id="model-card")
        yield Footer()

    def fetch(self) -> Registry | None:
        from mlcycle import projects
        from mlcycle.models import registry

        project = self.app.project
        if project is None:
            return None
        ws = self.app.workspace
        self._cards = {}
        return Registry(
            project,
            projects.get(ws, project).metric,
            registry.versions(ws, project),
            registry.history(ws, project),
        )

    def show(self, data: Registry | None) -> None:
        self._data = data
        summary = self.query_one("#models-summary", Static)
        table = self.query_one("#versions-table", DataTable)
        table.clear(columns=True)
        history = self.query_one("#alias-history", DataTable)
        history.clear(columns=True)
        if data is None:
            summary.update("No project selected: pick one in the projects view (1).")
            return
        champion = next((v for v in data.versions if "champion" in v.aliases), None)
        text = Text(f"{data.project}: {len(data.versions)} registered versions", style="bold")
        text.append(f"   champion: {'version ' + str(champion.version) if champion else 'none'}")
        summary.update(text)
        table.add_columns(
            "version", "aliases", "model", f"holdout {data.metric}", "run", "registered"
        )
        for v in data.versions:
            value = v.summary.get("metrics", {}).get(f"holdout.{data.metric}")
            table.add_row(
                str(v.version),
                ", ".join(v.aliases) or ("archived" if v.archived else ""),
                str(v.summary.get("model")),
                "–" if value is None else f"{value:.4f}",
                v.run_id,
                f"{v.created_at:%Y-%m-%d %H:%M}",
                key=str(v.version),
            )
        history.add_columns("when", "alias", "action", "version", "from", "reason")
        for h in reversed(data.history):
            history.add_row(
                h["ts"].replace("T", " "),
                h["alias"],
                h["action"],
                str(h["version"] or "–"),  # none once cleared
                str(h["previous"] or "–"),
                Text(h["reason"] or ""),  # typed by the user: shown as typed
            )
        if not data.versions:
            self.query_one("#model-card", Markdown).update(
                f"No registered models yet. Run `mlcycle train {data.project}`."
            )
        elif table.row_count:
            self._load_card(data.versions[0].version)

    @work(thread=True, exclusive=True, group="card", exit_on_error=False)
    def _load_card(self, version: int) -> None:
        from mlcycle.models import card as model_card

        if version not in self._cards:
            try:
                self._cards[version] = model_card.render(
                    self.app.workspace, self._data.project, str(version)
                )
            except MlcycleError as exc:
                self._cards[version] = f"Cannot show the card: {exc}"
        self.app.call_from_thread(
            self.query_one("#model-card", Markdown).update, self._cards[version]
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "versions-table" and event.row_key.value:
            self._load_card(int(event.row_key.value))

    def _selected(self) -> ModelVersion | None:
        table = self.query_one("#versions-table", DataTable)
        if not self._data or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next(v for v in self._data.versions if str(v.version) == key)

    def action_promote(self) -> None:
        chosen = self._selected()
        if chosen is None:
            return
        self.app.push_screen(
            ConfirmScreen(
                f"Make version {chosen.version} ({chosen.summary.get('model')}) the "
                "champion, the model production scores with?"
            ),
            lambda reason: reason and self._change("promote", chosen.version, reason),
        )

    def action_rollback(self) -> None:
        if not self._data:
            return
        self.app.push_screen(
            ConfirmScreen(
                "Give the champion alias back to the version that held it before?", "rollback"
            ),
            lambda reason: reason and self._change("rollback", None, reason),
        )

    @work(thread=True, exclusive=True, group="change", exit_on_error=False)
    def _change(self, action: str, version: int | None, reason: str) -> None:
        from mlcycle.models import registry

        ws, project = self.app.workspace, self._data.project
        try:
            if action == "promote":
                moved = registry.promote(ws, project, str(version), reason=reason)
            else:
                moved = registry.rollback(ws, project, reason=reason)
        except MlcycleError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.app.call_from_thread(self.notify, f"version {moved.version} is now champion")
        self.app.call_from_thread(self.reload)

    def action_export(self) -> None:
        chosen = self._selected()
        if chosen is None or chosen.version not in self._cards:
            self.notify("no card to export yet", severity="warning")
            return
        from mlcycle.store import safety

        text = self._cards[chosen.version]
        self.export(f"{self._data.project}-v{chosen.version}-model-card.md",
                    lambda path: safety.write_text(path, text), what="model card")
