"""What kind of data a column holds, decided the same way everywhere.

The data dictionary, the quality report and the drift engine all need to know whether a
column is numeric, categorical, boolean, a datetime or free text, and whether it is an
identifier that no model or drift test should use. They all ask this module, so a column is
never numeric in one view and categorical in another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

KINDS = ("numeric", "categorical", "boolean", "datetime", "text")
ROLES = ("feature", "target", "identifier", "ignored")

_INTEGER = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
)
_FLOAT = ("FLOAT", "DOUBLE", "REAL", "DECIMAL")
_ID_NAME = re.compile(r"(^|[_\s\-.])(id|uuid|guid|key)$|^(id|uuid|guid)([_\s\-.]|$)|ID$", re.I)
# A string column with at most this many distinct values is a category, not free text.
MAX_CATEGORIES = 1000
# A string column is high-cardinality (an identifier or free text, see guess()) when more than
# HIGH_SHARE of its values are distinct and there are more than HIGH_DISTINCT of them; its
# values are text rather than tokens when at least SPACED_SHARE of them hold a space.
HIGH_SHARE = 0.5
HIGH_DISTINCT = 50
SPACED_SHARE = 0.5


def storage_type(dtype: str) -> str:
    """DuckDB's type name reduced to numeric, integer, boolean, datetime or string."""
    text = str(dtype).upper()
    if text == "BOOLEAN":
        return "boolean"
    if text.startswith(_INTEGER):
        return "integer"
    if text.startswith(_FLOAT):
        return "numeric"
    if text.startswith(("DATE", "TIMESTAMP", "TIME")):
        return "datetime"
    return "string"


@dataclass(frozen=True)
class Guess:
    """What a column looks like: its kind, the role it gets until a user sets one, and why
    (None for an ordinary feature)."""

    kind: str
    role: str = "feature"
    reason: str | None = None

    @property
    def identifier(self) -> bool:
        return self.role == "identifier"


def guess(name: str, dtype: str, n_non_null: int, n_distinct: int,
          spaced_share: float | None = None) -> Guess:
    """The column's kind and guessed role.

    A number is numeric whatever its number of distinct values; an integer column that is
    all distinct and named like an id (``id``, ``customer_id``, ``key``) is an identifier
    (unique integers without such a name are as often amounts or counts). A string column
    with at least 20 values is *high-cardinality* when nearly all its values are distinct,
    or when it has more than ``HIGH_DISTINCT`` distinct values making up more than
    ``HIGH_SHARE`` of its values: too few rows per value to learn a category from, and a
    fresh sample always holds values never seen. Such a column is an identifier when its
    values are tokens (``spaced_share``, the share of values holding a space, below
    ``SPACED_SHARE``; unknown counts as tokens), and free text (names, descriptions)
    otherwise; both stay out of the model inputs and the drift tests until a user sets the
    column's role to ``feature``. A string column with more than ``MAX_CATEGORIES``
    distinct values is free text too.
    """
    storage = storage_type(dtype)
    nearly_unique = n_non_null >= 20 and n_distinct >= 0.95 * n_non_null
    if storage == "boolean":
        return Guess("boolean")
    if storage == "datetime":
        return Guess("datetime")
    if storage == "integer":
        if nearly_unique and _ID_NAME.search(name.strip()):
            return Guess("numeric", "identifier", "unique integers named like an id")
        return Guess("numeric")
    if storage == "numeric":
        return Guess("numeric")
    counted = f"{n_distinct:,} of {n_non_null:,} values distinct"
    high = nearly_unique or (n_non_null >= 20 and n_distinct > HIGH_DISTINCT
                             and n_distinct > HIGH_SHARE * n_non_null)
    if high and (spaced_share or 0.0) < SPACED_SHARE:
        return Guess("text", "identifier", f"{counted}, tokens without spaces")
    if high:
        return Guess("text", "ignored",
                     f"{counted}, {spaced_share:.0%} holding spaces")
    if n_distinct <= MAX_CATEGORIES or n_non_null < 20:
        return Guess("categorical")
    return Guess("text", "ignored",
                 f"{n_distinct:,} distinct values (more than {MAX_CATEGORIES:,})")


def spaced_share_expr(column: str, dtype: str) -> str:
    """SQL for the share of a string column's values that hold a space (``column``: quoted
    already); NULL for columns that are not plain strings."""
    if str(dtype).upper() != "VARCHAR":
        return "NULL"
    return f"avg(contains({column}, ' ')::INTEGER)::DOUBLE"


def by_name(name: str) -> pl.Expr:
    """The column named exactly ``name``, as a polars expression.

    ``pl.col`` reads a name that starts with ``^`` and ends with ``$`` as a pattern over the
    column names; a real column may be called that, so user columns are selected by name.
    """
    import polars.selectors as cs

    return cs.by_name(name).as_expr()
