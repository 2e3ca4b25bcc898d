"""The workspace: one DuckDB file holding all lifecycle state, and a folder of artifacts.

Several processes share one workspace (the TUI, a folder watcher, CLI commands), while DuckDB
lets only one process hold a file read-write and, while it does, refuses every other open.
So no process keeps a connection between operations: each read or write opens the file,
works in one short transaction and closes it again.

Before touching the file, processes queue on an advisory lock (``lock`` beside the database):
readers take it shared and open DuckDB read-only, writers take it exclusive and open it
read-write. That is DuckDB's own rule, turned from an error into a wait. The wait polls with
back-off for up to ``MLCYCLE_LOCK_TIMEOUT`` seconds (60 by default); a DuckDB lock error,
raised when some other program (the duckdb shell, say) holds the file, is retried in the same
loop. Only after the timeout does the user hear of it, as one line naming the wait.

Atomic writes: a DuckDB transaction commits all or nothing, and survives a kill through its
write-ahead log. Artifact files are written under ``artifacts/.tmp``, flushed to disk, renamed
into their content-addressed place, and only then registered in a transaction. A registered row
therefore always points at a complete file; a kill in between leaves at most an unregistered
file, which the next identical write reuses and ``sweep_temp`` removes when stale. Every
artifact's sha256 is recorded when it is written and checked whenever it is read
(``verified_bytes``, ``verified_path``): a file changed on disk is refused, never used.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlcycle.store import files
from mlcycle.store.errors import (
    InvalidInput,
    NotFound,
    WorkspaceBusy,
    WorkspaceError,
    first_line,
)

if TYPE_CHECKING:
    import duckdb

DEFAULT_PATH = ".mlcycle"
ENV_VAR = "MLCYCLE_WORKSPACE"
DB_NAME = "mlcycle.duckdb"
LOCK_NAME = "lock"
STALE_TEMP_SECONDS = 3600


def _lock_timeout() -> float:
    try:
        return float(os.environ.get("MLCYCLE_LOCK_TIMEOUT", "60"))
    except ValueError:
        return 60.0


def _is_duckdb_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


@dataclass
class Workspace:
    """A workspace folder. Create one with :func:`open_workspace`."""

    root: Path
    _schema_checked: bool = field(default=False, repr=False)
    _swept: bool = field(default=False, repr=False)

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def temp_dir(self) -> Path:
        return self.artifacts / ".tmp"

    # -- locking -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
            deadline = time.monotonic() + _lock_timeout()
            delay = 0.002
            while True:
                try:
                    fcntl.flock(fd, mode)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise WorkspaceBusy(_busy_message(self.root)) from None
                    time.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 0.1)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        import duckdb

        deadline = time.monotonic() + _lock_timeout()
        delay = 0.005
        while True:
            try:
                con = duckdb.connect(str(self.db_path), read_only=read_only)
                con.execute("SET enable_progress_bar = false")
                return con
            except duckdb.IOException as exc:
                if not _is_duckdb_lock_error(exc) or time.monotonic() > deadline:
                    if _is_duckdb_lock_error(exc):
                        raise WorkspaceBusy(_busy_message(self.root)) from None
                    raise WorkspaceError(
                        f"cannot open {self.db_path}: {first_line(exc)}"
                    ) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.2)

    # -- transactions --------------------------------------------------------------------

    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, held only for the ``with`` block."""
        from mlcycle.store import schema

        with self._locked(exclusive=False):
            con = self._connect(read_only=True)
            try:
                if self._schema_checked or schema.is_current(con, self.root):
                    self._schema_checked = True
                    yield con
                    return
            finally:
                con.close()
        # An older workspace: bring it up to date once, then read.
        with self.write():
            pass
        with self.read() as con:
            yield con

    @contextlib.contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One read-write transaction: committed when the block ends, rolled back on error."""
        from mlcycle.store import schema

        with self._locked(exclusive=True):
            con = self._connect(read_only=False)
            try:
                if not self._schema_checked:
                    schema.migrate(con, self.root)
                    self._schema_checked = True
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            finally:
                con.close()

    # -- artifacts -----------------------------------------------------------------------

    def temp_path(self, suffix: str = "") -> Path:
        """A fresh path under ``artifacts/.tmp`` for a file still being written."""
        from mlcycle.store import safety

        self.temp_dir.mkdir(parents=True, exist_ok=True)
        if not self._swept:  # what killed writers left, once per process that writes
            self._swept = True
            self.sweep_temp()
        return self.temp_dir / safety.temp_name(suffix=suffix)

    def commit_file(self, temp: Path, relpath: str) -> Path:
        """Move a finished temp file to its place under ``artifacts/``, durably."""
        target = self.artifact_path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(temp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(temp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return target

    def artifact_path(self, relpath: str) -> Path:
        """The absolute path of an artifact, refusing any path that leaves ``artifacts/``."""
        base = self.artifacts.resolve()
        target = (base / relpath).resolve()
        if not target.is_relative_to(base) or target == base:
            raise InvalidInput(f"artifact path {relpath!r} is outside the workspace")
        return target

    def verified_bytes(self, relpath: str, sha256: str, label: str) -> bytes:
        """An artifact's bytes, only if they still hash to what was recorded when written."""
        path = self.artifact_path(relpath)
        if not path.exists():
            raise NotFound(f"{label} is missing from {path}")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise InvalidInput(_corrupted(label, relpath))
        return data

    def verified_path(self, relpath: str, sha256: str | None, label: str) -> Path:
        """An artifact's path, only if its content still hashes to what was recorded.

        For files read by path (Parquet with polars or DuckDB). A process that reads the
        same unchanged file many times hashes it once: the result is kept per path, size,
        inode and modification times, which any rewrite of the file changes.
        """
        path = self.artifact_path(relpath)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise NotFound(f"{label} is missing from {path}") from None
        if sha256 is None:
            # Only a file that was already missing when the workspace was upgraded to
            # hashed artifacts has no record; what came back cannot be vouched for.
            raise InvalidInput(f"{label} has no recorded sha256 (artifacts/{relpath}); "
                               "it will not be used")
        key = (str(path), stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns)
        digest = _hashed.get(key)
        if digest is None:
            digest = _hashed[key] = file_sha256(path)
        if digest != sha256:
            raise InvalidInput(_corrupted(label, relpath))
        return path

    def sweep_temp(self, older_than: float = STALE_TEMP_SECONDS) -> int:
        """Remove temp files left by killed processes; returns how many were removed.

        A file whose writer on this host has died goes at once; any file older than
        ``older_than`` goes too (its writer was killed, or it predates pids in the names).
        """
        from mlcycle.store import safety

        return safety.sweep(self.temp_dir, older_than, unmarked=True)


