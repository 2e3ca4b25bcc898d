"""One record of what has been checked: 'monitor', 'watch', the API and the TUI share it, so a
content is checked once per model version unless the user asks again."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import mlcycle
from mlcycle.app.ui import MlcycleApp
from mlcycle.app.widgets.bar_chart import BarChart
from mlcycle.app.widgets.line_plot import LinePlot
from mlcycle.models import registry
from mlcycle.monitor import monitoring
from mlcycle.monitor.watch import Watcher
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle
from tests.conftest import run_cli, run_json
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = classification_workspace(tmp_path_factory.mktemp("once"), ["logistic", "random_forest"])
    registry.promote(ws, "clf", "1", reason="test")
    return ws


def _batch(folder: Path, name: str, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    classification_frame(300, seed=seed).drop("label").write_csv(path)
    return path


def _checks_of(ws: Workspace, path: Path) -> list[tuple[str, int]]:
    """The stored checks of a file's content: (id, version), oldest first."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with ws.read() as con:
        return con.execute("SELECT id, version FROM monitor_checks WHERE sha256 = ? "
                           "ORDER BY ts", [digest]).fetchall()


def _watch_once(ws: Workspace, folder: Path, *more: str) -> dict[str, dict]:
    proc = run_cli("watch", "clf", str(folder), "--once", "--settle", "0", "--json", *more,
                   workspace=ws.root, check=True)
    outcomes = [json.loads(line) for line in proc.stdout.splitlines()]
    return {Path(o["path"]).name: o for o in outcomes}


def test_a_batch_checked_by_monitor_is_skipped_by_watch(clf, tmp_path: Path) -> None:
    batch = _batch(tmp_path / "in", "2026-01.csv", seed=101)
    first = run_json("monitor", "clf", str(batch), workspace=clf.root)
    assert "repeat_of" not in first
    outcomes = _watch_once(clf, tmp_path / "in")
    assert outcomes["2026-01.csv"]["status"] == "seen"
    assert outcomes["2026-01.csv"]["check"]["id"] == first["id"]
    assert _checks_of(clf, batch) == [(first["id"], 1)]
    history = [c for c in run_json("monitor", "clf", workspace=clf.root)
               if c["source"].endswith("2026-01.csv")]
    assert [c["id"] for c in history] == [first["id"]]


def test_a_batch_watched_is_not_checked_again_by_monitor_which_names_the_check(
        clf, tmp_path: Path) -> None:
    batch = _batch(tmp_path / "in", "2026-02.csv", seed=102)
    checked = _watch_once(clf, tmp_path / "in")["2026-02.csv"]
    assert checked["status"] == "checked"
    earlier = checked["check"]["id"]
    proc = run_cli("monitor", "clf", str(batch), workspace=clf.root)
    assert proc.returncode == 0, proc.stderr
    assert f"already checked by v1 (check {earlier})" in proc.stderr
    assert "rows scored" not in proc.stdout  # no verdict printed as if new
    repeat = run_json("monitor", "clf", str(batch), workspace=clf.root)
    assert repeat["repeat_of"] == earlier == repeat["id"]
    # The shape of a check, as a fresh one has it.
    assert set(repeat) - {"repeat_of"} == set(checked["check"])
    assert repeat["rows"] == 300 and repeat["scoring_run"] == checked["check"]["scoring_run"]
    assert _checks_of(clf, batch) == [(earlier, 1)]


def test_again_checks_anew_from_monitor_and_from_watch(clf, tmp_path: Path) -> None:
    batch = _batch(tmp_path / "in", "2026-03.csv", seed=103)
    first = run_json("monitor", "clf", str(batch), workspace=clf.root)
    second = run_json("monitor", "clf", str(batch), "--again", workspace=clf.root)
    assert "repeat_of" not in second and second["id"] != first["id"]
    third = _watch_once(clf, tmp_path / "in", "--again")["2026-03.csv"]
    assert third["status"] == "checked"
    assert [c for c, _ in _checks_of(clf, batch)] == [first["id"], second["id"],
                                                      third["check"]["id"]]


