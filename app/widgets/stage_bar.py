"""The lifecycle stages of a project, reached ones lit."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static


def stages_text(stages: list[dict[str, Any]]) -> Text:
    text = Text()
    for i, stage in enumerate(stages):
        if i:
            text.append(" → ", style="dim")
        if stage["reached"]:
            text.append(f"✓ {stage['label']}", style="bold green")
        else:
            text.append(f"· {stage['label']}", style="dim")
    return text


class StageBar(Static):
    """A one-line (wrapping) picture of where a project is in the lifecycle."""

    def show_stages(self, stages: list[dict[str, Any]]) -> None:
        self.update(stages_text(stages))
