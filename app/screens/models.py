"""The models view: registered versions, aliases, model cards; promote, roll back, set and
clear aliases, archive, export a card."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Header, Label, Markdown, Static

from mlcycle.app.screens import quick
from mlcycle.app.screens.base import ViewScreen
from mlcycle.app.screens.confirm import ConfirmScreen
from mlcycle.app.screens.form import Field, FormScreen
from mlcycle.app.widgets.footer import AppFooter
from mlcycle.app.widgets.table import VimTable
from mlcycle.models import registry
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
        Binding("p", "promote", "Promote"),
        Binding("b", "rollback", "Roll back"),
        Binding("a", "set_alias", "Set alias"),
        Binding("x", "clear_alias", "Clear alias"),
        Binding("A", "archive", "Archive", key_display="A"),
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
                yield VimTable(id="versions-table", cursor_type="row", shrink=("aliases",),
                               drop=("registered",))
                yield Label("Alias history", classes="pane-title spaced")
                yield VimTable(id="alias-history", cursor_type="none", show_cursor=False,
                               shrink=("reason",), drop=("from",))
            with VerticalScroll(id="models-right", classes="pane"):
                yield Markdown(id="model-card")
        yield AppFooter()

    def fetch(self) -> Registry | None:
        from mlcycle import projects

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
        table = self.query_one("#versions-table", VimTable)
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
                h["ts"][5:16].replace("T", " "),
                h["alias"],
                h["action"],
                str(h["version"] or "–"),  # none once cleared
                str(h["previous"] or "–"),
                Text(h["reason"] or ""),  # typed by the user: shown as typed
            )
        if not data.versions:
            self.query_one("#model-card", Markdown).update(
                "No registered models yet: press **t** in the Experiments view (**3**) to "
                "train one, or **r** there to register a run."
            )
        elif table.row_count:  # the version the cursor came back to (VimTable keeps it)
            self._load_card(int(table.highlighted_key()))

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
        self.app.call_from_thread(self._show_card, version)

    def _show_card(self, version: int) -> None:
        # A card read for a row the cursor has left since is not the one to show.
        if str(version) == self.query_one("#versions-table", VimTable).highlighted_key():
            self.query_one("#model-card", Markdown).update(self._cards[version])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "versions-table" and event.row_key.value:
            self._load_card(int(event.row_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter on a version: its model card on the whole screen.
        chosen = self._selected() if event.data_table.id == "versions-table" else None
        if chosen is not None and chosen.version in self._cards:
            from mlcycle.app.screens.card_detail import CardScreen

            self.app.push_screen(CardScreen(self._cards[chosen.version]))

    def _selected(self) -> ModelVersion | None:
        table = self.query_one("#versions-table", DataTable)
        if not self._data or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next(v for v in self._data.versions if str(v.version) == key)

    # Every registry change asks for the reason the audit trail keeps, then runs off the UI
    # thread; a refusal (an archived version, the champion's only alias) is one line.
    def action_promote(self) -> None:
        self._promote(self._selected())

    def action_rollback(self) -> None:
        if not self._data:
            return
        self._confirm(
            "Give the champion alias back to the version that held it before?",
            lambda ws, project, reason: registry.rollback(ws, project, reason=reason),
            lambda moved: f"rolled back: version {moved.version} is champion again",
            "rollback",
        )

    def action_set_alias(self) -> None:
        self._set_alias(self._selected())

    def action_clear_alias(self) -> None:
        self._clear_alias(self._selected())

    def action_archive(self) -> None:
        self._archive(self._selected())

    def _promote(self, chosen: ModelVersion | None) -> None:
        if chosen is None:
            return
        if "champion" in chosen.aliases:
            self.notify(f"version {chosen.version} already is the champion: pick another "
                        "version to promote", severity="warning", markup=False)
            return
        self._confirm(
            f"Make version {chosen.version} ({chosen.summary.get('model')}) the "
            "champion, the model production scores with?",
            lambda ws, project, reason: registry.promote(ws, project, str(chosen.version),
                                                         reason=reason),
            lambda moved: f"version {moved.version} is now champion",
        )

    def _set_alias(self, chosen: ModelVersion | None) -> None:
        if chosen is None:
            return

        def asked(values: dict[str, Any] | None) -> None:
            if not values:
                return
            alias = values["alias"]
            self._confirm(
                f"Give version {chosen.version} the alias {alias}?",
                lambda ws, project, reason: registry.promote(ws, project, str(chosen.version),
                                                             alias, reason),
                lambda moved: f"version {moved.version} is now {alias}",
            )

        self.app.push_screen(FormScreen(
            f"Set an alias on version {chosen.version} of {self._data.project}",
            [Field("alias", "Alias", default="challenger", required=True,
                   help="champion: what production scores with; challenger: scored in its "
                   "shadow. A version holds one alias: one it held before is cleared.")],
            submit="Next"), asked)

    def _clear_alias(self, chosen: ModelVersion | None) -> None:
        if chosen is None:
            return
        if not chosen.aliases:
            self.notify(f"version {chosen.version} holds no alias", severity="warning")
            return
        alias = chosen.aliases[0]
        warning = {"champion": " Nothing will score production data until a version is "
                   "promoted.", "challenger": " Shadow scoring stops."}.get(alias, "")
        self._confirm(
            f"Take the alias {alias} off version {chosen.version}?{warning}",
            lambda ws, project, reason: registry.clear(ws, project, alias, reason),
            lambda version: f"cleared {alias}: version {version} no longer holds it",
        )

    def _archive(self, chosen: ModelVersion | None) -> None:
        if chosen is None:
            return
        self._confirm(
            f"Archive version {chosen.version} ({chosen.summary.get('model')})? It stays in "
            "the registry's history but cannot take an alias.",
            lambda ws, project, reason: registry.archive(ws, project, str(chosen.version),
                                                         reason),
            lambda done: f"archived version {done.version}",
        )

    def _confirm(self, question: str, change: Callable[[Any, str, str], Any],
                 said: Callable[[Any], str], default_reason: str = "") -> None:
        """Ask for the reason, then make ``change(ws, project, reason)`` and say ``said``."""
        if not self._data:
            return
        project = self._data.project
        self.app.push_screen(
            ConfirmScreen(question, default_reason),
            lambda reason: reason and quick.change(
                self, lambda: change(self.app.workspace, project, reason), said),
        )

    def palette_commands(self) -> list[tuple[str, Callable[[], object], str]]:
        """Each action on each version it can act on, named by it: 'promote: churn v3'."""
        if not self._data:
            return super().palette_commands()
        project = self._data.project
        out: list[tuple[str, Callable[[], object], str]] = []
        for v in self._data.versions:
            name = f"{project} v{v.version}"
            model = str(v.summary.get("model"))
            if v.archived:
                continue
            if "champion" not in v.aliases:
                out.append((f"promote: {name}", partial(self._promote, v),
                            f"make {model} the champion (key p on its row)"))
            out.append((f"set alias: {name}", partial(self._set_alias, v),
                        f"give {model} an alias (key a on its row)"))
            if v.aliases:
                out.append((f"clear alias: {name} ({v.aliases[0]})",
                            partial(self._clear_alias, v), "key x on its row"))
            else:
                out.append((f"archive: {name}", partial(self._archive, v),
                            "key A on its row"))
        out.append((f"roll back: {project}", self.action_rollback,
                    "give champion back to the version before (key b)"))
        chosen = self._selected()
        if chosen is not None:
            out.append((f"export card: {project} v{chosen.version}", self.action_export,
                        "write the model card to the export folder (key e)"))
        return out

    def action_export(self) -> None:
        chosen = self._selected()
        if chosen is None or chosen.version not in self._cards:
            self.notify("no card to export yet", severity="warning")
            return
        from mlcycle.store import safety

        text = self._cards[chosen.version]
        self.export(f"{self._data.project}-v{chosen.version}-model-card.md",
                    lambda path: safety.write_text(path, text), what="model card")
