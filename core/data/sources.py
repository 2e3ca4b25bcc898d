"""Finding and reading the tabular files a user points at: CSV, Parquet, JSON, NDJSON.

A source is a file, a folder (every supported file in it, recursively) or a glob. Reading goes
through DuckDB's relation API, so file paths never pass through SQL text and large files stream
instead of loading into memory. Every command that reads a user's table (``data add``,
``drift``, ``predict``, ``monitor``, ``watch``, ``retrain``) reads it here, and every file is
first checked by :func:`inspect`, so they all accept and refuse the same files with the same
one-line error: nothing there, an empty, compressed or binary file, text that is not UTF-8,
a line too long to read, a CSV without a header or with unnamed, repeated or overlong column
names, a Parquet file cut short or with columns no reader here can take, JSON that is not a
table, no rows at all.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from mlcycle.store import files
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.sql import fetch_one, ident, memory_connection

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from mlcycle.store.cancel import CancelToken

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
MAX_NAME = 1_024  # characters in a column name
MAX_LINE = 16 << 20  # bytes in one line of a text file (DuckDB's reader is told the same)
_CHUNK = 1 << 20
_SNIFF_LINES = 20  # lines the delimiter is chosen on
_DELIMITERS = (",", "\t", ";", "|")
# Leading bytes of the compressed and archive formats a data file arrives in by mistake.
_PACKED = (
    (b"\x1f\x8b", "gzip-compressed"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
    (b"\xfd7zXZ\x00", "xz-compressed"),
    (b"\x04\x22\x4d\x18", "lz4-compressed"),
    (b"PK\x03\x04", "a zip archive (an Excel workbook is one)"),
)
_BZIP2 = re.compile(rb"BZh[1-9]1AY&SY")
_WIDE_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"), (b"\xff\xfe", "UTF-16"),
)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


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


@dataclass(frozen=True)
class Checked:
    """What :func:`inspect` learnt about one file, for the reader that follows."""

    path: Path
    format: str
    names: tuple[str, ...]  # the CSV header or the Parquet schema; empty for JSON
    delimiter: str | None  # CSV only
    escape: str | None  # CSV only
    has_rows: bool


def resolve(spec: str | Path) -> Source:
    """Turn a file, folder or glob into a :class:`Source`; raises if nothing usable is there.
    Only regular files are taken (``files.open_regular`` says why anything else is not)."""
    text = str(spec)
    path = Path(text).expanduser()
    mode = _mode(path)
    if mode is not None and stat.S_ISDIR(mode):
        found = _data_files(path.rglob("*"), within=path)
        if not found:
            raise NotFound(f"{text}: no CSV, Parquet, JSON or NDJSON files in this folder")
    elif mode is not None:
        found = _data_files([path], shown=text)
    elif glob.has_magic(text):
        found = _data_files(Path(p) for p in glob.glob(text, recursive=True))
        if not found:
            raise NotFound(f"{text}: no files match")
    elif path.is_symlink():
        raise NotFound(f"{text} is a symbolic link to {os.readlink(path)}, which does not exist")
    else:
        raise NotFound(f"{text}: no such file or folder")
    formats = {_format(p) for p in found}
    if None in formats:
        bad = next(p for p in found if _format(p) is None)
        raise InvalidInput(unsupported_type(str(bad)))
    if len(formats) > 1:
        raise InvalidInput(
            f"{text}: mixes {', '.join(sorted(formats))} files; add one format at a time"
        )
    return Source(tuple(p.absolute() for p in found), formats.pop())


def _mode(path: Path) -> int | None:
    """What ``path`` names (a link: what it leads to); None when nothing is there."""
    try:
        return path.stat().st_mode
    except OSError:
        return None


def _data_files(found: Iterable[Path], *, within: Path | None = None,
                shown: str | None = None) -> list[Path]:
    """The files to read among ``found``, sorted (folders, and in a folder files of other
    types, are passed over); anything else there that is not a regular file (that leaves
    ``within``, for a link) is refused with its reason, naming it ``shown`` if given."""
    kept = []
    for path in found:
        mode = _mode(path)
        if mode is None or stat.S_ISDIR(mode) or (within is not None and _format(path) is None):
            continue
        try:
            files.check_regular(path, shown=shown, within=within)
        except OSError as exc:
            raise file_error(exc, shown or str(path)) from None
        kept.append(path)
    return sorted(kept)


def unsupported_type(label: str) -> str:
    """The one-line refusal of a file whose name says no format that can be read."""
    return f"{label}: unsupported file type; use .csv, .tsv, .parquet, .json, .ndjson or .jsonl"


def _format(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def _common_parent(files: tuple[Path, ...]) -> Path:
    parent = files[0].parent
    while not all(parent in f.parents for f in files):
        parent = parent.parent
    return parent


# -- checking a file before it is read ------------------------------------------------------


def inspect(path: Path, fmt: str | None = None, *, label: str | None = None,
            con: duckdb.DuckDBPyConnection | None = None) -> Checked:
    """Check one file before any reader touches it; raise a one-line error if it cannot be a
    table. Text files are read once, in chunks, to the end (a NUL byte or a byte that is not
    UTF-8 is found wherever it is); Parquet files by their footer and schema only.

    ``label`` names the file in errors (a watcher checks a private copy under the user's
    name); ``con``, a DuckDB connection to use for the Parquet schema."""
    shown = label or str(path)
    kind = fmt or _format(path)
    if kind is None:
        raise InvalidInput(unsupported_type(shown))
    try:
        with files.open_regular(path, shown=shown) as fh:
            if kind == "parquet":
                return _inspect_parquet(fh, path, shown, con)
            return _inspect_text(fh, path, kind, shown)
    except OSError as exc:
        raise file_error(exc, shown) from None


def file_error(exc: OSError, shown: str) -> InvalidInput | NotFound:
    """The readers' one-line message for a file that cannot be opened."""
    if isinstance(exc, FileNotFoundError):
        return NotFound(f"{shown}: no such file or folder")
    if isinstance(exc, IsADirectoryError):
        return InvalidInput(f"{shown}: a folder, not a file")
    return InvalidInput(f"{shown}: cannot read ({exc.strerror or exc})")


