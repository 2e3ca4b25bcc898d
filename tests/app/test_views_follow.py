"""Open views follow what another process changes: a promotion made by the CLI while the TUI
is open shows in the Models, Deploy and Monitor views within 2 s, with no key pressed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlcycle.app.ui import MlcycleApp
from mlcycle.models import registry
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle, visible_text
from tests.conftest import AWKWARD_FOLDER, copy_workspace, run_cli
from tests.deploy_fixtures import classification_workspace
from tests.tui_keys import put_off_decision


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = classification_workspace(tmp_path_factory.mktemp(AWKWARD_FOLDER),
                                  ["logistic", "random_forest"])
    registry.promote(ws, "clf", "1", reason="first")
    return ws.root


@pytest.fixture
def clf(two_versions: Path, tmp_path: Path) -> Workspace:
    return copy_workspace(two_versions, tmp_path)


async def _shows_within(pilot, text: str, seconds: float) -> float:
    """How long until the current view shows ``text``; fail past ``seconds``."""
    started = time.monotonic()
    while text not in visible_text(pilot.app):
        if time.monotonic() - started > seconds:
            raise AssertionError(f"{text!r} not shown within {seconds:g} s:\n"
                                 f"{visible_text(pilot.app)}")
        await pilot.pause(0.05)
    return time.monotonic() - started


def _promote_v2_elsewhere(ws: Workspace, reason: str) -> None:
    """Another process (a shell beside the TUI) makes version 2 the champion."""
    run_cli("promote", "clf", "2", "--reason", reason, workspace=ws.root, check=True)


async def test_a_promotion_by_another_process_shows_in_every_view(clf: Workspace) -> None:
    app = MlcycleApp(clf, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        assert "champion: version 1" in visible_text(app)
        _promote_v2_elsewhere(clf, "better on the holdout")
        await _shows_within(pilot, "champion: version 2", 2)
        for key, shown in (("5", "champion: version 2"), ("6", "champion v2")):
            await pilot.press(key)
            await _shows_within(pilot, shown, 2)


async def test_a_promotion_since_the_check_leaves_no_view_recommending_a_retraining(
        clf: Workspace, tmp_path: Path) -> None:
    import polars as pl

    from mlcycle.monitor import monitoring
    from tests.training_data import classification_frame

    batch = tmp_path / "moved.csv"
    # The inputs that sort rows out narrow: the estimated metric falls, retraining is asked.
    classification_frame(800, seed=32).with_columns(
        pl.col("x1") * 0.1, pl.col("x2") * 0.1 + 4.5).drop("label").write_csv(batch)
    assert monitoring.check(clf, "clf", batch)["retrain_recommended"]
    app = MlcycleApp(clf, project="clf")
    async with app.run_test(size=(160, 48)) as pilot:
        await put_off_decision(pilot)  # the check raised a question: later
        await pilot.press("6")
        await settle(pilot)
        assert "retraining recommended: press R" in visible_text(app)
        _promote_v2_elsewhere(clf, "retrained elsewhere")
        await _shows_within(pilot, "v2 has been champion since this check", 2)
        assert "retraining recommended" not in visible_text(app)
