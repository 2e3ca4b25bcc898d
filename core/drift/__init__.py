"""Data drift: is a new batch distributed like the reference the model was built on?

:func:`profile` reads a reference once into a small :class:`Profile`; :func:`check` tests a
batch against it; :func:`compare` is both for two tables (what ``mlcycle drift`` runs).
How a column is judged, and why, is told in :mod:`mlcycle.drift.check`.
"""

from mlcycle.drift.check import (
    ALPHA,
    MIN_H,
    MIN_PSI,
    ColumnDrift,
    DriftResult,
    check,
    compare,
)
from mlcycle.drift.profile import ColumnProfile, Profile, profile

__all__ = [
    "ALPHA",
    "MIN_H",
    "MIN_PSI",
    "ColumnDrift",
    "ColumnProfile",
    "DriftResult",
    "Profile",
    "check",
    "compare",
    "profile",
]
