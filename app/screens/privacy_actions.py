"""The data view's privacy actions: opt a column of personal data in as a feature, redact a
column into a new version, purge the versions past retention. Each mirrors its CLI command
(``data role --allow-sensitive --reason``, ``data redact``, ``data purge``): the same core
calls and checks, asked through a form or a confirmation; what fails is a one-line notice
(the view's worker hands it to the app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlcycle.app.jobs import Job, Lead
from mlcycle.app.screens.form import CHOICE, TEXT, Field, FormScreen, refusal
from mlcycle.app.words import plural
from mlcycle.store.errors import MlcycleError
from mlcycle.store.masking import LABELS

if TYPE_CHECKING:
    from mlcycle.app.screens.base import ViewScreen

# The roles an opted-in column may take: an ignored column needs no opt-in.
OPT_IN_ROLES = ("feature", "identifier")


def allow_sensitive(view: ViewScreen, project: str, entry: dict[str, Any]) -> None:
    """Let a column found to hold personal data be used (``data role --allow-sensitive``):
    a role and the reason, both recorded, asked in a form and saved in a worker."""
    from mlcycle.data import datasets

    name, kind = entry["name"], entry["sensitive"]
    if kind is None:
        view.notify(f"{name} was not found to hold personal data: set its role with c",
                    severity="warning", markup=False)
        return
    fields = [
        Field("role", "Role", CHOICE, required=True, choices=OPT_IN_ROLES, default="feature",
              help="setting the role again with c withdraws the opt-in"),
        Field("reason", "Reason", TEXT, required=True,
              help="why this personal data may be used; recorded with the role"),
    ]

    def save(values: dict[str, Any]) -> None:
        datasets.set_role(view.app.workspace, project, name, values["role"],
                          allow_sensitive=values["reason"])
        view.app.call_from_thread(view.notify, f"{name} is now {values['role']} (personal "
                                  "data, opted in)", markup=False)
        view.app.call_from_thread(view.reload)

    def submitted(values: dict[str, Any] | None) -> None:
        if values is not None:
            view.run_worker(lambda: save(values), thread=True, exit_on_error=False,
                            group="allow-sensitive")

    view.app.push_screen(FormScreen(f"Use {name} ({LABELS[kind]}) in {project}'s models",
                                    fields, submit="Opt in"), submitted)


def redact_column(view: ViewScreen, project: str, target: str, version_id: str,
                  dictionary: list[dict[str, Any]], entry: dict[str, Any],
                  opened: Callable[[str], None]) -> None:
    """Store a copy of the version with the column hashed, generalised or dropped (``data
    redact --hash/--generalise/--drop COLUMN``), as a job; the other columns found to hold
    personal data get their defaults, as the command gives them, and the form says which.
    ``opened(version_id)`` shows the redacted version."""
    from mlcycle.data import redact

    name, kind = entry["name"], entry["sensitive"]
    choose = {"hash": "hash_", "generalise": "generalise", "drop": "drop"}
    try:
        planned = redact.plan(dictionary, target, hash_=(name,))
    except MlcycleError:
        planned = {}  # the column cannot be redacted: the form's check says why
    also = ", ".join(f"{n} ({p['action']})" for n, p in planned.items() if n != name)
    fields = [
        Field("how", "Redaction", CHOICE, required=True, choices=redact.ACTIONS,
              default=redact.DEFAULTS[kind] if kind else "hash",
              help="hash: salted SHA-256, the key kept outside the workspace; generalise: "
                   "a birth date's year, an IP's network, an email's domain; drop: left out"
                   + (f"\nalso redacted, by default: {also}" if also else "")),
    ]
    title = (f"Redact {name} ({LABELS[kind]}) of version {version_id}" if kind
             else f"Redact {name} of version {version_id}")

    def options(values: dict[str, Any]) -> dict[str, tuple[str, ...]]:
        return {choose[values["how"]]: (name,)}

    def check(values: dict[str, Any]) -> str | None:
        # The command's own checks: the target, a kind with no generalisation.
        return refusal(lambda: redact.plan(dictionary, target, **options(values)))

    def start(values: dict[str, Any] | None) -> None:
        if values is None:
            return
        ws = view.app.workspace

        def work(job: Job) -> redact.RedactResult:
            return redact.redact(ws, project, version_id, progress=job.say, **options(values))

        def done(job: Job) -> str:
            result = job.result
            opened(result.version.id)
            what = "; ".join(f"{n}: {p['how']}" for n, p in result.columns.items())
            head = (f"stored version {result.version.id}" if result.stored
                    else f"already stored as version {result.version.id}")
            key = f"; hashing key {result.key_file}" if result.key_file else ""
            return f"{head} from {result.input_id}: {what}{key}"

        view.start_job(f"redact: {project} {name}", work, done=done,
                       lead=Lead("data", project, "open the redacted version"))

    view.app.push_screen(FormScreen(title, fields, submit="Redact", check=check), start)


def purge_question(plan: dict[str, Any]) -> str:
    """What a purge will delete, version by version, and what it keeps and why."""
    lines = [f"Purge {plan['project']}: the versions added more than "
             f"{plan['retention_days']} days ago go, with their rows:"]
    for e in plan["removed"]:
        head = f"  version {e['id']} (added {e['added_at'][:10]}, {plural(e['rows'], 'row')})"
        if e["still_in"]:
            lines.append(f"{head}: unlinked, its file kept for {', '.join(e['still_in'])}")
        else:
            lines.append(f"{head}: deletes {', '.join(e['files']) or 'no file'}")
    lines += [f"  kept: version {e['id']}, {e['reason']}" for e in plan["kept"]]
    lines.append("Only files the workspace made are deleted; source files stay.")
    return "\n".join(lines)


def purge_data(view: ViewScreen, project: str) -> None:
    """Remove the versions past the project's retention period (``data purge``), once a
    confirmation has named each one and each file; only those are removed, even if another
    came due meanwhile. Versions a registered model was trained on stay (the CLI's --force
    is not offered here)."""
    from mlcycle.app.screens.confirm import ConfirmScreen
    from mlcycle.data import retention

    ws = view.app.workspace

    def remove(ids: list[str]) -> None:
        done = retention.purge(ws, project, only=ids)
        gone = [e["id"] for e in done["removed"]]
        said = (f"removed {plural(len(gone), 'version')} of {project}: {', '.join(gone)}" if gone
                else f"nothing removed from {project}: the versions changed meanwhile")
        view.app.call_from_thread(view.notify, said, markup=False)
        view.app.call_from_thread(view.reload)

    def ask(plan: dict[str, Any]) -> None:
        if not plan["removed"]:
            kept = "".join(f"; kept {e['id']}: {e['reason']}" for e in plan["kept"])
            view.notify(f"no version of {project} to remove (retention "
                        f"{plan['retention_days']} days){kept}", markup=False)
            return
        ids = [e["id"] for e in plan["removed"]]

        def answered(reason: str | None) -> None:
            if reason is not None:
                view.run_worker(lambda: remove(ids), thread=True, exit_on_error=False,
                                group="purge")

        view.app.push_screen(ConfirmScreen(purge_question(plan), ask_reason=False), answered)

    def dry_run() -> None:
        plan = retention.purge(ws, project, dry_run=True)
        view.app.call_from_thread(ask, plan)

    view.run_worker(dry_run, thread=True, exit_on_error=False, group="purge")