# Hashes of artifact files this process has read, by path, size, inode and times.
_hashed: dict[tuple[str, int, int, int, int], str] = {}


def _corrupted(label: str, relpath: str) -> str:
    return (f"{label} is corrupted: artifacts/{relpath} does not match the sha256 the "
            "workspace recorded when it was written, so it will not be used")



def _busy_message(root: Path) -> str:
    return (
        f"workspace {root} stayed busy for {_lock_timeout():g}s; another mlcycle process is "
        "writing a lot: try again, or raise MLCYCLE_LOCK_TIMEOUT"
    )


def resolve_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The workspace folder: ``path``, else ``$MLCYCLE_WORKSPACE``, else ``./.mlcycle``."""
    chosen = path or os.environ.get(ENV_VAR) or DEFAULT_PATH
    return Path(chosen).expanduser().absolute()


def exists(path: str | os.PathLike[str] | None = None) -> bool:
    return (resolve_path(path) / DB_NAME).exists()


def open_workspace(
    path: str | os.PathLike[str] | None = None, *, create: bool = False
) -> tuple[Workspace, bool]:
    """Open a workspace, creating it when ``create`` is true. Returns it and whether it is new."""
    root = resolve_path(path)
    if (root / DB_NAME).exists():
        return Workspace(root), False
    if not create:
        raise WorkspaceError(f"no workspace at {root}; run 'mlcycle init' or pass --workspace PATH")
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"cannot create a workspace at {root}: it is a file")
    try:
        (root / "artifacts" / ".tmp").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot create a workspace at {root}: {exc.strerror}") from None
    ws = Workspace(root)
    with ws.write():
        pass
    return ws, True


def use(workspace: Workspace | str | os.PathLike[str] | None = None, *,
        create: bool = False) -> Workspace:
    """The workspace a Python API call works on: one given, a path, or the default
    (``$MLCYCLE_WORKSPACE``, else ``./.mlcycle``), as MLflow defaults its tracking URI."""
    if isinstance(workspace, Workspace):
        return workspace
    return open_workspace(workspace, create=create)[0]


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks."""
    with open(path, "rb") as fh:
        return files.sha256(fh)
