"""The data view's source action: define a SQLite source in a form, collect it as a job."""

from __future__ import annotations

import sqlite3

from mlcycle import collect, projects
from mlcycle.app.jobs import DONE
from mlcycle.app.ui import MlcycleApp
from mlcycle.data import datasets
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle, visible_text
from tests.app.test_tui_projects_data import _form, _job
from tests.tui_keys import fill_form


async def test_a_source_is_added_and_collected_from_the_data_view(ws: Workspace,
                                                                  tmp_path) -> None:
    projects.create(ws, "shop", target="churn", task="classification")
    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as con:
        con.execute('CREATE TABLE orders ("montant €" REAL, churn INTEGER)')
        con.executemany("INSERT INTO orders VALUES (?, ?)", [(i * 1.5, i % 2) for i in range(40)])
    app = MlcycleApp(ws, project="shop")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("s")
        form = await _form(pilot)
        await fill_form(pilot, {"name": "orders"})  # none stored yet: the URI is asked for
        assert "give its URI" in str(form.query_one("#form-error").content)
        await fill_form(pilot, {"uri": f"sqlite://{db}", "query": "SELECT * FROM orders"})
        job = await _job(pilot, "collect: shop orders")
        assert job.state == DONE and "40 rows read" in job.outcome, job.outcome
        version = datasets.list_versions(ws, "shop")[0]
        assert version.id in visible_text(app)
        # Again, from the stored definition: the same content is the same version.
        await pilot.press("s")
        await _form(pilot)
        await fill_form(pilot, {})
        again = [j for j in app.jobs.all if j.title == "collect: shop orders"]
        for _ in range(500):
            if len(again) == 2 and again[-1].state != "running":
                break
            await pilot.pause(0.02)
            again = [j for j in app.jobs.all if j.title == "collect: shop orders"]
        assert "unchanged" in again[-1].outcome, again[-1].outcome
    assert len(collect.history(ws, "shop", "orders")) == 2
