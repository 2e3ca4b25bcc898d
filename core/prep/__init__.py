"""Preparation and features (lifecycle stages 3 and 4): the expression language, recipes
and their expectations, and feature sets."""

from mlcycle.prep.apply import (
    ExpectationsFailed,
    PrepResult,
    check,
    collected_parent,
    lineage,
    overview,
    run,
    runs,
)

__all__ = [
    "ExpectationsFailed",
    "PrepResult",
    "check",
    "collected_parent",
    "lineage",
    "overview",
    "run",
    "runs",
]
