"""The deployment view's actions: each asks its form and runs the engine's call as a job.

They mirror ``mlcycle.app.commands.deploy`` (the same core calls, the same checks): export
is ``deploy.export``, verify ``deploy.verify``, scoring ``scoring.predict_file``, comparing
``comparison.compare``, serving ``serve.Serving`` (the core of ``mlcycle serve``), the A/B test
``abtest.report``. The strategy's own actions are in ``deploy_strategy``.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.app.background import LOG_LINES, Service
from mlcycle.app.jobs import Job, Lead
from mlcycle.app.screens import deploy_forms
from mlcycle.app.words import plural
from mlcycle.store.errors import MlcycleError

if TYPE_CHECKING:
    from mlcycle.app.screens.deploy import DeployScreen
    from mlcycle.deploy.results import ABLook, BundleCheck, Comparison, ExportResult, Scoring

HOST = "127.0.0.1"  # the TUI serves on loopback only; 'mlcycle serve --host' for more


def serve_key(project: str) -> str:
    return f"serve: {project}"


def _version(screen: DeployScreen, project: str, ref: str) -> int | None:
    """The version a reference names now (a quick read), or None after saying why not."""
    from mlcycle.models import registry

    try:
        return registry.get(screen.app.workspace, project, ref).version
    except MlcycleError as exc:
        screen.app.show_error(exc)
        return None


# -- export --------------------------------------------------------------------------------


def export(screen: DeployScreen, project: str) -> None:
    ws = screen.app.workspace

    def submitted(values: dict[str, Any] | None) -> None:
        if values is None:
            return
        version = _version(screen, project, values["ref"])
        if version is None:
            return

        def work(job: Job) -> ExportResult:
            from mlcycle import deploy
            from mlcycle.models import parity

            result = deploy.export(ws, project, str(version), values["out"],
                                   force=values["force"], note=job.say, cancel=job.cancel)
            for name, value in parity.figure_rows(result.parity):
                job.add_row(name, value)
            return result

        def done(job: Job) -> str:
            result: ExportResult = job.result
            screen.bundle_written(result.out)
            screen.reload()
            verdict = "passed" if result.parity_passed else "FAILED"
            return (f"bundle at {result.out} ({result.size_bytes / 1024:.1f} KiB ONNX); "
                    f"parity {verdict} on {plural(result.parity_rows, 'holdout row')}")

        screen.start_job(f"export: {project} v{version}", work, done=done,
                         lead=Lead("deploy", project, f"v{version}"),
                         columns=("parity", "figure"))

    screen.app.push_screen(deploy_forms.export_form(project, ws.root), submitted)


# -- verify --------------------------------------------------------------------------------


def verify(screen: DeployScreen, default: str) -> None:
    def submitted(values: dict[str, Any] | None) -> None:
        if values is None:
            return
        folder, server = values["folder"], values["server"]

        def work(job: Job) -> BundleCheck:
            from mlcycle import deploy

            job.say("checking hashes, then scoring the smoke rows in a fresh process")
            return deploy.verify(folder, server=server, note=job.say)

        def done(job: Job) -> str:
            result: BundleCheck = job.result
            extra = (f"; files outside the bundle: {', '.join(result.extra_files)}"
                     if result.extra_files else "")
            server = ", server.py agrees" if result.server else ""
            return (f"ok: {result.project} v{result.version}, hashes ok, smoke test ok "
                    f"on {plural(result.smoke_test.rows, 'row')}{server}{extra}")

        screen.start_job(f"verify: {Path(folder).name}", work, done=done)

    screen.app.push_screen(deploy_forms.verify_form(default), submitted)


# -- scoring a file ------------------------------------------------------------------------


def score(screen: DeployScreen, project: str) -> None:
    ws = screen.app.workspace

    def submitted(values: dict[str, Any] | None) -> None:
        if values is None:
            return

        def work(job: Job) -> Scoring:
            from mlcycle.deploy import scoring

            def progress(rows: int, total: int) -> None:
                job.progress(rows, total, f"{rows:,} of {plural(total, 'row')} scored")

            job.say(f"reading {Path(values['file']).name}")
            return scoring.predict_file(ws, project, values["file"], values["ref"],
                                        values["out"], shadow=values["shadow"],
                                        note=job.say, progress=progress, cancel=job.cancel)

        def done(job: Job) -> str:
            result: Scoring = job.result
            screen.reload()
            shadow = (f", challenger v{result.shadow_version} in shadow"
                      if result.shadow_version else "")
            return (f"scored {plural(result.rows, 'row')} with v{result.version}{shadow} in "
                    f"{result.seconds:.2f}s; wrote {result.out}")

        screen.start_job(f"score: {project} {Path(values['file']).name}", work, done=done,
                         lead=Lead("deploy", project))

    screen.app.push_screen(deploy_forms.score_form(project, ws.root), submitted)


# -- serving -------------------------------------------------------------------------------


def serve_or_stop(screen: DeployScreen, project: str) -> None:
    """Stop this project's server if it runs; else ask how to serve, and start it."""
    background = screen.app.background
    key = serve_key(project)
    if screen.stop_service(key, f"the server of {project}"):  # after flushing its scores
        return

    def submitted(values: dict[str, Any] | None) -> None:
        if values is None:
            return

        def work(job: Job) -> tuple[Any, deque[str]]:
            from mlcycle.deploy import serve

            job.say(f"loading {values['ref']} (converted to ONNX if needed)")
            log: deque[str] = deque(maxlen=LOG_LINES)  # what the server says, for its view
            return serve.Serving(screen.app.workspace, project, values["ref"], HOST,
                                 values["port"], shadow=values["shadow"],
                                 say=log.append), log

        def done(job: Job) -> str:
            serving, log = job.result
            if background.running(key):  # started twice: the first one serves
                serving.server.server_close()
                return f"{project} is already served; this one was not started"
            background.start(Service(key, serving.describe(endpoints=False), serving.stop,
                                     log=log),
                             serving.serve)
            screen.show_server()
            return f"listening on {serving.url}"

        screen.start_job(f"serve: {project}", work, done=done, lead=Lead("deploy", project))

    screen.app.push_screen(deploy_forms.serve_form(project), submitted)


