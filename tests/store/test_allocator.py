"""The watcher's allocator settings reach glibc, where there is one (see store.allocator)."""

from __future__ import annotations

import platform

import pytest

from mlcycle.store import allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_the_arena_limit_and_the_release_reach_glibc() -> None:
    assert allocator.limit_arenas()
    allocator.release()  # must not fail, however often it is called
    allocator.release()
