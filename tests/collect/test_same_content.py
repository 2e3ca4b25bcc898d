"""Collecting a file that 'data add' stored already is the same content: the same version id,
nothing written twice; a query or an increment makes the collected rows content of their own."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import SAMPLE, run_json


def test_collect_of_an_added_file_returns_the_version_data_add_gave(tmp_path: Path) -> None:
    data = tmp_path / "données clients" / "reference 100%.csv"
    data.parent.mkdir()
    shutil.copy(SAMPLE / "churn_reference.csv", data)
    ws = tmp_path / "ws"
    run_json("project", "create", "churn", "--target", "churned", "--task", "classification",
             workspace=ws)
    added = run_json("data", "add", "churn", str(data), workspace=ws)
    run_json("source", "add", "churn", "reference", "--uri", str(data), workspace=ws)
    [collected] = run_json("collect", "churn", "reference", workspace=ws)
    assert collected["version"] == added["id"] and not collected["stored"]
    assert [v["id"] for v in run_json("data", "list", "churn", workspace=ws)] == [added["id"]]
    # A query picks rows of its own: other content, another version.
    run_json("source", "add", "churn", "recent", "--uri", str(data), "--query",
             "SELECT * FROM recent WHERE tenure_months < 12", workspace=ws)
    [picked] = run_json("collect", "churn", "recent", workspace=ws)
    assert picked["version"] != added["id"] and picked["stored"]
