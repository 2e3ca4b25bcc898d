"""Pending decisions as a prompt wherever the user is.

A policy in ``prompt`` mode turns a trigger into a pending decision (a check in this app, a
``mlcycle watch`` in a shell, a ``mlcycle monitor``): the app reads the workspace's pending
decisions when the workspace changes (off the UI thread, one query) and raises each one the
user has not answered or put off this session as a modal over whatever view shows
(``mlcycle.app.screens.decision``). It waits while another modal (a form being typed in,
the editor) is open, so a key meant for that never answers a decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.screen import ModalScreen

from mlcycle.store.errors import MlcycleError

if TYPE_CHECKING:
    from mlcycle.app.ui import MlcycleApp

OFFER_EVERY = 1.0  # seconds between looks at whether a waiting decision can be shown now


class DecisionPrompt:
    """The app's one prompter of pending decisions."""

    def __init__(self, app: MlcycleApp) -> None:
        self.app = app
        self.put_off: set[str] = set()  # answered or put off this session: not asked again
        self.waiting: list[dict[str, Any]] = []  # pending, not shown yet, oldest first
        self.showing: str | None = None  # the decision the modal is on

    def start(self) -> None:
        self.app.set_interval(OFFER_EVERY, self.offer)
        self.poll()

    def poll(self) -> None:
        """Read the pending decisions again (the workspace changed)."""
        self.app.run_worker(self._read, thread=True, exclusive=True, group="decisions",
                            exit_on_error=False)

    def _read(self) -> None:
        from mlcycle.monitor import decisions

        try:
            found = decisions.pending_everywhere(self.app.workspace)
        except MlcycleError:
            return  # the workspace is busy or gone for a moment: the next change asks again
        self.app.call_from_thread(self._found, found)

    def _found(self, found: list[dict[str, Any]]) -> None:
        self.waiting = [d for d in found if d["id"] not in self.put_off
                        and d["id"] != self.showing]
        self.offer()

    def offer(self) -> None:
        """Show the oldest waiting decision, unless one shows or a modal is in the way."""
        if self.showing is not None or not self.waiting:
            return
        if isinstance(self.app.screen, ModalScreen):
            return  # the user is typing into something: ask once it closes
        self.open(self.waiting.pop(0))

    def open(self, decision: dict[str, Any]) -> None:
        """Show ``decision`` in the modal (also what the monitoring view's key does)."""
        from mlcycle.app.screens.decision import DecisionScreen

        if self.showing is not None:
            return
        self.showing = decision["id"]
        self.app.push_screen(DecisionScreen(decision, self), lambda _result: self._closed())

    def seen(self, decision_id: str) -> None:
        """The modal moved on to another decision (a promotion after a retraining)."""
        self.put_off.add(self.showing or decision_id)
        self.showing = decision_id
        self.waiting = [d for d in self.waiting if d["id"] != decision_id]

    def _closed(self) -> None:
        if self.showing is not None:
            self.put_off.add(self.showing)
        self.showing = None
