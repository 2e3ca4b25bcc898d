"""A wrong target is no dead end: the data names the column meant, and the card's target can
be set again while nothing has been trained for it."""

from __future__ import annotations

from tests.conftest import run_cli, run_json, write_csv

# Awkward names: the column meant sorts last and is cut from a short list unless put first.
_HEADER = [f"feature {i} / é%" for i in range(14)] + ["churned 'flag'"]


def _data(tmp_path):
    rows = [",".join(f'"{c}"' for c in _HEADER)]
    rows += [",".join([str(i * j % 7) for j in range(14)] + [str(i % 2)]) for i in range(40)]
    return write_csv(tmp_path / "people data.csv", "\n".join(rows) + "\n")


def test_unknown_target_names_the_close_column_first(ws_path, tmp_path) -> None:
    run_cli("project", "create", "churn3", "--target", "churned flag", "--task",
            "classification", workspace=ws_path, check=True)
    bad = run_cli("data", "add", "churn3", str(_data(tmp_path)), workspace=ws_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    line = bad.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "no column 'churned flag' to predict; did you mean \"churned 'flag'\"?" in line
    assert "(columns: churned 'flag', feature" in line and "(15 in all)" in line
    assert "mlcycle project edit churn3 --target COLUMN" in line


def test_target_can_be_set_again_until_something_is_trained(ws_path, tmp_path) -> None:
    run_cli("project", "create", "churn3", "--target", "churned flag", "--task",
            "classification", workspace=ws_path, check=True)
    # A target no column of the stored data has is refused, with the closest named.
    run_cli("project", "edit", "churn3", "--target", "churned 'flag'", workspace=ws_path,
            check=True)
    run_cli("data", "add", "churn3", str(_data(tmp_path)), workspace=ws_path, check=True)
    bad = run_cli("project", "edit", "churn3", "--target", "churned flag", workspace=ws_path)
    assert bad.returncode == 2 and "did you mean \"churned 'flag'\"?" in bad.stderr
    assert run_json("project", "show", "churn3", workspace=ws_path)["target"] == "churned 'flag'"
    out = run_cli("project", "edit", "churn3", "--target", "feature 3 / é%",
                  workspace=ws_path, check=True).stdout
    assert out.strip() == "updated churn3: target"
    assert run_json("project", "show", "churn3", workspace=ws_path)["target"] == "feature 3 / é%"


def test_target_stays_once_trained(clf_champion) -> None:
    before = run_json("project", "show", "clf", workspace=clf_champion.root)
    bad = run_cli("project", "edit", "clf", "--target", "x1", workspace=clf_champion.root)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == (
        "error: project 'clf' already has model versions trained to predict 'label'; its "
        "target cannot change: create a new project with 'mlcycle project create NAME "
        "--target COLUMN --task classification'")
    assert run_json("project", "show", "clf", workspace=clf_champion.root) == before
