"""README is a tested tutorial: every line of its `sh` blocks runs, in order, and succeeds.

The commands run as a user's shell runs them, from a folder holding a copy of sample_data/,
with `mlcycle` on PATH and $MLCYCLE_WORKSPACE naming a fresh workspace. The first block
(`make demo`, `make test`) is how to set up, not the tutorial. `serve` is started and
stopped (on a free port); `watch` without `--once` does not appear.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import MLCYCLE, ROOT, SAMPLE, free_port, wait_until_serving


def commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)[1:]
    out = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", " ", block)
        out += [line.strip() for line in joined.splitlines() if line.strip()]
    return out


def _serve(command: str, cwd: Path, env: dict[str, str]) -> None:
    port = free_port()
    command = re.sub(r"--port \d+", f"--port {port}", command)
    proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        wait_until_serving(port, proc, lambda: proc.stderr.read().decode())
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)


def test_every_sh_line_is_a_command_without_placeholders() -> None:
    lines = commands()
    assert len(lines) > 30
    for line in lines:
        assert line.startswith("mlcycle "), line
        assert not re.search(r"\[--|\bRUN\b|RUN_ID|FILE\b|…", line), line


@pytest.mark.slow
def test_readme_commands_run_in_order(tmp_path: Path) -> None:
    home = tmp_path / "tutorial"
    shutil.copytree(SAMPLE, home / "sample_data",
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "mlcycle"
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(MLCYCLE) + ' "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "MLCYCLE_WORKSPACE": str(tmp_path / "ws")}
    for command in commands():
        if command.startswith("mlcycle serve "):
            _serve(command, home, env)
            continue
        proc = subprocess.run(["bash", "-c", command], cwd=home, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-2000:]}"
    scores = home / "scores.parquet"
    import polars as pl

    assert "customer_id" in pl.read_parquet(scores).columns
    assert not (home / "sample_data" / "batches" / "rejected").exists()
