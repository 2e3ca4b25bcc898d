"""Checking the rows a user sends to score against a version's signature.

A missing column names itself, extra columns are noted once, text in a numeric column is cast
when it reads as a number and refused with the row otherwise; ``model_input.frame`` then applies
the feature set and types the columns (the one path every scoring shares).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlcycle import deploy
from mlcycle.data.columns import by_name
from mlcycle.deploy.score_files import BATCH_ROWS
from mlcycle.models import model_input
from mlcycle.store.errors import InvalidInput, first_line

if TYPE_CHECKING:
    import polars as pl

    from mlcycle.deploy.score_files import Table
    from mlcycle.models import registry
    from mlcycle.store.workspace import Workspace


def check_input(raw: pl.DataFrame, signature: model_input.Signature) -> pl.DataFrame:
    """Cast the signature's columns that arrive as text; refuse values that are not numbers."""
    import polars as pl

    casts = []
    for name in signature.numeric:
        if name not in raw.columns:
            continue
        dtype = raw.schema[name]
        if dtype in (pl.Boolean, pl.Null) or dtype.is_numeric():  # Null: all missing
            continue
        if dtype != pl.Utf8:
            raise InvalidInput(f"column {name!r} must be numeric; it holds {dtype} values")
        text = by_name(name).str.strip_chars()
        lowered = text.str.to_lowercase()
        normalised = (
            pl.when(lowered == "true").then(pl.lit("1"))
            .when(lowered == "false").then(pl.lit("0"))
            .when(text == "").then(None)
            .otherwise(text)
        )
        cast = normalised.cast(pl.Float64, strict=False)
        bad = raw.select((normalised.is_not_null() & cast.is_null()).arg_true().first()).item()
        if bad is not None:
            raise InvalidInput(
                f"column {name!r} must be numeric, but row {bad + 1} of the batch holds "
                f"{raw[name][bad]!r}"
            )
        casts.append(cast.alias(name))
    for name in signature.categorical:
        if name in raw.columns and raw.schema[name] != pl.Utf8:
            casts.append(by_name(name).cast(pl.Utf8))
    return raw.with_columns(casts) if casts else raw


def missing_columns(table: Table, signature: model_input.Signature) -> None:
    """Refuse a file without a column the model reads, naming them."""
    missing = [c for c in model_input.raw_columns(signature) if c not in table.columns]
    if missing:
        raise InvalidInput(f"{Path(table.label).name} is missing column(s) the model needs: "
                           f"{', '.join(missing)}")


def check_table(ws: Workspace, table: Table, versions: list[registry.ModelVersion],
                batch_rows: int = BATCH_ROWS) -> None:
    """Refuse a file that ``versions`` cannot score before any is converted to ONNX.

    A conversion is stored, so it would be the first write of a scoring that then fails.
    The columns are checked always; the rows (numbers that are text or infinite), as
    :func:`model_frame` types them, only while a version is still to convert: otherwise
    scoring checks each batch itself and writes nothing until the last one is scored."""
    signatures = [deploy.signature_of(ws, v) for v in versions]
    for signature in signatures:
        missing_columns(table, signature)
    if all(deploy.get_export(ws, v.project, v.version) for v in versions):
        return
    for raw in table.batches(batch_rows):
        for signature in signatures:
            model_frame(raw, signature)


def model_frame(raw: pl.DataFrame, signature: model_input.Signature, *,
                exact: bool = False) -> pl.DataFrame:
    """Raw rows to model inputs: checked, then ``model_input.frame`` (the one shared path;
    ``exact``: numbers in 64 bits, for drift checks)."""
    import polars as pl

    try:
        return model_input.frame(check_input(raw, signature), signature, exact=exact)
    except pl.exceptions.PolarsError as exc:
        raise InvalidInput(f"cannot prepare the input rows: {first_line(exc)}") from None


def input_notes(columns: list[str], signature: model_input.Signature,
                identifier: str | None) -> list[str]:
    """What to tell the user once about the columns of their file."""
    used = {*signature.inputs, *model_input.raw_columns(signature), signature.target}
    extra = [c for c in columns if c not in used and c != identifier]
    if not extra:
        return []
    shown = ", ".join(extra[:8]) + (f" and {len(extra) - 8} more" if len(extra) > 8 else "")
    return [f"note: ignoring {len(extra)} column(s) the model does not use: {shown}"]


def unseen_categories(inputs: pl.DataFrame, signature: model_input.Signature) -> dict[str, int]:
    """Rows per column whose category the model never saw (scored as in training: ignored)."""

    out = {}
    for name in signature.categorical:
        known = signature.categories.get(name, [])
        count = inputs.select(
            (~by_name(name).is_in(known) & (by_name(name) != model_input.MISSING_CATEGORY)).sum()
        ).item()
        if count:
            out[name] = int(count)
    return out
