"""The environment a bundle's standalone server is tested in: numpy and onnxruntime only.

Made once per test session, in seconds, by linking the two packages of the test's own
environment into a fresh virtual environment (no pip, no system site-packages): the same
versions ``bundle verify`` would install, and nothing else, so an import of mlcycle, polars,
scikit-learn or DuckDB by the server fails there as it would on a deployment target.
"""

from __future__ import annotations

import venv
from pathlib import Path

import numpy
import onnxruntime

PACKAGES = (numpy, onnxruntime)


def make(path: Path) -> Path:
    """A virtual environment at ``path`` with numpy and onnxruntime linked in; its python."""
    venv.EnvBuilder(with_pip=False, symlinks=True, system_site_packages=False).create(path)
    site = next((path / "lib").glob("python*/site-packages"))
    source = Path(numpy.__file__).resolve().parent.parent
    for package in PACKAGES:
        name = package.__name__
        for entry in [source / name, *source.glob(f"{name}-*.dist-info"),
                      *source.glob(f"{name}.libs")]:
            (site / entry.name).symlink_to(entry)
    return path / "bin" / "python"
