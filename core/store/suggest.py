"""Naming the choice a user most likely meant when a name matches none of the choices."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def closest(name: str, choices: Sequence[str], n: int = 3) -> list[str]:
    """The choices that read most like ``name``, best first (none when nothing is close)."""
    return difflib.get_close_matches(name, list(choices), n=n)


def did_you_mean(name: str, choices: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or ``""``."""
    near = closest(name, choices, n=1)
    return f"; did you mean {near[0]!r}?" if near else ""


def listing(name: str, choices: Sequence[str], limit: int = 12) -> str:
    """The choices as one short line, the close matches first, so that cutting the list
    never hides the one meant: ``"churned, customer_id, … (14 in all)"``."""
    near = closest(name, choices)
    ordered = [*near, *(c for c in choices if c not in near)]
    shown = ", ".join(ordered[:limit])
    return shown + (f", … ({len(ordered)} in all)" if len(ordered) > limit else "")
