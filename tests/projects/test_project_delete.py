"""Deleting a project removes its rows and the files made for it, and nothing else."""

from __future__ import annotations

from pathlib import Path

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.store.workspace import Workspace
from tests.conftest import assert_consistent, run_cli, run_json


def _files(ws: Workspace) -> set[str]:
    return {p.relative_to(ws.artifacts).as_posix() for p in ws.artifacts.rglob("*")
            if p.is_file()}


def _rows(ws: Workspace, project: str) -> dict[str, int]:
    with ws.read() as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'project'"
        ).fetchall()]
        found = {t: con.execute(f"SELECT count(*) FROM {t} WHERE project = ?",
                                [project]).fetchall()[0][0] for t in tables}
    return {t: n for t, n in found.items() if n}


def _with_second_project(ws: Workspace) -> str:
    """A second project, 'other.v2', holding the same data version as 'clf'."""
    with ws.read() as con:
        version_id, path = con.execute("SELECT id, path FROM datasets").fetchall()[0]
    projects.create(ws, "other.v2", target="label", task="classification")
    with ws.write() as con:
        datasets.link(con, "other.v2", version_id, "the same data")
    return path


def test_delete_refuses_registered_versions_then_removes_only_its_own(clf_champion) -> None:
    ws = clf_champion
    shared = _with_second_project(ws)
    before_files = _files(ws)
    refused = run_cli("project", "delete", "clf", "--yes", workspace=ws.root)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "has registered model versions (v1" in refused.stderr and "--force" in refused.stderr
    assert _files(ws) == before_files and _rows(ws, "clf")

    done = run_json("project", "delete", "clf", "--yes", "--force", workspace=ws.root)
    assert done["runs"] >= 1 and done["model_versions"] >= 1
    assert done["dataset_versions"] == [] and len(done["shared_versions"]) == 1
    assert _rows(ws, "clf") == {}
    assert [p.name for p in projects.list_all(ws)] == ["other.v2"]
    left = _files(ws)
    # The shared version's file stays; every file removed was the project's own.
    assert shared in left and not any(f.startswith("runs/") for f in left)
    assert before_files - left == set(done["files"])
    assert not (ws.artifacts / "runs").exists() or not any((ws.artifacts / "runs").iterdir())
    assert_consistent(ws)
    # The other project is whole: its data is listed and its card unchanged.
    assert run_json("data", "list", "other.v2", workspace=ws.root)


def test_delete_asks_first_and_a_no_changes_nothing(clf_champion, tmp_path: Path) -> None:
    ws = clf_champion
    before = _files(ws)
    no = run_cli("project", "delete", "clf", "--force", workspace=ws.root, env={},
                 timeout=60)
    # No terminal to answer: the question is asked, nothing is deleted.
    assert "delete project clf: its card, 1 dataset version" in no.stderr
    assert no.returncode != 0 and _files(ws) == before
    assert [p.name for p in projects.list_all(ws)] == ["clf"]
    out = run_cli("project", "delete", "clf", "--force", "--yes", workspace=ws.root,
                  check=True).stdout
    assert out.startswith("deleted project clf: its card, 1 dataset version, ")
    assert _files(ws) == set() and projects.list_all(ws) == []


def test_delete_unknown_project(ws_path) -> None:
    run_cli("project", "create", "churn", "--target", "churned", "--task", "classification",
            workspace=ws_path, check=True)
    bad = run_cli("project", "delete", "chrun", "--yes", workspace=ws_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: no project 'chrun'; projects: churn"
