"""What became of one file the watcher met: an :class:`Outcome`, reported as it happens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Outcome:
    """What became of one file (or, for ``folder``, of the watched folder)."""

    path: Path
    # "checked", "rejected", "seen" (checked before: ``check`` is that check), "gone"
    # (vanished before its verdict was stored), "ignored" (not a data file, or in a
    # subfolder), "error" (could not be read or checked for a reason outside the file),
    # "folder" (the folder went or came) or "decision" (under mode auto, the decision its
    # check raised, carried out)
    status: str
    check: dict[str, Any] | None = None
    error: str | None = None
    moved_to: Path | None = None
    decision: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "status": self.status, "check": self.check,
                "error": self.error, "moved_to": str(self.moved_to) if self.moved_to else None,
                "decision": self.decision}
