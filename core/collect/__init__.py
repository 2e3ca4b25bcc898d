"""Collection pipelines (lifecycle stage 2): a project's named, versioned data sources, each
collection from them stored as a dataset version with its lineage, and the changes each
collection finds against the one before (:mod:`mlcycle.collect.changes`)."""

from mlcycle.collect.changes import Change
from mlcycle.collect.collecting import CollectResult, SourceBroke, collect, collect_all, history
from mlcycle.collect.definitions import SourceVersion, add, get, list_sources

__all__ = [
    "Change",
    "CollectResult",
    "SourceBroke",
    "SourceVersion",
    "add",
    "collect",
    "collect_all",
    "get",
    "history",
    "list_sources",
]
