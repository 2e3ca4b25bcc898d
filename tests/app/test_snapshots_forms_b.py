"""Pictures of the train form and of the jobs panel after a training, at the smallest and a
large terminal (update: pytest --snapshot-update)."""

from __future__ import annotations

from typing import Any

import pytest

from mlcycle.app.jobs import DONE
from mlcycle.app.ui import MlcycleApp
from mlcycle.models import events, training
from tests.app.test_snapshots import fixed_app  # noqa: F401 - the fixture
from tests.app.test_tui import settle

SIZES = [(80, 24), (160, 48)]


async def _open_form(pilot) -> None:
    await settle(pilot)
    await pilot.press("3")
    await settle(pilot)
    await pilot.press("t")
    await settle(pilot)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_train_form(snap_compare, fixed_app: MlcycleApp, size: tuple[int, int]) -> None:  # noqa: F811
    assert snap_compare(fixed_app, terminal_size=size, run_before=_open_form)


def _scripted_training(ws: Any, config: training.TrainConfig, progress=None, register=True,
                       cancel=None) -> training.TrainResult:
    """A training whose figures and run ids never change, told through the real events."""
    trials = [("baseline", 0.5), ("logistic", 0.8412), ("logistic", 0.8377),
              ("hist_gradient_boosting", 0.8655), ("hist_gradient_boosting", 0.8590)]
    progress(events.TrainStarted(len(trials), "g0", "d0", 0, None, 2, ()))
    for index, (model, value) in enumerate(trials, 1):
        progress(events.TrialFinished(index, len(trials), model, f"run{index:08d}", value,
                                      "roc_auc", 300, 0, None, 0.1, 0.0,
                                      events.Tally(len(trials), index)))
    progress(events.Evaluating("hist_gradient_boosting", "run00000004"))
    return training.TrainResult(
        "g0", "d0", "roc_auc", trials_finished=len(trials), best_run="run00000004",
        registered_version=2, models=[{"model": "hist_gradient_boosting", "run": "run00000004",
                                       "cv.roc_auc": 0.8655, "holdout.roc_auc": 0.8601}])


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_jobs_panel_after_a_training(snap_compare, fixed_app: MlcycleApp,  # noqa: F811
                                     size: tuple[int, int], monkeypatch) -> None:
    monkeypatch.setattr(training, "train", _scripted_training)

    async def train_and_wait(pilot) -> None:
        await _open_form(pilot)
        await pilot.press("ctrl+s")
        job = pilot.app.jobs.all[-1]
        for _ in range(200):
            if job.state == DONE:
                break
            await pilot.pause(0.05)
        assert job.state == DONE, job.outcome
        # A fixed elapsed time and no fading notice: the picture shows only the panel.
        job.started, job.ended = 1000.0, 1012.0
        pilot.app.clear_notifications()
        await pilot.pause(0.7)  # the panel redraws on its own

    assert snap_compare(fixed_app, terminal_size=size, run_before=train_and_wait)
