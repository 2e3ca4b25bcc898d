"""What changed in a source since its previous collection.

Each collection is compared with the data the previous collection of the same source left:
columns added, removed or retyped, a jump in the row count, a jump in a column's missing
rate, and drift (the drift engine, :mod:`mlcycle.drift`, with its own error budget and
effect-size floors, so a large table does not raise alarms over negligible shifts).

A change is *breaking* when what was there before can no longer be read as before: a column
removed, a column whose type changed family (numbers became text, say; a widening from
integer to decimal is not breaking), or a missing rate that jumped up (the drift engine's
missing-rate test, significant and large enough). Those are what a broken feed or a changed
export looks like; monitoring shows them as system issues. A new column, a row-count jump
or drift is reported, and breaks nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlcycle.data import columns
from mlcycle.store.sql import memory_connection

ROW_JUMP = 2.0  # a row count that grows or shrinks by this factor or more is a jump
_FAMILIES = {"integer": "number", "numeric": "number"}


@dataclass(frozen=True)
class Change:
    kind: str  # added, removed, retyped, rows, missing, drift
    message: str
    breaking: bool
    column: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def schema(path: Path) -> dict[str, str]:
    """Column name -> DuckDB type of a Parquet file."""
    with memory_connection() as con:
        rel = con.read_parquet(str(path))
        return {n: str(t) for n, t in zip(rel.columns, rel.dtypes)}


def compare(reference: Path, current: Path, *, reference_rows: int, current_rows: int,
            steady: str | None = None) -> list[Change]:
    """The changes from ``reference`` (the previous collection's data) to ``current`` (the
    rows just read); the row counts are those each collection read. ``steady`` names a
    column that moves on by design (an incremental source's column), left out of drift."""
    from mlcycle import drift

    before, after = schema(reference), schema(current)
    out = [Change("removed", f"column {name!r} ({dtype}) is gone", True, name,
                  {"type": dtype}) for name, dtype in before.items() if name not in after]
    out += [Change("added", f"new column {name!r} ({dtype})", False, name, {"type": dtype})
            for name, dtype in after.items() if name not in before]
    for name, old in before.items():
        new = after.get(name)
        if new is not None and new != old:
            breaking = _family(old) != _family(new)
            out.append(Change("retyped", f"column {name!r} changed type {old} -> {new}",
                              breaking, name, {"from": old, "to": new}))
    if reference_rows and current_rows:
        ratio = current_rows / reference_rows
        if ratio >= ROW_JUMP or ratio <= 1 / ROW_JUMP:
            out.append(Change("rows", f"rows {reference_rows:,} -> {current_rows:,} "
                              f"(x{ratio:.2g})", False, None,
                              {"before": reference_rows, "after": current_rows}))
    common = [n for n in before if n in after and n != steady
              and _family(before[n]) == _family(after[n])]
    if common and current_rows:
        result = drift.compare(str(reference), str(current), columns=common)
        for col in result.columns:
            out += _column_changes(col)
    return out


def _family(dtype: str) -> str:
    storage = columns.storage_type(dtype)
    return _FAMILIES.get(storage, storage)


def _column_changes(col: Any) -> list[Change]:
    fired = {t["test"] for t in col.tests if t.get("significant") and t.get("large_enough")}
    out = []
    if "missing" in fired:
        up = col.missing_current > col.missing_reference
        out.append(Change("missing", f"column {col.name!r} missing "
                          f"{col.missing_reference:.1%} -> {col.missing_current:.1%}", up,
                          col.name, {"before": col.missing_reference,
                                     "after": col.missing_current}))
    moved = fired & {"location", "spread", "shape"}
    if moved and col.drifted:
        out.append(Change("drift", f"column {col.name!r} drifted"
                          + (f" ({col.note})" if col.note else ""), False, col.name,
                          {"tests": sorted(moved), "statistic": col.statistic,
                           "p_value": col.p_value}))
    return out


def summary(changes: list[Change]) -> str:
    """One line for the breaking changes (what a refusal or an alert says)."""
    breaking = [c.message for c in changes if c.breaking]
    shown = "; ".join(breaking[:4]) + (f"; and {len(breaking) - 4} more" if len(breaking) > 4
                                        else "")
    return f"{len(breaking)} breaking change{'s' if len(breaking) != 1 else ''}: {shown}"
