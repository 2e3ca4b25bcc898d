"""What a model sees: which columns, as which types — the same at training and scoring.

Numeric and boolean columns become float32 (what the ONNX graph computes in, so a model is
trained on exactly the values it will be served; booleans as 0/1); categorical columns become
strings with missing values as the empty string, a category of its own. Identifiers, text,
ignored columns and the target are left out (:func:`left_out` says why, column by column);
a date reaches the model through the numbers a feature set derives from it. The result is a
small signature that travels with the model: training and scoring both call :func:`frame`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlcycle.data.columns import by_name
from mlcycle.store.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

MISSING_CATEGORY = ""
# The ONNX graph's output names (mlcycle.deploy.bundle.outputs): an input may not take one of them.
GRAPH_OUTPUTS = ("label", "probabilities", "variable")
_GRAPH_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A classifier's label type, from its target column's type: a model learns class names as
# text (``classes``), its graph and every prediction give the labels this type back.
LABEL_TYPES = ("string", "integer", "boolean")


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
    # Versions from before label types were kept predict text, and still do.
    label_type: str = "string"
    # The date columns the feature set reads: name -> "date" or "datetime". Rows that carry
    # them as text (JSON has no dates) are read as the dates training saw.
    dates: dict[str, str] = field(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def graph_inputs(self) -> dict[str, str]:
        """Each input column's name in the ONNX graph (see :func:`graph_names`)."""
        return graph_names(self.inputs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        if data.get("label_type", "string") not in LABEL_TYPES:
            raise InvalidInput(f"the model's signature has an unknown label type "
                               f"{data['label_type']!r}; train the model again")
        return cls(**data)


def graph_names(columns: list[str]) -> dict[str, str]:
    """The ONNX graph input name of each column: a plain identifier, unique, deterministic.

    Real tables name columns ``od280/od315_of_diluted_wines``, ``Plan %`` or ``prénom``;
    converters and runtimes want C-style names, so the graph gets its own. A column whose name
    is already one keeps it (so ordinary tables read the same in and out of the graph); any
    other is spelled in ASCII (accents dropped, other characters as ``_``, a leading digit
    prefixed with ``_``) and, when that name is taken, suffixed ``_2``, ``_3``… in column
    order. The mapping depends on the column list alone, so it is the same at every export.
    """
    taken = {c for c in columns if _GRAPH_NAME.fullmatch(c) and c not in GRAPH_OUTPUTS}
    out: dict[str, str] = {}
    for column in columns:
        if column in taken:
            out[column] = column
            continue
        ascii_name = unicodedata.normalize("NFKD", column).encode("ascii", "ignore").decode()
        base = re.sub(r"[^A-Za-z0-9_]", "_", ascii_name) or "input"
        if base[0].isdigit():
            base = "_" + base
        name, n = base, 1
        while name in taken or name in GRAPH_OUTPUTS:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        out[column] = name
    return out


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


def raw_columns(signature: Signature) -> list[str]:
    """The data columns a row must carry: the inputs, less derived ones, and what those read.

    Checked before the feature set runs, so a missing column is named as the data names it,
    not as the derived feature that would have failed to compute.
    """
    if not signature.feature_set:
        return signature.inputs
    from mlcycle.prep import expressions

    derived = signature.feature_set.get("derived", [])
    made = {d["name"] for d in derived}
    out = [c for c in signature.inputs if c not in made]
    for d in derived:
        read = expressions.columns_of(expressions.parse(d["expr"]))
        out += sorted(c for c in read if c not in made and c not in out)
    return out


def left_out(dictionary: list[dict[str, Any]], signature: Signature) -> dict[str, list[str]]:
    """Why each data column the model does not read is left out: reason -> columns.

    A column a derived input reads (a date behind its parts) is used, not left out. Reasons
    come in a fixed order so that what training prints reads the same every time.
    """
    read = set(raw_columns(signature))
    fs = signature.feature_set or {}
    keep, drop = fs.get("keep"), set(fs.get("drop") or [])
    reasons: dict[str, list[str]] = {reason: [] for reason in _REASONS}
    for col in dictionary:
        name = col["name"]
        if name in read:
            continue
        if name == signature.target or col["role"] == "target":
            reason = "target"
        elif col["role"] == "identifier":
            reason = "identifier"
        elif col["role"] == "ignored" and col.get("sensitive"):
            reason = "personal data"
        elif col["kind"] == "text":  # guessed free text is ignored; say why
            reason = "free text"
        elif col["role"] == "ignored":
            reason = "role ignored"
        elif name in drop or (keep is not None and name not in keep):
            reason = "dropped by the feature set"
        elif col["kind"] == "datetime":
            reason = "a date no feature derives from"
        else:
            reason = "no usable type"
        reasons[reason].append(name)
    return {reason: names for reason, names in reasons.items() if names}


_REASONS = ("target", "identifier", "personal data", "free text", "role ignored",
            "dropped by the feature set", "a date no feature derives from",
            "no usable type")


def frame(data: pl.DataFrame, signature: Signature, *, exact: bool = False) -> pl.DataFrame:
    """The model's input columns, in order, typed as the model expects.

    This is the one path from raw rows to model inputs, for training and scoring alike: the
    feature set's derived columns are computed here, then the columns are typed. ``exact``:
    numbers as 64-bit floats instead of the model's 32-bit ones, so that what is shown about
    them (drift checks) reads as the data holds them, not with float32 noise.
    """
    import polars as pl

    missing = [c for c in raw_columns(signature) if c not in data.columns]
    if missing:
        raise InvalidInput(f"input is missing column(s) the model needs: {', '.join(missing)}")
    if signature.feature_set:
        from mlcycle.prep import features

        data = features.apply(features.FeatureSet.from_dict(signature.feature_set),
                              as_dates(data, signature))
    inputs = data.select(
        *[by_name(c).cast(pl.Float64 if exact else pl.Float32, strict=False)
          for c in signature.numeric],
        *[by_name(c).cast(pl.Utf8).fill_null(MISSING_CATEGORY) for c in signature.categorical],
    )
    refuse_infinite(inputs, signature.numeric)
    return inputs


def as_dates(data: pl.DataFrame, signature: Signature) -> pl.DataFrame:
    """``data`` with the date columns the feature set reads typed as dates when they are text.

    ISO text (``2024-03-01``, ``2024-03-01T08:30:00``) is read; other text is refused with
    one line naming the column, rather than scored as a missing date.
    """
    import polars as pl

    for name, kind in signature.dates.items():
        if data.schema.get(name) != pl.Utf8:
            continue
        text = by_name(name).str
        parse = text.to_date() if kind == "date" else text.to_datetime()
        try:
            data = data.with_columns(parse)
        except pl.exceptions.PolarsError:
            raise InvalidInput(f"column {name!r} must hold {kind}s written as ISO text "
                               "(2024-03-01 or 2024-03-01T08:30:00)") from None
    return data


def refuse_infinite(data: pl.DataFrame, columns: list[str], where: str = "") -> None:
    """Refuse infinite numbers in ``columns`` of ``data`` (``where`` names the file).

    Every model imputes a missing value (null or NaN) but no model takes an infinity: the
    fit of every trial would fail, and a score would be meaningless. A number beyond what a
    32-bit float holds (±3.4e38) is infinite once typed as a model input."""
    floats = [c for c in columns if c in data.columns and data.schema[c].is_float()]
    if not floats:
        return
    counts = data.select(by_name(c).is_infinite().sum().alias(c) for c in floats).row(0)
    for name, count in zip(floats, counts):
        if count:
            raise InvalidInput(
                f"{where + ': ' if where else ''}column {name!r} holds {count:,} infinite "
                f"number(s) (inf, or beyond ±3.4e38); models take finite numbers or missing "
                "values: replace them or leave those cells empty")


def boolean_inputs(data: pl.DataFrame, signature: Signature) -> list[str]:
    """The numeric inputs that hold booleans in ``data`` (raw rows, before :func:`frame`).

    The model sees them as 0/1; drift profiles them as booleans, the kind the data
    dictionary and ``mlcycle drift`` give them, so a column has one kind everywhere.
    """
    import polars as pl

    if signature.feature_set:
        from mlcycle.prep import features

        data = features.apply(features.FeatureSet.from_dict(signature.feature_set),
                              as_dates(data.head(0), signature))
    return [c for c in signature.numeric if data.schema.get(c) == pl.Boolean]


def as_booleans(inputs: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Model inputs with the 0/1 columns ``names`` as booleans again, for drift profiles."""
    import polars as pl

    return inputs.with_columns(by_name(c).cast(pl.Boolean) for c in names) if names else inputs


def label_type_of(dtype: pl.DataType) -> str:
    """The label type of a classification target stored as ``dtype`` (see LABEL_TYPES)."""
    import polars as pl

    if dtype.is_integer():
        return "integer"
    return "boolean" if dtype == pl.Boolean else "string"


def label_texts(labels: Any, signature: Signature) -> Any:
    """The graph's labels (typed as ``signature.label_type``) as class names, the text the
    model learnt and ``signature.classes`` holds, for comparing with the target."""
    import numpy as np

    values = np.asarray(labels).ravel()
    if values.dtype == np.bool_:  # the target was boolean: its names are lower case
        return np.where(values, "true", "false")
    return values.astype(str)


def label_series(name: str, texts: Any, signature: Signature) -> pl.Series:
    """Class names (see :func:`label_texts`) as predictions of the version's label type."""
    import polars as pl

    series = pl.Series(name, texts, dtype=pl.Utf8)
    if signature.label_type == "integer":
        return series.cast(pl.Int64)
    if signature.label_type == "boolean":
        return series == "true"
    return series


def predicted_values(column: pl.Series, signature: Signature) -> Any:
    """A stored prediction column read back as the model's own values, comparable with
    :func:`target_values`: class names (whatever the label type), or numbers."""
    return (column.cast(str) if signature.task == "classification" else column).to_numpy()


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
        values = column.cast(pl.Float64, strict=True)
    except Exception:
        raise InvalidInput(
            f"target {signature.target!r} of a regression task must be numeric; "
            f"it holds {column.dtype} values"
        ) from None
    refuse_infinite(values.to_frame(), [signature.target])
    return values.to_numpy()
