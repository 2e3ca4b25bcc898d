"""The TUI's training feed: the jobs panel counts trials that ran out of those that will,
takes its ETA from the training (bounded by the budget), and shows a family skipped for
time as a row."""

from __future__ import annotations

from mlcycle.app.jobs import Job
from mlcycle.app.screens.train import TrialFeed
from mlcycle.models import events


def _trial(index: int, eta: float, tally: events.Tally) -> events.TrialFinished:
    return events.TrialFinished(index, tally.planned, "logistic", f"run{index}", 0.8, "roc_auc",
                                1000, 0, None, 0.1, eta, tally)


def test_skipped_trials_shrink_the_total_and_the_eta_is_the_trainings() -> None:
    job = Job(1, "train: p")
    feed = TrialFeed(job, "roc_auc", greater_is_better=True)
    feed(events.TrainStarted(81, "g", "d", 0, 50.0, 5, ()))
    feed(_trial(1, 40.0, events.Tally(81, 1)))
    feed(_trial(2, 30.0, events.Tally(81, 2)))
    assert (job.done, job.total) == (2, 81)
    assert 29.0 < job.eta <= 30.0  # the training's own estimate, counting down
    feed(events.FamilySkipped("random_forest", "its first trial does not fit"))
    feed(events.TrialsSkipped("random_forest", 79, events.Tally(81, 2, 0, 79)))
    # The budget ended: what will not run leaves the total, it is not counted as done.
    assert (job.done, job.total) == (2, 2)
    assert job.message == "2 of 81 trials run, 79 skipped for time"
    assert job.rows[-1] == ("–", "random_forest", "skipped for time",
                            "its first trial does not fit")
