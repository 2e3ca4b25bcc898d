"""Checking a batch the one way every face does it: check, record, then act as the policy says.

``mlcycle monitor``, the TUI's check, the watcher and ``mlcycle.monitor.check`` all come
through here, so under the same policy the same batch ends in the same decision state
whichever way it came in: under mode ``auto`` the decision the check raised is approved and
carried out at once; under ``prompt`` it waits for a person; a repeat acts on nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlcycle.monitor import decisions, monitoring
from mlcycle.monitor.batch_file import Batch
from mlcycle.store.errors import WorkspaceError, error_line
from mlcycle.store.workspace import Workspace


def check_batch(ws: Workspace, project: str, data: str | Path | Batch, *,
                labels: str | Path | None = None, act: bool = True,
                say: Callable[[str], None] | None = None, progress: Any = None,
                **options: Any) -> dict[str, Any]:
    """Check the batch ``data``, a file (with its ``labels``) or a :class:`Batch` read
    already (``monitoring.check``; ``options`` are its own) and, with ``act``, carry out
    the decision it raised as the project's policy says (:func:`act_on`). ``say`` hears
    why a decision could not be carried out yet; the result's ``decision`` is the decision
    as it ends up, as ``decisions.get`` has it, with ``new``: whether this check raised it
    (else it joined one already pending)."""
    result = monitoring.check(ws, project, data, labels=labels, **options)
    raised = result.get("decision")
    if raised and not result.get("repeat_of"):
        if act:
            raised = act_on(ws, project, raised, say=say, progress=progress)
        # Whole, as every face shows it (the check stored only its id, status and mode), and
        # whether this check raised it or joined one already pending.
        result["decision"] = {**decisions.get(ws, project, raised["id"]),  # type: ignore[index]
                              "new": bool(result["decision"]["created"])}
    return result


def act_on(ws: Workspace, project: str, raised: dict[str, Any] | None,
           say: Callable[[str], None] | None = None, progress: Any = None
           ) -> dict[str, Any] | None:
    """The decision a check raised, carried out when its mode is ``auto``: as it ends up,
    or as raised when there is nothing to do. One that cannot be carried out yet (nothing
    labelled to retrain on, say) stays pending and ``say`` is told why in one line; the
    check it came from stands either way."""
    try:
        return decisions.carry_out_auto(ws, project, raised, progress) or raised
    except WorkspaceError:
        raise  # the workspace, not the decision, is at fault
    except Exception as exc:  # a retraining's own failure must not undo the check
        if say is not None:
            say(f"decision {raised['id']} not carried out: "  # type: ignore[index]
                f"{error_line(exc)}; it stays pending")
        return raised
