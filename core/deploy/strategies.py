"""Deployment strategies' live state (lifecycle stage 7): the canary's share, the live
blue/green slot, and every change to them, each in the audit trail.

The state is one row per project in ``deploy_state`` with a revision that every change
raises; a running ``mlcycle serve`` reads it once a second and swaps what requests meet
between requests, so ``mlcycle deploy step`` and ``switch`` need no restart.

Canary routing is sticky: a row's key (a field's value, or a header) is hashed with the
project's name (SHA-256, so the same in every process and every run) to a point in [0, 1),
and the row meets the challenger when that point falls below the share. Raising the share
keeps every key that met the challenger with it, and a rollback sends every key back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlcycle import projects
from mlcycle.deploy import canary_watch
from mlcycle.deploy import config as configs
from mlcycle.deploy.results import CanaryStep, SlotSwitch, Strategy
from mlcycle.models import registry
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput, MlcycleError
from mlcycle.store.schema import iso, utcnow

if TYPE_CHECKING:
    import duckdb

    from mlcycle.store.workspace import Workspace

SLOTS = ("blue", "green")


def bucket(key: str, salt: str) -> float:
    """The key's stable point in [0, 1): the same for a key in every process."""
    digest = hashlib.sha256(f"{salt}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def to_canary(key: str | None, share: float, salt: str) -> bool:
    """Whether a row with this key meets the canary; a row without a key never does."""
    return key is not None and share > 0 and bucket(key, salt) < share


@dataclass(frozen=True)
class State:
    revision: int = 0  # 0: nothing changed yet
    share: float = 0.0  # the canary's share of rows
    step: int = 0  # how many of the config's steps it has taken
    active: str = "blue"  # the live blue/green slot
    previous: str | None = None  # the slot live before the last switch ('--back' returns)
    rollback: dict[str, Any] | None = None  # the last automatic rollback, with its figures
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"revision": self.revision, "share": self.share, "step": self.step,
                "active": self.active, "previous": self.previous, "rollback": self.rollback,
                "updated_at": iso(self.updated_at) if self.updated_at else None}


def state_with(con: duckdb.DuckDBPyConnection, project: str) -> State:
    row = con.execute("SELECT revision, state, updated_at FROM deploy_state WHERE project = ?",
                      [project]).fetchall()
    if not row:
        return State()
    revision, text, updated = row[0]
    data = json.loads(text)
    return State(int(revision), float(data["share"]), int(data["step"]), data["active"],
                 data.get("previous"), data.get("rollback"), updated)


def state(ws: Workspace, project: str) -> State:
    projects.get(ws, project)
    with ws.read() as con:
        return state_with(con, project)


def _save(con: duckdb.DuckDBPyConnection, project: str, new: State) -> State:
    saved = State(new.revision + 1, new.share, new.step, new.active, new.previous,
                  new.rollback, utcnow())
    body = json.dumps({k: v for k, v in saved.to_dict().items()
                       if k not in ("revision", "updated_at")})
    con.execute("DELETE FROM deploy_state WHERE project = ?", [project])
    con.execute("INSERT INTO deploy_state VALUES (?, ?, ?, ?)",
                [project, saved.revision, body, saved.updated_at])
    return saved


def _versions(ws: Workspace, project: str, refs: dict[str, str]) -> dict[str, int]:
    return {name: registry.get(ws, project, ref).version for name, ref in refs.items()}


def step(ws: Workspace, project: str, back: bool = False, reason: str | None = None
         ) -> CanaryStep:
    """Raise the canary to its next share (``back``: return it to 0, by hand); recorded
    with the ``reason`` given."""
    cfg = configs.current(ws, project)
    if cfg.strategy != configs.CANARY:
        raise InvalidInput(f"project {project!r} deploys with {cfg.strategy}, not canary; set "
                           "strategy = \"canary\" with 'mlcycle deploy set'")
    arms = _versions(ws, project, {"champion": registry.CHAMPION,
                                   "challenger": "challenger"})
    if arms["champion"] == arms["challenger"]:
        raise InvalidInput(f"the challenger is the champion (v{arms['champion']}); name "
                           "another version with 'mlcycle promote PROJECT V --alias challenger'")
    with ws.write() as con:
        now = state_with(con, project)
        if back:
            if now.share == 0:
                raise InvalidInput(f"the canary of {project!r} already answers no rows")
            new = State(now.revision, 0.0, 0, now.active, now.previous, now.rollback)
        else:
            higher = [s for s in cfg.canary.steps if s > now.share]
            if not higher:
                raise InvalidInput(
                    f"the canary already answers {now.share:.0%} of rows, the last step; "
                    f"promote v{arms['challenger']} with 'mlcycle promote {project} "
                    f"{arms['challenger']}' to make it champion")
            share = higher[0]
            new = State(now.revision, share, cfg.canary.steps.index(share) + 1, now.active,
                        now.previous, None)
        saved = _save(con, project, new)
        done = CanaryStep(project, now.share, saved.share, saved.step, len(cfg.canary.steps),
                          arms["champion"], arms["challenger"], reason, saved.to_dict())
        events.record(con, "deploy.canary_back" if back else "deploy.canary_step",
                      project=project, subject=f"v{arms['challenger']}", detail=done.detail())
    return done