def _inspect_text(fh: BinaryIO, path: Path, kind: str, shown: str) -> Checked:
    what = kind.upper()
    chunk = fh.read(_CHUNK)
    if not chunk:
        raise InvalidInput(f"{shown}: file is empty")
    _refuse_packed(chunk, shown, what)
    decoder = codecs.getincrementaldecoder("utf-8")()
    # Lines end in LF (or CRLF); a file with CR alone (old Mac) ends them in CR.
    eol = b"\n" if b"\n" in chunk or b"\r" not in chunk else b"\r"
    head = bytearray()  # the first lines, for the header and the delimiter
    offset = lines = since_eol = 0
    content = False
    while chunk:
        nul = chunk.find(b"\x00")
        if nul >= 0:
            raise InvalidInput(f"{shown}: binary data, not {what} text "
                               f"(a NUL byte at byte {offset + nul:,})")
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            at = offset - pending + exc.start
            raise InvalidInput(
                f"{shown}: not utf-8 text: byte {at:,} is 0x{exc.object[exc.start]:02x}; "
                "save the file as UTF-8") from None
        first = chunk.find(eol)
        longest = since_eol + (first if first >= 0 else len(chunk))
        if longest > MAX_LINE:
            raise InvalidInput(f"{shown}: line {lines + 1:,} is longer than "
                               f"{MAX_LINE >> 20} MiB; no reader here takes lines that long")
        since_eol = len(chunk) - chunk.rfind(eol) - 1 if first >= 0 else longest
        lines += chunk.count(eol)
        content = content or bool(chunk.strip())
        if head.count(eol) <= _SNIFF_LINES:
            head += chunk
        offset += len(chunk)
        chunk = fh.read(_CHUNK)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InvalidInput(f"{shown}: not utf-8 text: it ends inside a character; "
                           "save the file as UTF-8") from None
    text = bytes(head).decode("utf-8-sig", errors="ignore")
    if not content or not text.strip("\ufeff \t\r\n"):
        raise InvalidInput(f"{shown}: file is empty")
    if kind == "csv":
        return _inspect_csv(path, text, shown)
    return _inspect_json(path, kind, text, shown)


