"""A project's monitoring policy (lifecycle stages 8 and 9): when to alert, when to retrain,
on what, how a successor is judged, and who decides.

The policy is TOML; every key is optional and takes the default below when left out::

    mode = "prompt"            # off: record only; prompt: ask; auto: act, then report

    [alerts]
    drift_share = 0.0          # data drift alerts once this share of inputs drifted (0: any)
    min_psi = 0.02             # per-input effect floor (population stability index)
    min_h = 0.1                # per-input effect floor of missing rates, new values (Cohen's h)
    prediction_drift = true    # the model's scores moving is an alert
    max_loss = 0.05            # measured relative loss of the metric that alerts
    max_estimated_loss = 0.05  # estimated relative loss (labels not known yet) that alerts
    min_labelled = 100         # fewer labelled (or scored) rows never alert on performance

    [retrain]                  # any trigger that fires raises a decision
    on_alert = ["data_drift", "prediction_drift", "concept_drift", "estimated_loss"]
    labelled_rows = 0          # labelled rows checked since the champion was made (0: off)
    every_batches = 0          # batches checked since the champion was made (0: off)
    every_days = 0             # days since the champion was made (0: off)
    manual = true              # 'mlcycle decide PROJECT --request' raises one
    window = "all"             # labelled batches added: "all", {batches = N}, {days = N}
    old_rows = "keep"          # "keep": the champion's training rows too; "drop": the window's only
    search = "champion"        # "champion": its model family; "catalog": every model of the task
    trials = 10

    [gate]                     # a candidate replaces the champion only if it passes
    margin = 0.0               # it beats the champion on the same rows by at least this
    confidence = 0.95          # and the paired bootstrap interval of the difference excludes 0
    rounds = 1000

Stored policies are versioned like recipes: 1, 2, … whenever the text changes. A project
without one follows the defaults, and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlcycle import projects
from mlcycle.drift.check import MIN_H, MIN_PSI
from mlcycle.store import settings, versioned
from mlcycle.store.errors import InvalidInput
from mlcycle.store.schema import iso

if TYPE_CHECKING:
    import duckdb

    from mlcycle.store.workspace import Workspace

MODES = ("off", "prompt", "auto")
# The lifecycle's branches an alert is classed in (see mlcycle.monitor.decisions.alert_kinds).
ALERT_KINDS = ("system", "data_drift", "prediction_drift", "concept_drift", "estimated_loss")
SEARCHES = ("champion", "catalog")
OLD_ROWS = ("keep", "drop")
MAX_TRIALS = 1000  # parameter settings one retraining tries
MAX_WINDOW = 100_000  # labelled batches or days a retraining window spans


@dataclass(frozen=True)
class Alerts:
    drift_share: float = 0.0
    min_psi: float = MIN_PSI
    min_h: float = MIN_H
    prediction_drift: bool = True
    max_loss: float = 0.05
    max_estimated_loss: float = 0.05
    min_labelled: int = 100


@dataclass(frozen=True)
class Window:
    """Which labelled batches a retraining adds to the champion's data."""

    kind: str = "all"  # "all", "batches" or "days"
    n: int | None = None

    def to_toml(self) -> str:
        return '"all"' if self.kind == "all" else f"{{ {self.kind} = {self.n} }}"

    def to_json(self) -> Any:
        return "all" if self.kind == "all" else {self.kind: self.n}

    def describe(self) -> str:
        return {"all": "every labelled batch checked since the champion was made",
                "batches": f"the last {self.n} labelled batches",
                "days": f"the labelled batches checked in the last {self.n} days"}[self.kind]


@dataclass(frozen=True)
class Retrain:
    on_alert: tuple[str, ...] = ("data_drift", "prediction_drift", "concept_drift",
                                 "estimated_loss")
    labelled_rows: int = 0
    every_batches: int = 0
    every_days: float = 0
    manual: bool = True
    window: Window = field(default_factory=Window)
    old_rows: str = "keep"
    search: str = "champion"
    trials: int = 10


@dataclass(frozen=True)
class Gate:
    margin: float = 0.0
    confidence: float = 0.95
    rounds: int = 1000


