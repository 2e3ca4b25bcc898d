"""Problem definition (lifecycle stage 1): the project card, its success metric and the
stages a project has reached."""

from mlcycle.projects.card import (
    EDITABLE,
    Project,
    create,
    data_handling,
    get,
    list_all,
    target_fixed,
    update,
    validate_name,
)

__all__ = [
    "EDITABLE",
    "Project",
    "create",
    "data_handling",
    "get",
    "list_all",
    "target_fixed",
    "update",
    "validate_name",
]
