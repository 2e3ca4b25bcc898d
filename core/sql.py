"""Helpers for building SQL safely: values are always bound, identifiers always quoted."""

from __future__ import annotations


def ident(name: str) -> str:
    """Quote a column or table name from user data for DuckDB (spaces, quotes and all)."""
    return '"' + name.replace('"', '""') + '"'


def literal_path(path: object) -> str:
    """Quote a file path as a SQL string, for table functions that take no parameters."""
    return "'" + str(path).replace("'", "''") + "'"
