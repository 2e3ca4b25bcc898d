"""Opening a user's file to read it: only regular files, never a device, a pipe or a socket.

Every reader of a user's file (``data add``, ``drift``, ``predict``, ``monitor``, ``retrain
--with``, a file source's ``collect``, the folder watcher) opens it here. A path that is not a
regular file would make a reader wait for ever (a FIFO with no writer, a socket) or read
without end (``/dev/zero``), so it is refused before it is opened, with one line naming what
it is; the descriptor is opened without blocking and looked at again (``fstat``), so a path
swapped for a pipe meanwhile is refused too. A symbolic link is followed to what it names,
unless it leaves the folder a reader was given (``within``).

Two more refusals come before any byte is read or copied: a file larger than the size limit
(``MLCYCLE_MAX_FILE_SIZE``, else half the free space where its copy would go), and a sparse
file, one whose length is mostly holes (zero bytes not stored on disk, as ``truncate`` makes
them): it would read as gigabytes of NUL bytes, which no table holds.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from mlcycle.store.errors import InvalidInput

LIMIT_VAR = "MLCYCLE_MAX_FILE_SIZE"
# Below this length a file is not looked at for holes: a small one costs nothing to read.
_SPARSE_MIN = 1 << 20
_SPARSE_SHARE = 8  # sparse: fewer than 1/8 of its bytes stored on disk, and a hole found
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", re.IGNORECASE)
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class NotRegular(InvalidInput):
    """A path that is there but is no regular file to read: a device, a pipe, a socket, a
    link out of its folder, a sparse file or one over the size limit."""


def kind(mode: int) -> str:
    """What a file of this ``st_mode`` is, in words ("a FIFO (named pipe)")."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | os.PathLike[str], *, shown: str | None = None,
                 within: Path | None = None, room: Path | None = None) -> BinaryIO:
    """The regular file at ``path``, open for reading in binary; raises :class:`NotRegular`
    (one line, naming ``shown``) for anything else, and ``OSError`` as ``open`` does (a
    missing file, no permission).

    ``within``: a symbolic link must lead to a file inside this folder. ``room``: the folder
    a copy of the file goes to, whose free space sets the default size limit."""
    path = Path(path)
    shown = shown or str(path)
    # Without blocking: a FIFO put in its place meanwhile opens at once, to be refused.
    nonblock = getattr(os, "O_NONBLOCK", 0)  # not on Windows, which has no FIFOs to fear
    flags = os.O_RDONLY | nonblock | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    if stat.S_ISLNK(os.lstat(path).st_mode):
        target = Path(os.path.realpath(path))
        if within is not None and not target.is_relative_to(os.path.realpath(within)):
            raise NotRegular(f"{shown} is a symbolic link to {target}, outside {within}; "
                             "put the file itself in the folder")
        subject = f"{shown} is a symbolic link to {target}, which is"
    else:
        subject = f"{shown} is"
        flags |= getattr(os, "O_NOFOLLOW", 0)  # swapped for a link meanwhile: refused
    _refuse_kind(os.stat(path).st_mode, subject)  # a device is never opened: opening one acts
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        _refuse_kind(info.st_mode, subject)
        _refuse_size(info, subject, room)
        _refuse_sparse(fd, info, subject)
        if nonblock:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_regular(path: str | os.PathLike[str], *, shown: str | None = None,
                  within: Path | None = None, room: Path | None = None) -> None:
    """Raise as :func:`open_regular` would for ``path``; nothing is read."""
    open_regular(path, shown=shown, within=within, room=room).close()


def sha256(fh: BinaryIO) -> str:
    """The SHA-256 of an open file's bytes from where it stands, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    while chunk := fh.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def limit(room: Path | None = None) -> int:
    """The largest file read, in bytes: ``MLCYCLE_MAX_FILE_SIZE`` (``500M``, ``20G``, bytes),
    else half the free space of the disk ``room`` (the temporary folder) is on."""
    text = os.environ.get(LIMIT_VAR, "").strip()
    if text:
        found = _SIZE.fullmatch(text)
        if not found:
            raise InvalidInput(f"{LIMIT_VAR}={text!r}: give a size such as 500M, 20G or a "
                               "number of bytes")
        return int(float(found[1]) * _UNITS[found[2].upper()])
    where = room if room is not None and room.exists() else Path(tempfile.gettempdir())
    return shutil.disk_usage(where).free // 2


def size_text(size: int) -> str:
    """A size in bytes for people: 2.0 GiB, 512 KiB, 12 B."""
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        scale = _UNITS[unit[0]]
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _refuse_kind(mode: int, subject: str) -> None:
    if stat.S_ISDIR(mode):
        raise NotRegular(f"{subject} a folder, not a file")
    if not stat.S_ISREG(mode):
        raise NotRegular(f"{subject} {kind(mode)}, not a regular file; "
                         "copy what it holds to a regular file first")


def _refuse_size(info: os.stat_result, subject: str, room: Path | None) -> None:
    most = limit(room)
    if info.st_size > most:
        if os.environ.get(LIMIT_VAR, "").strip():
            why, fix = f"the {LIMIT_VAR} limit", f"raise {LIMIT_VAR}"
        else:
            why, fix = "half the free disk space", f"free disk space, or set {LIMIT_VAR}"
        raise NotRegular(f"{subject} {size_text(info.st_size)}, more than {why} "
                         f"({size_text(most)}); {fix}")


def _refuse_sparse(fd: int, info: os.stat_result, subject: str) -> None:
    stored = getattr(info, "st_blocks", None)
    if stored is None or info.st_size < _SPARSE_MIN:
        return
    stored *= 512
    if stored * _SPARSE_SHARE >= info.st_size or not hasattr(os, "SEEK_HOLE"):
        return
    try:  # a compressing file system stores less too: only a real hole tells
        hole = os.lseek(fd, 0, os.SEEK_HOLE)
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        return
    if hole < info.st_size:
        raise NotRegular(f"{subject} a sparse file: {size_text(info.st_size)} long but "
                         f"{size_text(stored)} stored, holes of zero bytes from byte {hole:,}; "
                         "no table is written that way")