def _refuse_packed(head: bytes, shown: str, what: str) -> None:
    for magic, packed in _PACKED:
        if head.startswith(magic):
            raise InvalidInput(f"{shown}: {packed}, not {what} text; unpack it first")
    if _BZIP2.match(head):
        raise InvalidInput(f"{shown}: bzip2-compressed, not {what} text; unpack it first")
    for bom, encoding in _WIDE_BOMS:
        if head.startswith(bom):
            raise InvalidInput(f"{shown}: {encoding} text; save the file as UTF-8")


def _inspect_csv(path: Path, text: str, shown: str) -> Checked:
    sample = _complete_lines(text)
    delimiter = _delimiter(sample, tab_first=path.suffix.lower() == ".tsv")
    escape = _escape(sample, delimiter)
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE))
    first = next(line for line in text.splitlines() if line.strip())
    try:
        rows = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter,
                               quotechar='"', escapechar="\\" if escape == "\\" else None))
    except csv.Error:  # a quote left open to the end of the sample: the reader says where
        rows = [first.split(delimiter), ["?"]]
    rows = [row for row in rows if row]  # blank lines
    names = rows[0] if rows else []
    has_rows = (any(any(field.strip() for field in row) for row in rows[1:])
                or bool(text[len(sample):].strip()))
    if has_rows and all(_NUMBER.fullmatch(n.strip()) for n in names):
        raise InvalidInput(
            f"{shown}: no header row; the first line must name the columns "
            f"(it reads {first[:60]!r})")
    _check_names(names, shown)
    return Checked(path, "csv", tuple(names), delimiter, escape, has_rows)


def _complete_lines(text: str) -> str:
    """The first lines of ``text`` whole: a chunk may end inside one."""
    lines = text.splitlines(keepends=True)[:_SNIFF_LINES + 1]
    if len(lines) > 1 and not lines[-1].endswith(("\n", "\r")):
        lines = lines[:-1]
    return "".join(lines)


def _escape(sample: str, delimiter: str) -> str:
    """How quotes inside quoted fields are written: doubled (RFC 4180, what polars, pandas
    and spreadsheets write) unless only a backslash reads every line to the same width. A
    backslash next to a quote is not enough: ``\"`` ends a field whose value ends in one."""
    if '\\"' not in sample:
        return '"'

    def even(escapechar: str | None) -> bool:
        try:
            widths = {len(row) for row in csv.reader(
                io.StringIO(sample, newline=""), delimiter=delimiter, quotechar='"',
                escapechar=escapechar, doublequote=escapechar is None) if row}
        except csv.Error:
            return False
        return len(widths) == 1

    return "\\" if even("\\") and not even(None) else '"'


def _delimiter(sample: str, *, tab_first: bool) -> str:
    """The delimiter that splits the first lines into the most columns, the same number on
    every line (a tie goes to the one the file's name suggests)."""
    order = ("\t", *[d for d in _DELIMITERS if d != "\t"]) if tab_first else _DELIMITERS
    best, best_width, fallback, fallback_width = order[0], 1, order[0], 1
    for candidate in order:
        try:
            widths = [len(row) for row in csv.reader(io.StringIO(sample, newline=""),
                                                     delimiter=candidate) if row]
        except csv.Error:
            continue
        if not widths:
            continue
        if len(set(widths)) == 1 and widths[0] > best_width:
            best, best_width = candidate, widths[0]
        if widths[0] > fallback_width:
            fallback, fallback_width = candidate, widths[0]
    return best if best_width > 1 else fallback


