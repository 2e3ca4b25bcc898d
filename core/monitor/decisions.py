"""Decisions (lifecycle stage 9): a policy's trigger fired; retrain, and then promote?

After each check (in the transaction that records it, so a check is never stored without
its decision) :func:`after_check` evaluates the policy's retraining triggers against it:

- ``on_alert``: the check raised an alert of a kind the policy names that calls for an
  action (drift with no clear loss, or one not known yet, does not: ``alerts``);
- ``labelled_rows``: the labelled rows checked by the champion reached N (again at 2N, …);
- ``every_batches``: the batches checked by the champion reached N (again at 2N, …);
- ``every_days``: the champion is N days old (again at 2N, …), seen at a check;
- ``manual``: someone asked (:func:`request`).

Each firing has a key (the check's id, or the champion's version and the multiple of N),
stored in ``decision_triggers``: a firing seen again — the same check replayed, a watcher
restarted — is not acted on twice. Under mode ``off`` a firing is only an event. Under
``prompt`` and ``auto`` it raises a pending decision, or, when one is pending already,
joins it (one question, with all its reasons, and its proposed window brought up to date):
what fired, the evidence, the labelled rows available and the proposed window (which
batches and label files the retraining adds).

:func:`decide` approves or rejects a pending decision. Approving a retraining runs it
(``mlcycle.monitor.retraining.retrain``) with the proposed window, through the policy's
gate (``mlcycle.models.paired``). The candidate shadows the champion as challenger; if it
passed the gate, a second pending decision (kind ``promote``, showing the gate's figures)
asks whether it becomes champion, or under ``auto`` it does at once. Every step is an
event with its figures.

A process killed while it carries a decision out leaves it approved; :func:`resume` (the
watcher calls it when it starts) carries such a decision on, or opens it again, and carries
out the decisions raised under ``auto`` that nothing acted on: none is lost, none is done
twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.models import registry
from mlcycle.monitor import alerts
from mlcycle.monitor import policy as policies
from mlcycle.store import events, safety
from mlcycle.store.errors import InvalidInput, MlcycleError, NotFound
from mlcycle.store.schema import iso, utcnow

if TYPE_CHECKING:
    import duckdb

    from mlcycle.store.cancel import CancelToken
    from mlcycle.store.workspace import Workspace

# superseded: a later action answered the question (the champion it was about moved).
STATUSES = ("pending", "approved", "rejected", "done", "superseded")
RETRAIN, PROMOTE = "retrain", "promote"


def alert_kinds(check: dict[str, Any], calling: bool = False) -> set[str]:
    """The kinds (``policy.ALERT_KINDS``) of a check's alerts (with ``calling``, of those
    that call for an action: ``alerts.calling``); a check stored before alerts were classed
    is classed by its messages' wording (``alerts.from_messages``)."""
    details = check.get("alert_details")
    if details is None:
        details = alerts.from_messages(check.get("alerts") or [])
    return {d["kind"] for d in (alerts.calling(details) if calling else details)}


# -- triggers -----------------------------------------------------------------------------

def _champion(con: duckdb.DuckDBPyConnection, project: str) -> tuple[int, Any] | None:
    rows = con.execute(
        "SELECT v.version, v.created_at FROM aliases a JOIN model_versions v "
        "ON v.project = a.project AND v.version = a.version "
        "WHERE a.project = ? AND a.alias = ?", [project, registry.CHAMPION]).fetchall()
    return (int(rows[0][0]), rows[0][1]) if rows else None


