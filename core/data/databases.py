"""Where a source's rows come from: a URI, and a reader that brings them into DuckDB columnar.

A URI is one of

- a file, folder or glob (a plain path or ``file:///…``), read by :mod:`mlcycle.data.sources`
  like every other file;
- ``sqlite:///path`` or ``duckdb:///path``, a database file, opened read-only;
- ``postgresql://user@host:port/database`` (libpq's URI), a server, in a read-only session.

Every query is checked by :mod:`mlcycle.data.queries` before it runs, and a DuckDB file is
opened with external access off, so its query reaches no file but the database itself.

Databases are read through ADBC (Apache Arrow's database connectivity: the SQLite and
PostgreSQL drivers are C libraries that hand back Arrow record batches), and DuckDB files by
DuckDB itself; either way DuckDB scans the Arrow stream, so no row passes through Python.
(DuckDB's own sqlite and postgres scanners would download their extension at run time, and
the extension wheels on PyPI are built for an older DuckDB, which refuses to load them.)

Credentials never appear in a URI: a password in one is refused. libpq reads it from the
environment (``PGPASSWORD``) or from a password file outside the workspace (``~/.pgpass``,
or the file ``PGPASSFILE`` names), so nothing the workspace stores, and no report, holds it.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.data import queries, sources
from mlcycle.store.errors import InvalidInput, NotFound, first_line
from mlcycle.store.sql import ident

if TYPE_CHECKING:
    import duckdb

FILE, SQLITE, DUCKDB, POSTGRESQL = "file", "sqlite", "duckdb", "postgresql"
_SCHEMES = {"sqlite": SQLITE, "duckdb": DUCKDB, "postgresql": POSTGRESQL,
            "postgres": POSTGRESQL}
_SECRET_PARAMS = ("password", "passfile", "sslpassword")
_BATCH_ROWS = 1 << 16


@dataclass(frozen=True)
class Location:
    """A parsed URI: its kind and what it names (an absolute path, or the libpq URI)."""

    kind: str
    target: str

    @property
    def uri(self) -> str:
        """The URI as stored: absolute, and free of secrets."""
        if self.kind in (FILE, POSTGRESQL):
            return self.target
        return f"{self.kind}://{self.target}"


def parse(uri: str, *, workspace: Path | None = None) -> Location:
    """Check a URI and resolve it (relative paths against the current folder); raises a
    one-line error for an unknown scheme, a missing file or a password written into it."""
    text = uri.strip()
    if not text:
        raise InvalidInput("a source needs a URI: a file, folder or glob, sqlite:///PATH, "
                           "duckdb:///PATH or postgresql://USER@HOST/DATABASE")
    scheme, sep, rest = text.partition("://")
    if not sep or len(scheme) < 2:  # a plain path (or a Windows drive letter)
        return _file(text)
    kind = _SCHEMES.get(scheme.lower())
    if scheme.lower() == "file":
        return _file(urllib.parse.unquote(rest))
    if kind is None:
        raise InvalidInput(f"{scheme}://: unknown kind of source; use a path, file://, "
                           "sqlite://, duckdb:// or postgresql://")
    if kind == POSTGRESQL:
        return Location(POSTGRESQL, _server(text, workspace))
    # sqlite:///abs/path, and sqlite:////abs/path as SQLAlchemy writes it, name one file.
    path = Path("/" + rest.lstrip("/") if rest.startswith("/") else rest).expanduser().absolute()
    if not path.is_file():
        raise NotFound(f"{kind}://{path}: no such database file")
    return Location(kind, str(path))


def stored(uri: str) -> Location:
    """The location a stored URI (one :func:`parse` returned) names, without checking it."""
    scheme, sep, rest = uri.partition("://")
    kind = _SCHEMES.get(scheme.lower()) if sep else None
    if kind is None:
        return Location(FILE, uri)
    return Location(kind, uri if kind == POSTGRESQL else rest)


def _file(text: str) -> Location:
    sources.resolve(text)  # something readable is there now
    return Location(FILE, str(Path(text).expanduser().absolute()))


def _server(text: str, workspace: Path | None) -> str:
    parts = urllib.parse.urlsplit(text)
    params = urllib.parse.parse_qs(parts.query)
    if parts.password is not None or any(k.lower() in _SECRET_PARAMS for k in params):
        raise InvalidInput("keep the password out of the URI: set PGPASSWORD, or write it in "
                           "~/.pgpass (or the file PGPASSFILE names), outside the workspace")
    if not parts.hostname and "host" not in params:
        raise InvalidInput(f"{text}: name the server, as postgresql://USER@HOST:PORT/DATABASE")
    passfile = os.environ.get("PGPASSFILE")
    if workspace is not None and passfile:
        inside = Path(passfile).expanduser().absolute()
        if inside.is_relative_to(workspace.absolute()):
            raise InvalidInput(f"PGPASSFILE {passfile} is inside the workspace; keep "
                               "credentials outside it")
    return text


def incremental_sql(query: str, column: str, placeholder: str) -> str:
    """The query restricted to rows past the last value collected, in the order of
    ``column`` (the database does the filtering, so only new rows travel)."""
    # The newline ends a line comment the query may close with.
    return (f"SELECT * FROM ({query}\n) AS mlcycle_source WHERE {ident(column)} > "  # noqa: S608
            f"{placeholder} ORDER BY {ident(column)}")


def readable(location: Location) -> list[Path]:
    """The files DuckDB reads for ``location`` in the connection that runs its query
    (a database's rows arrive as an Arrow stream, without a file)."""
    return list(sources.resolve(location.target).files) if location.kind == FILE else []


@contextlib.contextmanager
def opened(con: duckdb.DuckDBPyConnection, location: Location, query: str | None, *,
           name: str, after: tuple[str, Any] | None = None, label: str | None = None
           ) -> Iterator[duckdb.DuckDBPyRelation]:
    """A lazy DuckDB relation, in ``con``, over the rows ``query`` returns from ``location``
    (a file source's table is called ``name`` in its query). ``after`` = (column, value)
    keeps only rows past value. The source stays open while the relation is read.

    The query is checked here, every time, whoever stored it (:mod:`mlcycle.data.queries`);
    ``con`` should be a :func:`queries.guarded_connection` that can read :func:`readable`."""
    shown = label or location.uri
    if query:
        queries.check(query, shown, [name] if location.kind == FILE else None, con=con)
    if location.kind == FILE:
        yield _file_relation(con, location, query, name, after, shown)
        return
    if not query:
        raise InvalidInput(f"{shown}: a database source needs a query (--query 'SELECT …')")
    placeholder = "$1" if location.kind == POSTGRESQL else "?"
    sql = incremental_sql(query, after[0], placeholder) if after else query
    params = [after[1]] if after else []
    if location.kind == DUCKDB:
        with _duckdb_stream(location, sql, params, shown) as stream:
            yield con.from_arrow(stream)
        return
    with _adbc_stream(location, sql, params, shown) as stream:
        yield con.from_arrow(stream)


def _file_relation(con: duckdb.DuckDBPyConnection, location: Location, query: str | None,
                   name: str, after: tuple[str, Any] | None, shown: str
                   ) -> duckdb.DuckDBPyRelation:
    import duckdb

    rel = sources.load(con, sources.resolve(location.target))
    if not query and not after:
        return rel
    rel.create_view(name)
    sql = query or f"SELECT * FROM {ident(name)}"  # noqa: S608
    if after:
        sql = incremental_sql(sql, after[0], "?")
    try:
        return con.sql(sql, params=[after[1]] if after else None)
    except duckdb.Error as exc:
        raise InvalidInput(f"{shown}: the query fails: {sources.error_text(exc)}") from None


@contextlib.contextmanager
def _duckdb_stream(location: Location, sql: str, params: list[Any], shown: str
                   ) -> Iterator[Any]:
    import duckdb

    try:
        # External access off: the query reads this database and nothing else.
        src = duckdb.connect(location.target, read_only=True,
                             config={"enable_external_access": False})
    except duckdb.Error as exc:
        raise InvalidInput(f"{shown}: cannot open: {sources.error_text(exc)}") from None
    try:
        try:
            rel = src.sql(sql, params=params or None)
        except duckdb.Error as exc:
            raise InvalidInput(f"{shown}: the query fails: {sources.error_text(exc)}") from None
        if rel is None:
            raise InvalidInput(f"{shown}: the query returns no table; write a SELECT")
        # DuckDB hands one connection's result to another as an Arrow stream.
        yield rel.__arrow_c_stream__()
    finally:
        src.close()


@contextlib.contextmanager
def _adbc_stream(location: Location, sql: str, params: list[Any], shown: str
                 ) -> Iterator[Any]:
    import adbc_driver_manager as adbc

    try:
        if location.kind == SQLITE:
            import adbc_driver_sqlite

            # Read-only: a query can never change the user's database.
            path = urllib.parse.quote(location.target, safe="/")
            database = adbc_driver_sqlite.connect(f"file:{path}?mode=ro")
        else:
            import adbc_driver_postgresql

            database = adbc_driver_postgresql.connect(location.target)
    except adbc.Error as exc:
        raise InvalidInput(f"{shown}: cannot connect: {_adbc_text(exc)}") from None
    with contextlib.ExitStack() as stack:
        stack.callback(database.close)
        try:
            connection = adbc.AdbcConnection(database)
            stack.callback(connection.close)
            if location.kind == POSTGRESQL:
                _read_only(adbc, connection)
            statement = adbc.AdbcStatement(connection)
            stack.callback(statement.close)
            if location.kind == SQLITE:  # batches of 1,024 rows by default: a third slower
                statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_BATCH_ROWS)})
            statement.set_sql_query(sql)
            if params:
                import polars as pl

                statement.bind_stream(pl.DataFrame({"after": params}))
            stream, _ = statement.execute_query()
        except adbc.Error as exc:
            raise InvalidInput(f"{shown}: {_adbc_text(exc)}") from None
        yield stream


def _read_only(adbc: Any, connection: Any) -> None:
    """Make the server session read-only: a function the query calls cannot write either."""
    statement = adbc.AdbcStatement(connection)
    try:
        statement.set_sql_query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        statement.execute_update()
    finally:
        statement.close()


def _adbc_text(exc: BaseException) -> str:
    """The driver's message in one line, without its status prefix."""
    text = first_line(exc)
    for prefix in ("IO: ", "INVALID_ARGUMENT: ", "INTERNAL: ", "[SQLite] ", "[libpq] "):
        text = text.removeprefix(prefix)
    return text[:240]
