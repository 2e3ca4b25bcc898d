"""The whole lifecycle from an empty workspace, in the terminal UI, with keys and typed text
only: define a project, add data, prepare it, train, promote, export, verify, score a file,
check a drifted batch and retrain. No CLI process runs; core is read only to confirm what
the screen said."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlcycle.app.jobs import DONE, Job
from mlcycle.app.ui import MlcycleApp
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle, visible_text
from tests.tui_keys import fill_form

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def _threads() -> str:
    """Where every thread is: what a job still running after minutes waits on."""
    import sys
    import threading
    import traceback

    names = {t.ident: t.name for t in threading.enumerate()}
    return "\n".join(f"-- {names.get(ident, ident)}\n{''.join(traceback.format_stack(frame))}"
                     for ident, frame in sys._current_frames().items())


async def _finished(pilot, title: str, seconds: float = 240) -> Job:
    """The newest job, once it ended; it must have ended well."""
    app = pilot.app
    for _ in range(int(seconds / 0.1)):
        jobs = [j for j in app.jobs.all if j.title.startswith(title)]
        if jobs and jobs[-1].state != "running":
            break
        await pilot.pause(0.1)
    job = jobs[-1]
    assert job.state == DONE, (job.title, job.state, job.outcome, _threads())
    await settle(pilot)
    return job


async def _shows(pilot, *texts: str) -> str:
    """The screen's text, once it shows every one of ``texts`` (views reload on their own)."""
    for _ in range(100):
        text = visible_text(pilot.app)
        if all(t in text for t in texts):
            return text
        await pilot.pause(0.1)
    missing = [t for t in texts if t not in text]
    raise AssertionError(f"the screen does not show {missing}:\n{text}")


async def test_the_whole_lifecycle_with_keys_only(ws: Workspace, tmp_path: Path) -> None:
    batch = tmp_path / "2026-04.csv"
    labels = tmp_path / "labels-2026-04.csv"
    shutil.copy(SAMPLE / "batches" / "2026-04.csv", batch)
    shutil.copy(SAMPLE / "labels" / "2026-04.csv", labels)
    out = tmp_path / "out"
    out.mkdir()

    app = MlcycleApp(ws)
    async with app.run_test(size=(140, 44)) as pilot:
        await settle(pilot)
        await _shows(pilot, "Press n to create a project")

        # 1. The problem: a project from its data, the target picked from its columns.
        await pilot.press("n")
        await fill_form(pilot, {"name": "churn", "data": str(SAMPLE / "churn_reference.csv"),
                                "task": "classification"})
        await pilot.pause(0.5)
        await fill_form(pilot, {"target": "churned", "metric": "roc_auc", "goal": "0.8",
                                "description": "Who cancels next month"})
        await _finished(pilot, "create: churn")
        await _shows(pilot, "churn", "classification", "Who cancels next month")

        # 2. The data: its version is listed; preparation applies the sample recipe.
        await pilot.press("2")
        await _shows(pilot, "12,000")
        await pilot.press("p")
        await fill_form(pilot, {"recipe": str(SAMPLE / "recipe.toml")})
        job = await _finished(pilot, "apply recipe: churn")
        assert "expectations met" in job.outcome, job.outcome

        # 3. Training on a small budget, watched in the jobs panel.
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("t")
        await fill_form(pilot, {"models": "logistic", "trials": "1", "cv": "2"})
        await _shows(pilot, "train: churn")  # the jobs panel opened on it
        job = await _finished(pilot, "train: churn")
        assert "registered as version 1" in job.outcome, job.outcome
        await _shows(pilot, "logistic", "done")
        await pilot.press("escape")

        # 4. The registry: version 1 becomes champion, with a reason.
        await pilot.press("4")
        await _shows(pilot, "logistic")
        await pilot.press("p")
        await pilot.press(*"first model of the lifecycle", "enter")
        await _shows(pilot, "champion: version 1")

        # 5. Deployment: export with parity, verify the bundle, score a file.
        await pilot.press("5")
        await settle(pilot)
        bundle = out / "bundle"
        await pilot.press("x")
        await fill_form(pilot, {"out": str(bundle)})
        job = await _finished(pilot, "export: churn")
        assert str(bundle) in job.outcome, job.outcome
        await pilot.press("v")
        await fill_form(pilot, {"folder": str(bundle)})
        job = await _finished(pilot, "verify")
        assert job.outcome.startswith("ok"), job.outcome
        scored = out / "scored.csv"
        await pilot.press("p")
        await fill_form(pilot, {"file": str(batch), "out": str(scored)})
        await _finished(pilot, "score")
        assert scored.is_file()

        # 6. Monitoring: a batch from the month the prices rose is flagged, with why.
        await pilot.press("6")
        await settle(pilot)
        await pilot.press("c")
        await fill_form(pilot, {"file": str(batch), "labels": str(labels)})
        await _finished(pilot, "check: churn")
        # The price rise costs the champion nothing: the alert says so, no decision comes up.
        await _shows(pilot, "data drift", "monthly_charges", "no action needed")

        # 7. Retraining by hand on the flagged batch, offered with it.
        await pilot.press("R")
        await fill_form(pilot, {"trials": "1"})
        job = await _finished(pilot, "retrain: churn", seconds=300)
        assert "v2" in job.outcome, job.outcome
        await _shows(pilot, "v2")  # the retraining is listed in the monitoring view

    # What the screens said is what the workspace holds.
    from mlcycle import projects
    from mlcycle.models import registry

    assert projects.get(ws, "churn").target == "churned"
    versions = {v.version: v for v in registry.versions(ws, "churn")}
    assert sorted(versions) == [1, 2]
    assert "champion" in versions[1].aliases or "champion" in versions[2].aliases