def _firings(con: duckdb.DuckDBPyConnection, check: dict[str, Any], policy: policies.Policy,
             version: int, since: Any) -> list[dict[str, Any]]:
    """The triggers this check fires, each with its key and figures."""
    project, rules = check["project"], policy.retrain
    out = []
    # Drift that costs nothing, or nothing known yet, raises no question of retraining.
    kinds = alert_kinds(check, calling=True) & set(rules.on_alert)
    if kinds:
        performance = check.get("performance") or check.get("estimated_performance") or {}
        drift = check["data_drift"]
        out.append({"trigger": "on_alert", "key": f"on_alert:{check['id']}",
                    "kinds": sorted(kinds), "alerts": check["alerts"],
                    "advice": check.get("advice"),
                    "figures": {"inputs": check.get("inputs"),
                                "share_drifted": drift.get("share_drifted"),
                                "drifted": [c["name"] for c in drift.get("columns", [])
                                            if c.get("drifted")],
                                "prediction_drift": check["prediction_drift"]
                                .get("drift_detected"),
                                "metric": performance.get("metric"),
                                "value": performance.get("value"),
                                "reference": performance.get("reference"),
                                "relative_loss": performance.get("relative_loss")}})
    if rules.labelled_rows or rules.every_batches:
        batches, labelled = con.execute(
            "SELECT count(DISTINCT sha256) + count(*) FILTER (WHERE sha256 IS NULL), "
            "(SELECT coalesce(sum(n), 0) FROM (SELECT max(labelled_rows) AS n "
            " FROM monitor_checks WHERE project = ? AND version = ? AND labelled_rows > 0 "
            " GROUP BY coalesce(sha256 || coalesce(labels_sha256, ''), id))) "
            "FROM monitor_checks WHERE project = ? AND version = ?",
            [project, version, project, version]).fetchone()
        for trigger, count, every in (("labelled_rows", int(labelled), rules.labelled_rows),
                                      ("every_batches", int(batches), rules.every_batches)):
            if every and count >= every:
                out.append({"trigger": trigger, "key": f"{trigger}:v{version}:{count // every}",
                            "figures": {trigger if trigger == "labelled_rows" else "batches":
                                        count, "threshold": every}})
    if rules.every_days:
        days = (utcnow() - since).total_seconds() / 86400
        if days >= rules.every_days:
            out.append({"trigger": "every_days",
                        "key": f"every_days:v{version}:{int(days // rules.every_days)}",
                        "figures": {"days": round(days, 2), "threshold": rules.every_days}})
    for firing in out:
        firing.update(check=check["id"], source=check["source"], version=version)
    return out


def proposal_with(con: duckdb.DuckDBPyConnection, project: str, version: int,
                  window: policies.Window) -> dict[str, Any]:
    """The labelled batches a retraining of ``version`` would add, by the policy's window:
    each batch checked with labels by that version (its newest check), oldest first."""
    rows = con.execute(
        "SELECT source, report, labelled_rows, ts, coalesce(sha256 || "
        "coalesce(labels_sha256, ''), id) FROM monitor_checks "
        "WHERE project = ? AND version = ? AND labelled_rows > 0 ORDER BY ts",
        [project, version]).fetchall()
    newest: dict[str, dict[str, Any]] = {}
    for source, report, labelled, ts, content in rows:
        labels = (json.loads(report).get("performance") or {}).get("labels")
        newest.pop(content, None)
        newest[content] = {"batch": source, "labels": labels, "labelled_rows": int(labelled),
                           "checked": iso(ts), "ts": ts}
    batches = list(newest.values())
    if window.kind == "batches":
        batches = batches[-(window.n or 1):]
    elif window.kind == "days":
        batches = [b for b in batches if b["ts"] >= utcnow() - timedelta(days=window.n or 0)]
    for b in batches:
        b.pop("ts")
    return {"window": window.to_json(), "describe": window.describe(), "batches": batches,
            "labelled_rows": sum(b["labelled_rows"] for b in batches),
            "champion": version}


def after_check(con: duckdb.DuckDBPyConnection, check: dict[str, Any],
                policy: policies.Policy) -> dict[str, Any] | None:
    """Evaluate the policy's triggers on a check just recorded (in its transaction); the
    decision raised or joined, as ``{"id", "status", "mode", "created"}``, or None."""
    project = check["project"]
    champion = _champion(con, project)
    if champion is None or champion[0] != check["version"]:
        return None  # a check by another version says nothing about retraining the champion
    fresh = [f for f in _firings(con, check, policy, *champion) if _claim(con, project, f)]
    if not fresh:
        return None
    if policy.mode == "off":
        for firing in fresh:
            events.record(con, "policy.triggered", project=project, subject=firing["trigger"],
                          detail={**firing, "mode": "off", "policy": policy.version})
        return None
    return _raise(con, project, fresh, policy, check_id=check["id"])


