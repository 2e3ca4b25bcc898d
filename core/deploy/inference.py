"""Predictions for the Python API: a table in, a polars DataFrame of predictions out.

It goes through :func:`mlcycle.deploy.scoring.predict_file`, the path ``mlcycle predict``
takes, so a prediction made in a notebook is checked, scored (the challenger shadowing) and
logged exactly as one made from the shell.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.deploy import scoring
from mlcycle.models import registry
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace, use

if TYPE_CHECKING:
    import polars as pl


def _as_polars(data: Any) -> pl.DataFrame | None:
    import polars as pl

    if isinstance(data, pl.DataFrame):
        return data
    if type(data).__module__.startswith("pandas") and hasattr(data, "to_dict"):
        return pl.DataFrame(data.to_dict("list"))
    return None


def predict(project: str, data: Any, *, model: str = registry.CHAMPION,
            workspace: Workspace | str | None = None) -> pl.DataFrame:
    """Score ``data`` (a file path, a polars or a pandas DataFrame) with ``model`` (an alias
    or a version number): one row per input row, the identifier column first when the
    project has one, then the prediction (and each class's probability)."""
    import polars as pl

    ws = use(workspace)
    frame = None if isinstance(data, (str, os.PathLike)) else _as_polars(data)
    if frame is None and not isinstance(data, (str, os.PathLike)):
        raise InvalidInput(f"cannot score a {type(data).__name__}; pass a file path, a polars "
                           "DataFrame or a pandas DataFrame")
    with tempfile.TemporaryDirectory(prefix="mlcycle-predict-") as tmp:
        source = Path(data) if frame is None else Path(tmp) / "rows.parquet"
        if frame is not None:
            frame.write_parquet(source)
        out = Path(tmp) / "predictions.parquet"
        scoring.predict_file(ws, project, source, ref=str(model), out=out)
        return pl.read_parquet(out, glob=False)
