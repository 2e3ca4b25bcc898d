"""The monitoring view's actions: check a batch, watch a folder, retrain.

They mirror ``mlcycle.app.commands.monitor`` and ``retrain``: a check is
``monitoring.check`` (a job, cancellable), a watch is ``watch.Watcher.run`` in a thread the
app owns (it stops with the UI), retraining is ``retraining.retrain`` (a job).
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.app.background import LOG_LINES, Service
from mlcycle.app.jobs import Job, Lead
from mlcycle.app.screens import monitor_forms
from mlcycle.app.words import plural
from mlcycle.store.errors import MlcycleError

if TYPE_CHECKING:
    from mlcycle.app.screens.monitor import MonitorScreen


def watch_key(project: str) -> str:
    return f"watch: {project}"


def check_summary(result: dict[str, Any]) -> str:
    """A check's outcome in one line: rows, drift, alerts."""
    name = Path(result["source"]).name
    if result.get("repeat_of"):
        return (f"{name} was checked by v{result['version']} before (check "
                f"{result['repeat_of']}); not checked again (tick 'check again' for a new one)")
    data, scores = result["data_drift"], result["prediction_drift"]
    drift = (f"{data['share_drifted']:.0%} of inputs drifted, scores "
             f"{'drifted' if scores['drift_detected'] else 'steady'}")
    alerts = "; ".join(f"ALERT {a}" for a in result["alerts"]) or "no alerts"
    raised = result.get("decision")
    acted = (f"; decision {raised['id']} carried out: {raised['status']}"
             if raised and raised["status"] != "pending" else "")
    return f"{plural(result['rows'], 'row')} by v{result['version']}: {drift}; {alerts}{acted}"


def check(screen: MonitorScreen, project: str) -> None:
    ws = screen.app.workspace

    def submitted(values: dict[str, Any] | None) -> None:
        if values is None:
            return

        def work(job: Job) -> dict[str, Any]:
            from mlcycle.monitor.batch import check_batch

            job.say(f"reading {Path(values['file']).name}")
            return check_batch(ws, project, values["file"], labels=values["labels"],
                               ref=values["ref"], note=job.say, again=values["again"],
                               cancel=job.cancel, say=job.say, progress=job.say)

        def done(job: Job) -> str:
            screen.reload()
            return check_summary(job.result)

        screen.start_job(f"check: {project} {Path(values['file']).name}", work, done=done,
                         lead=Lead("monitor", project))

    screen.app.push_screen(monitor_forms.check_form(project), submitted)


def watch_or_stop(screen: MonitorScreen, project: str) -> None:
    """Stop this project's watcher if it runs; else ask for the folder and start one."""
    background = screen.app.background
    key = watch_key(project)
    # the check in progress finishes or is dropped whole
    if screen.stop_service(key, f"the watcher of {project}"):
        return

    def submitted(values: dict[str, Any] | None) -> None:
        if values is None:
            return
        from mlcycle.app.watch_lines import outcome_line
        from mlcycle.monitor.watch import Watcher

        log: deque[str] = deque(maxlen=LOG_LINES)
        try:
            watcher = Watcher(screen.app.workspace, project, values["folder"],
                              labels=values["labels"], again=values["again"],
                              report=lambda outcome: log.append(outcome_line(outcome)[0]))
        except MlcycleError as exc:
            screen.app.show_error(exc)
            return
        stop = threading.Event()
        service = Service(key, f"watching {watcher.folder} for {watcher.project}", stop.set,
                          log=log)
        background.start(service, lambda: watcher.run(stop))
        screen.show_services()

    screen.app.push_screen(monitor_forms.watch_form(project), submitted)


def retrain(screen: MonitorScreen, project: str, batch: str, labels: str) -> None:
    ws = screen.app.workspace

    def submitted(values: dict[str, Any] | None) -> None:
        if values is None:
            return
        batches = monitor_forms.split_paths(values["batches"])
        label_files = monitor_forms.split_paths(values["labels"])
        pairs = [(Path(b), Path(label_files[i]) if label_files else None)
                 for i, b in enumerate(batches)]

        def work(job: Job) -> dict[str, Any]:
            from mlcycle.monitor import retraining

            return retraining.retrain(ws, project, pairs, trials=values["trials"],
                                      promote=values["promote"], progress=job.say,
                                      cancel=job.cancel)

        def done(job: Job) -> str:
            screen.reload()
            return retrain_summary(job.result)

        screen.start_job(f"retrain: {project}", work, done=done, lead=Lead("models", project))

    screen.app.push_screen(monitor_forms.retrain_form(project, batch, labels), submitted)


def retrain_summary(result: dict[str, Any]) -> str:
    """The outcome of a retraining: why, and which alias moved."""
    version = result["candidate"]["version"]
    moved = {"champion": f"v{version} is now the champion",
             "challenger": f"v{version} is now the challenger (it shadows the champion)"
             }.get(result["alias"], f"v{version} is registered but not better; no alias moved")
    return f"{moved}: {result['reason']}"