def _inspect_json(path: Path, kind: str, text: str, shown: str) -> Checked:
    body = text.lstrip("\ufeff \t\r\n")
    if kind == "ndjson":
        table = body.startswith("{")
        has_rows = True
    else:
        inner = body[1:].lstrip(" \t\r\n") if body.startswith("[") else ""
        table = body.startswith("{") or inner.startswith(("{", "]"))
        has_rows = not inner.startswith("]")
    if not table:
        raise InvalidInput(f"{shown}: not a table; the JSON must be an array of objects"
                           + (", one object per line" if kind == "ndjson" else ""))
    return Checked(path, kind, (), None, None, has_rows)


def _inspect_parquet(fh: BinaryIO, path: Path, shown: str,
                     con: duckdb.DuckDBPyConnection | None) -> Checked:
    import duckdb

    head = fh.read(4)
    if not head:
        raise InvalidInput(f"{shown}: file is empty")
    if head != b"PAR1":
        raise InvalidInput(f"{shown}: not a Parquet file")
    size = fh.seek(0, io.SEEK_END)
    fh.seek(max(size - 4, 0))
    if size < 12 or fh.read(4) != b"PAR1":
        raise InvalidInput(f"cannot read {shown} as parquet: it is cut short or damaged "
                           "(no Parquet footer)")
    own = con is None
    con = con or memory_connection()
    try:
        schema = con.execute("SELECT name, converted_type, num_children FROM parquet_schema(?)",
                             [str(path)]).fetchall()
        rows = fetch_one(con, "SELECT num_rows FROM parquet_file_metadata(?)", [str(path)])
    except duckdb.Error as exc:
        raise InvalidInput(f"cannot read {shown} as parquet: "
                           f"{error_text(exc).replace(str(path), shown)}") from None
    finally:
        if own:
            con.close()
    names = []
    remaining = [schema[0][2] or 0] if schema else [0]
    for name, converted, children in schema[1:]:
        if len(remaining) == 1:  # a column of the table, not a part of a nested one
            names.append(name)
            if children:
                raise InvalidInput(f"{shown}: column {name!r} holds nested values "
                                   f"({converted or 'STRUCT'}); flatten it first")
            if converted == "INTERVAL":
                raise InvalidInput(f"{shown}: column {name!r} holds intervals, which no reader "
                                   "here takes; store them as numbers (seconds, say)")
        remaining[-1] -= 1
        if children:
            remaining.append(children)
        while len(remaining) > 1 and remaining[-1] == 0:
            remaining.pop()
    _check_names(names, shown)
    return Checked(path, "parquet", tuple(names), None, None, bool(rows and rows[0]))


def _check_names(names: list[str], shown: str) -> None:
    seen: set[str] = set()
    for position, name in enumerate(names, 1):
        if not name.strip():
            raise InvalidInput(f"{shown}: column {position} has no name; name every column")
        if len(name) > MAX_NAME:
            raise InvalidInput(f"{shown}: the name of column {position} is {len(name):,} "
                               f"characters long; names are limited to {MAX_NAME:,}")
        if name in seen:
            raise InvalidInput(f"{shown}: column {name!r} appears more than once in the header")
        seen.add(name)


# -- reading ----------------------------------------------------------------------------------


