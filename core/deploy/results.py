"""What deployment's actions return, as typed values.

The CLI prints them (``--json`` through ``to_dict``), the TUI shows them and the Python API
hands them over; every face reads the same attributes, none a key of its own. Where a result
is stored (``scoring_runs.summary``, the events' details) it is stored as ``to_dict`` makes it
and read back with ``from_dict``, so stored JSON and ``--json`` output keep their shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

QUANTILES = ("p05", "p25", "p50", "p75", "p95")


@dataclass(frozen=True)
class Quantiles:
    """Predicted values at the 5th, 25th, 50th, 75th and 95th percentiles."""

    p05: float
    p25: float
    p50: float
    p75: float
    p95: float

    def to_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in QUANTILES}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Quantiles:
        return cls(*(float(d[name]) for name in QUANTILES))


@dataclass(frozen=True)
class PredictionSummary:
    """A scoring's predictions in brief: class shares and mean probabilities for a
    classifier, or mean, range and quantiles for a regressor (none of these without rows)."""

    rows: int
    class_shares: dict[str, float] | None = None  # classification only
    mean_probability: dict[str, float] | None = None
    mean: float | None = None  # regression only, with rows
    min: float | None = None
    max: float | None = None
    quantiles: Quantiles | None = None

    @property
    def classification(self) -> bool:
        return self.class_shares is not None

    def to_dict(self) -> dict[str, Any]:
        if self.classification:
            return {"rows": self.rows, "class_shares": self.class_shares,
                    "mean_probability": self.mean_probability}
        if self.quantiles is None:
            return {"rows": self.rows}
        return {"rows": self.rows, "mean": self.mean, "min": self.min, "max": self.max,
                "quantiles": self.quantiles.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PredictionSummary:
        if "class_shares" in d:
            return cls(int(d["rows"]), dict(d["class_shares"]),
                       dict(d.get("mean_probability") or {}))
        if not isinstance(d.get("quantiles"), dict):
            return cls(int(d.get("rows") or 0))
        return cls(int(d["rows"]), mean=d.get("mean"), min=d.get("min"), max=d.get("max"),
                   quantiles=Quantiles.from_dict(d["quantiles"]))


@dataclass(frozen=True)
class Scoring:
    """One scoring of a file (``mlcycle predict``): what scored it, how fast, what it
    predicted, and where the predictions went (``out``) or the first rows (``preview``)."""

    run: str
    project: str
    version: int
    shadow_version: int | None
    rows: int
    seconds: float
    rows_per_second: int | None
    summary: PredictionSummary
    shadow_summary: PredictionSummary | None
    unseen_categories: dict[str, int]  # rows per column holding categories never seen
    out: str | None
    # The first rows scored when there is no ``out``: the user's identifier column and the
    # predictions, keyed by their column names (data, not figures of the engine).
    preview: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "project": self.project,
            "version": self.version,
            "shadow_version": self.shadow_version,
            "rows": self.rows,
            "seconds": self.seconds,
            "rows_per_second": self.rows_per_second,
            "summary": self.summary.to_dict(),
            "shadow_summary": self.shadow_summary.to_dict() if self.shadow_summary else None,
            "unseen_categories": dict(self.unseen_categories),
            "out": self.out,
            "preview": list(self.preview),
        }


@dataclass(frozen=True)
class ScoringRun:
    """One logged scoring run (``scoring_runs``), from a file or from the server."""

    id: str
    ts: str
    version: int
    shadow_version: int | None
    source: str  # the file scored, or "serve"
    rows: int
    seconds: float
    summary: PredictionSummary


@dataclass(frozen=True)
class Side:
    """One model of a champion–challenger comparison and its metrics on the labelled rows."""

    version: int
    metrics: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "metrics": dict(self.metrics)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Side:
        return cls(int(d["version"]), dict(d["metrics"]))


@dataclass(frozen=True)
class Comparison:
    """Champion against challenger on the shadowed rows whose labels arrived
    (``mlcycle compare``), judged against noise; ``promoted`` when it made the challenger
    champion, and ``reason`` then says why for the audit trail."""

    project: str
    rows: int
    metric: str
    champion: Side
    challenger: Side
    difference: dict[str, Any]  # the paired bootstrap: difference, low, high, confidence
    challenger_better: bool | None  # None: no clear difference
    verdict: str
    promoted: bool = False
    reason: str | None = None
    ts: str | None = None  # when it was recorded, for a comparison read back

    def to_dict(self) -> dict[str, Any]:
        out = {"project": self.project, **self.recorded(), "promoted": self.promoted}
        if self.reason is not None:
            out["reason"] = self.reason
        return out

    def recorded(self) -> dict[str, Any]:
        """The figures the ``deploy.compared`` event stores."""
        return {"rows": self.rows, "metric": self.metric,
                "champion": self.champion.to_dict(), "challenger": self.challenger.to_dict(),
                "difference": dict(self.difference),
                "challenger_better": self.challenger_better, "verdict": self.verdict}

    @classmethod
    def from_event(cls, project: str, ts: str, detail: dict[str, Any]) -> Comparison:
        """A comparison read back from its event. One recorded before verdicts weighed the
        noise has none: its verdict is said from ``challenger_better``."""
        better = detail.get("challenger_better")
        verdict = detail.get("verdict") or ("the challenger is better" if better
                                            else "the champion holds")
        return cls(project, int(detail["rows"]), detail["metric"],
                   Side.from_dict(detail["champion"]), Side.from_dict(detail["challenger"]),
                   dict(detail.get("difference") or {}), better, verdict, ts=ts)


@dataclass(frozen=True)
class KServeFile:
    """The InferenceService written beside a bundle (``export --kserve``)."""

    file: str
    canary_traffic_percent: int | None  # the canary's share, when the challenger is one

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "canary_traffic_percent": self.canary_traffic_percent}


@dataclass(frozen=True)
class ExportResult:
    """A bundle exported (``mlcycle export``): the version's parity-checked graph and the
    folder it was written to, with each file's hash."""

    project: str
    version: int
    sha256: str  # of model.onnx
    size_bytes: int
    export_seconds: float  # the conversion and its parity check
    # The parity figures as ``mlcycle.models.parity`` measures them (their shape follows
    # the model's kind); ``parity_passed`` and ``parity_rows`` are the ones every face shows.
    parity: dict[str, Any]
    created_at: str
    out: str
    files: dict[str, str]  # file name -> sha256
    kserve: KServeFile | None
    seconds: float  # the whole export

    @property
    def parity_passed(self) -> bool:
        return bool(self.parity["passed"])

    @property
    def parity_rows(self) -> int:
        return int(self.parity["rows"])

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "version": self.version, "sha256": self.sha256,
                "size_bytes": self.size_bytes, "export_seconds": self.export_seconds,
                "parity": self.parity, "created_at": self.created_at, "out": self.out,
                "files": dict(self.files),
                "kserve": self.kserve.to_dict() if self.kserve else None,
                "seconds": self.seconds}


