"""Deleting a project: its rows in every table and the files the workspace made for it.

What a careful user expects:

- a project with registered model versions stays unless ``force`` is given (a version may be
  serving or be the champion someone relies on); one with a run still going always stays;
- every row naming the project goes (whatever the stage that wrote it: each table with a
  ``project`` column), with its runs' own rows and the rows of the dataset versions no other
  project holds; a version another project also holds is only unlinked, its file kept;
- only files under the workspace's own folders are deleted, and only those no row of
  another project still names: the user's source files and other projects' files stay;
- the rows go in one write transaction, planned inside it, so a run or a version made
  meanwhile is seen; the files are deleted after it commits, so a kill leaves at worst an
  unreferenced file, never a row whose file is missing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mlcycle.projects.card import get
from mlcycle.store import events, journal
from mlcycle.store.errors import InvalidInput
from mlcycle.store.schema import PER_DATASET, PER_RUN
from mlcycle.store.workspace import Workspace

if TYPE_CHECKING:
    import duckdb

# The folders under artifacts/ the workspace writes for a project's data, runs and models.
_OWN_FOLDERS = ("datasets/", "holdouts/", "runs/", "onnx/", "scoring/", "answers/")
# (table, path column) of every file a project's rows name, besides its datasets' files.
_FILES = [("run_artifacts", "path"), ("model_versions", "path"), ("onnx_exports", "path"),
          ("scoring_runs", "shadow_path"), ("answer_logs", "path")]


@dataclass(frozen=True)
class Removal:
    """What deleting a project removes (or removed)."""

    project: str
    dataset_versions: list[str]  # removed with their files
    shared_versions: list[str]  # only unlinked: another project holds them too
    runs: int
    model_versions: int
    rows: int  # every row removed, in all tables
    files: list[str]  # under artifacts/

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan(ws: Workspace, name: str) -> Removal:
    """What :func:`delete` would remove now, changing nothing."""
    get(ws, name)
    with ws.read() as con:
        return _plan(con, name)


def delete(ws: Workspace, name: str, *, force: bool = False) -> Removal:
    """Delete project ``name`` (see the module); refuses while it has registered model
    versions unless ``force``, and while one of its runs is still going."""
    get(ws, name)
    journal.fold(ws)  # runs logged but not folded yet are seen, and removed too
    with ws.write() as con:
        removal = _plan(con, name)
        running = con.execute("SELECT count(*) FROM runs WHERE project = ? AND status = "
                              "'running'", [name]).fetchall()[0][0]
        if running:
            raise InvalidInput(f"project {name!r} has a run still going; wait for it to end "
                               "or cancel it, then delete the project")
        if removal.model_versions and not force:
            held = ", ".join(f"v{r[0]}" for r in con.execute(
                "SELECT version FROM model_versions WHERE project = ? ORDER BY version",
                [name]).fetchall())
            raise InvalidInput(f"project {name!r} has registered model versions ({held}); "
                               "--force deletes it with them")
        _remove(con, name, removal)
        events.record(con, "project.deleted", subject=name, detail=removal.to_dict())
    base = ws.artifacts.resolve()
    for relpath in removal.files:
        try:
            path = ws.artifact_path(relpath)
        except InvalidInput:  # a stored path leaving artifacts/ (an edited workspace): not ours
            continue
        path.unlink(missing_ok=True)
        # A run's folder and the per-project folders go once empty; rmdir never takes a
        # folder something was written into meanwhile.
        for parent in path.parents:
            if parent == base:
                break
            try:
                parent.rmdir()
            except OSError:
                break
    return removal


def _project_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table with a ``project`` column: each stage's rows about a project."""
    return [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'project' "
        "AND table_schema = 'main' ORDER BY table_name").fetchall()]