def load(con: duckdb.DuckDBPyConnection, source: Source, *, label: str | None = None
         ) -> duckdb.DuckDBPyRelation:
    """A lazy DuckDB relation over the source, after :func:`inspect` passed every file.

    ``label`` names a one-file source in errors instead of its path."""
    import duckdb

    shown = label or source.label
    one = len(source.files) == 1
    checked = [inspect(p, source.format, label=shown if one else None, con=con)
               for p in source.files]
    if not any(c.has_rows for c in checked):
        header = " a header but" if source.format in ("csv", "parquet") else ""
        raise InvalidInput(f"{shown}: has{header} no rows")
    names = [str(p) for p in source.files]
    try:
        if source.format == "csv":
            dialects = {(c.delimiter, c.escape) for c in checked}
            if len(dialects) > 1:
                raise InvalidInput(f"{shown}: its files are not all written alike (delimiters "
                                   "or quoting differ); add them one at a time")
            delimiter, escape = dialects.pop()
            rel = con.read_csv(names, header=True, delimiter=delimiter, quotechar='"',
                               escapechar=escape, max_line_size=MAX_LINE,
                               union_by_name=not one)
            rel = _keep_header_names(rel, [list(c.names) for c in checked])
        elif source.format == "parquet":
            rel = con.read_parquet(names, union_by_name=not one)
        else:
            fmt = "newline_delimited" if source.format == "ndjson" else "auto"
            rel = con.read_json(names, format=fmt)
    except duckdb.Error as exc:
        raise InvalidInput(f"cannot read {shown} as {source.format}: "
                           f"{reason(exc, source, shown)}") from None
    _check_columns(rel, shown)
    return rel


def read_frame(spec: str | Path) -> pl.DataFrame:
    """A small user file (labels, a batch to retrain on) as a polars frame, read the way
    'data add' reads data, so its values get the same types as the stored versions'."""
    import tempfile

    import polars as pl

    with tempfile.TemporaryDirectory(prefix="mlcycle-read-") as tmp:
        out = Path(tmp) / "rows.parquet"
        to_parquet(spec, out)
        return pl.read_parquet(out, glob=False)


def to_parquet(spec: str | Path, out: Path, *, label: str | None = None,
               cancel: CancelToken | None = None) -> list[str]:
    """Read a user's table once, checked, into the Parquet file ``out`` (what scoring streams
    in batches); returns its column names. Cancelling interrupts the conversion."""
    import duckdb

    from mlcycle.store import cancel as cancelling

    source = resolve(spec)
    con = memory_connection()
    try:
        rel = load(con, source, label=label)
        try:
            with cancelling.interrupting(cancel, con.interrupt):
                rel.to_parquet(str(out))
        except duckdb.Error as exc:
            cancelling.check(cancel)  # an interrupted conversion was cancelled
            shown = label or source.label
            raise InvalidInput(f"cannot read {shown}: {reason(exc, source, shown)}") from None
        except RuntimeError as exc:
            # DuckDB takes a Ctrl-C that comes while it converts, and says only this: it
            # is the user's, not the file's fault (a cancelled conversion says so first).
            if str(exc) != "Query interrupted":
                raise
            cancelling.check(cancel)
            raise KeyboardInterrupt from None
        return list(rel.columns)
    finally:
        con.close()


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


def _check_columns(rel: duckdb.DuckDBPyRelation, shown: str) -> None:
    for name, dtype in zip(rel.columns, rel.dtypes):
        text = str(dtype)
        if text == "JSON":
            raise InvalidInput(f"{shown}: not a table; its records are not all objects")
        if any(marker in text for marker in _NESTED):
            raise InvalidInput(
                f"{shown}: column {name!r} holds nested values ({text}); flatten it first"
            )
        if text == "INTERVAL":
            raise InvalidInput(f"{shown}: column {name!r} holds intervals, which no reader "
                               "here takes; store them as numbers (seconds, say)")
        if name == "":
            raise InvalidInput(f"{shown}: a column has an empty name")


def error_text(exc: BaseException) -> str:
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


def reason(exc: BaseException, source: Source, shown: str) -> str:
    """DuckDB's message in one line, naming a one-file source as the user knows it (a
    watcher reads a private copy)."""
    text = error_text(exc)
    if len(source.files) == 1:
        text = text.replace(str(source.files[0]), shown)
    return text


def read_table(path: str | Path) -> tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyRelation]:
    """Open one file or folder in a fresh in-memory DuckDB; for commands without a workspace."""
    source = resolve(path)
    con = memory_connection()
    return con, load(con, source)
