"""The canary's watch: its requests since its step began, judged against the config's limits.

Every limit is judged over distinct routing keys, not requests or rows: each key counts
once (its share of failed requests, its mean latency, its latest score), and nothing is
judged before ``min_keys`` keys have met the canary. A client that sends many requests or
rows on a few keys therefore weighs as those few keys, and cannot roll the canary back for
every customer by itself. A rollback names the keys that carried the most weight in each
limit it crossed, so whoever reads the audit trail can tell a broken model from a few
unusual customers.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcycle.drift.statistics import psi_terms

if TYPE_CHECKING:
    import numpy as np

    from mlcycle.deploy import config as configs

KEPT = 20_000  # keys remembered per side, the most recently seen
MIN_SCORES = 50  # fewer keys on either side say nothing about their score distributions
TOP = 5  # keys named per crossed limit
KEY_CHARS = 80  # a key longer than this is shown cut (a header may carry anything)


def score_values(pred: dict[str, np.ndarray]) -> np.ndarray:
    """One number per row whose distribution the canary is judged by: the positive class's
    probability (two classes), the top probability (more), or the predicted value."""
    if "proba" in pred:
        proba = pred["proba"]
        return proba[:, -1] if proba.shape[1] == 2 else proba.max(axis=1)
    return pred["value"]


@dataclass
class _Key:
    """What one key has met: canary requests, failed ones, their seconds, its latest score.

    The latest score, not the mean: a mean over many rows varies less than one row's score,
    so keys seen often would look unlike keys seen once though both models agree."""

    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    score: float = math.nan


def _remember(table: OrderedDict[str, Any], key: str, value: Any) -> None:
    """The key's value, made the newest; the oldest key is forgotten past ``KEPT``."""
    table.pop(key, None)
    table[key] = value
    if len(table) > KEPT:
        table.popitem(last=False)


def _latest(keys: list[str | None], scores: list[float | None]) -> list[tuple[str, Any]]:
    """The last score of each key in one request (rows without a key left out), for the
    last ``KEPT`` keys only: the others would be forgotten at once."""
    latest = {key: score for key, score in zip(keys, scores) if key is not None}
    return list(latest.items())[-KEPT:]


class CanaryWatch:
    """The canary's requests since its step began and the champion's scores beside them,
    per routing key."""

    def __init__(self, revision: int = -1) -> None:
        self.revision = revision
        self.lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self._canary: OrderedDict[str, _Key] = OrderedDict()
        self._champion: OrderedDict[str, float] = OrderedDict()  # each key's latest score

    def champion(self, keys: list[str | None], scores: np.ndarray) -> None:
        """The champion's scores of rows with these keys (the reference the canary's are
        compared with)."""
        latest = _latest(keys, scores.tolist())
        with self.lock:
            for key, score in latest:
                _remember(self._champion, key, score)

    def canary(self, seconds: float, keys: list[str], scores: np.ndarray | None) -> None:
        """One canary request: its latency, its rows' keys, and their scores (None: it
        failed). Each key in it counts one request, whatever its number of rows."""
        latest = _latest(list(keys), [None] * len(keys) if scores is None else scores.tolist())
        with self.lock:
            self.requests += 1
            self.errors += scores is None
            for key, score in latest:
                entry = self._canary.get(key) or _Key()
                _remember(self._canary, key, entry)
                entry.requests += 1
                entry.errors += scores is None
                entry.seconds += seconds
                if score is not None:
                    entry.score = score

    def _snapshot(self) -> _Snapshot:
        import numpy as np

        with self.lock:
            keys = list(self._canary)
            table = np.array([(e.requests, e.errors, e.seconds, e.score)
                              for e in self._canary.values()], dtype=np.float64).reshape(-1, 4)
            reference = np.fromiter(self._champion.values(), np.float64, len(self._champion))
            requests, errors = self.requests, self.errors
        count = table[:, 0]
        return _Snapshot(requests, errors, keys, table[:, 1] / count, table[:, 2] / count,
                         table[:, 3], count.astype(np.int64), reference)

    def figures(self) -> dict[str, Any]:
        return self._snapshot().figures()

    def judge(self, limits: configs.Canary) -> dict[str, Any] | None:
        """The figures, the limits crossed and the keys that drove each, once enough
        requests and distinct keys are in and a limit is crossed; else None."""
        import numpy as np

        if self.requests < limits.min_requests:
            return None
        snap = self._snapshot()
        if len(snap.keys) < limits.min_keys:
            return None
        figures = snap.figures()
        crossed, drivers = [], {}
        if figures["error_rate"] > limits.max_error_rate:
            crossed.append(f"error rate {figures['error_rate']:.1%} > "
                           f"{limits.max_error_rate:.1%}")
            drivers["error rate"] = snap.top(snap.error_rate / snap.error_rate.sum(),
                                             snap.error_rate, snap.key_requests)
        if figures["latency_p95"] > limits.max_latency_p95:
            crossed.append(f"latency p95 {figures['latency_p95']:.3f}s > "
                           f"{limits.max_latency_p95:g}s")
            drivers["latency p95"] = snap.top(snap.latency_weights(), snap.latency,
                                              snap.latency)
        if figures["psi"] is not None and figures["psi"] > limits.max_psi:
            crossed.append(f"score PSI {figures['psi']:.3f} > {limits.max_psi:g}")
            # In one bin every key weighs the same: the farthest from the champion's
            # median score first.
            far = np.nan_to_num(np.abs(snap.score - np.median(snap.reference)))
            drivers["score PSI"] = snap.top(snap.psi_weights(), snap.score, far)
        if not crossed:
            return None
        return {**figures, "crossed": crossed, "drivers": drivers}