def _plan(con: duckdb.DuckDBPyConnection, name: str) -> Removal:
    linked = [r[0] for r in con.execute(
        "SELECT dataset_id FROM project_datasets WHERE project = ? ORDER BY added_at",
        [name]).fetchall()]
    shared = {r[0] for r in con.execute(
        "SELECT DISTINCT dataset_id FROM project_datasets WHERE project <> ?", [name]).fetchall()}
    own = [d for d in linked if d not in shared]
    run_ids = [r[0] for r in con.execute("SELECT id FROM runs WHERE project = ?",
                                         [name]).fetchall()]
    rows = sum(_count(con, t, "project", [name]) for t in _project_tables(con))
    rows += sum(_count(con, t, "run_id", run_ids) for t in PER_RUN)
    rows += sum(_count(con, t, "dataset_id", own) for t in PER_DATASET)
    rows += _count(con, "datasets", "id", own) + 1  # and the card
    files = _dataset_files(con, own) + _project_files(con, name)
    kept = _named_elsewhere(con, name)
    versions = _count(con, "model_versions", "project", [name])
    return Removal(name, own, [d for d in linked if d in shared], len(run_ids), versions, rows,
                   sorted({f for f in files if _own(f) and f not in kept}))


def _count(con: duckdb.DuckDBPyConnection, table: str, key: str, values: list[str]) -> int:
    if not values:
        return 0
    return con.execute(f"SELECT count(*) FROM {table} WHERE {key} IN "  # noqa: S608 - ours
                       f"(SELECT unnest(?))", [values]).fetchall()[0][0]


def _dataset_files(con: duckdb.DuckDBPyConnection, own: list[str]) -> list[str]:
    if not own:
        return []
    return [r[0] for r in con.execute(
        "SELECT path FROM datasets WHERE id IN (SELECT unnest(?)) UNION ALL "
        "SELECT path FROM holdouts WHERE dataset_id IN (SELECT unnest(?))", [own, own]
    ).fetchall()]


def _project_files(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    found = [r[0] for r in con.execute(
        "SELECT a.path FROM run_artifacts a JOIN runs r ON r.id = a.run_id WHERE r.project = ?",
        [name]).fetchall()]
    for table, column in _FILES[1:]:
        found += [r[0] for r in con.execute(
            f"SELECT {column} FROM {table} WHERE project = ? "  # noqa: S608 - names are ours
            f"AND {column} IS NOT NULL", [name]).fetchall()]
    return found


def _named_elsewhere(con: duckdb.DuckDBPyConnection, name: str) -> set[str]:
    """Files a row of another project names too (an ONNX file is stored by its content)."""
    found = {r[0] for r in con.execute(
        "SELECT a.path FROM run_artifacts a JOIN runs r ON r.id = a.run_id WHERE r.project <> ?",
        [name]).fetchall()}
    for table, column in _FILES[1:]:
        found |= {r[0] for r in con.execute(
            f"SELECT {column} FROM {table} WHERE project <> ? "  # noqa: S608 - names are ours
            f"AND {column} IS NOT NULL", [name]).fetchall()}
    return found


def _own(relpath: str) -> bool:
    return relpath.startswith(_OWN_FOLDERS) and ".." not in relpath.split("/")


def _remove(con: duckdb.DuckDBPyConnection, name: str, removal: Removal) -> None:
    run_ids = [r[0] for r in con.execute("SELECT id FROM runs WHERE project = ?",
                                         [name]).fetchall()]
    for table in PER_RUN:
        if run_ids:
            con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?))",  # noqa: S608
                        [run_ids])
    own = removal.dataset_versions
    if own:
        for table in PER_DATASET:
            con.execute(f"DELETE FROM {table} WHERE dataset_id IN "  # noqa: S608 - ours
                        "(SELECT unnest(?))", [own])
        con.execute("DELETE FROM datasets WHERE id IN (SELECT unnest(?))", [own])
    for table in _project_tables(con):
        con.execute(f"DELETE FROM {table} WHERE project = ?", [name])  # noqa: S608 - ours
    con.execute("DELETE FROM projects WHERE name = ?", [name])
