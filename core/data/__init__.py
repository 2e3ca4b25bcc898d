"""Data collection (lifecycle stage 2): reading files, immutable dataset versions, their
dictionary and quality report."""

__all__ = [
    "columns",
    "datasets",
    "quality",
    "report",
    "sources",
]
