"""Settings files in TOML read key by key (monitoring policies, deployment configs).

Every key is checked by a validator that returns the value to keep or raises ValueError with
why; an unknown section or key is refused, so that a misspelt key never silently falls back
to its default. Errors are one line naming the file, the line and the key.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcycle.store import tomlfile
from mlcycle.store.errors import InvalidInput

Check = Callable[[Any], Any]  # a key's validator: the value to keep, or ValueError(why)
Spec = dict[str, dict[str, Check]]  # section ("" for the top level) -> key -> validator


@dataclass(frozen=True)
class Number:
    """A key's check: a finite number from ``low`` to ``high`` (a whole one if ``integer``).
    nan, infinity and out-of-range values would switch a check off (nothing is above nan) or
    make it run for ever."""

    low: float
    high: float
    integer: bool = False

    def span(self) -> str:
        """The allowed range as people read it: "0 to 1", "1 to 1,000"."""
        return f"{_figure(self.low)} to {_figure(self.high)}"

    def __call__(self, value: Any) -> Any:
        kind = "a whole number" if self.integer else "a number"
        ok = (not isinstance(value, bool)
              and isinstance(value, int if self.integer else (int, float))
              and (isinstance(value, int) or math.isfinite(value))
              and self.low <= value <= self.high)
        if not ok:
            raise ValueError(f"must be {kind} from {self.span()} (got {shown(value)})")
        return int(value) if self.integer else float(value)


def number(low: float, high: float, integer: bool = False) -> Number:
    return Number(low, high, integer)


def span_of(spec: Spec, key: str) -> str:
    """"; 0 to 1" for a numeric key of ``spec`` ("alerts.drift_share"), else "": what a
    rendered file says beside the key's help."""
    section, _, name = key.rpartition(".")
    check = spec.get(section, {}).get(name)
    return f"; {check.span()}" if isinstance(check, Number) else ""


def _figure(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def choice(options: tuple[str, ...]) -> Check:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(map(json.dumps, options))}, "
                             f"not {json.dumps(value)}")
        return value
    return check


def find_line(text: str, pattern: str, start: int = 0) -> int | None:
    """The 1-based number of the first line from ``start`` matching ``pattern``."""
    lines = text.splitlines()
    rx = re.compile(pattern)
    for i in range(start, len(lines)):
        if rx.search(lines[i]):
            return i + 1
    return None


def read(text: str, source: str, spec: Spec, what: str
         ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], frozenset[str]]:
    """The checked top-level keys, the checked keys of each section, and the keys the text
    set (``"mode"``, ``"gate.margin"``). ``what`` names the kind of file in errors ("a
    policy"). Raises InvalidInput."""
    data = tomlfile.loads(text, source)
    sections = [s for s in spec if s]

    def problem(section: str, key: str, why: str) -> InvalidInput:
        start = (find_line(text, rf"^\s*\[\s*{re.escape(section)}\s*\]") or 1) - 1 \
            if section else 0
        line = find_line(text, rf"^\s*\[?\s*\"?{re.escape(key)}\"?\s*[=\]]", start)
        where = f"{source} line {line}" if line else source
        name = f"[{section}] {key}" if section else key
        return InvalidInput(f"{where}: {name} {why}")

    explicit: set[str] = set()
    parts: dict[str, dict[str, Any]] = {s: {} for s in sections}
    top: dict[str, Any] = {}
    for key, value in data.items():
        if key in sections and not isinstance(value, dict):
            raise problem("", key, f"must be a table: write [{key}] and its keys below it")
        if key in sections:
            for sub, sub_value in value.items():
                check = spec[key].get(sub)
                if check is None:
                    raise problem(key, sub, f"is not a key of {what}; [{key}] has "
                                  f"{', '.join(spec[key])}")
                try:
                    parts[key][sub] = check(sub_value)
                except ValueError as exc:
                    raise problem(key, sub, str(exc)) from None
                explicit.add(f"{key}.{sub}")
        elif key in spec.get("", {}):
            try:
                top[key] = spec[""][key](value)
            except ValueError as exc:
                raise problem("", key, str(exc)) from None
            explicit.add(key)
        else:
            raise problem("", key, f"is not a key of {what}; {what} has "
                          + ", ".join([*spec.get("", {}), *(f"[{s}]" for s in sections)]))
    return top, parts, frozenset(explicit)


def shown(value: Any) -> str:
    """A value as a refusal quotes it: a number short (1e+12), anything else as TOML."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return f"{value:g}"
        except OverflowError:  # a whole number too large for a float
            return f"a {len(str(abs(value)))}-digit number"
    return toml_value(value)


def toml_value(value: Any) -> str:
    """A value as TOML spells it (booleans, strings, numbers, lists of those)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)
