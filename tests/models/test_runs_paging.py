"""Runs at scale: 2,000 runs in 20 training sessions, read a page at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

import mlcycle
from mlcycle import projects
from mlcycle.app.ui import MlcycleApp
from mlcycle.models import run_search, tracking
from mlcycle.models.run_search import Clause
from mlcycle.store import journal
from mlcycle.store.workspace import Workspace, open_workspace
from tests.app.test_tui import settle, visible_text
from tests.conftest import run_json

RUNS, PER_SESSION = 2_000, 100
ODD = "it's \"odd\" / 100% é"  # a run name with quotes, a slash, a percent sign, an accent


def _score(i: int) -> float:
    return ((i * 7919) % 10007) / 10007


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = open_workspace(tmp_path_factory.mktemp("runs") / "ws", create=True)[0]
    projects.create(ws, "p", target="y", task="classification")
    for i in range(RUNS):
        kind = "baseline" if i % PER_SESSION == 0 else "trial"
        with tracking.start_run(ws, "p", name=ODD if i == 7 else f"trial-{i}", kind=kind,
                                group=f"s{i // PER_SESSION:03d}") as run:
            run.log_params({"depth": i % 7, "model": "knn" if i % 2 else "logistic"})
            run.log_metrics({"cv.roc_auc": _score(i), "loss": 1 - _score(i)})
            run.log_metric("loss", 0.5, step=-1)  # an earlier step: never the latest value
    journal.fold(ws)
    return ws


def _expected_top(n: int) -> list[str]:
    return [f"trial-{i}" for i in sorted(range(RUNS), key=lambda i: -_score(i))[:n]]


def test_a_page_sorts_counts_and_marks_the_best_of_each_session(big: Workspace) -> None:
    first = run_search.page(big, "p", sort="cv.roc_auc", limit=200, best_by="cv.roc_auc")
    assert first.total == RUNS and len(first.records) == 200
    assert [r.name for r in first.records[:20]] == _expected_top(20)
    assert first.records[0].metrics["loss"] == pytest.approx(1 - _score(int(
        first.records[0].name.split("-")[1])))  # the latest step's value, not step -1's
    second = run_search.page(big, "p", sort="cv.roc_auc", limit=200, offset=200)
    assert not {r.id for r in first.records} & {r.id for r in second.records}
    past = run_search.page(big, "p", limit=200, offset=RUNS)
    assert past.records == [] and past.total == RUNS
    sessions = run_search.page(big, "p", limit=None, best_by="cv.roc_auc", by_session=True)
    assert len(sessions.best_of_session) == RUNS // PER_SESSION
    first_session = sessions.records[:PER_SESSION]
    assert len({r.group for r in first_session}) == 1  # a session's runs stay together
    best = first_session[0]
    assert best.id in sessions.best_of_session and best.kind != "baseline"
    assert best.metrics["cv.roc_auc"] == max(r.metrics["cv.roc_auc"] for r in first_session
                                             if r.kind != "baseline")


def test_filters_run_in_the_query(big: Workspace) -> None:
    odd = run_search.page(big, "p", text="\"ODD\" / 100%")
    assert [r.name for r in odd.records] == [ODD]
    knn = run_search.page(big, "p", where=[Clause("params", "model", "=", "knn"),
                                           Clause("params", "depth", ">=", 5)], limit=None)
    assert knn.total == sum(1 for i in range(RUNS) if i % 2 and i % 7 >= 5)
    found = mlcycle.search_runs("p", filter="metrics.`cv.roc_auc` > 0.999 and kind = 'trial'",
                                order_by=["metrics.cv.roc_auc ASC"], workspace=big)
    scores = [r.metrics["cv.roc_auc"] for r in found]
    assert scores and scores == sorted(scores) and min(scores) > 0.999


def test_the_runs_command_answers_the_top_20(big: Workspace) -> None:
    out = run_json("runs", "p", "--sort", "cv.roc_auc", "--limit", "20", "--json",
                   workspace=big.root)
    assert [r["name"] for r in out] == _expected_top(20)


async def test_the_view_pages_sorts_and_filters_2000_runs(big: Workspace) -> None:
    app = MlcycleApp(big, project="p")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one("#runs", DataTable)
        assert table.row_count == 200
        assert "p: rows 1–200 of 2,000 runs" in visible_text(app)
        await pilot.press("s")  # by cv.roc_auc, best first
        await settle(pilot)
        assert [str(table.get_row_at(i)[3]) for i in range(20)] == _expected_top(20)
        text = visible_text(app)
        assert "cv.roc_auc of session" in text and "baseline" in text  # its session's chart
        table.focus()
        await pilot.press("ctrl+end")  # the cursor on the last loaded row fetches the next page
        await settle(pilot)
        assert table.row_count == 400 and "rows 1–400 of 2,000" in visible_text(app)
        await pilot.press("slash", *"trial-19", "enter")
        await settle(pilot)
        assert table.row_count == 111  # trial-19, trial-190…199, trial-1900…1999
        assert "rows 1–111 of 111 runs matching 'trial-19'" in visible_text(app)


def test_a_workspace_upgraded_keeps_the_latest_metrics(big: Workspace, tmp_path: Path) -> None:
    with big.read() as con:
        latest = con.execute("SELECT count(*) FROM run_latest_metrics").fetchall()[0][0]
    assert latest == RUNS * 2