def _claim(con: duckdb.DuckDBPyConnection, project: str, firing: dict[str, Any]) -> bool:
    """Record a firing's key; False when it was recorded before (acted on already)."""
    if con.execute("SELECT 1 FROM decision_triggers WHERE project = ? AND key = ?",
                   [project, firing["key"]]).fetchall():
        return False
    con.execute("INSERT INTO decision_triggers VALUES (?, ?, NULL, ?, ?)",
                [project, firing["key"], firing.get("check"), utcnow()])
    return True


def _decision_id(project: str, key: str) -> str:
    return hashlib.blake2b(f"{project}\0{key}".encode(), digest_size=5).hexdigest()


def _raise(con: duckdb.DuckDBPyConnection, project: str, fired: list[dict[str, Any]],
           policy: policies.Policy, check_id: str | None) -> dict[str, Any]:
    """Raise a retraining decision for ``fired``, or join the one already pending."""
    champion = _champion(con, project)
    proposal = proposal_with(con, project, champion[0] if champion else 0,
                             policy.retrain.window)
    pending = con.execute(
        "SELECT id, evidence FROM decisions WHERE project = ? AND kind = ? AND status = "
        "'pending' ORDER BY created_at DESC LIMIT 1", [project, RETRAIN]).fetchall()
    keys = [f["key"] for f in fired]
    if pending:
        decision_id, evidence = pending[0][0], json.loads(pending[0][1])
        evidence["fired"] += fired
        con.execute("UPDATE decisions SET evidence = ?, proposal = ? WHERE id = ?",
                    [json.dumps(evidence, default=str), json.dumps(proposal), decision_id])
        kind, created = "decision.extended", False
    else:
        decision_id, created, kind = _decision_id(project, keys[0]), True, "decision.created"
        con.execute(
            "INSERT INTO decisions VALUES (?, ?, ?, ?, 'pending', ?, NULL, NULL, ?, NULL, ?, "
            "?, ?, ?, NULL)",
            [decision_id, project, RETRAIN, fired[0]["trigger"], utcnow(), check_id,
             policy.version, policy.mode, json.dumps({"fired": fired}, default=str),
             json.dumps(proposal)])
    for key in keys:
        con.execute("UPDATE decision_triggers SET decision_id = ? WHERE project = ? AND key = ?",
                    [decision_id, project, key])
    events.record(con, kind, project=project, subject=decision_id,
                  detail={"triggers": [f["trigger"] for f in fired], "check": check_id,
                          "mode": policy.mode, "labelled_rows": proposal["labelled_rows"],
                          "batches": [b["batch"] for b in proposal["batches"]],
                          "figures": [f.get("figures") for f in fired]})
    return {"id": decision_id, "status": "pending", "mode": policy.mode, "created": created}


def request(ws: Workspace, project: str, reason: str) -> dict[str, Any]:
    """A manual request to retrain: a pending decision (refused when one is pending, or
    when the policy turned manual requests off)."""
    if not reason or not reason.strip():
        raise InvalidInput("say why with --reason: the audit trail keeps it")
    policy = policies.current(ws, project)
    if not policy.retrain.manual:
        raise InvalidInput(f"project {project!r}: the policy turns manual requests off "
                           "([retrain] manual = false)")
    with ws.write() as con:
        pending = con.execute("SELECT id FROM decisions WHERE project = ? AND kind = ? AND "
                              "status = 'pending'", [project, RETRAIN]).fetchall()
        if pending:
            raise InvalidInput(f"decision {pending[0][0]} to retrain {project} is pending "
                               f"already; approve or reject it with 'mlcycle decide {project} "
                               f"{pending[0][0]} --approve|--reject --reason TEXT'")
        if _champion(con, project) is None:
            raise NotFound(f"project {project!r} has no champion to retrain")
        firing = {"trigger": "manual", "key": f"manual:{uuid.uuid4().hex[:12]}",
                  "reason": reason, "figures": {}}
        _claim(con, project, firing)
        raised = _raise(con, project, [firing], policy, check_id=None)
    return get(ws, project, raised["id"])


# -- reading ------------------------------------------------------------------------------

_COLUMNS = ("id", "project", "kind", "trigger", "status", "created_at", "decided_at", "reason",
            "check_id", "parent", "policy_version", "mode", "evidence", "proposal", "figures")


