"""Problem definition (lifecycle stage 1): the project card, its success metric and the
stages a project has reached."""

from mlcycle.projects.card import (
    Project,
    create,
    get,
    list_all,
    validate_name,
)

__all__ = [
    "Project",
    "create",
    "get",
    "list_all",
    "validate_name",
]
