"""What a training tells while it runs: one frozen type per event.

``training.train`` hands each event to its ``progress`` callback; the CLI's bar and the TUI's
jobs panel dispatch on the type. ``to_dict`` gives the JSON shape scripts read,
``{"event": NAME, ...}``, the same as when the events were plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Tally:
    """The search's trials by what became of them; ``run + pruned + skipped`` never exceeds
    ``planned`` and, once the search ends, equals it.

    ``pruned``: stopped part-way at the deadline, or no longer due because fewer trials than
    planned survived a rung; ``skipped``: not started for lack of time."""

    planned: int
    run: int = 0
    pruned: int = 0
    skipped: int = 0

    @property
    def settled(self) -> int:
        return self.run + self.pruned + self.skipped

    def text(self) -> str:
        """``8 of 81 trials run, 73 skipped for time``: what a face shows."""
        parts = [f"{self.run} of {self.planned} trials run"]
        if self.pruned:
            parts.append(f"{self.pruned} pruned")
        if self.skipped:
            parts.append(f"{self.skipped} skipped for time")
        return ", ".join(parts)


@dataclass(frozen=True)
class FamilyPlan:
    """One model family in the plan: its sampled trials and the rows of each rung."""

    model: str
    trials: int
    rows: tuple[int, ...]


@dataclass(frozen=True)
class LeftOut:
    """Data columns the model does not read, and why."""

    reason: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ModelColumns:
    """What the model reads (``derived``: the inputs its feature set computes) and why every
    other column of the data is left out."""

    inputs: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()
    feature_set: str | None = None  # its name (``dates``: the default for date columns)
    left_out: tuple[LeftOut, ...] = ()


@dataclass(frozen=True)
class TrainEvent:
    """The base of every training event; ``name`` is its JSON ``event`` key."""

    name: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.name, **_plain(asdict(self))}


def _plain(value: Any) -> Any:
    """Tuples as lists, as JSON reads them back."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class TrainStarted(TrainEvent):
    """The data is checked and the plan made; ``total`` evaluations are planned."""

    name: ClassVar[str] = "start"
    total: int
    group: str
    dataset: str
    dropped_target_rows: int
    budget: float | None
    folds: int
    families: tuple[FamilyPlan, ...]
    columns: ModelColumns = ModelColumns()


@dataclass(frozen=True)
class TrialFinished(TrainEvent):
    """One trial cross-validated on one rung: ``index`` is its place among those run."""

    name: ClassVar[str] = "trial"
    index: int
    total: int
    model: str
    run: str
    value: float
    metric: str
    rows: int
    rung: int
    iterations: float | None
    seconds: float
    eta: float
    progress: Tally


@dataclass(frozen=True)
class TrialStopped(TrainEvent):
    """A trial stopped between its folds at the deadline; its run is kept, marked pruned."""

    name: ClassVar[str] = "trial_stopped"
    model: str
    run: str
    rows: int
    reason: str
    progress: Tally


@dataclass(frozen=True)
class TrialsSkipped(TrainEvent):
    """``count`` planned trials of ``model`` will not run: there is no time for them."""

    name: ClassVar[str] = "skipped"
    model: str
    count: int
    progress: Tally


@dataclass(frozen=True)
class FamilySkipped(TrainEvent):
    """A family gets no trial at all, and why: it is a row of the summary, 'skipped for
    time'."""

    name: ClassVar[str] = "family_skipped"
    model: str
    reason: str


@dataclass(frozen=True)
class Eta(TrainEvent):
    """Seconds the training expects still to take; under a budget, never more than it has
    left."""

    name: ClassVar[str] = "eta"
    seconds: float
    elapsed: float


@dataclass(frozen=True)
class Evaluating(TrainEvent):
    """A family's best is refit and judged on the holdout."""

    name: ClassVar[str] = "evaluate"
    model: str
    run: str


@dataclass(frozen=True)
class Unexportable(TrainEvent):
    """A judged model's ONNX graph failed parity: it will not be registered."""

    name: ClassVar[str] = "unexportable"
    model: str
    run: str
    reason: str


@dataclass(frozen=True)
class Stopped(TrainEvent):
    """Interrupted or cancelled: the finished trials are kept, nothing is registered."""

    name: ClassVar[str] = "stopped"
    finished: int


Progress = Callable[[TrainEvent], None]
