"""The layers of core hold, and the contract that enforces them can fail."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.import_layers import ROOT, check


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("core", "app"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root)
    return root


def test_the_contracts_hold() -> None:
    result = check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "added", "broken"), [
    ("data/quality.py", "from mlcycle.app import output",
     "mlcycle.data.quality -> mlcycle.app.output"),
    ("store/sql.py", "from mlcycle.models import registry",
     "lifecycle layers: each stage imports only the stages below it BROKEN"),
])
def test_an_import_against_the_layers_breaks_the_contracts(tmp_path: Path, module: str,
                                                            added: str, broken: str) -> None:
    root = _copy(tmp_path)
    path = root / "core" / module
    path.write_text(path.read_text() + f"\n{added}  # noqa\n")
    result = check(root)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and broken in result.stdout