def test_a_copy_under_another_name_is_not_checked_but_a_changed_file_is(
        clf, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    batch = _batch(folder, "a.csv", seed=104)
    shutil.copy(batch, folder / "b.csv")
    outcomes = {o.path.name: o for o in Watcher(clf, "clf", folder, settle=0).scan()}
    assert outcomes["a.csv"].status == "checked"
    assert outcomes["b.csv"].status == "seen"
    assert outcomes["b.csv"].check["repeat_of"] == outcomes["a.csv"].check["id"]
    copy = mlcycle.monitor.check("clf", tmp_path / "in" / "b.csv", workspace=clf)
    assert copy.repeat_of == outcomes["a.csv"].check["id"]

    classification_frame(300, seed=105).drop("label").write_csv(batch)  # new rows, same name
    changed = mlcycle.monitor.check("clf", batch, workspace=clf)
    assert changed.repeat_of is None and changed.rows == 300
    assert _checks_of(clf, batch) == [(changed.id, 1)]


def test_labels_make_a_new_question_about_the_same_batch(clf, tmp_path: Path) -> None:
    frame = classification_frame(300, seed=106)
    batch, labels = tmp_path / "batch.csv", tmp_path / "labels.csv"
    frame.drop("label").write_csv(batch)
    frame.select("id", "label").write_csv(labels)
    estimated = mlcycle.monitor.check("clf", batch, workspace=clf)
    measured = mlcycle.monitor.check("clf", batch, labels, workspace=clf)
    assert measured.repeat_of is None and measured.performance is not None
    assert mlcycle.monitor.check("clf", batch, labels, workspace=clf).repeat_of == measured.id
    # Without labels, the labelled check answers as well as the first one did.
    assert mlcycle.monitor.check("clf", batch, workspace=clf).repeat_of == measured.id
    assert estimated.performance is None
    again = mlcycle.monitor.check("clf", batch, labels, workspace=clf, again=True)
    assert again.repeat_of is None and again.id != measured.id


def test_a_new_champion_checks_a_content_again(clf, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    batch = _batch(folder, "2026-04.csv", seed=107)
    first = run_json("monitor", "clf", str(batch), workspace=clf.root)
    registry.promote(clf, "clf", "2", reason="test")
    try:
        outcome = _watch_once(clf, folder)["2026-04.csv"]
        assert outcome["status"] == "checked" and outcome["check"]["version"] == 2
        repeat = run_json("monitor", "clf", str(batch), workspace=clf.root)
        assert repeat["repeat_of"] == outcome["check"]["id"]
        # Asked of version 1 by number, the first check answers.
        by_number = run_json("monitor", "clf", str(batch), "--model", "1", workspace=clf.root)
        assert by_number["repeat_of"] == first["id"]
    finally:
        registry.promote(clf, "clf", "1", reason="test")
    assert _checks_of(clf, batch) == [(first["id"], 1), (outcome["check"]["id"], 2)]


async def test_the_tui_charts_each_batch_once(tmp_path: Path) -> None:
    ws = classification_workspace(tmp_path, models=["logistic"])
    registry.promote(ws, "clf", "1", reason="first")
    folder = tmp_path / "in"
    first = _batch(folder, "jan.csv", seed=111)
    monitoring.check(ws, "clf", first)
    _batch(folder, "feb.csv", seed=112)
    outcomes = {o.path.name: o.status for o in Watcher(ws, "clf", folder, settle=0).scan()}
    assert outcomes == {"feb.csv": "checked", "jan.csv": "seen"}
    monitoring.check(ws, "clf", first, again=True)  # asked again: still one batch
    assert len(monitoring.history(ws, "clf")) == 3

    app = MlcycleApp(ws, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        metric = app.screen.query_one("#metric-history", LinePlot)
        assert [(s.label, s.xs) for s in metric.series] == [("~ estimated", [1, 2])]
        drift = app.screen.query_one("#drift-history", BarChart)
        assert [label for label, *_ in drift.rows] == ["feb.csv", "jan.csv"]


def test_an_upgraded_workspace_remembers_what_the_watcher_checked(clf, tmp_path: Path) -> None:
    import duckdb

    folder = tmp_path / "in"
    batch = _batch(folder, "old.csv", seed=113)
    checked = Watcher(clf, "clf", folder, settle=0).scan()[0]
    assert checked.status == "checked"
    copy = tmp_path / "copy"
    shutil.copytree(clf.root, copy)
    # As a workspace written before checks knew their content.
    con = duckdb.connect(str(Workspace(copy).db_path))
    con.execute("ALTER TABLE monitor_checks DROP COLUMN sha256")
    con.execute("ALTER TABLE monitor_checks DROP COLUMN labels_sha256")
    con.execute("DELETE FROM schema_version WHERE version >= 8")
    for table in ("policies", "decisions", "decision_triggers", "watchers",  # migration 9
                  "sources", "collections",  # sources
                  "deploy_configs", "deploy_state", "answer_logs", "abtest_plans"):  # strategies
        con.execute(f"DROP TABLE {table}")
    con.close()
    upgraded = Workspace(copy)
    assert Watcher(upgraded, "clf", folder, settle=0).scan()[0].status == "seen"
    stored = monitoring.get_check(upgraded, "clf", checked.check["id"])
    assert stored["sha256"] == hashlib.sha256(batch.read_bytes()).hexdigest()
