"""The reference a watcher checks its files against, following the registry as it moves."""

from __future__ import annotations

import time

from mlcycle.deploy import scoring
from mlcycle.models import registry
from mlcycle.monitor import monitoring
from mlcycle.store.errors import NotFound
from mlcycle.store.workspace import Workspace

FOLLOW = 1.0  # seconds between look-ups of the champion and challenger


class References:
    """The champion's reference, built once per champion and reused for every file, with
    the challenger shadowing it; used by one thread at a time (the checker's)."""

    def __init__(self, ws: Workspace, project: str) -> None:
        self.ws = ws
        self.project = project
        self._reference: monitoring.Reference | None = None
        self._fresh_until = 0.0  # monotonic time the registry is to be looked at again

    def current(self) -> monitoring.Reference:
        """As the registry has them: looked up at most every ``FOLLOW`` seconds, so a
        promotion is followed within a second and a burst of files does not pay for the
        look-ups each."""
        if self._reference is not None and time.monotonic() < self._fresh_until:
            return self._reference
        champion = registry.get(self.ws, self.project, registry.CHAMPION)
        if self._reference is None or self._reference.version.version != champion.version:
            self._reference = monitoring.reference(self.ws, self.project,
                                                   str(champion.version))
        else:
            try:
                named = registry.get(self.ws, self.project, scoring.CHALLENGER).version
            except NotFound:
                named = None
            shadow = self._reference.challenger
            if named != (shadow.version.version if shadow else None):
                self._reference.challenger = scoring.shadow_of(self.ws, self.project,
                                                               champion)
        self._fresh_until = time.monotonic() + FOLLOW
        return self._reference
