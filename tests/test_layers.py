"""The layers of core hold, and the contract that enforces them can fail."""

from __future__ import annotations

import shutil
from pathlib import Path

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
    assert "2 kept, 0 broken" in result.stdout


def test_a_core_module_importing_the_app_breaks_the_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    quality = root / "core" / "data" / "quality.py"
    quality.write_text(quality.read_text() + "\nfrom mlcycle.app import output  # noqa\n")
    result = check(root)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "mlcycle.data.quality -> mlcycle.app.output" in result.stdout


def test_a_lower_stage_importing_a_higher_one_breaks_the_layers(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    sql = root / "core" / "store" / "sql.py"
    sql.write_text(sql.read_text() + "\nfrom mlcycle.models import registry  # noqa\n")
    result = check(root)
    assert result.returncode != 0
    assert "lifecycle layers: each stage imports only the stages below it BROKEN" in result.stdout
