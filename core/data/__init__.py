"""Data collection (lifecycle stage 2): reading files, immutable dataset versions, their
dictionary and quality report, the personal data they hold, its redaction and retention."""

__all__ = [
    "columns",
    "datasets",
    "privacy",
    "quality",
    "redact",
    "report",
    "retention",
    "sources",
]
