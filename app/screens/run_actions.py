"""What the experiments view does with one run: reproduce it, register it.

They mirror ``mlcycle run reproduce`` and ``mlcycle model register``: the same core calls,
the same refusals (a run not made by training has nothing to reproduce; a run without a
model file, or already registered, cannot be registered).
"""

from __future__ import annotations

from typing import Any

from mlcycle.app.jobs import Job, Lead
from mlcycle.app.screens import quick
from mlcycle.app.screens.confirm import ConfirmScreen
from mlcycle.models.tracking import RunRecord

REPRODUCE_COLUMNS = ("metric", "original", "reproduced", "same")


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.6g}"


def reproduce(view: Any, project: str, run: RunRecord) -> Job:
    """A job that trains the run's configuration again and compares every metric."""
    from mlcycle.models import training

    def work(job: Job) -> dict[str, Any]:
        job.say(f"training run {run.id}'s configuration again")
        result = training.reproduce(view.app.workspace, run.id)
        for row in result["metrics"]:
            job.add_row(row["metric"], _cell(row["original"]), _cell(row["reproduced"]),
                        "yes" if row["same"] else "NO")
        return result

    def done(job: Job) -> str:
        rows = job.result["metrics"]
        if job.result["identical"]:
            return f"run {run.id} reproduced exactly: all {len(rows)} metrics match"
        differ = [r["metric"] for r in rows if not r["same"]]
        return f"run {run.id}: {len(differ)} of {len(rows)} metrics differ ({', '.join(differ)})"

    return view.start_job(f"reproduce: {project} run {run.id}", work, done=done,
                          lead=Lead("experiments", project, "open the Experiments view"),
                          columns=REPRODUCE_COLUMNS)


def register(view: Any, project: str, run: RunRecord) -> None:
    """Ask why, then register the run's model as the project's next version."""

    def registered(reason: str | None) -> None:
        if not reason:
            return
        from mlcycle.models import registry

        quick.change(
            view, lambda: registry.register(view.app.workspace, project, run.id, reason),
            lambda version: f"registered run {run.id} as version {version.version} of "
            f"{project} (Models view: 4)",
        )

    view.app.push_screen(
        ConfirmScreen(f"Register run {run.id} ({run.name or run.kind}) as the next version "
                      f"of {project}?", "registered by hand"),
        registered,
    )
