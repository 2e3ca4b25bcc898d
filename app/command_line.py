"""The ``:`` command line: the CLI's own grammar, run from the UI as a job.

A line is checked against the CLI's commands before it runs, then runs as ``mlcycle`` itself
in a child process on the app's workspace, so it accepts and refuses exactly what the shell
does. Its output becomes the job's live table; cancelling sends it Ctrl-C (training keeps
the trials that finished), then stops it if it does not end. History is kept outside the
workspace, in the user's state folder.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click

from mlcycle.app.cli import COMMANDS, cli
from mlcycle.app.jobs import Job
from mlcycle.store.cancel import Cancelled
from mlcycle.store.errors import InvalidInput, MlcycleError

HISTORY_SIZE = 500
# Commands that need the terminal the UI holds; the UI has a view or key for each.
NEEDS_TERMINAL = {
    ("ui",): "you are in the UI already",
    ("recipe", "edit"): "edit the recipe with r in the data view",
    ("featureset", "edit"): "edit the feature set with f in the data view",
}


def parse(line: str) -> list[str]:
    """The words of ``line`` if it names a command the UI can run; else InvalidInput."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise InvalidInput(f"cannot read the command: {exc}") from None
    if words and words[0] == "mlcycle":
        words = words[1:]
    if not words:
        raise InvalidInput("type a command, e.g. 'train churn --trials 5' (Tab completes)")
    if words[0] not in COMMANDS:
        raise InvalidInput(f"no command {words[0]!r}; commands: {', '.join(COMMANDS)}")
    for prefix, why in NEEDS_TERMINAL.items():
        if tuple(words[: len(prefix)]) == prefix:
            raise InvalidInput(f"'{' '.join(prefix)}' needs the terminal: {why}")
    if words[0] == "demo" and "--no-ui" not in words:
        words.append("--no-ui")  # the demo is built; the UI already shows it
    if any(w in ("-w", "--workspace") or w.startswith("--workspace=") for w in words):
        raise InvalidInput("the command line works on the UI's workspace; drop --workspace")
    return words


def title(words: list[str]) -> str:
    rest = " ".join(words[1:])
    return f"{words[0]}: {rest}" if rest else words[0]


def run(job: Job, words: list[str], workspace: Path) -> str:
    """Run ``mlcycle WORDS`` on ``workspace`` as ``job``; returns its last line of output."""
    env = {**os.environ, "MLCYCLE_WORKSPACE": str(workspace), "NO_COLOR": "1",
           "COLUMNS": "120", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlcycle", *words], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,  # Ctrl-C in the UI's terminal is not the child's
    )
    last = ""

    def interrupt() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            # A command that does not stop on Ctrl-C within 10 s is stopped for good.
            stopper = threading.Timer(10, lambda: proc.poll() is None and proc.kill())
            stopper.daemon = True
            stopper.start()

    with job.cancel.interrupting(interrupt):
        assert proc.stdout is not None
        for line in proc.stdout:  # text mode reads '\r' as a line end too: progress lines
            line = line.rstrip()
            if line:
                last = line
                job.add_row(line)
                job.say(line)
    code = proc.wait()
    if job.cancel.cancelled:
        raise Cancelled(f"cancelled (exit {code}); {last}" if last else "cancelled")
    if code != 0:
        raise MlcycleError(last or f"exited with code {code}")
    return last or "done"


def history_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "mlcycle" / "command_history"


def load_history() -> list[str]:
    try:
        return history_path().read_text(encoding="utf-8").splitlines()[-HISTORY_SIZE:]
    except OSError:
        return []


def save_history(lines: list[str]) -> None:
    from mlcycle.store import safety

    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        safety.write_text(path, "\n".join(lines[-HISTORY_SIZE:]) + "\n")
    except (OSError, MlcycleError):
        pass  # history is a convenience: a read-only home must not stop the command


def complete(value: str, projects: list[str]) -> str | None:
    """The line completed at its last word: a command, a subcommand, an option of the
    command, or a project name. None when nothing fits."""
    words = value.split(" ")
    head, word = words[:-1], words[-1]
    if not word:
        return None
    candidates = _candidates([w for w in head if w], word, projects)
    match = next((c for c in sorted(candidates) if c.startswith(word) and c != word), None)
    return None if match is None else " ".join([*head, match])


def _candidates(head: list[str], word: str, projects: list[str]) -> list[str]:
    if not head:
        return list(COMMANDS)
    command = _command(head)
    if command is None:
        return []
    if isinstance(command, click.Group):
        return list(command.list_commands(click.Context(command)))
    if word.startswith("-"):
        return [opt for p in command.params if isinstance(p, click.Option) for opt in p.opts]
    return projects


def _command(head: list[str]) -> click.Command | None:
    ctx = click.Context(cli)
    command: click.Command | None = cli
    for word in head:
        if not isinstance(command, click.Group):
            break
        command = command.get_command(ctx, word)
        if command is None:
            return None
    return command