@dataclass(frozen=True)
class SmokeTest:
    """The bundle's smoke rows scored from its own files in a fresh process."""

    ok: bool
    rows: int
    max_diff: float

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "max_diff": self.max_diff}


@dataclass(frozen=True)
class ServerCheck:
    """The bundle's server.py, run where only numpy and onnxruntime are installed,
    answering the smoke rows as mlcycle does."""

    ok: bool
    rows: int
    max_diff: float
    environment: str
    numpy: str
    onnxruntime: str

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "max_diff": self.max_diff,
                "environment": self.environment, "numpy": self.numpy,
                "onnxruntime": self.onnxruntime}


@dataclass(frozen=True)
class BundleCheck:
    """A verified bundle (``mlcycle bundle verify``): its hashes hold, its smoke test
    passes, and (unless skipped) its own server agrees."""

    folder: str
    project: str | None
    version: int | None
    smoke_test: SmokeTest
    server: ServerCheck | None
    extra_files: tuple[str, ...]  # in the folder but not in the bundle

    def to_dict(self) -> dict[str, Any]:
        return {"folder": self.folder, "project": self.project, "version": self.version,
                "hashes": "ok", "smoke_test": self.smoke_test.to_dict(),
                "server": self.server.to_dict() if self.server else None,
                "extra_files": list(self.extra_files)}


@dataclass(frozen=True)
class CanaryStep:
    """The canary raised to its next share, or sent back to none (``mlcycle deploy step``)."""

    project: str
    from_share: float
    to_share: float
    step: int  # of ``steps``; 0 when sent back
    steps: int
    champion: int
    challenger: int
    reason: str | None
    state: dict[str, Any]  # the deployment state saved (``strategies.State.to_dict``)

    def detail(self) -> dict[str, Any]:
        """What the audit trail records of it."""
        return {"from": self.from_share, "to": self.to_share, "step": self.step,
                "steps": self.steps, "champion": self.champion,
                "challenger": self.challenger, "reason": self.reason}

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, **self.detail(), "state": self.state}


@dataclass(frozen=True)
class SlotSwitch:
    """The live blue/green slot switched (``mlcycle deploy switch``)."""

    project: str
    from_slot: str
    to_slot: str
    from_version: int
    to_version: int
    back: bool  # to the slot live before the last switch
    reason: str | None
    state: dict[str, Any]  # the deployment state saved (``strategies.State.to_dict``)

    def detail(self) -> dict[str, Any]:
        """What the audit trail records of it."""
        return {"from": self.from_slot, "to": self.to_slot, "from_version": self.from_version,
                "to_version": self.to_version, "back": self.back, "reason": self.reason}

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, **self.detail(), "state": self.state}