# -- champion against challenger -----------------------------------------------------------


def compare(screen: DeployScreen, project: str) -> None:
    from mlcycle.app.screens.confirm import ConfirmScreen

    def run(labels: str, promote: bool, reason: str | None) -> None:
        def work(job: Job) -> Comparison:
            from mlcycle.deploy import comparison

            job.say("scoring the labelled rows both models scored")
            return comparison.compare(screen.app.workspace, project, labels, promote, reason)

        def done(job: Job) -> str:
            result: Comparison = job.result
            screen.reload()
            promoted = (f"; v{result.challenger.version} promoted to champion"
                        if result.promoted else "")
            return f"{result.verdict}{promoted}"

        screen.start_job(f"compare: {project}", work, done=done, lead=Lead("deploy", project))

    def submitted(values: dict[str, Any] | None) -> None:
        if values is None:
            return
        if not values["promote"]:
            run(values["labels"], False, None)
            return
        screen.app.push_screen(
            ConfirmScreen(f"Promote {project}'s challenger to champion if it wins?",
                          "shadow comparison"),
            lambda reason: reason is not None and run(values["labels"], True, reason))

    screen.app.push_screen(deploy_forms.compare_form(project), submitted)


# -- the A/B test of the canary (its step and the switch: deploy_strategy.py) ---------


def abtest(screen: DeployScreen, project: str) -> None:
    def submitted(values: dict[str, Any] | None) -> None:
        if values is None:
            return

        def work(job: Job) -> ABLook:
            from mlcycle.deploy import abtest as tests

            job.say("joining the labels to the rows each arm answered")
            return tests.report(screen.app.workspace, project, values["labels"],
                                values["mde"])

        def done(job: Job) -> str:
            screen.reload()
            look: ABLook = job.result
            return f"{look.verdict}: {look.recommendation}"

        screen.start_job(f"A/B test: {project}", work, done=done, lead=Lead("deploy", project))

    screen.app.push_screen(deploy_forms.abtest_form(project), submitted)
