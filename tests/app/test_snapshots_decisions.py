"""Pictures of a pending decision as the UI asks it, over the view the user was on, small and
large terminal (update: pytest --snapshot-update)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from mlcycle import demo
from mlcycle.app.ui import MlcycleApp
from mlcycle.store.workspace import open_workspace
from tests.app.test_snapshots import FIXED, SNAPSHOT_WS
from tests.app.test_tui import settle

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
BATCHES = "/home/ana/churn/incoming"

# What the March batch of the demo raises under the default policy: its price rise.
RETRAIN = {
    "id": "3fa9c01d2e", "kind": "retrain", "trigger": "on_alert",
    "evidence": {"fired": [{
        "trigger": "on_alert", "key": "on_alert:c-0303", "check": "c-0303",
        "source": f"{BATCHES}/2026-03.csv", "version": 1,
        "kinds": ["data_drift", "prediction_drift"],
        "alerts": ["data drift in 2 of 12 inputs: monthly_charges, total_charges",
                   "prediction drift: the model's scores moved (psi 0.214)"],
        "figures": {"inputs": {"tested": 12, "drifted": ["monthly_charges", "total_charges"],
                               "broken": []},
                    "share_drifted": 0.1667, "drifted": ["monthly_charges", "total_charges"],
                    "prediction_drift": True, "metric": "roc_auc", "value": 0.7712,
                    "reference": 0.8391, "relative_loss": 0.0809}}]},
    "proposal": {"window": "all", "describe": "every labelled batch checked since the "
                 "champion was made", "labelled_rows": 1500, "champion": 1,
                 "batches": [{"batch": f"{BATCHES}/2026-0{m}.csv",
                              "labels": f"{BATCHES}/labels/2026-0{m}.csv",
                              "labelled_rows": 500, "checked": FIXED} for m in (1, 2, 3)]},
}
PROMOTE = {
    "id": "81c7d2aa04", "kind": "promote", "trigger": "gate",
    "evidence": {"gate": {
        "metric": "roc_auc", "rows": 300, "champion": 0.7712, "candidate": 0.8254,
        "difference": 0.0542, "low": 0.0311, "high": 0.0779, "confidence": 0.95,
        "margin": 0.0, "rounds": 1000, "resamples_used": 1000, "seed": 0, "passed": True,
        "why": "roc_auc 0.8254 vs 0.7712: better by 0.0542 (≥ margin 0), 95% interval "
               "[0.0311, 0.0779] excludes 0"},
        "judged_on": "recent"},
    "proposal": {"promote": 2, "replaces": 1},
}


@pytest.fixture
def asked(request: pytest.FixtureRequest):
    """The demo workspace with one pending decision, and the app that asks it."""
    def build(decision: dict) -> MlcycleApp:
        root = SNAPSHOT_WS / re.sub(r"[^\w.-]", "_", request.node.name)
        shutil.rmtree(root, ignore_errors=True)
        ws = open_workspace(root, create=True)[0]
        demo.build(ws)
        with ws.write() as con:
            con.execute("UPDATE projects SET created_at = ?", [FIXED])
            con.execute("UPDATE events SET ts = ?", [FIXED])
            con.execute(
                "INSERT INTO decisions VALUES (?, 'churn', ?, ?, 'pending', ?, NULL, NULL, "
                "NULL, NULL, NULL, 'prompt', ?, ?, NULL)",
                [decision["id"], decision["kind"], decision["trigger"], FIXED,
                 json.dumps(decision["evidence"]), json.dumps(decision["proposal"])])
        return MlcycleApp(ws)
    return build


async def _asked(pilot) -> None:
    await settle(pilot)
    for _ in range(100):  # the app reads the pending decisions once it is up
        if type(pilot.app.screen).__name__ == "DecisionScreen":
            break
        await pilot.pause(0.05)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("decision", ["retrain", "promote"])
def test_decision(snap_compare, asked, decision: str, size: str) -> None:
    app = asked(RETRAIN if decision == "retrain" else PROMOTE)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_asked)
