"""Counts, plurals and changes as people read them: "1 run", "2 runs", "2,400", "+10,150".

The one place the TUI and the CLI turn numbers into words, so that "1 expectations" or
"2400 holdout rows" cannot come back in one view while the others read right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcycle.projects.removal import Removal

# Words whose plural is not the word and an "s".
_IRREGULAR = {"batch": "batches", "query": "queries", "family": "families", "copy": "copies"}


def count(n: int | float) -> str:
    """A whole number with thousands separators: ``2,400``."""
    return f"{int(n):,}"


def plural(n: int | float, word: str, many: str | None = None, *, sign: bool = False) -> str:
    """``n`` and the word that goes with it: ``1 run``, ``2 runs``, ``2,400 holdout rows``;
    with ``sign``, a change: ``+10,150 labelled rows``.

    ``many`` names the plural when it is not the word and an "s" (nor a known irregular)."""
    number = signed(n) if sign else count(n)
    if abs(n) == 1:
        return f"{number} {word}"
    last = word.rsplit(" ", 1)
    head = f"{last[0]} " if len(last) == 2 else ""
    plural_word = many or head + _IRREGULAR.get(last[-1], last[-1] + "s")
    return f"{number} {plural_word}"


def signed(n: int | float) -> str:
    """A change in a count, always with its sign: ``+10,150``, ``-3``, ``±0``."""
    if n == 0:
        return "±0"
    return f"{'+' if n > 0 else '-'}{count(abs(n))}"


def removal_summary(removal: Removal) -> str:
    """What deleting a project removes, in words."""
    said = ", ".join(["its card", *(plural(n, word) for n, word in [
        (len(removal.dataset_versions), "dataset version"), (removal.runs, "run"),
        (removal.model_versions, "model version"), (len(removal.files), "file")] if n)])
    shared = len(removal.shared_versions)
    if shared:
        said += (f"; {plural(shared, 'dataset version')} another project also holds "
                 f"{'stays' if shared == 1 else 'stay'}")
    return said


def tally(failed: int, total: int, word: str, failed_says: str, passed_says: str) -> str:
    """How many of some checks failed, or that all passed: ``1 of 3 expectations failed``,
    ``all 3 expectations met``, ``1 expectation met``."""
    if failed:
        return f"{count(failed)} of {plural(total, word)} {failed_says}"
    return f"{'all ' if total > 1 else ''}{plural(total, word)} {passed_says}"


def value_counts(found: list[dict[str, Any]]) -> str:
    """Values with their row counts, as read: ``'crypto wallet' (147 rows), 'x' (1 row)``."""
    return ", ".join(f"{v['value']!r} ({plural(v['count'], 'row')})" if isinstance(v, dict)
                     else repr(v) for v in found)


def shape(rows: int, columns: int) -> str:
    """A table's size: ``12,000 rows × 14 columns``."""
    return f"{plural(rows, 'row')} × {plural(columns, 'column')}"
