"""The workspace store (lowest layer): one DuckDB file, locking, schema, the activity log
and the tracking journal. Nothing here knows about any lifecycle stage."""

__all__ = [
    "errors",
    "events",
    "journal",
    "schema",
    "sql",
    "workspace",
]
