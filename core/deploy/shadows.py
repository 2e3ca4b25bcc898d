"""Shadow pairs: when a challenger shadows the champion, both score every row and the pairs
are kept per row (keyed as :mod:`mlcycle.deploy.labels` keys them) in a Parquet file of the
workspace, so that the comparison can judge both on the same rows once labels arrive."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mlcycle.deploy.predictions import prediction_frame

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from mlcycle.deploy.runs import Run
    from mlcycle.models import model_input
    from mlcycle.store.workspace import Workspace

SHADOWS = "scoring"  # the folder of artifacts/ holding the shadow pairs, per project
_SWEPT: set[Path] = set()  # workspaces whose stale shadow files this process has swept


def shadow_frame(keys: pl.Series, main: dict[str, np.ndarray], shadow: dict[str, np.ndarray],
                 signature: model_input.Signature) -> pl.DataFrame:
    import polars as pl

    return pl.concat(
        [pl.DataFrame([keys]), prediction_frame(main, signature, "champion_"),
         prediction_frame(shadow, signature, "challenger_")],
        how="horizontal",
    )


def sweep_shadows(ws: Workspace, older_than: float | None = None) -> int:
    """Remove the shadow-pair files no scoring run names, left by a process killed between
    storing the file and recording its run; returns how many were removed. Only files older
    than ``older_than`` (the workspace's stale age, an hour) go: a younger one may be a
    running process's, about to be recorded."""
    from mlcycle.store.workspace import STALE_TEMP_SECONDS

    cutoff = time.time() - (STALE_TEMP_SECONDS if older_than is None else older_than)
    old = []
    for path in (ws.artifacts / SHADOWS).glob("*/*.parquet"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                old.append(path)
    if not old:
        return 0
    with ws.read() as con:
        named = {row[0] for row in con.execute(
            "SELECT shadow_path FROM scoring_runs WHERE shadow_path IS NOT NULL").fetchall()}
    orphans = [p for p in old if p.relative_to(ws.artifacts).as_posix() not in named]
    for path in orphans:
        path.unlink(missing_ok=True)
    return len(orphans)


def save_shadow(ws: Workspace, run: Run) -> None:
    """Store a run's shadow pairs as Parquet in the workspace, before the run is recorded (a
    row never points at a file that is not in place). The first time a process does so, it
    sweeps what killed processes left (:func:`sweep_shadows`)."""
    import polars as pl

    from mlcycle.store.workspace import file_sha256

    root = ws.root.resolve()
    if root not in _SWEPT:
        _SWEPT.add(root)
        sweep_shadows(ws)
    if run.shadow_rows and run.shadow_path is None:
        temp = ws.temp_path(".parquet")
        pl.concat(run.shadow_rows).write_parquet(temp)
        run.shadow_sha256 = file_sha256(temp)
        relpath = f"{SHADOWS}/{run.project}/{run.id}.parquet"
        ws.commit_file(temp, relpath)
        run.shadow_path = relpath
