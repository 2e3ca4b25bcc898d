"""The one table of the UI: vim keys (j/k, g/G), `/` to filter its rows, `y` to copy the
highlighted row's id. Every view's tables are this class, so the keys are the same everywhere.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.actions import SkipAction
from textual.binding import Binding
from textual.widgets import DataTable, Input
from textual.widgets.data_table import RowKey


class TableFilter(Input):
    """The filter box a table opens above itself with `/`: rows narrow as it is typed."""

    BINDINGS = [Binding("escape", "close", "Clear filter", id="table.clear_filter")]

    def __init__(self, table: VimTable) -> None:
        super().__init__(placeholder="filter rows (escape clears)", classes="table-filter")
        self.table = table

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()  # the view's own inputs are not this one
        self.table.apply_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    def action_close(self) -> None:
        self.table.clear_filter()


class VimTable(DataTable):
    """A DataTable with the keys users of vim, k9s and lazygit press first.

    Rows added while a filter is typed are kept and shown when they match: a view that
    reloads under a filter keeps it. A view with its own filter box (one that queries
    rather than hides rows) passes ``own_filter=True`` and `/` goes to the view.
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.cursor_down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.cursor_up"),
        Binding("g", "scroll_top", "First row", show=False, id="table.first_row"),
        Binding("G", "scroll_bottom", "Last row", show=False, key_display="G",
                id="table.last_row"),
        Binding("y", "copy_id", "Copy id", show=False, id="table.copy_id"),
        Binding("slash", "filter", "Filter", show=False, key_display="/", id="table.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False,
                id="table.clear_filter"),
    ]

    def __init__(self, *args: Any, own_filter: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.own_filter = own_filter
        self.needle = ""
        self._rows: list[tuple[tuple[Any, ...], Any, dict[str, Any]]] = []

    # -- rows, kept whole so a filter can narrow and widen them ---------------------------

    def add_row(self, *cells: Any, key: Any = None, **how: Any) -> RowKey:
        self._rows.append((cells, key, how))
        if self._matches(cells, key):
            return super().add_row(*cells, key=key, **how)
        return RowKey(key)

    def clear(self, columns: bool = False) -> VimTable:
        self._rows = []
        super().clear(columns)
        return self

    def _matches(self, cells: tuple[Any, ...], key: Any) -> bool:
        if not self.needle:
            return True
        text = " ".join(str(c.plain if isinstance(c, Text) else c) for c in (*cells, key or ""))
        return self.needle in text.lower()

    def apply_filter(self, needle: str) -> None:
        """Show only the rows whose cells (or id) contain ``needle``, case ignored."""
        keep = self.highlighted_key()
        self.needle = needle.strip().lower()
        super().clear()
        for cells, key, how in self._rows:
            if self._matches(cells, key):
                super().add_row(*cells, key=key, **how)
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep))

    def clear_filter(self) -> None:
        box = self._filter_box()
        if box is not None:
            box.remove()
        if self.needle:
            self.apply_filter("")
        self.focus()

    def _filter_box(self) -> TableFilter | None:
        if self.parent is None:
            return None
        found = [w for w in self.parent.children
                 if isinstance(w, TableFilter) and w.table is self]
        return found[0] if found else None

    # -- actions -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter" and self.own_filter:
            return False  # the view's own `/` (a query over all rows) takes it
        if action == "clear_filter":
            # Nothing to clear: escape goes on to the view, then the app (back one level).
            return bool(self.needle or self._filter_box())
        return True

    def action_filter(self) -> None:
        box = self._filter_box()
        if box is None:
            box = TableFilter(self)
            self.parent.mount(box, before=self)
            box.value = self.needle
        box.focus()

    def action_clear_filter(self) -> None:
        self.clear_filter()

    def highlighted_key(self) -> str | None:
        """The highlighted row's key, or None for an empty table."""
        if not self.row_count or self.cursor_row < 0:
            return None
        value = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        return None if value is None else str(value)

    def copy_value(self) -> str | None:
        """What `y` copies: the row's id (its key), else its first cell."""
        if not self.row_count:
            return None
        key = self.highlighted_key()
        if key is not None:
            return key
        cell = self.get_row_at(self.cursor_row)[0]
        return cell.plain if isinstance(cell, Text) else str(cell)

    def action_copy_id(self) -> None:
        value = self.copy_value()
        if value is None:
            raise SkipAction()
        self.app.copy_to_clipboard(value)
        self.notify(f"copied {value}", markup=False, timeout=3)
