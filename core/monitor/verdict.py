"""A monitoring check as typed values: what ``mlcycle.monitor.check`` returns.

The engine stores and prints a check as a JSON object (``monitor_checks``, ``--json``);
Python callers get it as dataclasses instead, so no result is read by string keys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcycle.drift import DriftResult
from mlcycle.models import events, registry
from mlcycle.monitor import alerts
from mlcycle.monitor.batch import check_batch
from mlcycle.store.workspace import Workspace, use


@dataclass(frozen=True)
class Performance:
    """The project metric on a batch, measured on its labels or estimated without them."""

    metric: str
    value: float | None
    reference: float | None  # the version's figure on its holdout
    relative_loss: float | None  # > 0: worse than on the holdout
    rows: int  # labelled rows (measured) or scored rows (estimated)
    estimated: bool
    method: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    # An estimate's 95 % interval for the metric the labels will show (None when measured).
    low: float | None = None
    high: float | None = None

    @classmethod
    def measured(cls, d: dict[str, Any]) -> Performance:
        return cls(d["metric"], d["value"], d["reference"], d["relative_loss"],
                   d["labelled_rows"], False, None, dict(d.get("metrics") or {}))

    @classmethod
    def estimate(cls, d: dict[str, Any]) -> Performance:
        return cls(d["metric"], d["value"], d["reference"], d["relative_loss"], d["rows"],
                   True, d.get("method"), low=d.get("low"), high=d.get("high"))


@dataclass(frozen=True)
class Alert:
    """One alert of a check, classed by its cause (``mlcycle.monitor.alerts``)."""

    kind: str  # system, data_drift, prediction_drift, concept_drift, estimated_loss
    message: str  # the one line shown in lists
    evidence: dict[str, Any]  # the figures it rests on
    playbook: tuple[str, ...]  # what to look at, what to do
    action: str = alerts.RETRAIN  # retrain, none, look, fix_upstream (alerts.ACTIONS)

    @property
    def retrain_recommended(self) -> bool:
        return self.action == alerts.RETRAIN

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alert:
        return cls(d["kind"], d["message"], dict(d["evidence"]), tuple(d["playbook"]),
                   alerts.action_of(d))


@dataclass(frozen=True)
class Inputs:
    """A check's inputs counted the one way every face shows them."""

    tested: int
    drifted: tuple[str, ...]  # moved: data drift, most impact first
    broken: tuple[str, ...]  # broken by their source: a system issue, not drift
    # The model's inputs not tested, by reason (checks made before it was kept have none).
    left_out: tuple[events.LeftOut, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Inputs:
        return cls(d["tested"], tuple(d["drifted"]), tuple(d["broken"]),
                   tuple(events.LeftOut(g["reason"], tuple(g["columns"]))
                         for g in d.get("left_out", [])))


@dataclass(frozen=True)
class Decision:
    """A question a policy's trigger raised (retrain? promote?) and where it stands."""

    id: str
    kind: str  # retrain, promote
    trigger: str  # on_alert, labelled_rows, every_batches, every_days, manual
    status: str  # pending, approved, rejected, done, failed, superseded, ...
    mode: str  # the policy's mode when it was raised: prompt or auto
    reason: str | None  # why it was decided as it was
    check: str | None  # the check that raised it
    evidence: dict[str, Any]  # what fired, with its figures
    proposal: dict[str, Any]  # the proposed window: batches and labelled rows

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Decision:
        return cls(d["id"], d["kind"], d["trigger"], d["status"], d["mode"], d.get("reason"),
                   d.get("check"), dict(d.get("evidence") or {}), dict(d.get("proposal") or {}))


@dataclass(frozen=True)
class Retraining:
    """A successor trained on the champion's data plus new batches, and how it compared."""

    project: str
    dataset: str  # the version it was trained on
    rows_added: int
    metric: str
    champion: dict[str, Any]  # its version and figures on the rows both were judged on
    candidate: dict[str, Any]
    candidate_better: bool
    alias: str | None  # what the candidate became (champion, challenger), if anything
    reason: str
    gate: dict[str, Any] | None  # the policy gate's verdict, when one judged it

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Retraining:
        return cls(d["project"], d["dataset"], d["rows_added"], d["metric"],
                   dict(d["champion"]), dict(d["candidate"]), bool(d["candidate_better"]),
                   d.get("alias"), d["reason"], d.get("gate"))


@dataclass(frozen=True)
class Check:
    """One batch checked against the version that scored it."""

    id: str
    project: str
    version: int
    source: str
    rows: int
    scoring_run: str
    seconds: float | None  # None for a repeat of a check stored before it was kept
    data_drift: DriftResult
    prediction_drift: DriftResult
    performance: Performance | None
    estimated_performance: Performance | None
    alerts: tuple[str, ...]
    retrain_recommended: bool
    # Set when the content had been checked by this version before: this is that check,
    # not a new one (nothing was scored or written).
    repeat_of: str | None = None
    alert_details: tuple[Alert, ...] = ()  # the alerts with their kind, evidence, playbook
    # What the check raised, as it ended up (carried out at once under mode auto).
    decision: Decision | None = None
    inputs: Inputs | None = None  # None for checks made before inputs were counted
    # What to do, in one line (``alerts.advice``): None without alerts.
    advice: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Check:
        """A check as the engine stores it (``monitor_checks``, ``--json``)."""
        return cls(
            d["id"], d["project"], d["version"], d["source"], d["rows"], d["scoring_run"],
            d["seconds"], DriftResult.from_dict(d["data_drift"]),
            DriftResult.from_dict(d["prediction_drift"]),
            Performance.measured(d["performance"]) if d.get("performance") else None,
            Performance.estimate(d["estimated_performance"])
            if d.get("estimated_performance") else None,
            tuple(d["alerts"]), bool(d["retrain_recommended"]), d.get("repeat_of"),
            tuple(Alert.from_dict(a) for a in d.get("alert_details")
                  or alerts.from_messages(d["alerts"])),
            Decision.from_dict(d["decision"]) if d.get("decision") else None,
            Inputs.from_dict(d["inputs"]) if d.get("inputs") else None,
            d.get("advice"),
        )


def check(project: str, data: str | os.PathLike[str], labels: str | os.PathLike[str] | None = None,
          *, model: str = registry.CHAMPION, workspace: Workspace | str | None = None,
          again: bool = False, act: bool = True) -> Check:
    """Score the batch file ``data`` with ``model`` and check it for data drift, prediction
    drift and, with ``labels`` (joined as ``mlcycle.deploy.label_join`` says), lost
    performance; the check is recorded, and its decision carried out under the policy's
    mode ``auto`` (``act=False`` leaves it pending), as ``mlcycle monitor`` and the watcher
    do.

    The same content (the batch's bytes and its labels') already checked by the same
    version is not checked again unless ``again``: its earlier check is returned, with
    ``repeat_of`` set."""
    result = check_batch(use(workspace), project, Path(data), labels=labels, ref=model,
                         again=again, act=act)
    return Check.from_dict(result)
