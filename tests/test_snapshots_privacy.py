"""A picture of the data view over a column holding personal data: its role says so, its
profile says why, and its top values are masked."""

from __future__ import annotations

import random
import shutil

from mlcycle import projects
from mlcycle.app.ui import MlcycleApp
from mlcycle.data import datasets
from mlcycle.store.workspace import open_workspace
from tests.privacy_data import FIRST, LAST
from tests.test_snapshots import FIXED, SNAPSHOT_WS
from tests.test_tui import settle


def test_data_view_masks_a_column_of_personal_data(snap_compare) -> None:
    root = SNAPSHOT_WS / "privacy"
    shutil.rmtree(root, ignore_errors=True)
    ws = open_workspace(root, create=True)[0]
    rng = random.Random(2)
    lines = ["surname,email,plan,monthly_charges,churned"] + [
        f"{rng.choice(LAST)},{rng.choice(FIRST).lower()}{i}@example.com,"
        f"{rng.choice(['basic', 'pro'])},{rng.randint(20, 90)},{rng.choice(['true', 'false'])}"
        for i in range(300)]
    csv = root.parent / "privacy.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    projects.create(ws, "shop", target="churned", task="classification")
    datasets.add(ws, "shop", csv)
    with ws.write() as con:
        con.execute("UPDATE projects SET created_at = ?", [FIXED])
        con.execute("UPDATE project_datasets SET added_at = ?, source = 'privacy.csv'", [FIXED])

    async def open_data(pilot) -> None:
        await pilot.press("2")
        await settle(pilot)
        await pilot.pause(0.5)

    assert snap_compare(MlcycleApp(ws, project="shop"), terminal_size=(160, 48),
                        run_before=open_data)
