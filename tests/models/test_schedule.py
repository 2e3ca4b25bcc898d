"""The search's schedule on trials whose cost is known: progress only grows and adds up,
the ETA never promises more than the budget has left, every family is tried before any is
tried twice, and a family that cannot fit is announced and counted, not left out."""

from __future__ import annotations

import itertools
import json
import time

from mlcycle.models import events, schedule, search

# Seconds one fake trial takes per 1,000 rows: cheap to dear, as the catalog's order is.
COST = {"baseline": 0.003, "logistic": 0.005, "knn": 0.01, "random_forest": 0.02}


def _families() -> list[search.Family]:
    families = [search.Family("baseline", [search.Candidate("baseline", {})], [9000])]
    for name in ("logistic", "knn", "random_forest"):
        families.append(search.Family(
            name, [search.Candidate(name, {"i": i}) for i in range(10)],
            search.rung_rows(9000, 10)))
    return families


def _run_trial(family: search.Family, rung: int, cand: search.Candidate, rows: int,
               deadline: float | None) -> float:
    seconds = COST[family.name] * rows / 1000
    time.sleep(seconds)
    cand.run_id, cand.rung, cand.rows = f"{family.name}-{cand.params.get('i')}", rung, rows
    cand.score = 0.6 + 0.01 * cand.params.get("i", 0)
    return seconds


def _search(budget: float | None, costs: search.Costs | None = None,
            ) -> tuple[schedule.Schedule, schedule.Outcome, list[tuple[float, events.TrainEvent]]]:
    clock = schedule.Clock(time.monotonic(), budget)
    told: list[tuple[float, events.TrainEvent]] = []
    plan = schedule.Schedule(_families(), costs or search.Costs(), clock, 5, "roc_auc", 1,
                             lambda event: told.append((clock.elapsed(), event)))
    outcome = plan.search(_run_trial, lambda pruned: [setattr(c, "pruned", True)
                                                      for c in pruned])
    return plan, outcome, told


def test_progress_grows_adds_up_and_the_eta_keeps_within_the_budget() -> None:
    budget = 3.0
    plan, outcome, told = _search(budget)
    tallies = [e.progress for _, e in told if hasattr(e, "progress")]
    assert {t.planned for t in tallies} == {plan.planned}
    for before, after in itertools.pairwise(tallies):
        assert after.run >= before.run and after.pruned >= before.pruned
        assert after.skipped >= before.skipped and after.settled <= after.planned
    # When the search ends, every planned trial ran, was pruned or was skipped for time.
    assert tallies[-1].settled == plan.planned and tallies[-1].skipped > 0
    assert outcome.stopped == "time budget of 3s used"
    etas = [(at, e.eta if isinstance(e, events.TrialFinished) else e.seconds)
            for at, e in told if isinstance(e, (events.TrialFinished, events.Eta))]
    assert len(etas) > 5
    for at, eta in etas:
        assert 0 <= eta <= budget - at + 0.01, (at, eta)
    assert all(b <= a for (_, a), (_, b) in itertools.pairwise(etas)), etas


def test_every_family_is_tried_before_any_family_twice() -> None:
    _, _, told = _search(None)
    order = [e.model for _, e in told if isinstance(e, events.TrialFinished)]
    first_repeat = next(i for i, m in enumerate(order) if m in order[:i])
    assert set(order[:first_repeat]) == set(COST)
    assert len(order) == 1 + 3 * (10 + 4 + 2)  # no budget: the whole plan runs


def test_a_family_that_cannot_fit_is_announced_and_counted_as_skipped() -> None:
    costs = search.Costs()  # as measured earlier: one family far beyond the budget
    for name in ("logistic", "knn"):
        costs.record(name, 1000, COST[name])
    costs.record("random_forest", 1000, 500.0)
    plan, outcome, told = _search(3.0, costs)
    announced = [e for _, e in told if isinstance(e, events.FamilySkipped)]
    assert [e.model for e in announced] == ["random_forest"]
    assert "does not fit" in announced[0].reason
    assert outcome.untried == {"random_forest": announced[0].reason}
    # It is announced before any family's second trial, and every trial it had is counted.
    models = [e.model if isinstance(e, events.TrialFinished) else "announced"
              for _, e in told if isinstance(e, (events.TrialFinished, events.FamilySkipped))]
    assert models.index("announced") < 4
    skipped = sum(e.count for _, e in told
                  if isinstance(e, events.TrialsSkipped) and e.model == "random_forest")
    assert skipped == 10 + 4 + 2
    assert plan.tally().settled == plan.planned


def test_every_event_reads_as_json_with_its_name() -> None:
    _, _, told = _search(3.0)
    names = set()
    for _, event in told:
        shape = json.loads(json.dumps(event.to_dict()))
        assert shape["event"] == event.name
        names.add(event.name)
    assert {"trial", "eta", "skipped"} <= names
    columns = events.ModelColumns(("x", "d_year"), ("d_year",), "dates",
                                  (events.LeftOut("free text", ("note",)),))
    start = events.TrainStarted(81, "g", "d", 0, 50.0, 5,
                                (events.FamilyPlan("logistic", 10, (1778, 5334, 16000)),),
                                columns)
    assert start.to_dict() == {
        "event": "start", "total": 81, "group": "g", "dataset": "d",
        "dropped_target_rows": 0, "budget": 50.0, "folds": 5,
        "families": [{"model": "logistic", "trials": 10, "rows": [1778, 5334, 16000]}],
        "columns": {"inputs": ["x", "d_year"], "derived": ["d_year"], "feature_set": "dates",
                    "left_out": [{"reason": "free text", "columns": ["note"]}]}}
