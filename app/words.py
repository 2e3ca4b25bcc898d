"""Counts, plurals and changes as people read them: "1 run", "2 runs", "2,400", "+10,150".

The one place the TUI and the CLI turn numbers into words, so that "1 expectations" or
"2400 holdout rows" cannot come back in one view while the others read right.
"""

from __future__ import annotations

from typing import Any

# Words whose plural is not the word and an "s".
_IRREGULAR = {"batch": "batches", "query": "queries", "family": "families", "copy": "copies"}


def count(n: int | float) -> str:
    """A whole number with thousands separators: ``2,400``."""
    return f"{int(n):,}"


def plural(n: int | float, word: str, many: str | None = None) -> str:
    """``n`` and the word that goes with it: ``1 run``, ``2 runs``, ``2,400 holdout rows``.

    ``many`` names the plural when it is not the word and an "s" (nor a known irregular)."""
    if n == 1:
        return f"1 {word}"
    last = word.rsplit(" ", 1)
    head = f"{last[0]} " if len(last) == 2 else ""
    plural_word = many or head + _IRREGULAR.get(last[-1], last[-1] + "s")
    return f"{count(n)} {plural_word}"


def signed(n: int | float) -> str:
    """A change in a count, always with its sign: ``+10,150``, ``-3``, ``±0``."""
    if n == 0:
        return "±0"
    return f"{'+' if n > 0 else '-'}{count(abs(n))}"


def removal_summary(removal: Any) -> str:
    """What deleting a project removes (a :class:`mlcycle.projects.removal.Removal`)."""
    said = ", ".join(["its card", *(plural(n, word) for n, word in [
        (len(removal.dataset_versions), "dataset version"), (removal.runs, "run"),
        (removal.model_versions, "model version"), (len(removal.files), "file")] if n)])
    shared = len(removal.shared_versions)
    if shared:
        said += (f"; {plural(shared, 'dataset version')} another project also holds "
                 f"{'stays' if shared == 1 else 'stay'}")
    return said
