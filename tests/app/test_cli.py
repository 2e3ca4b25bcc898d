"""The command line, driven as a user's shell drives it: a fresh process per command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import MLCYCLE, ROOT, SAMPLE, run_cli, run_json


def test_help_starts_without_heavy_libraries() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *MLCYCLE[1:], "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "Commands:" in proc.stdout
    assert not imported & {"sklearn", "onnxruntime", "polars", "scipy", "textual", "duckdb"}


def test_a_whole_session_with_json_output(ws_path: Path) -> None:
    init = run_json("init", workspace=ws_path)
    assert init == {"workspace": str(ws_path), "created": True}

    card = run_json(
        "project",
        "create",
        "churn",
        "--target",
        "churned",
        "--task",
        "classification",
        "--metric",
        "f1",
        "--goal",
        "0.6",
        "--description",
        "Who cancels next month",
        "--kpi",
        "monthly churn",
        workspace=ws_path,
    )
    assert card["metric"] == "f1" and card["goal"] == 0.6 and card["greater_is_better"]

    listed = run_json("project", "list", workspace=ws_path)
    assert [p["name"] for p in listed] == ["churn"]
    shown = run_json("project", "show", "churn", workspace=ws_path)
    reached = {s["key"] for s in shown["stages"] if s["reached"]}
    assert reached == {"problem"}

    added = run_json("data", "add", "churn", str(SAMPLE / "churn_reference.csv"), workspace=ws_path)
    assert added["stored"] is True and added["n_rows"] == 12000
    again = run_json("data", "add", "churn", str(SAMPLE / "churn_reference.csv"), workspace=ws_path)
    assert again["id"] == added["id"] and again["stored"] is False

    versions = run_json("data", "list", "churn", workspace=ws_path)
    assert [v["id"] for v in versions] == [added["id"]]

    run_cli(
        "data",
        "describe",
        "churn",
        "tenure_months",
        "Months since signup",
        workspace=ws_path,
        check=True,
    )
    run_cli("data", "role", "churn", "signup_date", "ignored", workspace=ws_path, check=True)
    report = run_json("data", "show", "churn", added["id"][:6], workspace=ws_path)
    by_name = {c["name"]: c for c in report["dictionary"]}
    assert by_name["customer_id"]["role"] == "identifier"
    assert by_name["churned"]["role"] == "target"
    assert by_name["signup_date"]["role"] == "ignored"
    assert by_name["tenure_months"]["description"] == "Months since signup"
    quality = report["quality"]
    stats = {s["name"]: s for s in quality["column_stats"]}
    assert quality["rows"] == 12000 and quality["duplicate_rows"] == 0
    assert 0.04 < stats["total_charges"]["missing_share"] < 0.07
    assert {t["value"] for t in stats["contract"]["top"]} == {
        "month-to-month",
        "one-year",
        "two-year",
    }
    classes = {c["value"]: c["share"] for c in quality["target"]["classes"]}
    assert set(classes) == {"true", "false"} and 0.15 < classes["true"] < 0.35

    shown = run_json("project", "show", "churn", workspace=ws_path)
    assert {s["key"] for s in shown["stages"] if s["reached"]} == {"problem", "data"}


def test_data_show_as_markdown_and_table(churn_ws) -> None:
    md = run_cli("data", "show", "churn", "--markdown", workspace=churn_ws.root, check=True).stdout
    assert md.startswith("# Dataset version")
    assert "## Data dictionary" in md and "| monthly_charges | DOUBLE | numeric | feature |" in md
    table = run_cli("data", "show", "churn", workspace=churn_ws.root, check=True).stdout
    assert "12,000 rows × 14 columns" in table and "customer_id" in table


def test_write_commands_create_the_workspace_and_say_so(ws_path: Path) -> None:
    proc = run_cli(
        "project",
        "create",
        "p",
        "--target",
        "y",
        "--task",
        "regression",
        workspace=ws_path,
        check=True,
    )
    assert proc.stderr.strip() == f"created workspace at {ws_path}"
    assert (ws_path / "mlcycle.duckdb").exists()


def test_workspace_from_the_environment(ws_path: Path) -> None:
    env = {"MLCYCLE_WORKSPACE": str(ws_path)}
    run_cli("project", "create", "p", "--target", "y", "--task", "regression", env=env, check=True)
    proc = run_cli("project", "list", "--json", env=env, check=True)
    assert [p["name"] for p in json.loads(proc.stdout)] == ["p"]


def test_metric_that_does_not_fit_the_task_lists_the_valid_ones(ws_path: Path) -> None:
    proc = run_cli(
        "project",
        "create",
        "p",
        "--target",
        "y",
        "--task",
        "regression",
        "--metric",
        "roc_auc",
        workspace=ws_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: metric 'roc_auc' does not fit a regression task; use one of: rmse, mae, r2, mape"
    )
    assert not ws_path.exists()  # nothing was created for a card that was refused


def test_version_flag() -> None:
    proc = run_cli("--version", check=True)
    assert re.search(r"\d+\.\d+\.\d+", proc.stdout)