@dataclass(frozen=True)
class Policy:
    mode: str = "prompt"
    alerts: Alerts = field(default_factory=Alerts)
    retrain: Retrain = field(default_factory=Retrain)
    gate: Gate = field(default_factory=Gate)
    # The keys the text set ("alerts.max_loss", "mode"); every other key is a default.
    explicit: frozenset[str] = frozenset()
    version: int | None = None  # None: no policy stored, the defaults
    text: str | None = None
    source: str | None = None
    created_at: datetime | None = None

    @property
    def is_default(self) -> bool:
        return self.version is None

    def values(self) -> dict[str, Any]:
        """Every key's value as JSON, by section (the top level for ``mode``)."""
        out: dict[str, Any] = {"mode": self.mode}
        for section in _SECTIONS:
            part = getattr(self, section)
            out[section] = {f.name: _json(getattr(part, f.name)) for f in fields(part)}
        return out

    def to_dict(self) -> dict[str, Any]:
        keys = ["mode", *(f"{s}.{f.name}" for s in _SECTIONS
                          for f in fields(getattr(self, s)))]
        return {"version": self.version, "default": self.is_default, "source": self.source,
                "created_at": iso(self.created_at) if self.created_at else None,
                "policy": self.values(),
                "defaults": [k for k in keys if k not in self.explicit]}


DEFAULT = Policy()
_SECTIONS = ("alerts", "retrain", "gate")


def _json(value: Any) -> Any:
    if isinstance(value, Window):
        return value.to_json()
    return list(value) if isinstance(value, tuple) else value


# -- reading a policy ---------------------------------------------------------------------


