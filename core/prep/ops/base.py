"""What every recipe step is: one class per ``op`` that parses, checks and applies itself.

A step's class reads its TOML keys (:meth:`Op.parse`), says what it does in one line
(:meth:`Op.summary`), walks the data's schema to prove it can work (:meth:`Op.check`) and
becomes part of the lazy polars plan (:meth:`Op.apply`). Adding a step is adding a class to
:data:`mlcycle.prep.ops.REGISTRY`; nothing else dispatches on its name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mlcycle.store import suggest
from mlcycle.store.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

Problem = Callable[[str], InvalidInput]  # a message -> the error naming the step's line


class Op:
    """One kind of recipe step; subclasses are stateless and registered by ``name``."""

    name: ClassVar[str]
    keys: ClassVar[frozenset[str]]  # the TOML keys it takes, besides op and note

    def parse(self, raw: dict[str, Any], problem: Problem) -> dict[str, Any]:
        """Its parameters from the step's TOML table (checked on their own)."""
        raise NotImplementedError

    def summary(self, p: dict[str, Any]) -> str:
        return f"{self.name} {', '.join(p['columns'])}"

    def removes(self, p: dict[str, Any]) -> dict[str, str]:
        """Columns it takes away whatever the data: name -> how (``{}`` for most)."""
        return {}

    def adds(self, p: dict[str, Any]) -> list[str]:
        """Columns it brings (back) whatever the data (``[]`` for most)."""
        return []

    def check(self, p: dict[str, Any], cols: dict[str, str], target: str | None,
              problem: Problem) -> dict[str, str]:
        """The schema after the step, from the one before it; raises ``problem(…)`` for a
        step that cannot work on these columns."""
        raise NotImplementedError

    def apply(self, run: Run, p: dict[str, Any], lf: pl.LazyFrame,
              cols: dict[str, str]) -> pl.LazyFrame:
        """The plan with this step added; ``cols`` is the schema before it."""
        raise NotImplementedError


@dataclass
class Run:
    """What applying one step may report: where it stands in the recipe (for errors) and
    the statistics it fitted (a median imputed, a quantile clipped)."""

    where: str  # "recipe v3 line 12, step 4 (cast)"
    number: int
    op: str
    fitted: list[dict[str, Any]] = field(default_factory=list)

    def fit(self, column: str, statistic: str, value: Any) -> None:
        plain = (value if isinstance(value, (int, float, str, bool)) or value is None
                 else str(value))
        self.fitted.append({"step": self.number, "op": self.op, "column": column,
                            "statistic": statistic, "value": plain})


def need(names: Any, cols: dict[str, str], problem: Problem) -> None:
    """Refuse a column the data does not have at this step, naming the closest one."""
    for name in names:
        if name not in cols:
            raise problem(f"column {name!r} is not in the data at this step"
                          f"{suggest.did_you_mean(name, list(cols))}")


def names(value: Any, problem: Problem, key: str = "columns") -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise problem(f'{key} must be a list of column names, e.g. {key} = ["a", "b"]')
    if len(set(value)) != len(value):
        raise problem(f"{key} names a column twice")
    return value


def is_number(value: Any) -> bool:
    """A number a column can hold: finite, and a whole one within 64 bits (TOML reads 1e400
    as infinity and whole numbers of any length)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return -(2**63) <= value < 2**63 if isinstance(value, int) else math.isfinite(value)


def choice(raw: dict[str, Any], key: str, options: tuple[str, ...], problem: Problem,
           required: bool = False) -> str:
    if key not in raw:
        if required:
            raise problem(f"needs {key} = one of: {', '.join(options)}")
        return options[0]
    if raw[key] not in options:
        raise problem(f"{key} = {raw[key]!r} is not one of: {', '.join(options)}")
    return raw[key]
