"""Where commands may write, and the temporary files their writing leaves behind.

Every path a command writes to because the user named it (``export --out``, ``predict
--out``, ``--report``, ``model card --out``) first passes :func:`output_path`: it must not be
one of the command's own inputs, nor lie inside a workspace (where it would overwrite the
database or a content-addressed artifact), nor hold one. Paths are compared after resolving
symlinks, and existing files by inode too, so another spelling of a file is the same file.

Writers name their temporary files and folders with :func:`temp_name`, which records the
host and pid of the writer. :func:`sweep` removes the ones whose writer (on this host) has
died, and any once older than ``older_than`` (an hour: far longer than any write takes), so
a concurrent export or add is never disturbed; it never touches a name it did not make.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from mlcycle.store.errors import InvalidInput

STALE_SECONDS = 3600
_HOST = hashlib.blake2b(socket.gethostname().encode(), digest_size=4).hexdigest()
_MARKED = re.compile(r"mlcycle-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]{12}(?:\.[^.]+)?$")


def output_path(out: str | os.PathLike[str], option: str, *, workspace: Path | None = None,
                inputs: Iterable[str | os.PathLike[str] | None] = ()) -> Path:
    """The resolved path ``out`` names, if writing there cannot destroy an input or a
    workspace; else ``InvalidInput`` (exit 2) saying why, before anything is written."""
    from mlcycle.store.workspace import DB_NAME

    target = Path(out).expanduser().resolve()
    shown = f"{option} {out}"
    roots = [a for a in (target, *target.parents) if (a / DB_NAME).is_file()]
    if workspace is not None:
        roots.append(Path(workspace).expanduser().resolve())
    for root in roots:
        if target == root:
            raise InvalidInput(f"{shown} is the workspace {root}; write outside it")
        if target.is_relative_to(root):
            raise InvalidInput(f"{shown} is inside the workspace {root}; write outside it")
        if root.is_relative_to(target):
            raise InvalidInput(f"{shown} holds the workspace {root}; choose another path")
    for given in inputs:
        if given is None:
            continue
        source = Path(given).expanduser().resolve()
        if target == source or _same_file(target, source):
            raise InvalidInput(f"{shown} is the command's input {given}; choose another path")
        if source.is_dir() and target.is_relative_to(source):
            raise InvalidInput(f"{shown} is inside the input folder {given}; choose another path")
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def temp_name(prefix: str = "", suffix: str = "") -> str:
    """A fresh name for a temporary file or folder that says which process made it."""
    return f"{prefix}mlcycle-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:12]}{suffix}"


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically: a reader, or a kill, sees the old file or the
    new one, never half of one."""
    temp = path.parent / temp_name(f".{path.name}.", ".tmp")
    try:
        with open(temp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
    return path


def sweep(folder: Path, older_than: float = STALE_SECONDS, unmarked: bool = False) -> int:
    """Remove the stale temporaries in ``folder`` named by :func:`temp_name`; with
    ``unmarked``, also any other entry older than ``older_than`` (a folder that holds only
    temporaries). Returns how many were removed."""
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return 0
    cutoff = time.time() - older_than
    removed = 0
    for path in entries:
        match = _MARKED.search(path.name)
        if match is None and not unmarked:
            continue
        with contextlib.suppress(FileNotFoundError):
            # A writer on this machine that has died will not finish; an old temp is one
            # whose writer was killed before it could be told apart (or whose pid was reused).
            dead = (match is not None and match["host"] == _HOST and int(match["pid"]) > 0
                    and not alive(int(match["pid"])))
            if dead or path.lstat().st_mtime < cutoff:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink()
                removed += 1
    return removed


def alive(pid: int) -> bool:
    """Whether a process of this machine is running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
