"""What a served request meets under the project's strategy.

A :class:`Route` is an immutable snapshot (strategy, the scorer that answers, the other one,
the canary's share, the state revision). The server swaps the whole snapshot between
requests, and each request keeps the one it started with, so no request is answered by two
blue/green slots or sees half a change. Scorers are kept per version while they serve, so a
switch between two loaded slots costs no loading at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from email.message import Message
from typing import TYPE_CHECKING, Any

from mlcycle.deploy import config as configs
from mlcycle.deploy import scoring, strategies
from mlcycle.models import registry
from mlcycle.store.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from collections.abc import Mapping

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

    def keys(self, rows: list[dict[str, Any]], headers: Mapping[str, str] | Message
             ) -> list[str | None]:
        """Each row's routing key: the header's value for every row, else the key field's
        (the identifier by default); None where the row has none.

        Raises ``InvalidInput`` for a routing header sent more than once: which of its
        values routes would be a guess, and a client could pick the one that suits it."""
        if self.limits.header:
            name = self.limits.header
            if isinstance(headers, Message):  # http.server's headers keep every copy
                values = headers.get_all(name) or []
            else:
                values = [headers[name]] if name in headers else []
            if len(values) > 1:
                raise InvalidInput(f"the routing header {name} is sent {len(values)} times; "
                                   "send it once")
            return [values[0] if values else None] * len(rows)
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
