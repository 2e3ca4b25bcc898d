"""What every command shares: the workspace it works on, JSON output and one-line errors."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import click

from mlcycle.store.workspace import Workspace


@dataclass
class Context:
    """Carried from the root group to each command."""

    workspace_path: str | None = None

    def workspace(self, create: bool = False) -> Workspace:
        """Open the workspace; write commands create it and say so on stderr."""
        from mlcycle.store.workspace import open_workspace

        ws, created = open_workspace(self.workspace_path, create=create)
        if created:
            click.echo(f"created workspace at {ws.root}", err=True)
        return ws


def read_user_file(path: str, what: str) -> str:
    """The text of a file the user named (a recipe, a feature set), or a one-line error;
    only a regular file is read (a FIFO would wait for ever)."""
    from mlcycle.store import files
    from mlcycle.store.errors import InvalidInput, NotFound

    try:
        with files.open_regular(path) as fh:
            return fh.read().decode("utf-8")
    except FileNotFoundError:
        raise NotFound(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read the {what} ({exc})") from None


def emit_json(obj: Any) -> None:
    """Write one JSON document to stdout; times in ISO-8601 with their UTC offset."""
    click.echo(json.dumps(obj, indent=2, default=json_default, ensure_ascii=False))


def json_default(value: Any) -> str:
    """How JSON output spells what json cannot: a time as ISO-8601 with its offset."""
    from datetime import datetime

    from mlcycle.store.schema import iso

    # str() of a datetime has a space and no zone: every time mlcycle emits reads one way.
    return iso(value) if isinstance(value, datetime) else str(value)


def error(message: str) -> None:
    """One line on stderr, masked like every error line (click's messages quote values)."""
    from mlcycle.store.errors import one_line

    click.echo(f"error: {one_line(message) or 'failed'}", err=True)


def note(message: str) -> None:
    click.echo(message, err=True)


def console():  # -> rich.console.Console
    from rich.console import Console

    # Piped output is read by people with wide terminals and by grep: don't squeeze to 80.
    width = None if sys.stdout.isatty() else 160
    return Console(soft_wrap=False, highlight=False, width=width)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def inputs_summary(inputs: dict[str, Any], names: int = 5) -> str:
    """A check's inputs as the engine counted them, in words every face uses alike: how many
    of those tested drifted and which, then those broken by their source."""
    drifted, broken = inputs["drifted"], inputs["broken"]

    def listed(found: list[str]) -> str:
        more = f", and {len(found) - names} more" if len(found) > names else ""
        return f" ({', '.join(found[:names])}{more})" if found else ""

    text = f"{len(drifted)} of {inputs['tested']} inputs drifted{listed(drifted)}"
    if broken:
        text += f"; {len(broken)} broken by their source, a system issue{listed(broken)}"
    for group in inputs.get("left_out", []):  # absent from checks made before it was kept
        text += f"; {len(group['columns'])} left out{listed(group['columns'])}: {group['reason']}"
    return text