def _kinds(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be a list of alert kinds ({', '.join(ALERT_KINDS)})")
    unknown = [v for v in value if v not in ALERT_KINDS]
    if unknown:
        raise ValueError(f"unknown alert kind {unknown[0]!r}; the kinds are "
                         f"{', '.join(ALERT_KINDS)}")
    return tuple(dict.fromkeys(value))


def _window(value: Any) -> Window:
    if value == "all":
        return Window()
    if isinstance(value, dict) and len(value) == 1:
        (kind, n), = value.items()
        if kind in ("batches", "days") and isinstance(n, int) and not isinstance(n, bool) \
                and 1 <= n <= MAX_WINDOW:
            return Window(kind, n)
    raise ValueError(f'must be "all", {{ batches = N }} or {{ days = N }} with N a whole number '
                     f"from 1 to {MAX_WINDOW:,} (got {settings.shown(value)})")


# Every number has a range: nan, infinity or a huge value would switch a check off (nothing is
# above nan) or make a retraining run for ever.
_SPEC: settings.Spec = {
    "": {"mode": settings.choice(MODES)},
    "alerts": {"drift_share": settings.number(0, 1), "min_psi": settings.number(0, 10),
               "min_h": settings.number(0, math.pi), "prediction_drift": settings.flag,
               "max_loss": settings.number(0, 10), "max_estimated_loss": settings.number(0, 10),
               "min_labelled": settings.number(1, 10_000_000, integer=True)},
    "retrain": {"on_alert": _kinds,
                "labelled_rows": settings.number(0, 1_000_000_000, integer=True),
                "every_batches": settings.number(0, 1_000_000, integer=True),
                "every_days": settings.number(0, 3650), "manual": settings.flag,
                "window": _window, "old_rows": settings.choice(OLD_ROWS),
                "search": settings.choice(SEARCHES),
                "trials": settings.number(1, MAX_TRIALS, integer=True)},
    "gate": {"margin": settings.number(0, 1_000_000), "confidence": settings.number(0.5, 0.999),
             "rounds": settings.number(100, 100_000, integer=True)},
}


def parse(text: str, source: str = "policy") -> Policy:
    """Read a policy from TOML text; raises InvalidInput (one line naming the key and line).
    Unknown sections and keys are refused: a misspelt key must not silently fall back to
    its default."""
    top, sections, explicit = settings.read(text, source, _SPEC, "a policy")
    return Policy(mode=top.get("mode", DEFAULT.mode),
                  alerts=replace(DEFAULT.alerts, **sections["alerts"]),
                  retrain=replace(DEFAULT.retrain, **sections["retrain"]),
                  gate=replace(DEFAULT.gate, **sections["gate"]),
                  explicit=explicit, text=text, source=source)


# -- showing a policy ---------------------------------------------------------------------

_HELP = {
    "mode": "off: record only; prompt: ask; auto: act, then report",
    "alerts.drift_share": "data drift alerts once this share of inputs drifted (0: any)",
    "alerts.min_psi": "per-input effect floor: population stability index",
    "alerts.min_h": "per-input effect floor of missing rates and new values: Cohen's h",
    "alerts.prediction_drift": "the model's scores moving is an alert",
    "alerts.max_loss": "measured relative loss of the metric that alerts",
    "alerts.max_estimated_loss": "estimated relative loss (labels not known yet) that alerts",
    "alerts.min_labelled": "fewer labelled (or scored) rows never alert on performance",
    "retrain.on_alert": "alert kinds that raise a decision: " + ", ".join(ALERT_KINDS),
    "retrain.labelled_rows": "labelled rows checked since the champion was made (0: off)",
    "retrain.every_batches": "batches checked since the champion was made (0: off)",
    "retrain.every_days": "days since the champion was made (0: off)",
    "retrain.manual": "'mlcycle decide PROJECT --request' raises a decision",
    "retrain.window": '"all", { batches = N } or { days = N }: the labelled batches added',
    "retrain.old_rows": '"keep": the champion\'s training rows plus the window\'s; "drop": '
                        "the window's rows only (the old world is forgotten)",
    "retrain.search": '"champion": its model family; "catalog": every model of the task',
    "retrain.trials": "parameter settings tried by the retraining",
    "gate.margin": "the candidate must beat the champion on the same rows by this much",
    "gate.confidence": "paired bootstrap interval of the difference, which must exclude 0",
    "gate.rounds": "bootstrap resamples",
}


def _toml(value: Any) -> str:
    return value.to_toml() if isinstance(value, Window) else settings.toml_value(value)


STORE_HINT = "Store an edited copy with 'mlcycle policy set PROJECT FILE.toml'."


def render(policy: Policy, project: str, hint: str = STORE_HINT) -> str:
    """The policy as TOML with every key, its default marked: a file ``parse`` reads back
    to the same policy, to start an edit from. ``hint`` says how to store an edit (the
    terminal UI says its own key instead of a shell command)."""
    head = (f"# Monitoring policy of {project}, version {policy.version}"
            if policy.version else f"# Monitoring policy of {project}: the defaults "
            "(no policy stored)")
    lines = [head, f"# {hint}", ""]

    def line(key: str, name: str, value: Any) -> str:
        mark = "" if key in policy.explicit else " (default)"
        return f"{name} = {_toml(value)}  # {_HELP[key]}{settings.span_of(_SPEC, key)}{mark}"

    lines.append(line("mode", "mode", policy.mode))
    for section in _SECTIONS:
        part = getattr(policy, section)
        lines += ["", f"[{section}]"]
        lines += [line(f"{section}.{f.name}", f.name, getattr(part, f.name))
                  for f in fields(part)]
    return "\n".join(lines) + "\n"


def template(project: str = "PROJECT") -> str:
    """The default policy as a file to start from."""
    return render(DEFAULT, project)


# -- stored versions ----------------------------------------------------------------------

def _stored(row: tuple[Any, ...]) -> Policy:
    version, text, source, created_at = row
    return replace(parse(text, f"policy v{version}"), version=int(version), source=source,
                   created_at=created_at)


VERSIONS = versioned.Versions("policies", "policy", "policy.saved")


def history(ws: Workspace, project: str) -> list[Policy]:
    """Every stored version of the project's policy, newest first."""
    projects.get(ws, project)
    return [_stored(r) for r in VERSIONS.rows(ws, project)]


def current_with(con: duckdb.DuckDBPyConnection, project: str) -> Policy:
    """The newest stored policy, else the defaults; on an open connection."""
    row = VERSIONS.newest(con, project)
    return _stored(row) if row else DEFAULT


def current(ws: Workspace, project: str) -> Policy:
    """The policy the project follows now: its newest stored version, else the defaults."""
    projects.get(ws, project)
    with ws.read() as con:
        return current_with(con, project)


def get(ws: Workspace, project: str, ref: str = "latest") -> Policy:
    """``latest`` (the defaults when none is stored) or a version number (``2``, ``v2``)."""
    if ref == "latest":
        return current(ws, project)
    return _stored(VERSIONS.find(ws, project, ref))


def store(ws: Workspace, project: str, policy: Policy, source: str | None = None
          ) -> tuple[Policy, bool]:
    """Store a parsed policy as the newest version unless its text is already the newest;
    the stored policy and whether it is new."""
    projects.get(ws, project)
    if policy.text is None:
        raise InvalidInput("only a policy read from text can be stored")
    number, created = VERSIONS.store(ws, project, policy.text, source, policy.values())
    return get(ws, project, str(number)), created
