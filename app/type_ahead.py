"""Type-ahead: keys that arrive in the same burst as the key opening a form or the ``:`` line
(a paste, ``tmux send-keys -l``, a fast typist) go to that form.

Pushing a screen takes a moment: it mounts, then its first field takes the focus. Keys that
arrive meanwhile would reach a screen with nothing focused and be lost. And keys of the burst
that the app had already sent to the view's focused widget, before the opening key came back
up to be matched with its binding, would come back after the push and be lost as well. A
screen that takes typing says so (``TYPE_AHEAD = True``); while one is being pushed, the app
holds every key, and keys sent to a screen it has covered since; once the screen has its
focus the held keys are sent again, in the order they were typed.
"""

from __future__ import annotations

import time
import weakref
from typing import TYPE_CHECKING

from textual import events
from textual.screen import Screen

if TYPE_CHECKING:
    from textual.app import App

WAIT = 10.0  # seconds a screen may take to be ready (a busy machine takes several); then
#   the held keys go on regardless, so a screen that never takes the focus loses none
LOOK_EVERY = 0.01


class TypeAhead:
    """The app's one buffer of keys typed ahead of a screen being pushed."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._screen: Screen | None = None  # the screen being pushed, keys held for it
        self._held: list[events.Key] = []
        self._since = 0.0
        # The screen each key from the terminal was sent into, until it comes back up.
        self._sent_to: weakref.WeakKeyDictionary[events.Key, Screen] = (
            weakref.WeakKeyDictionary())

    @property
    def waiting(self) -> bool:
        """Whether keys are held for a screen being pushed."""
        return self._screen is not None

    def expect(self, screen: Screen | str) -> None:
        """``screen`` is being pushed: if it takes typing, hold keys until it is ready."""
        if not isinstance(screen, Screen) or not getattr(screen, "TYPE_AHEAD", False):
            return
        self._screen, self._since = screen, time.monotonic()
        self.app.call_after_refresh(self._release_when_ready)

    def hold(self, event: events.Event) -> bool:
        """Whether the app is to skip ``event``: a key held for the screen being pushed, or
        typed into a screen a typing one has covered since (sent again to the latter)."""
        if not isinstance(event, events.Key):
            return False
        if not event.is_forwarded:  # fresh from the terminal
            if self._screen is not None:
                self._held.append(event)
                return True
            self._sent_to[event] = self.app.screen
            return False
        sent_to = self._sent_to.pop(event, None)
        covered = sent_to is not None and sent_to is not self.app.screen
        if not covered or not getattr(self.app.screen, "TYPE_AHEAD", False):
            return False  # the view's key as usual (a prompt that popped up gets none)
        if self._screen is not None:
            self._held.append(event)
        else:
            self.app.post_message(_again(event))
        return True

    def _ready(self, screen: Screen) -> bool:
        focused = self.app.focused
        return screen.is_current and focused is not None and focused.screen is screen

    def _release_when_ready(self) -> None:
        screen = self._screen
        if screen is None:
            return
        gone = screen not in self.app.screen_stack  # dismissed before it was ready
        late = time.monotonic() - self._since > WAIT
        if not (gone or late or self._ready(screen)):
            self.app.set_timer(LOOK_EVERY, self._release_when_ready)
            return
        held, self._held, self._screen = self._held, [], None
        for key in sorted(held, key=lambda k: k.time):  # some came back up late
            self.app.post_message(_again(key))


def _again(key: events.Key) -> events.Key:
    """A key to send again: a new event, as the held one went through the app once; typed
    when it was."""
    again = events.Key(key.key, key.character)
    again.time = key.time
    return again
