"""Filling the UI's forms with keys only, as a user does: Tab to a field, type, Enter."""

from __future__ import annotations

from textual.widgets import Checkbox, Input, Select


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
