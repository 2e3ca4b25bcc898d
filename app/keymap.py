"""Every key binding of the UI by its action name ('experiments.train', 'table.cursor_down',
'app.quit'), and the check of the remapped keys a config gives them.

A remap that names no action, no real key, or a key another action of the same place holds
is dropped with a one-line reason; the others apply (through Textual's keymap).
"""

from __future__ import annotations

import importlib
import unicodedata
from dataclasses import dataclass

from textual.binding import Binding

MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")


@dataclass(frozen=True)
class Action:
    id: str  # 'experiments.train'
    keys: str  # the default key(s), comma separated
    description: str
    scope: str  # 'app', 'table', or the view's name: keys clash only within a place


def _bindings(owner: type) -> list[Binding]:
    return [b for b in getattr(owner, "BINDINGS", []) if isinstance(b, Binding) and b.id]


def actions() -> list[Action]:
    """Every binding that can be remapped, in the order a user meets them."""
    from mlcycle.app.screens.jobs import JobsScreen
    from mlcycle.app.ui import MlcycleApp
    from mlcycle.app.views import VIEWS
    from mlcycle.app.widgets.table import VimTable

    owners: list[tuple[str, type]] = [("app", MlcycleApp), ("table", VimTable)]
    for view in VIEWS:
        module, name = view.screen.split(":")
        owners.append((view.name, getattr(importlib.import_module(module), name)))
    owners.append(("jobs", JobsScreen))
    out: list[Action] = []
    for scope, owner in owners:
        seen: dict[str, Action] = {}
        for b in _bindings(owner):
            if b.id in seen:  # one binding given several keys: one action
                old = seen[b.id]
                seen[b.id] = Action(b.id, f"{old.keys},{b.key}", old.description, scope)
            else:
                seen[b.id] = Action(b.id, b.key, b.description or b.action, scope)
        out += seen.values()
    return out


def is_key(name: str) -> bool:
    """Whether ``name`` is a key Textual can bind: 'T', 'ctrl+t', 'f5', 'question_mark'."""
    from textual.keys import KEY_NAME_REPLACEMENTS, Keys

    *mods, base = name.split("+")
    if not base or any(m not in MODIFIERS for m in mods):
        return False
    if len(base) == 1:
        return base.isprintable() and not base.isspace()
    named = {k.value for k in Keys} | set(KEY_NAME_REPLACEMENTS.values())
    if base in named or base in {"space", "backspace", "delete"}:
        return True
    try:
        unicodedata.lookup(base.replace("_", " "))  # 'question_mark', 'colon'
    except KeyError:
        return False
    return True


def _normal(key: str) -> str:
    """One spelling per key, as Textual names it: '?' and 'question_mark' are one key."""
    from textual.keys import KEY_NAME_REPLACEMENTS

    if len(key) == 1 and not key.isalnum():
        name = unicodedata.name(key, key).lower().replace("-", "_").replace(" ", "_")
        return KEY_NAME_REPLACEMENTS.get(name, name)
    return key


def check(remaps: dict[str, str], known: list[Action]) -> tuple[dict[str, str], list[str]]:
    """The remaps that apply (for ``App.set_keymap``) and a line for each one dropped."""
    by_id = {a.id: a for a in known}
    problems: list[str] = []
    good: dict[str, str] = {}
    for action_id, keys in remaps.items():
        if action_id not in by_id:
            problems.append(f"keys.{action_id}: no such action (see 'mlcycle config show' "
                            "for their names); ignored")
            continue
        bad = [k for k in keys.split(",") if not is_key(k.strip())]
        if bad:
            problems.append(f"keys.{action_id} = {keys!r}: {bad[0].strip()!r} is not a key "
                            "(write e.g. \"T\", \"ctrl+t\", \"f5\"); the default "
                            f"{by_id[action_id].keys!r} stays")
            continue
        good[action_id] = ",".join(_normal(k.strip()) for k in keys.split(","))
    # Keys clash within one place: a view's keys, the tables' keys and the app's are all live
    # at once in a view; two views never are.
    for action_id in list(good):
        action = by_id[action_id]
        # An app or table key is live in every view.
        live = None if action.scope in ("app", "table") else {"app", "table", action.scope}
        for key in good[action_id].split(","):
            holder = next((a for a in known if a.id != action_id
                           and (live is None or a.scope in live)
                           and key in good.get(a.id, _keys_of(a)).split(",")), None)
            if holder is not None:
                problems.append(f"keys.{action_id} = {remaps[action_id]!r}: that key is "
                                f"already {holder.id}; the default {action.keys!r} stays")
                del good[action_id]
                break
    return good, problems


def _keys_of(action: Action) -> str:
    return ",".join(_normal(k) for k in action.keys.split(","))
