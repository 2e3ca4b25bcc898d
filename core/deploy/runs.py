"""The log of scoring runs (``scoring_runs``): version, rows, time and a summary of the
predictions, with the shadow pairs' file when a challenger shadowed the champion."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlcycle import projects
from mlcycle.deploy.results import PredictionSummary, ScoringRun
from mlcycle.deploy.shadows import save_shadow
from mlcycle.store import events
from mlcycle.store.schema import iso, utcnow
from mlcycle.store.sql import fetch_one

if TYPE_CHECKING:
    import polars as pl

    from mlcycle.store.workspace import Workspace


@dataclass
class Run:
    """One scoring run, to be recorded with :func:`record_run` (inside :func:`recording`)."""

    project: str
    version: int
    source: str
    rows: int
    seconds: float
    summary: dict[str, Any]
    shadow_version: int | None = None
    shadow_summary: dict[str, Any] | None = None
    shadow_rows: list[pl.DataFrame] = field(default_factory=list)
    shadow_path: str | None = None
    shadow_sha256: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


@contextlib.contextmanager
def recording(ws: Workspace, run: Run) -> Iterator[None]:
    """Store ``run``'s shadow pairs (:func:`save_shadow`) for the block that records the
    run; if the block fails before the run is recorded, the file goes too, so no file is
    left that no run names (a kill leaves one for :func:`sweep_shadows`)."""
    save_shadow(ws, run)
    try:
        yield
    except BaseException:
        if run.shadow_path is not None:
            # Unsure whether the run was recorded (the workspace is busy, say): the sweep
            # decides once the file is stale.
            with contextlib.suppress(Exception):
                with ws.read() as con:
                    recorded = fetch_one(con, "SELECT 1 FROM scoring_runs WHERE id = ?",
                                         [run.id])
                if recorded is None:
                    ws.artifact_path(run.shadow_path).unlink(missing_ok=True)
        raise


def record_run(con: Any, run: Run) -> None:
    """Insert a run and its event, inside the caller's write transaction."""
    con.execute(
        "INSERT INTO scoring_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run.id, utcnow(), run.project, run.version, run.shadow_version, run.source, run.rows,
         run.seconds, json.dumps(run.summary),
         json.dumps(run.shadow_summary) if run.shadow_summary else None, run.shadow_path,
         run.shadow_sha256],
    )
    events.record(con, "deploy.scored", project=run.project, subject=f"v{run.version}",
                  detail={"run": run.id, "rows": run.rows, "source": run.source,
                          "shadow": run.shadow_version})


def log_run(ws: Workspace, project: str, version: int, source: str, rows: int, seconds: float,
            summary: dict[str, Any], shadow_version: int | None = None,
            shadow_summary: dict[str, Any] | None = None,
            shadow_rows: list[pl.DataFrame] | None = None) -> str:
    """Record one scoring run (and the shadow pairs, as Parquet in the workspace)."""
    run = Run(project, version, source, rows, seconds, summary, shadow_version,
              shadow_summary, shadow_rows or [])
    with recording(ws, run), ws.write() as con:
        record_run(con, run)
    return run.id


def recent_runs(ws: Workspace, project: str, limit: int = 20) -> list[ScoringRun]:
    """The project's newest scoring runs, newest first."""
    projects.get(ws, project)
    with ws.read() as con:
        rows = con.execute(
            "SELECT id, ts, version, shadow_version, source, rows, seconds, summary "
            "FROM scoring_runs WHERE project = ? ORDER BY ts DESC LIMIT ?",
            [project, limit],
        ).fetchall()
    return [ScoringRun(r[0], iso(r[1]), r[2], r[3], r[4], r[5], r[6],
                       PredictionSummary.from_dict(json.loads(r[7]))) for r in rows]
