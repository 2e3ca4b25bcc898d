"""Check core's layers with import-linter, on the package as it is installed.

The repository keeps the engine in core/ and the faces in app/, while the installed package
is one tree, `mlcycle` with `mlcycle.app` inside it (see [tool.setuptools] in pyproject.toml).
import-linter walks a package's folder, so it is run on a copy laid out as the wheel lays it.
``python -m tests.import_layers`` is what ``make lint`` runs; the tests run it on a copy with a
forbidden import added, to show the contracts can fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stage(into: Path, root: Path = ROOT) -> Path:
    """Lay out core/ and app/ under ``into`` as the installed ``mlcycle`` package."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    package = into / "mlcycle"
    shutil.copytree(root / "core", package, ignore=ignore)
    shutil.copytree(root / "app", package / "app", ignore=ignore)
    return into


def check(root: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with pyproject's contracts on a staged copy of ``root``."""
    with tempfile.TemporaryDirectory(prefix="mlcycle-layers-") as tmp:
        staged = stage(Path(tmp), root)
        env = {**os.environ, "PYTHONPATH": str(staged)}
        lint = Path(sys.executable).with_name("lint-imports")
        return subprocess.run(
            [str(lint), str(root / "pyproject.toml"), "--no-cache"],
            cwd=staged, env=env, capture_output=True, text=True, check=False,
        )


def main() -> int:
    result = check()
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
