"""What kind of data a column holds, decided the same way everywhere.

The data dictionary, the quality report and the drift engine all need to know whether a
column is numeric, categorical, boolean, a datetime or free text, and whether it is an
identifier that no model or drift test should use. They all ask this module, so a column is
never numeric in one view and categorical in another.
"""

from __future__ import annotations

import re
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


def infer_kind(name: str, dtype: str, n_non_null: int, n_distinct: int) -> tuple[str, bool]:
    """The column's kind and whether it looks like an identifier.

    An identifier is a string column whose values are (nearly) all distinct, or an integer
    column that is all distinct and is named like one (``id``, ``customer_id``, ``key``):
    unique integers without such a name are as often amounts or counts.
    """
    storage = storage_type(dtype)
    nearly_unique = n_non_null >= 20 and n_distinct >= 0.95 * n_non_null
    if storage == "boolean":
        return "boolean", False
    if storage == "datetime":
        return "datetime", False
    if storage == "integer":
        return "numeric", nearly_unique and bool(_ID_NAME.search(name.strip()))
    if storage == "numeric":
        return "numeric", False
    if nearly_unique:
        return "text", True
    if n_distinct <= MAX_CATEGORIES or n_non_null < 20:
        return "categorical", False
    return "text", False


def by_name(name: str) -> pl.Expr:
    """The column named exactly ``name``, as a polars expression.

    ``pl.col`` reads a name that starts with ``^`` and ends with ``$`` as a pattern over the
    column names; a real column may be called that, so user columns are selected by name.
    """
    import polars.selectors as cs

    return cs.by_name(name).as_expr()
