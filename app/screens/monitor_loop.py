"""The monitoring view's loop: where it stands (``mlcycle status``), the decisions, the policy.

The status line is ``mlcycle.monitor.status.status``: the champion and its age, the policy's
version and mode, open alerts, pending decisions, every watcher of the project — one this
app runs or a ``mlcycle watch`` in another process, alive by its heartbeat or stale — and
the files set aside as malformed. The decisions table lists the pending ones first, then
the latest. The policy opens in the editor (``P``), checked by the parser ``mlcycle policy
set`` uses before it is stored as a new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text

from mlcycle.app.words import plural

if TYPE_CHECKING:
    from mlcycle.app.screens.monitor import MonitorScreen
    from mlcycle.store.workspace import Workspace

RECENT = 8  # decisions listed
EDITOR_HINT = "ctrl+s checks this policy and stores it as a new version; escape leaves it."


@dataclass
class Loop:
    status: dict[str, Any]
    decisions: list[dict[str, Any]]  # pending first, then the newest


def fetch(ws: Workspace, project: str) -> Loop:
    """Read off the UI thread: the project's status and its decisions."""
    from mlcycle.monitor import decisions
    from mlcycle.monitor.status import status

    found = decisions.list_decisions(ws, project)
    ordered = ([d for d in found if d["status"] == "pending"]
               + [d for d in found if d["status"] != "pending"])
    return Loop(status(ws, project), ordered[:RECENT])


def _watcher(w: dict[str, Any]) -> Text:
    alive = w["state"] == "alive"
    return Text.assemble(
        ("watcher: ", "bold"), (w["state"], "bold green" if alive else "bold red"),
        f" (pid {w['pid']}/{w['host']}, last heartbeat {w['seconds_since_heartbeat']:.0f} s ago)"
        f" {w['folder']}" + _trouble(w["state"]))


def _trouble(state: str) -> str:
    if state == "stalled":
        return " — it runs but its loop is stuck; stop it (Ctrl-C) and start it again"
    return "" if state == "alive" else " — it is not running; w starts one here"


def status_text(found: dict[str, Any]) -> Text:
    """The status as lines of the view."""
    text = Text()
    champion = found["champion"]
    if champion:
        text.append(f"champion v{champion['version']} ({champion['model']}), "
                    f"{champion['age_days']:.1f} days old", style="bold")
    else:
        text.append("no champion yet", style="bold yellow")
    policy = found["policy"]
    which = "the defaults" if policy["default"] else f"v{policy['version']}"
    text.append(f" · policy {which}, mode {policy['mode']} (P edits it)")
    for w in found["watchers"]:
        text.append("\n")
        text.append_text(_watcher(w))
    if not found["watchers"]:
        text.append("\nwatcher: none running (w watches a folder)", style="dim")
    alerts, pending = found["open_alerts"], found["pending_decisions"]
    text.append("\n")
    text.append(f"open alerts: {len(alerts)}", style="bold red" if alerts else "green")
    text.append(" · ")
    text.append(f"pending decisions: {len(pending)}" + (" (D answers)" if pending else ""),
                style="bold yellow" if pending else "green")
    quarantined = found["quarantined"]
    if quarantined:
        first = quarantined[0]
        text.append(f" · quarantined: {plural(len(quarantined), 'file')}, newest "
                    f"{first['path'].rsplit('/', 1)[-1]}: {first['error']}", style="yellow")
    return text


def decision_rows(decisions: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The decisions table's rows: id, trigger, status, created, outcome."""
    from mlcycle.app.commands.decisions import summary

    style = {"pending": "bold yellow", "rejected": "red", "done": "green", "superseded": "dim"}
    return [(d["id"], d["trigger"], Text(d["status"], style=style.get(d["status"], "")),
             d["created"][5:16].replace("T", " "), Text(summary(d)))
            for d in decisions]


def edit_policy(screen: MonitorScreen, project: str) -> None:
    """Open the project's policy, every key shown, in the editor; store a checked edit."""
    from mlcycle.app.screens.text_editor import TextEditorScreen
    from mlcycle.monitor import policy as policies

    ws = screen.app.workspace
    current = policies.current(ws, project)

    def save(edited: str) -> str:
        parsed = policies.parse(edited, "policy")  # raises a one-line error: nothing stored
        stored, created = policies.store(ws, project, parsed, source="edited in mlcycle")
        return (f"stored policy v{stored.version} of {project} (mode {stored.mode})"
                if created else f"policy unchanged: still v{stored.version}")

    which = f"v{current.version}" if current.version else "the defaults"
    screen.app.push_screen(
        TextEditorScreen(f"monitoring policy of {project} ({which}, mode {current.mode})",
                         policies.render(current, project, hint=EDITOR_HINT), save),
        screen.edited)
