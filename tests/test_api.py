"""The Python API: docs/api.md's examples run as written, and `import mlcycle` stays cheap."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mlcycle
from tests.conftest import ROOT, run_json

DOC = ROOT / "docs" / "api.md"
HEAVY = ("sklearn", "onnxruntime", "polars", "duckdb", "textual")


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.slow
def test_the_examples_of_docs_api_run_in_order(tmp_path: Path, monkeypatch) -> None:
    ws = tmp_path / "ws"
    monkeypatch.setenv("MLCYCLE_WORKSPACE", str(ws))
    monkeypatch.chdir(ROOT)  # the examples name sample_data/ as README's commands do
    namespace: dict[str, object] = {}
    examples = _examples()
    assert len(examples) >= 6
    for number, code in enumerate(examples, 1):
        exec(compile(code, f"docs/api.md example {number}", "exec"), namespace)
    assert not (ROOT / ".mlcycle").exists()
    # Every lifecycle verb returns a typed result, never a dict to read by string keys.
    import dataclasses

    for name in ("collected", "result", "champion", "check", "asked", "decided", "successor",
                 "bundle"):
        assert dataclasses.is_dataclass(namespace[name]), name
    # May's drift is no clear loss: the check says so and the policy raises nothing.
    assert namespace["check"].decision is None
    assert not namespace["check"].retrain_recommended
    # A run logged through the fluent API is what the CLI lists.
    listed = run_json("runs", "churn", workspace=ws)
    assert "notebook-baseline" in {r["name"] for r in listed}


def test_importing_mlcycle_loads_no_heavy_library() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import mlcycle; mlcycle.open; mlcycle.drift"],
        capture_output=True, text=True, check=True, cwd=os.sep,
    )
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_all_is_the_surface_and_every_name_resolves() -> None:
    assert set(mlcycle.__all__) == {"open", *mlcycle._ATTRIBUTES, *mlcycle._SUBPACKAGES}
    for name in mlcycle.__all__:
        assert getattr(mlcycle, name) is not None
    for sub in mlcycle._SUBPACKAGES:
        package = getattr(mlcycle, sub)
        for name in package.__all__:  # a name, or a submodule loaded on first import
            assert hasattr(package, name) or importlib.import_module(f"mlcycle.{sub}.{name}")


def test_fluent_logging_without_an_active_run_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(mlcycle.InvalidInput, match="start_run"):
        mlcycle.log_metric("loss", 1.0)


def test_a_second_active_run_needs_nested(tmp_path: Path) -> None:
    ws = mlcycle.open(tmp_path / "ws")
    mlcycle.projects.create(ws, "p", target="y", task="classification")
    with mlcycle.start_run("p", workspace=ws) as outer:
        with pytest.raises(mlcycle.InvalidInput, match="nested=True"):
            mlcycle.start_run("p", workspace=ws)
        with mlcycle.start_run("p", nested=True, workspace=ws) as inner:
            assert mlcycle.active_run() is inner
        assert mlcycle.active_run() is outer
    assert mlcycle.active_run() is None


def test_search_runs_refuses_a_filter_it_cannot_read(tmp_path: Path) -> None:
    ws = mlcycle.open(tmp_path / "ws")
    mlcycle.projects.create(ws, "p", target="y", task="classification")
    with pytest.raises(mlcycle.InvalidInput, match="cannot read the filter clause"):
        mlcycle.search_runs("p", filter="metrics.loss ~ 3", workspace=ws)
    with pytest.raises(mlcycle.InvalidInput, match="ordered by a metric"):
        mlcycle.search_runs("p", order_by="params.alpha", workspace=ws)
