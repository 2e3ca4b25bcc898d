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
HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
BIN = Path(sys.executable).parent
# The tools mlcycle is compared with live in their own environment, never in mlcycle's.
ENV = HERE / ".env"
ENV_PY = ENV / "bin" / "python"


def comparison_env(*modules: str) -> tuple[Path | None, str]:
    """bench/.env's python with ``modules`` importable (installed from requirements.txt on
    first use), or None and the reason it could not be had."""
    import venv

    check = [str(ENV_PY), "-c", "import " + ", ".join(modules)]
    if ENV_PY.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return ENV_PY, ""
    print(f"  installing {', '.join(modules)} into bench/.env (first run only) ...", flush=True)
    try:
        if not ENV_PY.exists():
            venv.EnvBuilder(with_pip=True).create(ENV)
        # A bench that drives mlcycle's own API beside the others needs it there too.
        project = ["-e", str(ROOT)] if "mlcycle" in modules else []
        proc = subprocess.run(
            [str(ENV_PY), "-m", "pip", "install", "--quiet", "-r", str(HERE / "requirements.txt"),
             *project],
            capture_output=True, text=True, timeout=1800,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"could not create bench/.env: {exc}"
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return None, f"pip install failed: {lines[-1] if lines else 'unknown error'}"
    return ENV_PY, ""


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
