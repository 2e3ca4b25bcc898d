"""Driving the UI as a user does: forms filled with keys only (Tab to a field, type,
Enter), waiting for what the screen shows, and reading the notices it flashes."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.widgets import Checkbox, Input, Select


async def until(pilot, condition: Callable[[], object], seconds: float = 60) -> None:
    """Let the app run until ``condition()`` holds; fail with the screen's text if it never
    does within ``seconds``."""
    from tests.app.test_tui import visible_text

    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"waited {seconds:g}s; the screen shows:\n"
                                 f"{visible_text(pilot.app)}")
        await pilot.pause(0.05)


def recorded(app) -> list[str]:
    """Every notice the app shows from now on (they fade: the test reads them here)."""
    shown: list[str] = []
    notify = app.notify

    def record(message: str, **how) -> None:
        shown.append(str(message))
        notify(message, **how)

    app.notify = record
    return shown


async def focus_field(pilot, name: str) -> None:
    """Tab until the form's field ``name`` has the focus."""
    for _ in range(40):
        focused = pilot.app.focused
        if focused is not None and focused.id == f"field-{name}":
            return
        await pilot.press("tab")
    raise AssertionError(f"no field {name!r} reached with Tab (focus: {pilot.app.focused})")


async def fill_form(pilot, values: dict[str, str | bool], submit: bool = True) -> None:
    """Type each value into its field (replacing what it held); then submit with ctrl+s."""
    for name, value in values.items():
        await focus_field(pilot, name)
        widget = pilot.app.focused
        if isinstance(widget, Input):
            await pilot.press("home", "ctrl+k", *str(value))
        elif isinstance(widget, Select):
            await pilot.press("enter", *str(value), "enter")  # the menu searches as typed
        elif isinstance(widget, Checkbox) and widget.value != bool(value):
            await pilot.press("space")
        await pilot.pause()
    if submit:
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)



def asked(app):
    """The decision modal on top, once it shows its decision; else None."""
    from mlcycle.app.screens.decision import DecisionScreen

    screen = app.screen
    if isinstance(screen, DecisionScreen) and screen.is_mounted and screen.query(
            "#decision-body"):
        return screen
    return None


async def put_off_decision(pilot, timeout: float = 30) -> str:
    """Wait for the modal a pending decision raises (over whatever view shows) and put it
    off with escape, as a user busy with something else does; the decision's id."""
    import time

    started = time.monotonic()
    while asked(pilot.app) is None:
        assert time.monotonic() - started < timeout, "no decision was asked"
        await pilot.pause(0.05)
    decision = pilot.app.screen.decision["id"]
    await pilot.press("escape")
    await pilot.pause()
    return decision


async def burst(pilot, *keys: str) -> None:
    """Press ``keys`` as one burst, the way a paste or ``tmux send-keys -l`` delivers them:
    every key reaches the app before it has handled the first (``pilot.press`` waits for
    the app to go idle between keys, which a terminal does not)."""
    from textual import events
    from textual.keys import _character_to_key

    app = pilot.app
    for key in keys:
        name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
        event = events.Key(name, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)
    await pilot.pause(0.1)
    # However long a busy machine takes to push the screen the burst opened.
    await until(pilot, lambda: not app.type_ahead.waiting, seconds=10)
    await pilot.pause(0.1)