def _as_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    item = dict(zip(_COLUMNS, row))
    for key in ("evidence", "proposal", "figures"):
        item[key] = json.loads(item[key]) if item[key] else None
    item["created"] = iso(item.pop("created_at"))
    item["decided"] = iso(item.pop("decided_at")) if item["decided_at"] else None
    item["check"] = item.pop("check_id")
    item["labelled_rows"] = (item["proposal"] or {}).get("labelled_rows")
    return item


def list_decisions(ws: Workspace, project: str, status: str | None = None
                   ) -> list[dict[str, Any]]:
    """The project's decisions, newest first (only those of ``status`` when given)."""
    from mlcycle import projects

    projects.get(ws, project)
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}")
    settle_answered(ws, project)
    with ws.read() as con:
        rows = con.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM decisions WHERE project = ? "  # noqa: S608
            "AND (? IS NULL OR status = ?) ORDER BY created_at DESC", [project, status, status]
        ).fetchall()
    return [_as_dict(r) for r in rows]


def pending_everywhere(ws: Workspace) -> list[dict[str, Any]]:
    """Every project's pending decisions, oldest first, in one read: what a UI watching
    the whole workspace asks about."""
    settle_answered(ws)
    with ws.read() as con:
        rows = con.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM decisions "  # noqa: S608
            "WHERE status = 'pending' ORDER BY created_at, id").fetchall()
    return [_as_dict(r) for r in rows]


def get(ws: Workspace, project: str, decision_id: str) -> dict[str, Any]:
    """One decision, by its id or an unambiguous prefix of it."""
    found = [d for d in list_decisions(ws, project) if d["id"].startswith(decision_id.lower())]
    if len(found) != 1 or not decision_id:
        what = "matches several" if len(found) > 1 else "matches none"
        raise NotFound(f"project {project!r}: decision {decision_id!r} {what}; "
                       f"list them with 'mlcycle decisions {project}'")
    return found[0]


# -- questions a later action answered ----------------------------------------------------

# Pending decisions about a champion that is champion no more: a retraining proposed for it
# (``proposal.champion``), or a candidate to promote over it (``proposal.replaces``); with
# the champion's move that made each moot.
_MOOT = """
    SELECT d.id, d.project, d.kind, d.trigger, a.version, h.ts, h.action, h.reason
    FROM decisions d
    JOIN aliases a ON a.project = d.project AND a.alias = 'champion'
    LEFT JOIN (SELECT project, version, ts, action, reason, row_number() OVER (
                   PARTITION BY project ORDER BY id DESC) AS newest
               FROM alias_history WHERE alias = 'champion') h
        ON h.project = d.project AND h.version = a.version AND h.newest = 1
    WHERE d.status = 'pending' AND (? IS NULL OR d.project = ?)
      AND coalesce(d.proposal->>'champion', d.proposal->>'replaces') IS NOT NULL
      AND coalesce(d.proposal->>'champion', d.proposal->>'replaces')::INTEGER <> a.version
"""


def settle_answered(ws: Workspace, project: str | None = None) -> int:
    """Close, as ``superseded``, the pending decisions whose question a later action
    answered: the champion they were about was replaced meanwhile (a person promoted or
    rolled back, a manual retraining promoted its model). Each keeps the time and reason of
    that move, so no face goes on asking; how many were closed. Run before decisions are
    listed, by whichever process looks first."""
    with ws.read() as con:
        if not con.execute(_MOOT, [project, project]).fetchall():
            return 0
    with ws.write() as con:  # again under the lock: another process may have closed them
        moot = con.execute(_MOOT, [project, project]).fetchall()
        for did, proj, kind, trigger, champion, ts, action, why in moot:
            reason = (f"answered by a later action: v{champion} became champion"
                      + (f" ({action}: {why})" if why else ""))
            con.execute("UPDATE decisions SET status = 'superseded', decided_at = ?, "
                        "reason = ? WHERE id = ?", [ts or utcnow(), reason, did])
            events.record(con, "decision.superseded", project=proj, subject=did,
                          detail={"kind": kind, "trigger": trigger, "reason": reason,
                                  "champion": champion})
    return len(moot)


# -- deciding -----------------------------------------------------------------------------

