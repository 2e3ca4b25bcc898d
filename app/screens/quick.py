"""A quick change (a registry move, a registration) made off the UI thread.

Textual tells only a worker's own node that it failed, so a view's worker error would
otherwise vanish: the change's error is handed to the app, which shows it as one line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def change(view: Any, make: Callable[[], Any], said: Callable[[Any], str]) -> None:
    """Run ``make()`` in a thread; then say ``said(result)`` and reload the view."""

    def run() -> None:
        try:
            result = make()
        except Exception as exc:  # shown (a bug also logged), never lost
            view.app.call_from_thread(view.app.show_error, exc)
            return
        view.app.call_from_thread(view.notify, said(result), markup=False)
        view.app.call_from_thread(view.reload)

    view.run_worker(run, thread=True, exclusive=True, group="change", exit_on_error=False)
