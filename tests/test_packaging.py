"""mlcycle installs as one import package, `mlcycle`, that works from anywhere.

The wheel is built from this checkout and installed, not editable, into a fresh virtual
environment that borrows the test environment's third-party packages (so nothing is
downloaded); everything is then run from an empty folder elsewhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import tomllib

from tests.conftest import ROOT


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    roots = {Path(v): k for k, v in config["package-dir"].items()}
    found = set(config["package-data"])
    for folder, name in roots.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    assert found == set(config["packages"])


def test_the_wheel_builds_without_a_packaging_warning(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, check=True)
    assert "Warning" not in built.stdout + built.stderr


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_has_one_import_name_and_builds_the_demo(
        tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    # Borrow the third-party packages, but not the editable install of this checkout.
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    wheel = next(wheels.glob("mlcycle-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], cwd=elsewhere, capture_output=True,
                              text=True, timeout=600)

    top = run(python, "-c", "import importlib.metadata as m; "
              "print(sorted({f.parts[0] for f in m.distribution('mlcycle').files "
              "if f.suffix == '.py'}))")
    assert top.stdout.strip() == "['mlcycle']", top.stdout + top.stderr
    for name in ("core", "app", "sample_data"):
        assert run(python, "-c", f"import {name}").returncode != 0, name
    demo = run(env_dir / "bin" / "mlcycle", "--workspace", "ws", "demo", "--no-ui")
    assert demo.returncode == 0, demo.stderr
    assert "demo workspace ready" in demo.stdout
    listed = run(env_dir / "bin" / "mlcycle", "--workspace", "ws", "data", "list", "churn",
                 "--json")
    assert listed.returncode == 0, listed.stderr
    assert [Path(v["source"]).name for v in json.loads(listed.stdout)] == ["churn_reference.csv"]