AUTO = "the policy's mode is auto"  # the reason recorded for an approval under auto


def _carrier() -> dict[str, Any]:
    """Who carries a decision out, recorded with its approval: a process found dead later
    did not finish it (:func:`resume`)."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _move_with(con: duckdb.DuckDBPyConnection, decision: dict[str, Any], frm: str, to: str,
               reason: str | None, event: str, detail: dict[str, Any],
               figures: dict[str, Any] | None = None) -> None:
    """Change a decision's status, if it still is ``frm`` (another process may have decided
    it meanwhile), and record the step."""
    rows = con.execute("SELECT status FROM decisions WHERE id = ?", [decision["id"]]).fetchall()
    if not rows or rows[0][0] != frm:
        raise InvalidInput(f"decision {decision['id']} is {rows[0][0] if rows else 'gone'}"
                           " now; nothing was changed")
    con.execute("UPDATE decisions SET status = ?, decided_at = ?, reason = "
                "coalesce(?, reason), figures = coalesce(?, figures) WHERE id = ?",
                [to, utcnow(), reason, json.dumps(figures, default=str) if figures else None,
                 decision["id"]])
    events.record(con, event, project=decision["project"], subject=decision["id"],
                  detail={"kind": decision["kind"], "trigger": decision["trigger"],
                          "reason": reason, **detail})


def _move(ws: Workspace, decision: dict[str, Any], frm: str, to: str, reason: str | None,
          event: str, detail: dict[str, Any], figures: dict[str, Any] | None = None) -> None:
    with ws.write() as con:
        _move_with(con, decision, frm, to, reason, event, detail, figures)


def decide(ws: Workspace, project: str, decision_id: str, *, approve: bool, reason: str,
           promote_now: bool = False, progress: Any = None,
           cancel: CancelToken | None = None) -> dict[str, Any]:
    """Approve or reject a pending decision; see the module docstring. ``promote_now``
    (the ``auto`` mode): a candidate that passes the gate becomes champion at once instead
    of raising a promotion decision. Returns the decision as it ends up."""
    if not reason or not reason.strip():
        raise InvalidInput("say why with --reason: the audit trail keeps it")
    decision = get(ws, project, decision_id)
    if decision["status"] != "pending":
        when = f" on {decision['decided']}" if decision["decided"] else ""
        raise InvalidInput(f"decision {decision['id']} was {decision['status']}{when}; only a "
                           "pending decision can be decided")
    if not approve:
        _move(ws, decision, "pending", "rejected", reason, "decision.rejected", {})
        return get(ws, project, decision["id"])
    if decision["kind"] == PROMOTE:
        return _promote(ws, decision, reason)
    return _retrain(ws, decision, reason, promote_now, progress, cancel)


def _retrain(ws: Workspace, decision: dict[str, Any], reason: str, promote_now: bool,
             progress: Any, cancel: CancelToken | None, resumed: bool = False
             ) -> dict[str, Any]:
    """Approve (unless ``resumed``: approved already) and carry out a retraining. Its end
    (the gate's figures, the promotion asked or made, the decision done) is one transaction,
    and a candidate registered by an attempt that was killed is reused: carried on after a
    kill, it is done once."""
    from mlcycle.deploy.scoring import CHALLENGER
    from mlcycle.monitor import retraining

    project = decision["project"]
    batches = decision["proposal"]["batches"]
    if not batches:
        raise InvalidInput(f"decision {decision['id']}: no batch has been checked with its "
                           "labels yet, so there is nothing to retrain on; check labelled "
                           f"batches with 'mlcycle monitor {project} FILE --labels FILE'")
    policy = policies.current(ws, project)
    if not resumed:
        _move(ws, decision, "pending", "approved", reason, "decision.approved",
              {"batches": [b["batch"] for b in batches], "policy": policy.version,
               "auto": promote_now, **_carrier()})
    pairs = [(Path(b["batch"]), Path(b["labels"]) if b["labels"] else None) for b in batches]
    try:
        result = retraining.retrain(ws, project, pairs, trials=policy.retrain.trials,
                                    promote=False, progress=progress, cancel=cancel,
                                    gate=policy.gate, search=policy.retrain.search,
                                    old_rows=policy.retrain.old_rows,
                                    reuse_since=_stored_time(decision["created"]))
    except BaseException as exc:
        # Not carried out: the decision is open again, with the reason recorded.
        _move(ws, decision, "approved", "pending", None, "decision.failed",
              {"error": str(exc).strip().splitlines()[0] if str(exc).strip()
               else type(exc).__name__})
        raise
    verdict = result["gate"]
    candidate = result["candidate"]["version"]
    if result["alias"] is None and CHALLENGER not in registry.get(
            ws, project, str(candidate)).aliases:
        registry.promote(ws, project, str(candidate), CHALLENGER,
                         f"decision {decision['id']}: failed the gate ({verdict['why']}); it "
                         "shadows the champion")
    outcome = "challenger: failed the gate"
    follow_up = None
    if verdict["passed"] and promote_now:
        outcome = "champion: passed the gate"
    elif verdict["passed"]:
        follow_up = _decision_id(project, f"promote:{decision['id']}")
        outcome = f"challenger: passed the gate; promotion awaits decision {follow_up}"
    figures = {"outcome": outcome, "candidate": candidate,
               "champion": result["champion"]["version"], "gate": verdict,
               "promotion": follow_up,
               "retrain": {k: result[k] for k in ("dataset", "rows_added", "judged_on",
                                                  "metric", "reason")}}

    def settle(con: duckdb.DuckDBPyConnection) -> None:
        events.record(con, "gate.judged", project=project, subject=f"v{candidate}",
                      detail={"decision": decision["id"], **verdict})
        if follow_up is not None:
            _ask_promotion(con, decision, result, policy, follow_up)
        _move_with(con, decision, "approved", "done", None, "decision.done", figures, figures)

    if verdict["passed"] and promote_now:
        registry.promote(ws, project, str(candidate), registry.CHAMPION,
                         f"decision {decision['id']} (auto): passed the gate: {verdict['why']}",
                         in_transaction=settle)
    else:
        with ws.write() as con:
            settle(con)
    return get(ws, project, decision["id"])


def _stored_time(text: str) -> datetime:
    """A time as :func:`iso` wrote it, as stored (UTC without a zone)."""
    return datetime.fromisoformat(text).replace(tzinfo=None)


def _ask_promotion(con: duckdb.DuckDBPyConnection, decision: dict[str, Any],
                   result: dict[str, Any], policy: policies.Policy, promotion: str) -> None:
    """The second question: a candidate passed the gate; does it become champion?"""
    project, verdict = decision["project"], result["gate"]
    evidence = {"gate": verdict, "candidate": result["candidate"],
                "champion": result["champion"], "judged_on": result["judged_on"]}
    proposal = {"promote": result["candidate"]["version"],
                "replaces": result["champion"]["version"]}
    con.execute(
        "INSERT INTO decisions VALUES (?, ?, ?, 'gate', 'pending', ?, NULL, NULL, NULL, "
        "?, ?, ?, ?, ?, NULL)",
        [promotion, project, PROMOTE, utcnow(), decision["id"], policy.version,
         policy.mode, json.dumps(evidence, default=str), json.dumps(proposal)])
    events.record(con, "decision.created", project=project, subject=promotion,
                  detail={"kind": PROMOTE, "parent": decision["id"], **verdict})


def _promote(ws: Workspace, decision: dict[str, Any], reason: str) -> dict[str, Any]:
    project = decision["project"]
    candidate = decision["proposal"]["promote"]
    champion = registry.get(ws, project, registry.CHAMPION).version
    if champion != decision["proposal"]["replaces"]:
        raise InvalidInput(f"decision {decision['id']}: the gate judged v{candidate} against "
                           f"v{decision['proposal']['replaces']}, but v{champion} is champion "
                           "now; reject this decision and retrain again")
    _move(ws, decision, "pending", "approved", reason, "decision.approved",
          {"candidate": candidate, **_carrier()})
    figures = {"outcome": "champion: promoted", "candidate": candidate, "champion": champion,
               "gate": decision["evidence"]["gate"]}
    registry.promote(ws, project, str(candidate), registry.CHAMPION,
                     f"decision {decision['id']}: passed the gate "
                     f"({decision['evidence']['gate']['why']}): {reason}",
                     in_transaction=lambda con: _move_with(
                         con, decision, "approved", "done", None, "decision.done", figures,
                         figures))
    return get(ws, project, decision["id"])


def carry_out_auto(ws: Workspace, project: str, raised: dict[str, Any] | None,
                   progress: Any = None) -> dict[str, Any] | None:
    """Under ``auto``: approve the decision a check raised and carry it out, unattended;
    the decision as it ends up, or None when there was nothing to do."""
    if not raised or raised.get("mode") != "auto":
        return None
    decision = get(ws, project, raised["id"])
    if decision["status"] != "pending":
        return None
    return decide(ws, project, decision["id"], approve=True, reason=AUTO,
                  promote_now=True, progress=progress)


# -- after a kill -------------------------------------------------------------------------

def resume(ws: Workspace, project: str, progress: Any = None
           ) -> list[tuple[dict[str, Any], str | None]]:
    """Finish what a process killed mid-way (kill -9, a power cut) left undone; each
    decision acted on as it ends up, with the error that kept it open, if any.

    - An approved decision whose carrier (the process that approved it, on this machine)
      is gone: under ``auto`` its retraining is carried on (``decision.resumed``; a
      candidate it had registered is reused); approved by a person, it is pending again
      (``decision.interrupted``), to be approved again.
    - Under mode ``auto``, a pending decision raised under ``auto``: carried out (the
      watcher was killed after the check that raised it was stored, before it acted).

    Claiming an interrupted decision is one transaction, so two watchers starting at once
    do not both carry it on."""
    carry_on = []
    with ws.write() as con:
        rows = con.execute("SELECT id, project, kind, trigger FROM decisions WHERE project = ? "
                           "AND status = 'approved' ORDER BY created_at",
                           [project]).fetchall()
        for row in rows:
            decision = dict(zip(("id", "project", "kind", "trigger"), row))
            carrier = _carrier_of(con, decision["id"])
            if carrier is None:
                continue  # alive (or on another machine): it is carrying the decision out
            why = (f"the process that carried it out (pid {carrier['pid']}) stopped before "
                   "it finished")
            if carrier.get("auto") and decision["kind"] == RETRAIN:
                events.record(con, "decision.resumed", project=project,
                              subject=decision["id"],
                              detail={"kind": RETRAIN, "trigger": decision["trigger"],
                                      "why": f"{why}; carried on", "auto": True,
                                      **_carrier()})
                carry_on.append(decision["id"])
            else:
                _move_with(con, decision, "approved", "pending", None,
                           "decision.interrupted", {"why": f"{why}; approve it again"})
    out: list[tuple[dict[str, Any], str | None]] = []
    for decision_id in carry_on:
        out.append(_attempt(ws, project, decision_id, lambda d: _retrain(
            ws, d, AUTO, True, progress, None, resumed=True)))
    if policies.current(ws, project).mode == "auto":
        for decision in list_decisions(ws, project, "pending"):
            if decision["kind"] == RETRAIN and decision["mode"] == "auto":
                out.append(_attempt(ws, project, decision["id"], lambda d: carry_out_auto(
                    ws, project, {"id": d["id"], "mode": "auto"}, progress) or d))
    return out


def _carrier_of(con: duckdb.DuckDBPyConnection, decision_id: str) -> dict[str, Any] | None:
    """The recorded carrier of an approved decision, if it is known to be gone."""
    rows = con.execute("SELECT detail FROM events WHERE subject = ? AND kind IN "
                       "('decision.approved', 'decision.resumed') ORDER BY id DESC LIMIT 1",
                       [decision_id]).fetchall()
    carrier = json.loads(rows[0][0] or "{}") if rows else {}
    pid = carrier.get("pid")
    if not isinstance(pid, int) or carrier.get("host") != socket.gethostname():
        return None
    return carrier if pid != os.getpid() and not safety.alive(pid) else None


def _attempt(ws: Workspace, project: str, decision_id: str, act: Callable[[dict[str, Any]],
             dict[str, Any]]) -> tuple[dict[str, Any], str | None]:
    decision = get(ws, project, decision_id)
    try:
        return act(decision), None
    except MlcycleError as exc:
        return get(ws, project, decision_id), f"decision {decision_id} not carried out: {exc}"
