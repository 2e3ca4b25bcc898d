"""Helpers for building SQL safely: values are always bound, identifiers always quoted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb


def ident(name: str) -> str:
    """Quote a column or table name from user data for DuckDB (spaces, quotes and all)."""
    return '"' + name.replace('"', '""') + '"'


def fetch_one(
    con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None
) -> tuple[Any, ...] | None:
    """The first row of a query, or None.

    Fetches the whole (small) result: a half-read result keeps the connection busy and makes
    its next relation call fail.
    """
    rows = con.execute(query, params or []).fetchall()
    return rows[0] if rows else None


def memory_connection() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB for data work outside the workspace lock."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con
