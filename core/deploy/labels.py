"""Labels that arrive after scoring, keyed like the scored rows: by the identifier column, or
by a hash of the model inputs when the project has none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlcycle.data import sources
from mlcycle.deploy.score_input import model_frame
from mlcycle.models import model_input
from mlcycle.store.errors import InvalidInput

if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl


def row_keys(raw: pl.DataFrame, inputs: pl.DataFrame, identifier: str | None) -> pl.Series:
    """The key that joins a scored row to its label later: the identifier, else a row hash."""
    import polars as pl

    if identifier and identifier in raw.columns:
        return raw.get_column(identifier).cast(pl.Utf8).alias("id")
    return inputs.hash_rows(seed=7).cast(pl.Utf8).alias("id")


def unjoinable_labels(labels: Path, identifier: str) -> InvalidInput:
    """The one message for a labels file without the row key (monitor, watch, retrain)."""
    return InvalidInput(f"{labels.name} needs the identifier column {identifier!r} to join its "
                        "labels to the batch's rows")


def unmatched_labels(labels: Path, batch: Path, identifier: str | None) -> InvalidInput:
    """The one message for labels whose keys match none of the batch's rows."""
    return InvalidInput(f"none of the rows in {labels.name} match the rows of {batch.name}"
                        + (f" on {identifier!r}" if identifier else ""))


def labels_frame(source: Path, signature: model_input.Signature, identifier: str | None,
                 raw: pl.DataFrame | None = None) -> pl.DataFrame:
    """Labels that arrived later, keyed like scored rows (``id``) with their target (``y``).
    ``raw``: the file, already read with ``sources.read_frame``."""
    import polars as pl

    # Read like 'data add' read the training data, so a target such as yes/no gets the
    # same values (DuckDB reads it as a boolean) as the classes the model learnt.
    raw = sources.read_frame(source) if raw is None else raw
    if signature.target not in raw.columns:
        raise InvalidInput(f"{source.name} has no target column {signature.target!r}")
    if identifier and identifier in raw.columns:
        keys = raw.get_column(identifier).cast(pl.Utf8).alias("id")
    elif not identifier:
        # No identifier: scored rows were keyed by a hash of their model inputs, so the
        # labels file must carry the same input columns.
        keys = row_keys(raw, model_frame(raw, signature), None)
    else:
        raise unjoinable_labels(source, identifier)
    labelled = raw.get_column(signature.target).is_not_null()
    return pl.DataFrame([keys.filter(labelled), pl.Series(
        "y", model_input.target_values(raw.filter(labelled), signature))]).unique(
        "id", keep="last")
