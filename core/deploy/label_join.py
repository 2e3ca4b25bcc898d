"""Labels that arrive in their own file, joined to a batch's rows one way everywhere:
``monitor``, the watcher, ``retrain`` and the decisions that retrain accept and refuse the
same files with the same one-line message.

A labels file is joined

- by identifier, when it holds the project's identifier column (a label given twice for
  one identifier: the last one counts, and the repeats are counted);
- by position, when it holds only the target column: one label per batch row, in the
  batch's order (an empty cell: that row has no label yet). Any other length is refused,
  since rows matched out of step would be judged on someone else's label;
- by full rows, in a project without identifier, when it holds the model's input columns
  with the target: a row is known by a hash of its model inputs, the key scoring gives
  it. Rows repeated with the same values are matched in order of appearance (the first
  such batch row gets the first such label), never dropped; how many rows repeat, and in
  how many groups the labels disagree, is counted and said.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.deploy import score_input
from mlcycle.deploy.labels import row_keys, unmatched_labels
from mlcycle.models import model_input
from mlcycle.store.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

IDENTIFIER, POSITION, ROWS = "identifier", "position", "rows"
_ORDER = "__mlcycle_order"  # occurrence of a key, counted in file order


@dataclass(frozen=True)
class Counts:
    """What a join did, for the result and the message."""

    how: str  # identifier, position or rows
    labelled: int  # batch rows that got a (non-empty) label
    unlabelled: int  # batch rows without one
    repeated: int  # labels rows whose key another labels row has too
    disagreeing: int  # groups of repeated keys whose labels differ
    unmatched: int  # labels rows that match no batch row

    def note(self, labels: str) -> str:
        """One line: how the labels were joined and what was not one-to-one."""
        how = {IDENTIFIER: "by identifier", POSITION: "by position",
               ROWS: "by their full rows"}[self.how]
        parts = [f"labels in {labels} joined {how}: {self.labelled:,} labelled rows"]
        if self.unlabelled:
            parts.append(f"{self.unlabelled:,} rows without a label")
        if self.repeated:
            kept = ("the last label of each counts" if self.how == IDENTIFIER
                    else "matched in order of appearance")
            parts.append(f"{self.repeated:,} labels row(s) repeat another's key ({kept}"
                         + (f"; {self.disagreeing:,} group(s) disagree on the label"
                            if self.disagreeing else "") + ")")
        if self.unmatched:
            parts.append(f"{self.unmatched:,} labels row(s) match no row of the batch")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Labels:
    """A labels file read and checked, before the batch it labels is scored."""

    path: Path
    frame: pl.DataFrame
    how: str
    target: str


def read(path: Path, signature: model_input.Signature, identifier: str | None, *,
         batch_rows: int | None = None, batch: str = "the batch") -> Labels:
    """Read and check a labels file; ``batch_rows``, when known, is checked against a
    target-only file now, before any scoring."""
    from mlcycle.data import sources

    # Read like 'data add' read the training data, so a target such as yes/no gets the
    # same values (DuckDB reads it as a boolean) as the classes the model learnt.
    frame = sources.read_frame(path)
    labels = Labels(path, frame, _how(path, frame.columns, signature, identifier),
                    signature.target)
    if batch_rows is not None:
        _same_length(labels, batch_rows, batch, identifier)
    return labels


def _how(path: Path, columns: list[str], signature: model_input.Signature,
         identifier: str | None) -> str:
    target = signature.target
    if target not in columns:
        raise InvalidInput(f"{path.name} has no target column {target!r}")
    if identifier and identifier in columns:
        return IDENTIFIER
    if columns == [target]:
        return POSITION
    if identifier:
        raise InvalidInput(f"{path.name} needs the identifier column {identifier!r} to join "
                           f"its labels to the batch's rows, or only the target column "
                           f"{target!r} (one label per batch row, in order)")
    missing = [c for c in model_input.raw_columns(signature) if c not in columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing[:4]) + (" …" if len(missing) > 4 else "")
        raise InvalidInput(f"{path.name} lacks input column(s) {shown} to join its labels to "
                           f"the batch's rows by their values; give the batch's rows with "
                           f"their target, or only the target column {target!r} (one label "
                           "per batch row, in order)")
    return ROWS


def _same_length(labels: Labels, rows: int, batch: str, identifier: str | None) -> None:
    if labels.how == POSITION and labels.frame.height != rows:
        raise InvalidInput(
            f"{labels.path.name} holds only the target {labels.target!r}, so its labels "
            f"are matched to the rows of {batch} in order, but it has "
            f"{labels.frame.height:,} rows and {batch} {rows:,}; give one label per row "
            "(an empty cell for a row not labelled yet)"
            + (f" or add the identifier column {identifier!r}" if identifier else ""))


def keys(frame: pl.DataFrame, how: str, signature: model_input.Signature,
         identifier: str | None) -> pl.Series:
    """The key of each row of a batch or labels file, as scoring keys the rows it scores."""
    if how == IDENTIFIER:
        return row_keys(frame, frame, identifier)
    return row_keys(frame, score_input.model_frame(frame, signature), None)


def join(labels: Labels, batch_keys: pl.Series | None, batch_rows: int, batch: str,
         signature: model_input.Signature, identifier: str | None
         ) -> tuple[pl.Series, Counts]:
    """Each batch row's label (null where it has none), in batch order, with the counts.
    ``batch_keys``: the batch rows' keys (``keys``, or scoring's ``row_keys``), unused when
    the labels join by position. Refused when no label matches a batch row."""
    import polars as pl

    _same_length(labels, batch_rows, batch, identifier)
    truth = labels.frame.get_column(labels.target)
    repeated = disagreeing = unmatched = 0
    if labels.how == POSITION:
        y = truth
    else:
        assert batch_keys is not None
        named = pl.DataFrame([keys(labels.frame, labels.how, signature, identifier), truth])
        named = named.rename({labels.target: "y"})
        counts = named.group_by("id").agg(pl.len().alias("n"), pl.col("y").n_unique().alias("v"))
        repeated = int(counts.filter(pl.col("n") > 1).get_column("n").sum())
        disagreeing = int(counts.filter(pl.col("v") > 1).height)
        on = ["id"]
        if labels.how == IDENTIFIER:  # a later label corrects an earlier one
            named = named.unique("id", keep="last", maintain_order=True)
        else:  # the k-th repeat of a row in the batch takes the k-th such label
            named = named.with_columns(pl.int_range(pl.len()).over("id").alias(_ORDER))
            on.append(_ORDER)
        rows = pl.DataFrame([batch_keys.alias("id")]).with_columns(
            pl.int_range(pl.len()).over("id").alias(_ORDER))
        found = rows.join(named.with_columns(pl.lit(True).alias("_hit")), on=on, how="left",
                          maintain_order="left")
        y = found.get_column("y").alias(labels.target)
        matched = int(found.get_column("_hit").is_not_null().sum())
        if not matched:
            raise unmatched_labels(labels.path, Path(batch), identifier
                                           if labels.how == IDENTIFIER else None)
        unmatched = named.join(rows, on=on, how="anti").height
    labelled = int(y.is_not_null().sum())
    if not labelled:
        raise InvalidInput(f"{labels.path.name} gives no label for any row of "
                           f"{Path(batch).name}")
    return y, Counts(labels.how, labelled, batch_rows - labelled, repeated, disagreeing,
                     unmatched)