@dataclass(frozen=True)
class Strategy:
    """Where a project's deployment stands (``mlcycle deploy show``): its strategy, the
    versions in play (a ref naming no version is None), the canary's share and last
    rollback, or the live blue/green slot."""

    project: str
    strategy: str  # shadow, canary or blue_green
    config_version: int | None  # None: no config stored, the defaults apply
    revision: int  # of the deployment state; 0 before any change
    updated_at: str | None
    champion: int | None = None  # shadow and canary
    challenger: int | None = None
    share: float | None = None  # canary only
    step: int | None = None
    steps: tuple[float, ...] = ()
    # The last automatic rollback and the figures that caused it (``canary_watch``).
    rollback: dict[str, Any] | None = None
    active_slot: str | None = None  # blue_green only
    slots: dict[str, int | None] | None = None  # slot -> the version it serves
    can_switch_back: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"project": self.project, "strategy": self.strategy,
                               "config_version": self.config_version,
                               "revision": self.revision, "updated_at": self.updated_at}
        if self.slots is not None:
            out.update(active_slot=self.active_slot, slots=dict(self.slots),
                       can_switch_back=self.can_switch_back)
        else:
            out.update(champion=self.champion, challenger=self.challenger)
        if self.share is not None:
            out.update(share=self.share, step=self.step, steps=list(self.steps),
                       rollback=self.rollback)
        return out


@dataclass(frozen=True)
class Arm:
    """One arm of an A/B test: the version answering it and its labelled rows."""

    version: int
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "rows": self.rows}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Arm:
        return cls(int(d["version"]), int(d["rows"]))


@dataclass(frozen=True)
class ABPlan:
    """An A/B test's plan, fixed before any outcome was seen."""

    method: str
    metric: str
    mde: float  # the smallest difference in the metric worth detecting
    alpha: float
    power: float
    per_arm: int  # labelled rows each arm needs before the test decides
    variance: float
    planned_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "metric": self.metric, "mde": self.mde,
                "alpha": self.alpha, "power": self.power, "per_arm": self.per_arm,
                "variance": self.variance, "planned_at": self.planned_at}


@dataclass(frozen=True)
class ABDifference:
    """The canary's metric minus the champion's, with its interval and p-value."""

    test: str
    control: float
    treatment: float
    difference: float
    low: float  # the confidence interval
    high: float
    p_value: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"test": self.test, "control": self.control, "treatment": self.treatment,
                "difference": self.difference, "ci": [self.low, self.high],
                "p_value": self.p_value, "confidence": self.confidence}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ABDifference:
        return cls(d["test"], d["control"], d["treatment"], d["difference"], d["ci"][0],
                   d["ci"][1], d["p_value"], d["confidence"])


@dataclass(frozen=True)
class ABLook:
    """One look at the A/B test of the canary (``mlcycle abtest``): the arms, the verdict
    (interim figures while collecting) and the rows each arm still needs. A look read back
    from the audit trail (``abtest.last``) has its ``ts`` and no plan or recommendation."""

    project: str
    metric: str
    control: Arm
    treatment: Arm
    verdict: str
    result: ABDifference | None  # None below two labelled rows per arm
    still_needed: dict[str, int]  # arm (control, treatment) -> labelled rows
    method: str | None = None
    test: str | None = None
    answered_rows: int | None = None
    labelled_rows: int | None = None
    plan: ABPlan | None = None
    recommendation: str | None = None
    ts: str | None = None

    @property
    def rows_needed(self) -> int:
        """The labelled rows per arm still needed before the test concludes."""
        return max(self.still_needed.values(), default=0)

    def recorded(self) -> dict[str, Any]:
        """What the audit trail records of a look."""
        return {"metric": self.metric, "control": self.control.to_dict(),
                "treatment": self.treatment.to_dict(), "verdict": self.verdict,
                "result": self.result.to_dict() if self.result else None,
                "still_needed": dict(self.still_needed)}

    def to_dict(self) -> dict[str, Any]:
        recorded = self.recorded()
        return {"project": self.project, "metric": self.metric, "method": self.method,
                "test": self.test, "control": recorded["control"],
                "treatment": recorded["treatment"], "answered_rows": self.answered_rows,
                "labelled_rows": self.labelled_rows,
                "plan": self.plan.to_dict() if self.plan else None,
                "verdict": self.verdict, "result": recorded["result"],
                "still_needed": recorded["still_needed"],
                "recommendation": self.recommendation}

    @classmethod
    def from_event(cls, project: str, ts: str, detail: dict[str, Any]) -> ABLook:
        result = detail.get("result")
        return cls(project, detail["metric"], Arm.from_dict(detail["control"]),
                   Arm.from_dict(detail["treatment"]), detail["verdict"],
                   ABDifference.from_dict(result) if result else None,
                   dict(detail["still_needed"]), ts=ts)
