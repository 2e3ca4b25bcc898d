"""Errors a user can act on.

Everything the engine raises on purpose is a ``MlcycleError``: its message is one line that
says what went wrong and, where possible, what to do. The command line prints it and exits
with ``exit_code``; the TUI shows it as a notification. Anything else is a bug.
"""

from __future__ import annotations

from mlcycle.store.masking import mask_text


def one_line(text: str) -> str:
    """The first line of ``text``, with anything shaped like personal data masked."""
    text = text.strip()
    return mask_text(text.splitlines()[0]) if text else ""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type when it has none; anything in
    it shaped like personal data is masked (a library's message may quote a value)."""
    return one_line(str(exc)) or type(exc).__name__


def error_line(exc: BaseException) -> str:
    """An error as every face shows and records it (the command line, the TUI, a watcher's
    outcomes, events and ``rejected/*.error.txt``): one line, personal data masked. An
    ``MlcycleError`` is its message; anything else (a library's or a bug's) is named by its
    type too, since its message alone may not say what failed."""
    if isinstance(exc, MlcycleError):
        return first_line(exc)
    text = one_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class MlcycleError(Exception):
    """A problem with the user's input or workspace, explained in one line.

    The message is masked when the error is made: it may quote a value of the data, and an
    error is shown, logged and recorded in many places."""

    exit_code = 2

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(mask_text(str(message)), *args)


class NotFound(MlcycleError):
    """A named project, dataset version or file does not exist."""


class InvalidInput(MlcycleError):
    """A file, value or option that cannot be used as given."""


class WorkspaceBusy(MlcycleError):
    """Another process held the workspace for longer than the wait allowed."""

    exit_code = 3


class WorkspaceError(MlcycleError):
    """The workspace is missing, from a newer mlcycle, or damaged."""