def switch(ws: Workspace, project: str, back: bool = False, reason: str | None = None
           ) -> SlotSwitch:
    """Make the idle blue/green slot live (``back``: the slot live before the last switch);
    recorded with the ``reason`` given. A running server swaps between requests: each is
    answered by one slot."""
    cfg = configs.current(ws, project)
    if cfg.strategy != configs.BLUE_GREEN:
        raise InvalidInput(f"project {project!r} deploys with {cfg.strategy}, not blue_green; "
                           "set strategy = \"blue_green\" with 'mlcycle deploy set'")
    slots = _versions(ws, project, {"blue": cfg.blue_green.blue,
                                    "green": cfg.blue_green.green})
    with ws.write() as con:
        now = state_with(con, project)
        if back and now.previous is None:
            raise InvalidInput(f"no switch of {project!r} to revert; the {now.active} slot "
                               "has been live since the last one")
        target = now.previous if back and now.previous else other_slot(now.active)
        new = State(now.revision, now.share, now.step, target,
                    None if back else now.active, now.rollback)
        saved = _save(con, project, new)
        done = SlotSwitch(project, now.active, target, slots[now.active], slots[target], back,
                          reason, saved.to_dict())
        events.record(con, "deploy.switched", project=project, subject=target,
                      detail=done.detail())
    return done


def other_slot(slot: str) -> str:
    return SLOTS[1 - SLOTS.index(slot)]


def rollback(ws: Workspace, project: str, figures: dict[str, Any], revision: int) -> bool:
    """Send every row back to the champion after the canary crossed a limit; the figures go
    into the state and the audit trail. Only the state the canary ran under (``revision``)
    is rolled back: a step taken since wins. Whether it was rolled back."""
    with ws.write() as con:
        now = state_with(con, project)
        if now.revision != revision or now.share == 0:
            return False
        record = {**figures, "share": now.share, "step": now.step, "at": iso(utcnow())}
        _save(con, project, State(now.revision, 0.0, 0, now.active, now.previous, record))
        events.record(con, "deploy.canary_rolled_back", project=project,
                      subject=f"v{figures.get('challenger')}", detail=record)
    return True


def overview(ws: Workspace, project: str) -> Strategy:
    """Where the deployment stands: strategy, the versions in play, the canary's share and
    last rollback, or the live slot (a ref that names no version shows as None)."""
    cfg = configs.current(ws, project)
    now = state(ws, project)

    def version(ref: str) -> int | None:
        try:
            return registry.get(ws, project, ref).version
        except MlcycleError:
            return None

    base = Strategy(project, cfg.strategy, cfg.version, now.revision,
                    iso(now.updated_at) if now.updated_at else None)
    if cfg.strategy == configs.BLUE_GREEN:
        return replace(base, active_slot=now.active, can_switch_back=now.previous is not None,
                       slots={"blue": version(cfg.blue_green.blue),
                              "green": version(cfg.blue_green.green)})
    arms = replace(base, champion=version(registry.CHAMPION), challenger=version("challenger"))
    if cfg.strategy == configs.CANARY:
        return replace(arms, share=now.share, step=now.step, steps=tuple(cfg.canary.steps),
                       rollback=now.rollback)
    return arms


def summary_line(view: Strategy) -> str:
    """The overview in one line: ``canary v4 at 10% (step 1 of 5) beside champion v3``."""
    def v(number: int | None) -> str:
        return f"v{number}" if number is not None else "none"

    if view.strategy == configs.BLUE_GREEN and view.slots is not None:
        live, slots = view.active_slot or SLOTS[0], view.slots
        idle = other_slot(live)
        return (f"blue/green: {live} slot live ({v(slots[live])}), "
                f"{idle} idle ({v(slots[idle])})")
    if view.strategy == configs.CANARY:
        text = (f"canary {v(view.challenger)} at {view.share or 0:.0%} (step {view.step} of "
                f"{len(view.steps)}) beside champion {v(view.champion)}")
        rolled = view.rollback
        if rolled and not view.share:
            text += (f"; rolled back at {rolled['share']:.0%}: " + "; ".join(rolled["crossed"]))
            if rolled.get("drivers"):  # a rollback saved before keys were named has none
                text += f" ({canary_watch.drivers_line(rolled['drivers'])})"
        return text
    if view.champion is None:
        return "shadow: no champion yet"
    recorded = (f"challenger v{view.challenger} recorded" if view.challenger is not None
                else "no challenger to record")
    return f"shadow: champion v{view.champion} answers, {recorded}"
