"""The search's schedule: which trial runs next, on how many rows, and whether it fits.

Every family's first trial comes before any family's second, cheapest family first (the
rungs run breadth first and ``search.by_time_spent`` gives an untried family precedence). A
family's first trial may use the whole budget left after the holdout judging's reserve;
every later trial only its rung's share of that (successive halving spends about equally
per rung; what a rung leaves goes to the next). A trial the budget cannot hold is not started
and is counted as skipped for time; a family none of whose trials fits is announced as
skipped for time the moment the schedule knows, before any family's second trial.

The progress it reports (``events.Tally``) only grows: planned is fixed once the plan is
made, and every planned evaluation ends as run, pruned or skipped, so the counts add up to
it when the search ends. The ETA never says more than the budget has left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mlcycle.models import events, search
from mlcycle.store.cancel import CancelToken

# Seconds the end of a training spends writing: the last rung's pruned marks, the
# training's record and the registered version (0.3-0.8 s measured under load on 2 cores).
RECORDING = 0.5

USED_UP = "the time budget was used up before its first trial"

# Runs one trial: (family, rung, candidate, rows, deadline) -> seconds it took. Past the
# deadline it raises ``search.OutOfTime``, its run kept and marked pruned.
RunTrial = Callable[[search.Family, int, search.Candidate, int, float | None], float]


class Stop(Exception):
    """Ends the search early; its message is why (``TrainResult.stopped``)."""


@dataclass(frozen=True)
class Clock:
    """When the training started (``time.monotonic()``) and the seconds it may take."""

    started: float
    budget: float | None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float | None:
        return None if self.budget is None else self.budget - self.elapsed()

    @property
    def used(self) -> str:
        return f"time budget of {self.budget:g}s used"


@dataclass
class Outcome:
    """What the search leaves for judging: why it stopped early, if it did, and which
    families got no trial and why."""

    stopped: str | None = None
    trials_finished: int = 0  # first-rung trials run, the baseline included
    untried: dict[str, str] = field(default_factory=dict)  # family -> why


class Schedule:
    """One training's search over ``families`` (the baseline first), trial by trial."""

    def __init__(self, families: list[search.Family], costs: search.Costs, clock: Clock,
                 folds: int, metric: str, sign: int, say: events.Progress) -> None:
        self.families, self.costs, self.clock = families, costs, clock
        self.folds, self.metric, self.sign, self.say = folds, metric, sign, say
        self.full_rows = max(f.rows[-1] for f in families)
        self.planned = sum(sum(f.left) for f in families)
        self.run = self.pruned = self.skipped = 0
        self.begun = 0.0  # seconds into the training when the search began
        self.shown_eta: float | None = None
        self.short: set[str] = set()  # the families the budget left trials of out
        self.outcome = Outcome()

    def tally(self) -> events.Tally:
        return events.Tally(self.planned, self.run, self.pruned, self.skipped)

    def started(self, group: str, dataset: str, dropped: int,
                columns: events.ModelColumns) -> events.TrainStarted:
        return events.TrainStarted(
            self.planned, group, dataset, dropped, self.clock.budget, self.folds,
            tuple(events.FamilyPlan(f.name, len(f.candidates), tuple(f.rows))
                  for f in self.families), columns)

    def eta(self) -> float:
        """The estimate of the seconds left; under a budget, never more than it has left
        nor than the last estimate given (it counts down, and does not jump back up as the
        costs measured change: the budget bounds the training's end anyway)."""
        seconds = search.eta(self.families, self.costs, self.folds)
        left = self.clock.left()
        if left is not None:
            seconds = min(seconds, max(left, 0.0))
            if self.shown_eta is not None:
                seconds = min(seconds, self.shown_eta)
        self.shown_eta = seconds
        return seconds

    def reserve(self, trying: str) -> float:
        """Seconds held back for judging on the holdout: the baseline's export check, the
        leader's refit on every training row and its own (before any family has a score,
        the leader is the family about to be tried), and the writing down."""
        leader = self._leader() or trying
        judging = self.costs.evaluation(leader, self.full_rows, self.folds, False)
        return judging + self.costs.export + RECORDING

    def _leader(self) -> str | None:
        bests = [(f.best(self.sign), f.name) for f in self.families[1:]]
        scored = [(c.score, n) for c, n in bests if c is not None]
        return max(scored, key=lambda t: self.sign * t[0])[1] if scored else None

    def search(self, run_trial: RunTrial, prune: Callable[[list[search.Candidate]], None],
               cancel: CancelToken | None = None) -> Outcome:
        """Run the trials in order; stops for ``cancel`` (``Stop('cancelled')``) and on
        Ctrl-C (``KeyboardInterrupt``), both left to the caller."""
        steps = max(len(f.rows) for f in self.families)
        self.begun = self.clock.elapsed()
        for step in range(steps):
            self._rung(step, steps, run_trial, cancel)
            self._halve(step, prune)
            if step == 0 and steps > 1:
                self.say(events.Eta(self.eta(), self.clock.elapsed()))
        self._skip_the_rest()
        return self.outcome

    def _rung(self, step: int, steps: int, run_trial: RunTrial,
              cancel: CancelToken | None) -> None:
        active = [(f, step) for f in self.families if step < len(f.rows)]
        spent: dict[str, float] = {}
        queue = search.by_time_spent([
            [(f, rung, c) for c in f.candidates if not c.pruned and c.rung == rung - 1]
            for f, rung in active
        ], spent)
        for family, rung, cand in queue:
            if cancel is not None and cancel.cancelled:
                raise Stop("cancelled")
            rows = family.rows[rung]
            admitted, deadline = self._admit(family, rung, step, steps)
            if not admitted:
                continue
            family.left[rung] -= 1
            try:
                seconds = run_trial(family, rung, cand, rows, deadline)
            except search.OutOfTime as stopped:
                self.pruned += 1
                self.outcome.stopped = self.clock.used
                self.say(events.TrialStopped(family.name, cand.run_id or "", rows,
                                             str(stopped), self.tally()))
                continue
            self.costs.record(family.name, rows, seconds)
            spent[family.name] = spent.get(family.name, 0.0) + seconds
            self.run += 1
            if rung == 0:
                self.outcome.trials_finished += 1
            self.say(events.TrialFinished(
                self.run, self.planned, family.name, cand.run_id or "", cand.score,
                self.metric, rows, rung, cand.iterations, seconds, self.eta(), self.tally()))

    def _admit(self, family: search.Family, rung: int, step: int,
               steps: int) -> tuple[bool, float | None]:
        """Whether the trial may start under the budget, and the deadline its folds keep;
        a trial that may not is counted as skipped for time."""
        budget = self.clock.budget
        if budget is None or self.run == 0:  # the baseline always runs, first
            return True, None
        first = not any(c.run_id for c in family.candidates)
        needed = self.costs.estimate(family.name, family.rows[rung])
        end = budget - self.reserve(family.name)  # the search's time: what judging leaves
        elapsed = self.clock.elapsed()
        if first:
            # Every family is tried if one fold of it fits: the trial stops between its
            # folds at the deadline, and the estimates before a family's own fit err long.
            fits = elapsed + needed / self.folds <= end
        else:
            # A rung may use its share of the time the search had when it began.
            fits = elapsed + needed <= self.begun + (end - self.begun) * (step + 1) / steps
        if not fits:
            self._skip(family, rung, first, needed, end - elapsed)
            return False, None
        return True, self.clock.started + end

    def _skip(self, family: search.Family, rung: int, first: bool, needed: float,
              left: float) -> None:
        family.left[rung] -= 1
        self.skipped += 1
        self.short.add(family.name)
        if self.outcome.stopped is None:
            self.outcome.stopped = self.clock.used
        if first and family.name not in self.outcome.untried:
            why = USED_UP if left <= 0 else (
                f"its first trial, estimated at {needed:.1f}s on {family.rows[rung]:,} rows, "
                f"does not fit in the {left:.1f}s left")
            self.outcome.untried[family.name] = why
            self.say(events.FamilySkipped(family.name, why))
        self.say(events.TrialsSkipped(family.name, 1, self.tally()))

    def _halve(self, step: int, prune: Callable[[list[search.Candidate]], None]) -> None:
        """The best third of each family's candidates on this rung go on to the next; the
        evaluations planned for those that did not (fewer ran, or failed) are no longer
        due: skipped for time when the budget left some of the family's trials out, else
        pruned."""
        for family in self.families:
            if step >= len(family.rows) - 1:
                continue
            ran = [c for c in family.candidates if not c.pruned and c.rung == step]
            keep, _ = search.survivors(ran, self.sign)
            prune([c for c in family.candidates if not c.pruned and c not in keep])
            dropped = max(family.left[step + 1] - len(keep), 0)
            family.left[step + 1] -= dropped
            if not dropped:
                continue
            if family.name in self.short:
                self.skipped += dropped
                self.say(events.TrialsSkipped(family.name, dropped, self.tally()))
            else:
                self.pruned += dropped

    def _skip_the_rest(self) -> None:
        """What the search did not reach counts as skipped for time; a family that got no
        trial is announced as such."""
        for family in self.families:
            left = sum(family.left)
            if left:
                family.left = [0] * len(family.left)
                self.skipped += left
                self.say(events.TrialsSkipped(family.name, left, self.tally()))
            if not any(c.run_id for c in family.candidates) and (
                    family.name not in self.outcome.untried):
                self.outcome.untried[family.name] = USED_UP
                self.say(events.FamilySkipped(family.name, USED_UP))
