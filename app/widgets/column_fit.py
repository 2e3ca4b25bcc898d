"""Which of a table's columns show at a width, and how wide: at 80 columns the key columns
stay whole, a long text column is cut with an ellipsis, and low-value columns give way.

A table names its columns that may be cut (``shrink``: free text such as a reason or an
outcome, never a name that tells two rows apart) and those that may be hidden, the first
given up first (``drop``). The plan keeps every column it can: it cuts before it hides, and
hides only until the rest fits.
"""

from __future__ import annotations

from collections.abc import Sequence

FLOOR = 8  # a cut column keeps this many cells (or its label's width, if wider)

Plan = tuple[tuple[int, int | None], ...]  # (column index, cut width or None: whole)


def plan(needs: Sequence[int], labels: Sequence[str], room: int, *, pad: int,
         drop: Sequence[str] = (), shrink: Sequence[str] = ()) -> Plan:
    """The columns to show in ``room`` cells, given each column's widest cell (``needs``)
    and the padding each column adds (``pad``)."""
    given_up = [labels.index(name) for name in drop if name in labels]
    attempt: Plan = tuple((i, None) for i in range(len(needs)))
    for hidden in range(len(given_up) + 1):
        shown = [i for i in range(len(needs)) if i not in given_up[:hidden]]
        attempt = _cut(shown, needs, labels, room, pad, shrink)
        if _width(attempt, needs, pad) <= room:
            return attempt
    return attempt  # nothing fits: the table scrolls sideways


def _cut(shown: list[int], needs: Sequence[int], labels: Sequence[str], room: int, pad: int,
         shrink: Sequence[str]) -> Plan:
    """``shown`` whole if they fit, else with the cuttable ones cut (widest first) just as
    far as needed, never below their floor."""
    widths = {i: needs[i] for i in shown}
    floors = {i: max(FLOOR, len(labels[i])) for i in shown if labels[i] in shrink}
    excess = sum(widths.values()) + pad * len(shown) - room
    while excess > 0:
        cuttable = [i for i in floors if widths[i] > floors[i]]
        if not cuttable:
            break
        widest = max(cuttable, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return tuple((i, widths[i] if widths[i] < needs[i] else None) for i in shown)


def _width(attempt: Plan, needs: Sequence[int], pad: int) -> int:
    return sum((needs[i] if cut is None else cut) + pad for i, cut in attempt)
