"""Model development, evaluation and the registry (lifecycle stages 5 and 6)."""

__all__ = [
    "card",
    "catalog",
    "evaluation",
    "model_input",
    "registry",
    "tracking",
    "training",
]
