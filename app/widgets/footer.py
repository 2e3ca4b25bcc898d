"""The footer of every view: its keys from the left, and Help and Quit held at the right edge
so no width cuts them.

When the keys do not all fit, the view keys go compact beside Help and Quit — ``1 2 3 4 5 6
views``, the current view's key marked — so switching views stays one visible key away at
80 columns; a wide footer with room names each view. Keys that still do not fit are left
out whole, the last declared (the least used) first: a label is never cut mid-word, and
Help (``?``) lists every key.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel

PINNED = ("help", "quit")  # the app's actions kept visible at every width
VIEW_ACTION = "switch_mode("  # the app's bindings that switch views


def _width(key: Widget) -> int:
    """The cells a key takes in a compact footer: key, space, description, margin."""
    if not isinstance(key, FooterKey):
        return 0
    described = 1 + cell_len(key.description) if key.description else 0
    return cell_len(key.key_display) + described + 1


def _total(keys: Iterable[Widget]) -> int:
    return sum(map(_width, keys)) + 1  # the pinned group's border takes one cell


class AppFooter(Footer):
    DEFAULT_CSS = """
    AppFooter #pinned-keys {
        dock: right;
        width: auto;
        height: 1;
        background: $footer-background;
    }
    AppFooter #view-keys {
        width: auto;
        height: 1;
        FooterLabel {
            margin: 0 1 0 0;
        }
    }
    AppFooter FooterKey.-current-view {
        text-style: reverse;
    }
    """

    def __init__(self) -> None:
        # The palette is one key away (ctrl+p) and listed in help: its room goes to Help/Quit.
        super().__init__(show_command_palette=False, compact=True)
        self._compact_views = False
        self._dropped = False  # keys left out for want of room

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        pinned = [k for k in keys if getattr(k, "action", None) in PINNED]
        views = [k for k in keys if str(getattr(k, "action", "")).startswith(VIEW_ACTION)]
        room = self._room()
        self._compact_views = bool(views) and _total(keys) > room
        compact = [self._compact(key) for key in views] if self._compact_views else []
        # What the pinned group takes: its keys, the compact view keys and their label.
        room -= _total(pinned) + sum(map(_width, compact)) + (
            cell_len("views") + 1 if compact else 0)
        self._dropped = False
        for key in keys:
            if key in pinned or (self._compact_views and key in views):
                continue
            room -= _width(key)
            self._dropped = self._dropped or room < 0
            if not self._dropped:  # once one is left out, so are the rest (less used)
                yield key
        with HorizontalGroup(id="pinned-keys"):
            if compact:
                with HorizontalGroup(id="view-keys"):
                    yield from compact
                    yield FooterLabel("views")
            yield from pinned

    def _compact(self, key: FooterKey) -> FooterKey:
        """The view's key alone, its name in the tooltip; the current view's marked."""
        current = key.action == f"{VIEW_ACTION}'{self.app.current_mode}')"
        return FooterKey(key.key, key.key_display, "", key.action, tooltip=key.description,
                         classes="-current-view" if current else "").data_bind(
            compact=Footer.compact)

    def _room(self) -> int:
        return self.size.width or self.app.size.width

    def on_resize(self, _event: Resize) -> None:
        # Wider or narrower: the keys may fit whole now, or no longer.
        fits = _total(self.query(FooterKey)) <= self._room()
        if self._compact_views or self._dropped or not fits:
            self.call_after_refresh(self.recompose)
