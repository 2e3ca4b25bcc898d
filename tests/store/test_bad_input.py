"""Bad input: one line on stderr, exit code 2, and the workspace exactly as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.store.errors import MlcycleError
from tests.conftest import run_cli


def _state(ws_root: Path) -> tuple:
    files = sorted(
        str(p.relative_to(ws_root)) for p in (ws_root / "artifacts").rglob("*") if p.is_file()
    )
    proc = run_cli("data", "list", "p", "--json", workspace=ws_root, check=True)
    return files, json.loads(proc.stdout)


@pytest.fixture(scope="module")
def project_ws(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad") / "ws"
    run_cli(
        "project",
        "create",
        "p",
        "--target",
        "y",
        "--task",
        "classification",
        workspace=root,
        check=True,
    )
    return root


def _bad_files(d: Path) -> dict[str, tuple[list[str], str]]:
    (d / "empty.csv").write_bytes(b"")
    (d / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (d / "latin1.csv").write_bytes("name,y\ncaf\xe9,1\n".encode("latin-1") * 3)
    (d / "noheader.csv").write_text("1,2\n3,4\n")
    (d / "notarget.csv").write_text("a,b\n1,2\n")
    (d / "dupes.csv").write_text("a,y,a\n1,2,3\n")
    (d / "headeronly.csv").write_text("a,y\n")
    (d / "fake.parquet").write_text("a,y\n1,2\n")
    (d / "broken.json").write_text('[{"a": 1, "y": ')
    (d / "notes.docx").write_text("hello")
    (d / "empty_dir").mkdir()
    return {
        "missing path": (["data", "add", "p", str(d / "nope.csv")], "no such file"),
        "empty file": (["data", "add", "p", str(d / "empty.csv")], "empty"),
        "binary file": (["data", "add", "p", str(d / "binary.csv")], "binary"),
        "not utf-8": (["data", "add", "p", str(d / "latin1.csv")], "utf-8"),
        "no header": (["data", "add", "p", str(d / "noheader.csv")], "no header"),
        "target absent": (["data", "add", "p", str(d / "notarget.csv")],
                          "no column 'y' to predict"),
        "duplicate names": (["data", "add", "p", str(d / "dupes.csv")], "more than once"),
        "header only": (["data", "add", "p", str(d / "headeronly.csv")], "no rows"),
        "not parquet": (["data", "add", "p", str(d / "fake.parquet")], "not a Parquet"),
        "bad json": (["data", "add", "p", str(d / "broken.json")], "cannot read"),
        "unsupported type": (["data", "add", "p", str(d / "notes.docx")], "unsupported"),
        "empty folder": (["data", "add", "p", str(d / "empty_dir")], "no CSV"),
        "unknown project": (["data", "add", "nope", str(d / "notarget.csv")], "no project 'nope'"),
        "unknown version": (["data", "show", "p", "abcdef12"], "no data yet"),
        "bad version id": (["data", "show", "p", "../../etc"], "no data yet"),
        "unknown column": (["data", "describe", "p", "zzz", "text"], "no column"),
        "bad project name": (
            ["project", "create", "a b", "--target", "y", "--task", "regression"],
            "not valid",
        ),
        "duplicate project": (
            ["project", "create", "p", "--target", "y", "--task", "regression"],
            "already exists",
        ),
        "unknown task": (
            ["project", "create", "q", "--target", "y", "--task", "ranking"],
            "ranking",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing path",
        "empty file",
        "binary file",
        "not utf-8",
        "no header",
        "target absent",
        "duplicate names",
        "header only",
        "not parquet",
        "bad json",
        "unsupported type",
        "empty folder",
        "unknown project",
        "unknown version",
        "bad version id",
        "unknown column",
        "bad project name",
        "duplicate project",
        "unknown task",
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    project_ws: Path, tmp_path: Path, case: str
) -> None:
    args, expected = _bad_files(tmp_path)[case]
    before = _state(project_ws)
    proc = run_cli(*args, workspace=project_ws)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert expected in lines[0], lines[0]
    assert _state(project_ws) == before


def test_read_commands_without_a_workspace_say_how_to_make_one(tmp_path: Path) -> None:
    proc = run_cli("project", "list", workspace=tmp_path / "none")
    assert proc.returncode == 2
    assert "mlcycle init" in proc.stderr and not (tmp_path / "none").exists()


NAMES = [
    "v",
    "n",
    "customer id",
    'say "hi"',
    "it's",
    "Größe",
    "列名",
    "a,b",
    "semi;colon",
    "  padded  ",
]


def test_awkward_column_names_are_kept_exactly(ws, tmp_path: Path) -> None:
    import polars as pl

    frame = pl.DataFrame({name: [1.5, 2.5, None, 4.0] for name in NAMES}).with_columns(
        y=pl.Series([0, 1, 0, 1])
    )
    path = tmp_path / "awkward.csv"
    frame.write_csv(path)
    projects.create(ws, "p", target="y", task="classification")
    version = datasets.add(ws, "p", path).version
    dictionary = datasets.dictionary(ws, "p", version.id)
    assert [c["name"] for c in dictionary] == [*NAMES, "y"]
    report = datasets.quality_report(ws, "p", version.id)
    assert all(s["missing"] == 1 for s in report["column_stats"][:-1])


@pytest.fixture(scope="module")
def fuzz_ws(tmp_path_factory):
    """One workspace for every example: each table is its own content, so its own version."""
    from mlcycle.store.workspace import open_workspace

    root = tmp_path_factory.mktemp("fuzz")
    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "p", target="y", task="classification")
    return ws, root


column_name = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s.strip() == s and s != "y")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(column_name, min_size=1, max_size=5, unique=True),
    values=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5)),
        min_size=1,
        max_size=20,
    ),
)
def test_any_parquet_table_is_stored_or_refused_cleanly(fuzz_ws, names, values) -> None:
    import polars as pl

    ws, root = fuzz_ws
    columns = {name: [None if v is None else str(v) for v in values] for name in names}
    frame = pl.DataFrame({**columns, "y": [i % 2 for i in range(len(values))]})
    path = root / "data.parquet"
    frame.write_parquet(path)
    try:
        version = datasets.add(ws, "p", path).version
    except MlcycleError as exc:
        assert "\n" not in str(exc)
        return
    assert version.n_rows == len(values)
    assert [c["name"] for c in datasets.dictionary(ws, "p", version.id)] == [*names, "y"]
