"""Finding and reading the tabular files a user points at: CSV, Parquet, JSON, NDJSON.

A source is a file, a folder (every supported file in it, recursively) or a glob. Reading goes
through DuckDB's relation API, so file paths never pass through SQL text and large files stream
instead of loading into memory. Everything a user can get wrong is checked here, once, with a
one-line error: nothing there, an empty or binary file, a CSV without a header, repeated or
nested columns.
"""

from __future__ import annotations

import csv
import glob
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.sql import fetch_one, ident, memory_connection

if TYPE_CHECKING:
    import duckdb
    import polars as pl

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}
_NESTED = ("STRUCT", "MAP", "[]", "LIST", "UNION")


@dataclass(frozen=True)
class Source:
    """One or more files of one format, read together as one table."""

    files: tuple[Path, ...]
    format: str

    @property
    def label(self) -> str:
        if len(self.files) == 1:
            return str(self.files[0])
        return f"{len(self.files)} {self.format} files under {_common_parent(self.files)}"


def resolve(spec: str | Path) -> Source:
    """Turn a file, folder or glob into a :class:`Source`; raises if nothing usable is there."""
    text = str(spec)
    path = Path(text).expanduser()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and _format(p) is not None)
        if not files:
            raise NotFound(f"{text}: no CSV, Parquet, JSON or NDJSON files in this folder")
    elif glob.has_magic(text):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise NotFound(f"{text}: no files match")
    else:
        raise NotFound(f"{text}: no such file or folder")
    formats = {_format(p) for p in files}
    if None in formats:
        bad = next(p for p in files if _format(p) is None)
        raise InvalidInput(
            f"{bad}: unsupported file type; use .csv, .tsv, .parquet, .json, .ndjson or .jsonl"
        )
    if len(formats) > 1:
        raise InvalidInput(
            f"{text}: mixes {', '.join(sorted(formats))} files; add one format at a time"
        )
    return Source(tuple(p.absolute() for p in files), formats.pop())


def _format(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def _common_parent(files: tuple[Path, ...]) -> Path:
    parent = files[0].parent
    while not all(parent in f.parents for f in files):
        parent = parent.parent
    return parent


def load(con: duckdb.DuckDBPyConnection, source: Source) -> duckdb.DuckDBPyRelation:
    """A lazy DuckDB relation over the source, after checking it is a usable table."""
    import duckdb

    for path in source.files:
        _check_file(path, source.format)
    names = [str(p) for p in source.files]
    try:
        if source.format == "csv":
            headers = [_check_csv_header(con, path) for path in source.files]
            rel = con.read_csv(names, header=True, union_by_name=len(names) > 1)
            rel = _keep_header_names(rel, headers)
        elif source.format == "parquet":
            rel = con.read_parquet(names, union_by_name=len(names) > 1)
        else:
            fmt = "newline_delimited" if source.format == "ndjson" else "auto"
            rel = con.read_json(names, format=fmt)
    except duckdb.Error as exc:
        raise InvalidInput(
            f"cannot read {source.label} as {source.format}: {_reason(exc)}"
        ) from None
    _check_columns(rel, source)
    return rel


def read_frame(spec: str | Path) -> pl.DataFrame:
    """A small user file (labels, a batch to retrain on) as a polars frame, read the way
    'data add' reads data, so its values get the same types as the stored versions'."""
    import tempfile

    import duckdb
    import polars as pl

    source = resolve(spec)
    con = memory_connection()
    try:
        with tempfile.TemporaryDirectory(prefix="mlcycle-read-") as tmp:
            out = Path(tmp) / "rows.parquet"
            try:
                load(con, source).to_parquet(str(out))
            except duckdb.Error as exc:
                raise InvalidInput(f"cannot read {source.label}: {_reason(exc)}") from None
            return pl.read_parquet(out)
    finally:
        con.close()


def _check_file(path: Path, fmt: str) -> None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from None
    if not head:
        raise InvalidInput(f"{path}: file is empty")
    if fmt == "parquet":
        if not head.startswith(b"PAR1"):
            raise InvalidInput(f"{path}: not a Parquet file")
    elif b"\x00" in head:
        raise InvalidInput(f"{path}: binary data, not {fmt.upper()} text")


def _check_csv_header(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    import duckdb

    try:
        sniff = fetch_one(con, "SELECT Delimiter, Quote, HasHeader FROM sniff_csv(?)", [str(path)])
    except duckdb.Error as exc:
        raise InvalidInput(f"cannot read {path} as CSV: {_reason(exc)}") from None
    assert sniff is not None
    delimiter, quote, has_header = sniff
    first = _first_line(path)
    if not has_header:
        raise InvalidInput(
            f"{path}: no header row; the first line must name the columns (it reads {first[:60]!r})"
        )
    quotechar = quote if quote and quote != "(empty)" else '"'
    names = next(csv.reader(io.StringIO(first), delimiter=delimiter, quotechar=quotechar), [])
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInput(f"{path}: column {name!r} appears more than once in the header")
        seen.add(name)
    return names


def _keep_header_names(
    rel: duckdb.DuckDBPyRelation, headers: list[list[str]]
) -> duckdb.DuckDBPyRelation:
    """Undo the CSV reader's trimming of spaces around names: a column is named as written."""
    names = headers[0]
    if any(h != names for h in headers) or len(names) != len(rel.columns):
        return rel
    if names == rel.columns:
        return rel
    return rel.project(", ".join(f"{ident(old)} AS {ident(new)}"
                                 for old, new in zip(rel.columns, names)))


def _first_line(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return fh.readline().lstrip("\ufeff").rstrip("\r\n")


def _check_columns(rel: duckdb.DuckDBPyRelation, source: Source) -> None:
    for name, dtype in zip(rel.columns, rel.dtypes):
        text = str(dtype)
        if any(marker in text for marker in _NESTED):
            raise InvalidInput(
                f"{source.label}: column {name!r} holds nested values ({text}); flatten it first"
            )
        if name == "":
            raise InvalidInput(f"{source.label}: a column has an empty name")


def _reason(exc: BaseException) -> str:
    """DuckDB's message in one line, without its class prefix."""
    # DuckDB's CSV errors continue with the offending line, hints and the sniffer's settings.
    noise = ("Original Line", "Possible Solution")
    lines = [
        ln.strip() for ln in str(exc).splitlines()
        if ln.strip() and not ln.strip().startswith(noise) and " = " not in ln
    ]
    if not lines:
        return type(exc).__name__
    text = lines[0].split("Error: ", 1)[-1]
    if len(lines) > 1 and text.startswith("CSV Error"):
        text = f"{text}: {lines[1]}"
    return text[:240]


def read_table(path: str | Path) -> tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyRelation]:
    """Open one file or folder in a fresh in-memory DuckDB; for commands without a workspace."""
    source = resolve(path)
    con = memory_connection()
    return con, load(con, source)
