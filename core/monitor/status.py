"""Where a project's loop stands, in one dictionary (``mlcycle status``, the TUI).

The champion, its age, and what to do when it cannot be scored; the last batches checked,
with drift and performance (measured, else estimated); the open alerts (those of checks
made since the last retraining finished); the pending decisions; the watchers and whether
each is alive (a heartbeat newer than ``STALE`` intervals, and a loop that moved on as
recently), stalled (its process beats but its loop has not moved on since) or stale (no
heartbeat: not running); the files the watcher set aside as malformed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlcycle import collect, projects
from mlcycle.models import exportable, registry
from mlcycle.monitor import alerts, decisions, monitoring
from mlcycle.monitor import policy as policies
from mlcycle.store.errors import NotFound
from mlcycle.store.schema import iso, utcnow

if TYPE_CHECKING:
    from mlcycle.store.workspace import Workspace

STALE = 3  # a heartbeat older than this many intervals: the watcher is not running
BATCHES = 10  # the last checks shown


def status(ws: Workspace, project: str) -> dict[str, Any]:
    """The project's monitoring loop as it stands now; see the module docstring."""
    name = projects.get(ws, project).name
    now = utcnow()
    try:
        champion = registry.get(ws, name, registry.CHAMPION)
        champ: dict[str, Any] | None = {
            "version": champion.version, "model": champion.summary.get("model"),
            "created_at": iso(champion.created_at),
            "age_days": round((now - champion.created_at).total_seconds() / 86400, 3),
            "cannot_score": _cannot_score(ws, name, champion)}
    except NotFound:
        champ = None
    checks = monitoring.history(ws, name, limit=BATCHES)
    batches = []
    for c in checks:
        value, estimated = monitoring.metric_of(c)
        batches.append({"check": c["id"], "ts": c["ts"], "source": c["source"],
                        "version": c["version"], "rows": c["rows"],
                        "data_drift": c["data_drift"], "share_drifted": c["share_drifted"],
                        "prediction_drift": c["prediction_drift"], "metric": c["metric"],
                        "value": value, "estimated": estimated, "alerts": c["alerts"]})
    with ws.read() as con:
        addressed = con.execute(
            "SELECT max(ts) FROM events WHERE project = ? AND kind = 'retrain.completed'",
            [name]).fetchone()[0]
        open_rows = con.execute(
            "SELECT id, ts, source, alerts FROM monitor_checks WHERE project = ? "
            "AND alerts <> '[]' AND (? IS NULL OR ts > ?) ORDER BY ts",
            [name, addressed, addressed]).fetchall()
        watchers = con.execute(
            "SELECT folder, pid, host, started_at, heartbeat_at, interval, loop_at FROM watchers "
            "WHERE project = ? ORDER BY heartbeat_at DESC", [name]).fetchall()
        quarantined = con.execute(
            "SELECT path, error, ts FROM watched_files WHERE project = ? AND status = "
            "'rejected' ORDER BY ts DESC", [name]).fetchall()
        policy = policies.current_with(con, name)
    open_alerts = [{"check": i, "ts": iso(ts), "source": source, "alert": alert,
                    "kinds": sorted(decisions.alert_kinds({"alerts": [alert]}))}
                   for i, ts, source, alerts in open_rows for alert in json.loads(alerts)]
    open_alerts += _source_issues(ws, name)
    return {
        "project": name,
        "champion": champ,
        "policy": {"version": policy.version, "default": policy.is_default,
                   "mode": policy.mode},
        "batches": batches,
        "open_alerts": open_alerts,
        "pending_decisions": decisions.list_decisions(ws, name, "pending"),
        "watchers": [_watcher(row, now) for row in watchers],
        "quarantined": [{"path": p, "error": e, "ts": iso(ts)} for p, e, ts in quarantined],
    }


def _cannot_score(ws: Workspace, project: str,
                  version: registry.ModelVersion) -> str | None:
    """What to do when the champion's graph fails parity (every scoring of it would fail)."""
    reason = exportable.of_version(ws, version)
    return exportable.advice(project, version.version, reason) if reason else None


def _source_issues(ws: Workspace, project: str) -> list[dict[str, Any]]:
    """A source whose last collection found a breaking change: open until one is clean."""
    latest: dict[str, dict[str, Any]] = {}
    for c in collect.history(ws, project):  # newest first
        latest.setdefault(c["source"], c)
    out = []
    for c in latest.values():
        if c["breaking"]:
            item = alerts.source_issue(c, project)
            out.append({"check": c["collection"], "ts": c["ts"], "source": f"source {c['source']}",
                        "alert": item, "kinds": [alerts.SYSTEM]})
    return out


def _watcher(row: tuple[Any, ...], now: Any) -> dict[str, Any]:
    folder, pid, host, started, beat, interval, moved = row
    age = (now - beat).total_seconds()
    still = (now - moved).total_seconds() if moved is not None else 0.0
    state = ("stale" if age > STALE * interval
             else "stalled" if still > STALE * interval else "alive")
    return {"folder": folder, "pid": pid, "host": host, "started_at": iso(started),
            "heartbeat_at": iso(beat), "seconds_since_heartbeat": round(age, 1),
            "loop_at": iso(moved) if moved is not None else None,
            "seconds_since_loop": round(still, 1), "state": state}
