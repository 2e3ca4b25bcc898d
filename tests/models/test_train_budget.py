"""A short budget on a moderately large table: every catalog family gets a trial, the
summary has a row for each, and the wall time keeps to the budget."""

from __future__ import annotations

import time
from pathlib import Path

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.models import catalog, events, judging, search, tracking, training
from mlcycle.store.workspace import Workspace
from tests.training_data import classification_frame, write

BUDGET = 10.0


def test_a_short_budget_tries_every_family_and_keeps_its_time(
        ws: Workspace, tmp_path: Path) -> None:
    projects.create(ws, "big", target="label", task="classification", metric="roc_auc")
    datasets.add(ws, "big", write(classification_frame(20_000), tmp_path, "big.csv"))
    # The process's start-up, which the budget does not cover: the libraries' imports.
    training.environment()
    judging.load_libraries()
    told: list[tuple[float, events.TrainEvent]] = []
    started = time.monotonic()
    result = training.train(ws, training.TrainConfig("big", time_budget=BUDGET),
                            progress=lambda e: told.append((time.monotonic() - started, e)))
    elapsed = time.monotonic() - started
    assert elapsed <= BUDGET * 1.05, elapsed
    families = catalog.names("classification")
    runs = tracking.runs(ws, "big", group=result.group)
    assert {r.name for r in runs} == {"baseline", *families}
    # Every family's best is a row of the summary, with its CV figure when it has one.
    cheapest_first = sorted(families, key=search.PRIOR_COST.__getitem__)
    assert [f.model for f in result.families] == ["baseline", *cheapest_first]
    for row in result.families:
        assert row.run is not None, row
        assert (row.cv is None) == (row.status == "no score"), row
        assert (row.holdout is not None) == (row.status == "judged"), row
    assert result.progress.settled == result.progress.planned
    for at, event in told:
        if isinstance(event, events.Eta):
            assert event.seconds <= BUDGET - at + 0.05
