"""The one reader of TOML text: every policy, deployment config, recipe, feature set and the
UI's config file goes through :func:`loads`.

Python 3.11 reads TOML with the standard library's ``tomllib``; 3.10 has none, so the
``tomli`` package (the same parser, a dependency there) stands in. Both parse nested arrays and
inline tables by recursion, so a file of a few thousand nested brackets would end in a
RecursionError; the nesting is measured first, without recursion, and refused past
``MAX_DEPTH`` in one line.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Any

from mlcycle.store.errors import InvalidInput

MAX_DEPTH = 100  # arrays, inline tables and dotted keys; real settings files nest 2 or 3

_PART = r'(?:[A-Za-z0-9_\-]+|"(?:\\.|[^"\\\n])*"|\'[^\'\n]*\')'
# Strings and comments are skipped whole, so a bracket inside them is not counted; a dotted key
# (``a.b.c = 1``, ``[a.b.c]``) nests one table per dot, so it counts too.
_LEXEME = re.compile(
    rf'"""(?:\\.|[^\\])*?"""|\'\'\'.*?\'\'\'|(?P<dotted>{_PART}(?:[ \t]*\.[ \t]*{_PART})+)'
    rf'|{_PART}|#[^\n]*|[\[\]{{}}]',
    re.DOTALL,
)


def parser() -> ModuleType:
    """``tomllib``, else ``tomli`` (Python 3.10); InvalidInput when neither is installed."""
    for name in ("tomllib", "tomli"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise InvalidInput("cannot read TOML: this Python has no tomllib; install tomli "
                       "('pip install tomli')")


def depth(text: str) -> int:
    """The deepest nesting of arrays, inline tables and dotted keys in TOML ``text`` (a
    number's decimal point counts as a dot: one level more, never less)."""
    level = deepest = 0
    for match in _LEXEME.finditer(text):
        mark = match.group()
        if match.group("dotted"):
            deepest = max(deepest, level + len(re.findall(_PART, mark)) - 1)
        elif mark in "[{":
            level += 1
            deepest = max(deepest, level)
        elif mark in "]}":
            level = max(0, level - 1)
    return deepest


def loads(text: str, source: str) -> dict[str, Any]:
    """The TOML ``text`` as a dict; InvalidInput naming ``source`` (a file, "policy v3") on a
    syntax error or nesting deeper than MAX_DEPTH levels."""
    if depth(text) > MAX_DEPTH:
        raise InvalidInput(f"{source}: nesting deeper than {MAX_DEPTH} levels of arrays, "
                           "inline tables or dotted keys")
    toml = parser()
    try:
        return toml.loads(text)
    except toml.TOMLDecodeError as exc:
        raise InvalidInput(f"{source}: TOML syntax error: {str(exc).splitlines()[0]}") from None
    except ValueError as exc:  # a whole number of more than 4,300 digits
        raise InvalidInput(f"{source}: cannot read it: {str(exc).split(';')[0]}") from None
