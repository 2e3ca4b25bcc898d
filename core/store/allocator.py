"""Keeping a long-running process's memory flat under glibc's allocator.

A watcher checks batch after batch on several threads (its own two, DuckDB's and polars'
pools). glibc gives each thread that allocates at once an arena of its own, up to eight per
core, and an arena's freed pages go back to the system only from its top: a watcher's
resident memory grew 1.19x from batch 100 to batch 1,000 of small files, while checking
one file at a time in one thread did not grow at all. So a watcher limits the arenas before
its threads start and hands freed pages back after each batch: 1.013x (bench/watch.py).
Elsewhere (musl, macOS, Windows) both calls do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
ARENAS = 2


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    # Both exist only in glibc; another C library is left to its own ways.
    if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
        return None
    return libc


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Allow at most ``arenas`` malloc arenas from now on; whether the allocator took it."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, arenas))


def release() -> None:
    """Hand the freed pages of every arena back to the system."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
