"""The one check every source query passes, each time it is stored and each time it runs.

A source's query is input, never trusted: the user typed it, or a received workspace holds
it. Whatever engine runs it (DuckDB over a file or an aggregate's inputs, a DuckDB file,
SQLite, PostgreSQL), it must be **one read-only SELECT** (``WITH … SELECT``, ``VALUES`` and
set operations included) that reads only its own tables. Refused, with one line:

- any other statement: COPY, ATTACH, INSTALL/LOAD, PRAGMA, SET, CALL, EXPORT/IMPORT,
  DESCRIBE/SHOW, and a ``WITH`` that deletes, inserts or updates;
- more than one statement;
- table functions (``read_csv``, ``read_text``, ``glob``, ``parquet_scan``,
  ``generate_series``…) and a table of another catalog; over a file or an aggregate, any
  table but the ones it is given (so ``FROM 'x.csv'`` too);
- the server functions that reach files, large objects or other servers
  (``pg_read_file``, ``lo_export``, ``dblink``, SQLite's ``load_extension``…).

The query is read by DuckDB's own parser (``extract_statements`` for the statement types,
``json_serialize_sql`` for the tree), not by patterns. A PostgreSQL or SQLite query that
DuckDB's parser cannot read (``FOR UPDATE``, say) is refused too: what cannot be read cannot
be checked, and a plain SELECT in standard SQL (names in double quotes) always parses.

The engines are a second guard, for whatever this check might miss: DuckDB runs the query
with file access limited to the source's own files and the output (see
:func:`guarded_connection`), SQLite opens the file read-only, PostgreSQL runs the session
read-only.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.store.errors import InvalidInput
from mlcycle.store.sql import fetch_one, memory_connection

if TYPE_CHECKING:
    import duckdb

_RULE = "a source's query is one SELECT (WITH … SELECT) that reads only its own tables"
# The query nodes a SELECT is made of; any other (DELETE_QUERY_NODE…) changes something.
_READING_NODES = {"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"}
# Functions of the source's engine that reach beyond its tables: files, large objects,
# other servers, settings, extensions.
_OUTSIDE = ("pg_read_file", "pg_read_binary_file", "pg_ls_", "pg_stat_file", "pg_file_",
            "lo_", "dblink", "set_config", "pg_terminate_backend", "pg_cancel_backend",
            "pg_reload_conf", "pg_rotate_logfile", "pg_promote", "load_extension",
            "readfile", "writefile", "getenv")


def check(query: str, shown: str, tables: Iterable[str] | None = None, *,
          con: duckdb.DuckDBPyConnection | None = None) -> None:
    """Refuse, before anything runs, a query that is not one read-only SELECT over its own
    tables: those named in ``tables`` (a file source's or an aggregate's), or any table of
    the source's database when ``tables`` is None (a name such a database does not hold
    reaches nothing else: SQLite and PostgreSQL read no files by name, and a DuckDB file is
    opened with external access off). ``con``, a DuckDB connection to parse in (the query
    only is parsed there; nothing of it runs)."""
    import duckdb

    with contextlib.nullcontext(con) if con else memory_connection() as con:
        try:
            statements = con.extract_statements(query)
        except duckdb.Error as exc:
            message = str(exc).strip().splitlines()[0].removeprefix("Parser Error: ")
            raise InvalidInput(f"{shown}: the query cannot be read ({message}); {_RULE}, "
                               "in standard SQL with names in double quotes") from None
        if len(statements) != 1:
            raise InvalidInput(f"{shown}: the query holds {len(statements)} statements; {_RULE}")
        kind = statements[0].type.name
        if kind != "SELECT":
            # Its first word says what the user wrote (INSTALL and LOAD share a type).
            first = (statements[0].query.split(None, 1) or [""])[0]
            word = first.upper() if first.isalpha() else kind
            raise InvalidInput(f"{shown}: {word} is not allowed; {_RULE}")
        row = fetch_one(con, "SELECT json_serialize_sql(?)", [query])
    tree = json.loads(row[0]) if row else {}
    if tree.get("error") or len(tree.get("statements", [])) != 1:
        raise InvalidInput(f"{shown}: the query cannot be checked; {_RULE}")
    _check_tree(tree["statements"][0], shown, None if tables is None else list(tables))


def _check_tree(statement: dict[str, Any], shown: str, tables: list[str] | None) -> None:
    found: set[str] = set()
    ctes: set[str] = set()
    allowed = f"read only the tables {', '.join(tables)}" if tables else _RULE
    for node in _nodes(statement):
        kind = node.get("type")
        if isinstance(kind, str) and kind.endswith("_NODE") and kind not in _READING_NODES:
            raise InvalidInput(f"{shown}: the query changes data "
                               f"({kind.removesuffix('_QUERY_NODE')}); {_RULE}")
        if kind == "SHOW_REF":
            raise InvalidInput(f"{shown}: the query describes instead of selecting; {_RULE}")
        if kind == "TABLE_FUNCTION":
            raise InvalidInput(f"{shown}: the query calls a table function "
                               f"({_function_name(node)}); {allowed}")
        if kind == "FUNCTION" and str(node.get("function_name", "")).lower().startswith(
                _OUTSIDE):
            raise InvalidInput(f"{shown}: the query calls {node['function_name']}, which "
                               f"reaches outside the source; {_RULE}")
        if kind == "BASE_TABLE":
            found.add(_table(node, shown, allowed, tables))
        if isinstance(node.get("cte_map"), dict):  # WITH name AS (…): a table of its own
            ctes.update(entry.get("key", "") for entry in node["cte_map"].get("map", []))
    if tables is None:
        return
    unknown = sorted(t for t in found - ctes if t not in tables)
    if unknown:
        raise InvalidInput(f"{shown}: the query reads {', '.join(map(repr, unknown))}, which "
                           f"is not among its tables ({', '.join(tables)})")


def _table(node: dict[str, Any], shown: str, allowed: str, tables: list[str] | None) -> str:
    name = str(node.get("table_name", ""))
    if node.get("catalog_name") or (tables is not None and node.get("schema_name")):
        prefix = node.get("catalog_name") or node.get("schema_name")
        raise InvalidInput(f"{shown}: the query names {prefix}.…; {allowed}")
    return name


def _function_name(node: dict[str, Any]) -> str:
    function = node.get("function")
    if isinstance(function, dict) and function.get("function_name"):
        return str(function["function_name"])
    return "a function"


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _nodes(item)
    elif isinstance(value, list):
        for item in value:
            yield from _nodes(item)


def guarded_connection(readable: Iterable[Path], writable: Iterable[Path]
                       ) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that runs a source's query: it can read only ``readable`` and
    write only ``writable`` (DuckDB's ``allowed_paths`` with external access turned off, for
    good: the query cannot turn it back on), so even a query this module's check let through
    cannot reach another file, attach a database or load an extension."""
    con = memory_connection()
    paths = sorted({str(Path(p).absolute()) for p in (*readable, *writable)})
    con.execute("SET allowed_paths = ?", [paths])
    con.execute("SET enable_external_access = false")
    return con
