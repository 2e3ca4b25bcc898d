"""The one table of the UI: vim keys (j/k, g/G), `/` to filter its rows, `y` to copy the
highlighted row's id; and columns that fit its width (``app/widgets/column_fit.py``). Every
view's tables are this class, so the keys are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text, TextType
from textual.actions import SkipAction
from textual.binding import Binding
from textual.events import Resize
from textual.widgets import DataTable, Input
from textual.widgets.data_table import CellType, ColumnKey, RowKey

from mlcycle.app.widgets import column_fit


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


@dataclass
class _Column:
    label: TextType
    key: str
    width: int | None  # as the view asked; None: as wide as its widest cell
    need: int  # the widest of its label and cells so far


def _text(cell: Any) -> Text:
    # As DataTable reads a cell: a str is markup, anything else its str().
    if isinstance(cell, Text):
        return cell
    return Text.from_markup(cell) if isinstance(cell, str) else Text(str(cell))


class VimTable(DataTable):
    """A DataTable with the keys users of vim, k9s and lazygit press first.

    Rows added while a filter is typed are kept and shown when they match: a view that
    reloads under a filter keeps it. A view with its own filter box (one that queries
    rather than hides rows) passes ``own_filter=True`` and `/` goes to the view.

    When its columns do not fit its width, those named in ``shrink`` are cut with an
    ellipsis, then those named in ``drop`` are hidden, the first named first, until the rest
    fits; a wider table shows them again. Cells are kept whole, so nothing is lost.

    A view refills its table on every reload (after a dialog closes, when another process
    writes): the cursor comes back to the row it was on, by key, when that row comes back,
    so a reload never moves what the user is on, nor undoes a `j` typed while it loaded.
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

    def __init__(self, *args: Any, own_filter: bool = False, drop: Sequence[str] = (),
                 shrink: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.own_filter = own_filter
        self.needle = ""
        self.drop, self.shrink = tuple(drop), tuple(shrink)
        self._rows: list[tuple[tuple[Any, ...], Any, dict[str, Any]]] = []
        self._columns: list[_Column] = []  # every column the view added, shown or not
        self._plan: column_fit.Plan | None = None  # None: every column, whole
        self._fit_due = False
        self._keep: str | None = None  # the highlighted row's key when the rows were cleared

    # -- columns that fit the width --------------------------------------------------------

    def add_column(self, label: TextType, *, width: int | None = None, key: str | None = None,
                   default: CellType | None = None) -> ColumnKey:
        if self._plan is not None:  # every column back first, then one more
            self._plan = None
            self._redraw()
        column = _Column(label, key or f"column-{len(self._columns)}", width,
                         width or cell_len(_text(label).plain))
        self._columns.append(column)
        self._refit_later()
        return super().add_column(label, width=width, key=column.key, default=default)

    @property
    def fitting(self) -> bool:
        """Whether the columns are yet to be fitted to rows or a width that changed."""
        return self._fit_due

    def on_resize(self, _event: Resize) -> None:
        self._refit_later()

    def _refit_later(self) -> None:
        if not self._fit_due:
            self._fit_due = True
            self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        self._fit_due = False
        room = self.scrollable_content_region.width
        if not self._columns or room <= 0:
            return
        labels = [_text(c.label).plain for c in self._columns]
        found = column_fit.plan([c.need for c in self._columns], labels, room,
                                pad=2 * self.cell_padding, drop=self.drop, shrink=self.shrink)
        whole = tuple((i, None) for i in range(len(self._columns)))
        found = None if found == whole else found
        if found != self._plan:
            self._plan = found
            self._redraw()

    def _redraw(self) -> None:
        """Columns and rows again, as the plan shows them; the cursor stays on its row."""
        keep = self.highlighted_key()
        super().clear(columns=True)
        for i, cut in self._plan or [(i, None) for i in range(len(self._columns))]:
            column = self._columns[i]
            super().add_column(column.label, width=cut or column.width, key=column.key)
        self._show_rows(keep)

    def _shown(self, cells: tuple[Any, ...]) -> tuple[Any, ...]:
        if self._plan is None:
            return cells
        out = []
        for i, cut in self._plan:
            if i >= len(cells):
                continue
            cell = cells[i]
            if cut is not None and cell_len(_text(cell).plain) > cut:
                cell = _text(cell).copy()
                cell.truncate(cut, overflow="ellipsis")
            out.append(cell)
        return tuple(out)

    # -- rows, kept whole so a filter can narrow and widen them ---------------------------

    def add_row(self, *cells: Any, key: Any = None, **how: Any) -> RowKey:
        self._rows.append((cells, key, how))
        for column, cell in zip(self._columns, cells):
            if column.width is None:
                column.need = max(column.need, cell_len(_text(cell).plain))
        self._refit_later()
        if self._matches(cells, key):
            added = super().add_row(*self._shown(cells), key=key, **how)
            if key is not None and str(key) == self._keep:
                self._keep = None
                self.move_cursor(row=self.row_count - 1)
            return added
        return RowKey(key)

    def clear(self, columns: bool = False) -> VimTable:
        self._keep = self.highlighted_key() or self._keep
        self._rows = []
        if columns:
            self._columns, self._plan = [], None
        else:
            for column in self._columns:
                column.need = column.width or cell_len(_text(column.label).plain)
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
        self._show_rows(keep)

    def _show_rows(self, keep: str | None) -> None:
        """The kept rows that match the filter, with the cursor back on ``keep``."""
        for cells, key, how in self._rows:
            if self._matches(cells, key):
                super().add_row(*self._shown(cells), key=key, **how)
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
