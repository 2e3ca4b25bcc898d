"""What a served request meets under the project's strategy, and the canary's watch.

A :class:`Route` is an immutable snapshot (strategy, the scorer that answers, the other one,
the canary's share, the state revision). The server swaps the whole snapshot between
requests, and each request keeps the one it started with, so no request is answered by two
blue/green slots or sees half a change. Scorers are kept per version while they serve, so a
switch between two loaded slots costs no loading at all.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mlcycle.deploy import config as configs
from mlcycle.deploy import scoring, strategies
from mlcycle.drift.statistics import psi
from mlcycle.models import registry
from mlcycle.store.errors import NotFound

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np

    from mlcycle.store.workspace import Workspace


@dataclass(frozen=True)
class Route:
    strategy: str
    main: scoring.Scorer  # answers: the champion, or the live slot
    other: scoring.Scorer | None  # the challenger (shadow or canary), or the idle slot
    share: float  # the canary's share of rows (0 outside canary)
    revision: int  # the deployment state's revision this route follows
    config_version: int | None
    limits: configs.Canary
    slots: dict[str, int] | None = None  # blue/green: slot -> version
    active: str | None = None  # blue/green: the live slot

    @property
    def canary(self) -> scoring.Scorer | None:
        return self.other if self.strategy == configs.CANARY and self.share > 0 else None

    @property
    def shadow(self) -> scoring.Scorer | None:
        return self.other if self.strategy == configs.SHADOW else None

    def keys(self, rows: list[dict[str, Any]], headers: Mapping[str, str]) -> list[str | None]:
        """Each row's routing key: the header's value for every row, else the key field's
        (the identifier by default); None where the row has none."""
        if self.limits.header:
            value = headers.get(self.limits.header)
            return [value] * len(rows)
        field = self.limits.key or self.main.identifier
        if not field:
            return [None] * len(rows)
        return [None if row.get(field) is None else str(row[field]) for row in rows]

    def summary(self, ref: str) -> str:
        """What answers, in a few words: ``v3 (champion), canary v4 at 10%``."""
        main = f"v{self.main.version.version}"
        other = f"v{self.other.version.version}" if self.other else None
        if self.strategy == configs.BLUE_GREEN:
            idle = f"; {strategies.other_slot(self.active or 'blue')} {other} idle" if other \
                else ""
            return f"{main} ({self.active} slot live{idle})"
        if self.strategy == configs.CANARY:
            return f"{main} ({ref}), canary {other or 'none'} at {self.share:.0%}"
        return f"{main} ({ref})" + (f", challenger {other} in shadow" if other else "")

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"strategy": self.strategy, "revision": self.revision,
                               "config_version": self.config_version}
        if self.strategy == configs.CANARY:
            out["canary"] = {"share": self.share,
                             "version": self.other.version.version if self.other else None}
        if self.strategy == configs.BLUE_GREEN:
            out["active_slot"], out["slots"] = self.active, self.slots
        return out


class Router:
    """Loads the route the workspace declares, and says when it has changed."""

    def __init__(self, ws: Workspace, project: str, ref: str, shadow: bool) -> None:
        self.ws, self.project, self.ref, self.shadow = ws, project, ref, shadow
        self._scorers: dict[int, scoring.Scorer] = {}

    def _scorer(self, version: int) -> scoring.Scorer:
        if version not in self._scorers:
            self._scorers[version] = scoring.scorer(self.ws, self.project, str(version))
        return self._scorers[version]

    def _challenger(self, champion: int) -> int | None:
        try:
            version = registry.get(self.ws, self.project, scoring.CHALLENGER).version
        except NotFound:
            return None
        return None if version == champion else version

    def declared(self) -> Declared:
        """What the workspace declares now (one read, then the refs resolved)."""
        with self.ws.read() as con:
            cfg = configs.current_with(con, self.project)
            state = strategies.state_with(con, self.project)
        if cfg.strategy == configs.BLUE_GREEN:
            versions = (registry.get(self.ws, self.project, cfg.blue_green.blue).version,
                        registry.get(self.ws, self.project, cfg.blue_green.green).version)
        else:
            main = registry.get(self.ws, self.project, self.ref).version
            wants_other = cfg.strategy == configs.CANARY or self.shadow
            versions = (main, self._challenger(main) if wants_other else None)
        return Declared(cfg, state, versions)

    def load(self, declared: Declared) -> Route:
        """The route declared; scorers no longer in it are let go."""
        cfg, state = declared.config, declared.state
        first, second = declared.versions
        if cfg.strategy == configs.BLUE_GREEN:
            slots = dict(zip(strategies.SLOTS, (first, second)))
            live = slots[state.active]
            idle = slots[strategies.other_slot(state.active)]
            route = Route(cfg.strategy, self._scorer(live),
                          self._scorer(idle) if idle != live else None, 0.0, state.revision,
                          cfg.version, cfg.canary, slots, state.active)
        else:
            route = Route(cfg.strategy, self._scorer(first),
                          self._scorer(second) if second is not None else None,
                          state.share if cfg.strategy == configs.CANARY else 0.0,
                          state.revision, cfg.version, cfg.canary)
        keep = {s.version.version for s in (route.main, route.other) if s is not None}
        self._scorers = {v: s for v, s in self._scorers.items() if v in keep}
        return route


@dataclass(frozen=True)
class Declared:
    """The deployment the workspace declares: config, state, and the two versions in play
    (champion and challenger, or the blue and green slots)."""

    config: configs.Config
    state: strategies.State
    versions: tuple[int, int | None]

    @property
    def key(self) -> tuple[Any, ...]:
        return self.config.version, self.state.revision, self.versions


def without_canary(route: Route) -> Route:
    """The route once the canary is rolled back: every row to the champion."""
    return replace(route, share=0.0)


# -- the canary's watch -------------------------------------------------------------------

KEPT = 20_000  # scores and latencies kept per side, the newest


def score_values(pred: dict[str, np.ndarray]) -> np.ndarray:
    """One number per row whose distribution the canary is judged by: the positive class's
    probability (two classes), the top probability (more), or the predicted value."""
    if "proba" in pred:
        proba = pred["proba"]
        return proba[:, -1] if proba.shape[1] == 2 else proba.max(axis=1)
    return pred["value"]


class CanaryWatch:
    """The canary's requests since its step began, against the champion's scores; judged
    against the config's limits once ``min_requests`` canary requests have been answered."""

    def __init__(self, revision: int = -1) -> None:
        self.revision = revision
        self.lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self.latencies: deque[float] = deque(maxlen=KEPT)
        self.canary_scores: deque[float] = deque(maxlen=KEPT)
        self.champion_scores: deque[float] = deque(maxlen=KEPT)

    def champion(self, scores: np.ndarray) -> None:
        with self.lock:
            self.champion_scores.extend(scores.tolist())

    def canary(self, seconds: float, scores: np.ndarray | None) -> None:
        """One canary request: its latency, and its scores (None: it failed)."""
        with self.lock:
            self.requests += 1
            self.latencies.append(seconds)
            if scores is None:
                self.errors += 1
            else:
                self.canary_scores.extend(scores.tolist())

    def figures(self) -> dict[str, Any]:
        import numpy as np

        with self.lock:
            latencies = np.array(self.latencies)
            mine, theirs = np.array(self.canary_scores), np.array(self.champion_scores)
            requests, errors = self.requests, self.errors
        return {
            "requests": requests,
            "errors": errors,
            "error_rate": errors / requests if requests else None,
            "latency_p95": float(np.quantile(latencies, 0.95)) if len(latencies) else None,
            "psi": score_psi(theirs, mine),
        }

    def judge(self, limits: configs.Canary) -> dict[str, Any] | None:
        """The figures and the limits crossed, once enough requests are in; else None."""
        if self.requests < limits.min_requests:
            return None
        figures = self.figures()
        crossed = []
        if figures["error_rate"] > limits.max_error_rate:
            crossed.append(f"error rate {figures['error_rate']:.1%} > "
                           f"{limits.max_error_rate:.1%}")
        if figures["latency_p95"] > limits.max_latency_p95:
            crossed.append(f"latency p95 {figures['latency_p95']:.3f}s > "
                           f"{limits.max_latency_p95:g}s")
        if figures["psi"] is not None and figures["psi"] > limits.max_psi:
            crossed.append(f"score PSI {figures['psi']:.3f} > {limits.max_psi:g}")
        return {**figures, "crossed": crossed} if crossed else None


MIN_SCORES = 50  # fewer scores on either side say nothing about their distributions


def score_psi(reference: np.ndarray, current: np.ndarray) -> float | None:
    """PSI of ``current`` against ``reference`` over the reference's deciles."""
    import numpy as np

    if len(reference) < MIN_SCORES or len(current) < MIN_SCORES:
        return None
    edges = np.unique(np.quantile(reference, np.linspace(0.1, 0.9, 9)))
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
    cur = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1)
    value = psi(ref.tolist(), cur.tolist())
    return value if math.isfinite(value) else None
