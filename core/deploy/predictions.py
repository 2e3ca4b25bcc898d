"""Predictions as a table (labels typed as the version predicts them, one probability column
per class) and their running summary in bounded memory (class shares and mean probabilities,
or quantiles), which each scoring run logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlcycle.models import model_input

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

SAMPLE_CAP = 100_000  # predictions kept for quantiles; thinned by halves beyond this


def prediction_frame(pred: dict[str, np.ndarray], signature: model_input.Signature,
                     prefix: str = "") -> pl.DataFrame:
    import polars as pl

    if signature.task == "classification":
        cols = {f"{prefix}prediction": model_input.label_series(
            f"{prefix}prediction", pred["label"], signature)}
        for i, cls in enumerate(signature.classes):
            cols[f"{prefix}probability_{cls}"] = pred["proba"][:, i].astype("float64")
        return pl.DataFrame(cols)
    return pl.DataFrame({f"{prefix}prediction": pred["value"]})


@dataclass
class Summary:
    """A running summary of predictions in bounded memory."""

    task: str
    classes: list[str]
    rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    proba_sums: list[float] = field(default_factory=list)
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")
    _sample: list[Any] = field(default_factory=list)
    _kept: int = 0
    _stride: int = 1

    def add(self, pred: dict[str, np.ndarray]) -> None:
        import numpy as np

        if self.task == "classification":
            labels, counts = np.unique(pred["label"], return_counts=True)
            for label, count in zip(labels.tolist(), counts.tolist()):
                self.counts[label] = self.counts.get(label, 0) + int(count)
            sums = pred["proba"].sum(axis=0).tolist()
            self.proba_sums = [a + b for a, b in zip(self.proba_sums, sums)] or sums
            self.rows += len(pred["label"])
            return
        values = pred["value"]
        if not len(values):
            return
        self.rows += len(values)
        self.total += float(values.sum())
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        # Keep every stride-th value; when the sample outgrows its cap, halve it and double
        # the stride, so quantiles come from an even spread of the whole file.
        self._sample.append(values[:: self._stride].copy())
        self._kept += len(self._sample[-1])
        while self._kept > SAMPLE_CAP:
            merged = np.concatenate(self._sample)[::2]
            self._sample, self._kept, self._stride = [merged], len(merged), self._stride * 2

    def to_dict(self) -> dict[str, Any]:
        import numpy as np

        if self.task == "classification":
            return {
                "rows": self.rows,
                "class_shares": {k: v / self.rows for k, v in sorted(self.counts.items())}
                if self.rows else {},
                "mean_probability": {
                    c: s / self.rows for c, s in zip(self.classes, self.proba_sums)
                } if self.rows else {},
            }
        if not self.rows:
            return {"rows": 0}
        sample = np.concatenate(self._sample)
        qs = np.quantile(sample, [0.05, 0.25, 0.5, 0.75, 0.95]).tolist()
        return {
            "rows": self.rows,
            "mean": self.total / self.rows,
            "min": self.low,
            "max": self.high,
            "quantiles": dict(zip(["p05", "p25", "p50", "p75", "p95"], qs)),
        }
