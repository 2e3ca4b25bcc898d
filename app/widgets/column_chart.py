"""A column's chart from its quality statistics: its distribution, its counts over time, or
its most frequent values, each titled with what the bars count and over which bins."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from mlcycle.app.widgets.bar_chart import BarChart


def _decimals(width: float) -> int:
    """Enough decimals that consecutive bin edges ``width`` apart print differently."""
    return max(0, 1 - math.floor(math.log10(width))) if width > 0 else 2


def _when(seconds: float, width: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    spelled = "%Y-%m-%d" if width >= 86_400 else "%m-%d %H:%M" if width >= 60 else "%H:%M:%S"
    return moment.strftime(spelled)


def _span(seconds: float) -> str:
    for unit, size in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} seconds"


def histogram_rows(hist: dict[str, Any]) -> tuple[str, list[tuple[str, float]]]:
    """The title and labelled counts of a stored histogram."""
    edges, counts = hist["edges"], hist["counts"]
    width = edges[1] - edges[0] if len(edges) > 1 else 0.0
    if hist.get("time"):
        labels = [_when(edges[i], width) for i in range(len(counts))]
        title = (f"rows over time, {_when(edges[0], width)} to {_when(edges[-1], width)}, "
                 f"{len(counts)} spans of {_span(width)}")
    elif hist.get("integer"):
        step = round(width)
        labels = [f"{edges[i]:.0f}" if step == 1 else f"{edges[i]:.0f}–{edges[i] + step - 1:.0f}"
                  for i in range(len(counts))]
        title = f"distribution, {len(counts)} bins of {step} whole number{'s' * (step > 1)}"
    else:
        places = _decimals(width)
        labels = [f"{edges[i]:.{places}f}" for i in range(len(counts))]
        title = f"distribution, {len(counts)} bins of {width:.{places + 1}g} from their left edge"
    return title, list(zip(labels, counts))


def plot_column(chart: BarChart, stats: dict[str, Any]) -> None:
    """Draw a column's chart: histogram, counts over time or top values; else nothing."""
    hist = stats.get("histogram")
    if hist and "counts" in hist:
        title, rows = histogram_rows(hist)
        chart.plot(title, rows, unit="rows")
    elif stats.get("top"):
        top = stats["top"]
        more = max(stats.get("distinct", len(top)) - len(top), 0)
        title = f"top {len(top)} of {stats.get('distinct', len(top)):,} values" + (
            f" (+{more:,} more not drawn)" if more else "")
        chart.plot(title, [(str(t["value"]), t["count"]) for t in top], unit="rows")
    else:
        chart.plot("", [])
