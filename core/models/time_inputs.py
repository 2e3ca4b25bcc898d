"""What monitoring compares of a model's date inputs: the date, not the parts derived from it.

A feature set (the default ``dates`` among them) turns a date into numbers: its year and
days since 1970, which only grow, and its month, weekday and day of year, which cycle. None
of them can be compared between a batch and the training rows the way other inputs are:
time moves on between batches, so the trend parts always lie beyond the reference; and a
batch covers a window of time, not the year the reference spans, so a monthly batch's month
is one value and its days of the year a few weeks of them (even its weekdays are uneven
unless the window holds whole weeks). Every one of them would "drift" in a calm month.

So drift checks leave the inputs derived from a date out, saying why, and test the date
column itself instead: as a datetime, only its missing rate is tested and its range is
reported (:mod:`mlcycle.drift.check`), which catches the real breakage (a feed that stops
sending dates) without alarming on the calendar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlcycle.data.columns import by_name
from mlcycle.models import model_input

if TYPE_CHECKING:
    import polars as pl

LEFT_OUT = "derived from a date: time moves on between batches (the date's missing rate is tested)"


def derived_from_dates(signature: model_input.Signature) -> list[str]:
    """The model's inputs its feature set computes from a date column, directly or through
    another derived feature, in input order."""
    if not signature.feature_set or not signature.dates:
        return []
    from mlcycle.prep import expressions

    timed = set(signature.dates)
    derived = signature.feature_set.get("derived", [])
    grew = True
    while grew:  # a derived feature may read another: follow until nothing is added
        grew = False
        for d in derived:
            if d["name"] not in timed and expressions.columns_of(
                    expressions.parse(d["expr"])) & timed:
                timed.add(d["name"])
                grew = True
    return [c for c in signature.inputs if c in timed]


def left_out(signature: model_input.Signature) -> list[dict[str, object]]:
    """The inputs drift checks leave out, with the reason (empty when there are none)."""
    names = derived_from_dates(signature)
    return [{"reason": LEFT_OUT, "columns": names}] if names else []


def frame(inputs: pl.DataFrame, raw: pl.DataFrame,
          signature: model_input.Signature) -> pl.DataFrame:
    """The columns a drift check compares: the model's ``inputs`` (as computed from ``raw``)
    less those derived from a date, and the date columns of ``raw`` they come from."""
    left = derived_from_dates(signature)
    if not left:
        return inputs
    dates = model_input.as_dates(raw.select([by_name(c) for c in signature.dates]), signature)
    return inputs.drop(left).hstack(dates)