@dataclass(frozen=True)
class _Snapshot:
    """The watch at one moment: one entry per canary key, and the latest score of each of
    the champion's keys."""

    requests: int
    errors: int
    keys: list[str]
    error_rate: np.ndarray  # each key's share of failed requests
    latency: np.ndarray  # each key's mean seconds per request
    score: np.ndarray  # each key's latest score (NaN: all its requests failed)
    key_requests: np.ndarray
    reference: np.ndarray  # the champion's keys' latest scores

    @property
    def scored(self) -> np.ndarray:
        import numpy as np

        return self.score[~np.isnan(self.score)]

    def figures(self) -> dict[str, Any]:
        import numpy as np

        count = len(self.keys)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "keys": count,
            "champion_keys": len(self.reference),
            "error_rate": float(self.error_rate.mean()) if count else None,
            "latency_p95": float(np.quantile(self.latency, 0.95)) if count else None,
            "psi": score_psi(self.reference, self.scored),
        }

    def latency_weights(self) -> np.ndarray:
        """The keys at or above the p95 carry it, each by its share of their latency."""
        import numpy as np

        above = self.latency >= np.quantile(self.latency, 0.95)
        return np.where(above, self.latency, 0.0) / self.latency[above].sum()

    def psi_weights(self) -> np.ndarray:
        """Each key's share of the PSI: the term of the score bin it fell in, split evenly
        among the keys in that bin, for bins the canary fills more than the champion (a bin
        it empties names no key)."""
        import numpy as np

        edges = _edges(self.reference)
        ref, cur = _counts(edges, self.reference), _counts(edges, self.scored)
        terms = np.array(psi_terms(ref.tolist(), cur.tolist()))
        over = cur / max(cur.sum(), 1) > ref / max(ref.sum(), 1)
        share = np.where(over & (cur > 0), terms / np.maximum(cur, 1), 0.0) / terms.sum()
        bins = np.searchsorted(edges, np.nan_to_num(self.score), side="right")
        return np.where(np.isnan(self.score), 0.0, share[bins])

    def top(self, weights: np.ndarray, values: np.ndarray, ties: np.ndarray
            ) -> list[dict[str, Any]]:
        """The ``TOP`` keys with the most weight (more than none; among equal weights, the
        highest ``ties`` first): the key, its weight, its own figure and its requests."""
        import numpy as np

        order = np.lexsort((-ties, -weights))[:TOP]
        return [{"key": _shown(self.keys[i]), "weight": round(float(weights[i]), 4),
                 "value": None if np.isnan(values[i]) else round(float(values[i]), 6),
                 "requests": int(self.key_requests[i])}
                for i in order if weights[i] > 0]


def _shown(key: str) -> str:
    return key if len(key) <= KEY_CHARS else key[:KEY_CHARS - 3] + "..."


def _edges(reference: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.unique(np.quantile(reference, np.linspace(0.1, 0.9, 9)))


def _counts(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)


def score_psi(reference: np.ndarray, current: np.ndarray) -> float | None:
    """PSI of ``current`` against ``reference`` over the reference's deciles."""
    if len(reference) < MIN_SCORES or len(current) < MIN_SCORES:
        return None
    edges = _edges(reference)
    value = sum(psi_terms(_counts(edges, reference).tolist(), _counts(edges, current).tolist()))
    return value if math.isfinite(value) else None


def drivers_line(drivers: dict[str, list[dict[str, Any]]]) -> str:
    """The keys that drove a rollback, in one line: ``score PSI: 'K1', 'K7' (38% of it)``."""
    parts = []
    for limit, items in drivers.items():
        if items:
            weight = sum(i["weight"] for i in items)
            parts.append(f"{limit} driven most by key(s) "
                         + ", ".join(repr(i["key"]) for i in items)
                         + f" ({weight:.0%} of it)")
    return "; ".join(parts)
