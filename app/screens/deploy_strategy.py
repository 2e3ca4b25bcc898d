"""The deployment view's strategy actions: edit the deployment config (the strategy and its
settings), step the canary forward or back, switch the blue/green slots or switch back.

They are ``mlcycle deploy set`` / ``step [--back]`` / ``switch [--back]``: the same core
calls and checks. A step and a switch ask the reason the audit trail keeps, then write at
once (a running server follows within a second). One that the stored strategy does not
allow says which key changes it before asking anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mlcycle.store.errors import MlcycleError

if TYPE_CHECKING:
    from mlcycle.app.screens.deploy import DeployScreen

EDITOR_HINT = ("ctrl+s checks this config (as 'mlcycle deploy set' does) and stores it as a "
               "new version; escape leaves it.")


def edit_config(screen: DeployScreen, project: str) -> None:
    """Open the deployment config, every key shown, in the editor; store a checked edit."""
    from mlcycle.app.screens.text_editor import TextEditorScreen
    from mlcycle.deploy import config as configs

    ws = screen.app.workspace
    current = configs.current(ws, project)

    def save(edited: str) -> str:
        parsed = configs.parse(edited, "deployment config")  # one-line error: nothing stored
        stored, created = configs.store(ws, project, parsed, source="edited in mlcycle")
        return (f"stored deployment config v{stored.version} of {project} "
                f"(strategy {stored.strategy})" if created
                else f"deployment config unchanged: still v{stored.version}")

    which = f"v{current.version}" if current.version else "the defaults"
    screen.app.push_screen(
        TextEditorScreen(f"deployment config of {project} ({which}, strategy "
                         f"{current.strategy})",
                         configs.render(current, project, hint=EDITOR_HINT), save),
        screen.edited)


def _allowed(screen: DeployScreen, project: str, wanted: str) -> bool:
    """Whether the loaded strategy is ``wanted``; if not, say how to change it, here."""
    now = screen.strategy_name()
    if now is None or now == wanted:
        return True
    screen.notify(f"{project} deploys with {now}, not {wanted}: press e to set "
                  f'strategy = "{wanted}" in its deployment config', severity="warning",
                  markup=False)
    return False


def _confirmed(screen: DeployScreen, question: str, default: str,
               change: Callable[[str], str]) -> None:
    """Ask the reason, then make the change (a short write) and say what it did."""
    from mlcycle.app.screens.confirm import ConfirmScreen

    def answered(reason: str | None) -> None:
        if reason is None:
            return
        try:
            said = change(reason)
        except MlcycleError as exc:
            screen.app.show_error(exc)
            return
        screen.notify(said, markup=False)
        screen.reload()

    screen.app.push_screen(ConfirmScreen(question, default), answered)


def canary_step(screen: DeployScreen, project: str, back: bool = False) -> None:
    from mlcycle.deploy import strategies

    if not _allowed(screen, project, "canary"):
        return

    def change(reason: str) -> str:
        result = strategies.step(screen.app.workspace, project, back=back, reason=reason)
        if back:
            return (f"canary v{result.challenger} answers no rows: every row back to "
                    f"champion v{result.champion}")
        return (f"canary v{result.challenger} now answers {result.to_share:.0%} of rows "
                f"(step {result.step} of {result.steps})")

    if back:
        _confirmed(screen, f"Send every row of {project} back to the champion (the canary "
                   "answers none)?", "canary back", change)
    else:
        _confirmed(screen, f"Raise {project}'s canary to its next share?", "canary step",
                   change)


def switch(screen: DeployScreen, project: str, back: bool = False) -> None:
    from mlcycle.deploy import strategies

    if not _allowed(screen, project, "blue_green"):
        return

    def change(reason: str) -> str:
        result = strategies.switch(screen.app.workspace, project, back=back, reason=reason)
        return (f"{result.to_slot} slot live (v{result.to_version}); {result.from_slot} idle "
                f"(v{result.from_version})")

    question = (f"Switch {project} back to the slot live before the last switch?" if back
                else f"Switch {project}'s live blue/green slot?")
    _confirmed(screen, question, "blue/green switch back" if back else "blue/green switch",
               change)
