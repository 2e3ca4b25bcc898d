"""Timing whole commands the way a user experiences them: fresh processes, medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / ".data"
BIN = Path(sys.executable).parent


@dataclass
class Timing:
    seconds: list[float]
    peak_mb: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak(self) -> float:
        return max(self.peak_mb)


def run_once(cmd: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one run of ``cmd``."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"{' '.join(cmd)} failed: {err.strip()[-500:]}")
    return elapsed, usage.ru_maxrss / 1024


def measure(
    cmd: Sequence[str],
    runs: int = 5,
    before: Callable[[], None] | None = None,
    env: dict[str, str] | None = None,
    warmup: int = 1,
) -> Timing:
    """Run ``cmd`` ``warmup`` times uncounted, then ``runs`` times; ``before`` runs each time."""
    seconds, peaks = [], []
    for i in range(warmup + runs):
        if before:
            before()
        elapsed, peak = run_once(cmd, env)
        if i >= warmup:
            seconds.append(elapsed)
            peaks.append(peak)
    return Timing(seconds, peaks)


def report(rows: list[tuple[str, Timing]], baseline: str, goal: str) -> None:
    """Print medians, peaks and each row's ratio to the baseline row."""
    base = dict(rows)[baseline].median
    width = max(len(name) for name, _ in rows)
    for name, t in rows:
        print(
            f"  {name:<{width}}  median {t.median:8.3f} s  (min {min(t.seconds):.3f}, "
            f"max {max(t.seconds):.3f})  peak {t.peak:7.0f} MB  ratio {t.median / base:5.2f}x"
        )
    print(f"  goal: {goal}")
