"""Removing a project's dataset versions once they are past its retention period.

``purge`` removes the versions the project added more than ``retention_days`` ago, with the
files the workspace made for them (the stored Parquet, the evaluation holdouts) and their
rows (columns, quality report, privacy findings, lineage). What a careful user expects:

- nothing without a retention period set on the project card;
- a version a registered model version was trained on stays (``force`` removes it too: the
  model keeps working, its training data is gone);
- a version another project also holds is only unlinked from this one, its files kept;
- only files under the workspace's ``artifacts/datasets`` and ``artifacts/holdouts`` are
  deleted, whatever a row says: the user's own source files are never touched;
- ``dry_run`` says what would go and what stays, and why, changing nothing;
- ``only`` removes none but the versions named (those a confirmation listed): one that came
  due since is left for the next purge.

The rows go in one write transaction, planned inside it, so a model registered meanwhile
is seen; the files are deleted after it commits, so a kill leaves at worst an unreferenced
file, never a version whose file is missing.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from mlcycle import projects
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput
from mlcycle.store.schema import PER_DATASET, iso, utcnow
from mlcycle.store.workspace import Workspace

_OWN_FOLDERS = ("datasets/", "holdouts/")


def purge(ws: Workspace, project: str, *, dry_run: bool = False, force: bool = False,
          only: Collection[str] | None = None) -> dict[str, Any]:
    """Remove ``project``'s dataset versions past its retention period (see the module)."""
    card = projects.get(ws, project)
    if card.retention_days is None:
        raise InvalidInput(f"project {project!r} has no retention period; set one with "
                           f"'mlcycle project edit {project} --retention-days N'")
    cutoff = utcnow() - timedelta(days=card.retention_days)
    if dry_run:
        with ws.read() as con:
            result = _plan(con, project, cutoff, force, only)
    else:
        with ws.write() as con:
            result = _plan(con, project, cutoff, force, only)
            _remove(con, project, result["removed"])
        for entry in result["removed"]:
            for relpath in entry["files"]:
                ws.artifact_path(relpath).unlink(missing_ok=True)
    return {"project": project, "retention_days": card.retention_days, "cutoff": iso(cutoff),
            "dry_run": dry_run, **result}


def _plan(con: Any, project: str, cutoff: Any, force: bool,
          only: Collection[str] | None) -> dict[str, list]:
    rows = con.execute(
        "SELECT d.id, pd.added_at, d.n_rows, d.size_bytes, d.path FROM project_datasets pd "
        "JOIN datasets d ON d.id = pd.dataset_id WHERE pd.project = ? AND pd.added_at < ? "
        "ORDER BY pd.added_at",
        [project, cutoff],
    ).fetchall()
    used: dict[str, list[str]] = {}
    for owner, version, summary in con.execute(
            "SELECT project, version, summary FROM model_versions").fetchall():
        dataset = (json.loads(summary).get("lineage") or {}).get("dataset")
        if dataset:
            used.setdefault(dataset, []).append(f"{owner} v{version}")
    removed, kept = [], []
    for dataset_id, added, n_rows, size, path in rows:
        if only is not None and dataset_id not in only:
            continue
        if dataset_id in used and not force:
            kept.append({"id": dataset_id, "reason": "trained model version(s) "
                         f"{', '.join(used[dataset_id])}; --force removes it anyway"})
            continue
        others = [r[0] for r in con.execute(
            "SELECT project FROM project_datasets WHERE dataset_id = ? AND project <> ?",
            [dataset_id, project]).fetchall()]
        files = [] if others else [p for p in [path, *(r[0] for r in con.execute(
            "SELECT path FROM holdouts WHERE dataset_id = ?", [dataset_id]).fetchall())]
            if p.startswith(_OWN_FOLDERS) and ".." not in p.split("/")]
        removed.append({"id": dataset_id, "added_at": iso(added), "rows": n_rows,
                        "bytes": size, "files": files, "still_in": others})
    return {"removed": removed, "kept": kept}


def _remove(con: Any, project: str, removed: list[dict[str, Any]]) -> None:
    for entry in removed:
        con.execute("DELETE FROM project_datasets WHERE project = ? AND dataset_id = ?",
                    [project, entry["id"]])
        if not entry["still_in"]:
            for table in PER_DATASET:
                con.execute(f"DELETE FROM {table} WHERE dataset_id = ?", [entry["id"]])  # noqa: S608
            con.execute("DELETE FROM datasets WHERE id = ?", [entry["id"]])
    if removed:
        events.record(con, "data.purged", project=project,
                      detail={"versions": [e["id"] for e in removed]})
