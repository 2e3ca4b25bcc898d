"""What a model sees: which columns, as which types — the same at training and scoring.

Numeric and boolean columns become float32 (what the ONNX graph computes in, so a model is
trained on exactly the values it will be served; booleans as 0/1); categorical columns become
strings with missing values as the empty string, a category of its own. Identifiers, text,
datetimes, ignored columns and the target are left out. The result is a small signature that
travels with the model: the training code and the scoring code both call :func:`frame`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlcycle.store.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

MISSING_CATEGORY = ""


@dataclass
class Signature:
    """The inputs a model takes and what it predicts."""

    numeric: list[str]
    categorical: list[str]
    target: str
    task: str
    classes: list[str] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)
    feature_set: dict[str, Any] | None = None  # mlcycle.prep.features definition, applied first

    @property
    def inputs(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        return cls(**data)


def infer(dictionary: list[dict[str, Any]], target: str, task: str,
          columns: dict[str, str] | None = None) -> Signature:
    """Choose the model inputs from a data dictionary (roles and kinds).

    ``columns`` (name -> polars type name), when given, is the frame after a feature set:
    derived columns join as features and columns it dropped leave.
    """
    if columns is not None:
        known = {c["name"] for c in dictionary}
        dictionary = [c for c in dictionary if c["name"] in columns] + [
            {"name": name, "kind": _kind_of(dtype), "role": "feature"}
            for name, dtype in columns.items() if name not in known
        ]
    numeric, categorical = [], []
    for col in dictionary:
        if col["name"] == target or col["role"] in ("identifier", "ignored", "target"):
            continue
        if col["kind"] in ("numeric", "boolean"):
            numeric.append(col["name"])
        elif col["kind"] == "categorical":
            categorical.append(col["name"])
    if not numeric and not categorical:
        raise InvalidInput(
            "no usable feature columns: every column is an identifier, text, a datetime or ignored"
        )
    return Signature(numeric, categorical, target, task)


def _kind_of(dtype: str) -> str:
    text = dtype.lower()
    if text.startswith("bool"):
        return "boolean"
    if text.startswith(("int", "uint", "float", "decimal")):
        return "numeric"
    if text.startswith(("str", "utf8", "cat", "enum")):
        return "categorical"
    return "other"


def frame(data: pl.DataFrame, signature: Signature) -> pl.DataFrame:
    """The model's input columns, in order, typed as the model expects.

    This is the one path from raw rows to model inputs, for training and scoring alike: the
    feature set's derived columns are computed here, then the columns are typed.
    """
    import polars as pl

    if signature.feature_set:
        from mlcycle.prep import features

        data = features.apply(features.FeatureSet.from_dict(signature.feature_set), data)
    missing = [c for c in signature.inputs if c not in data.columns]
    if missing:
        raise InvalidInput(f"input is missing column(s) the model needs: {', '.join(missing)}")
    return data.select(
        *[pl.col(c).cast(pl.Float32, strict=False) for c in signature.numeric],
        *[pl.col(c).cast(pl.Utf8).fill_null(MISSING_CATEGORY) for c in signature.categorical],
    )


def target_values(data: pl.DataFrame, signature: Signature) -> Any:
    """The target as a numpy array: class labels as strings, or float values."""
    import polars as pl

    column = data.get_column(signature.target)
    if signature.task == "classification":
        return (
            column.cast(pl.Utf8).str.to_lowercase().to_numpy()
            if column.dtype == pl.Boolean
            else column.cast(pl.Utf8).to_numpy()
        )
    try:
        return column.cast(pl.Float64, strict=True).to_numpy()
    except Exception:
        raise InvalidInput(
            f"target {signature.target!r} of a regression task must be numeric; "
            f"it holds {column.dtype} values"
        ) from None
