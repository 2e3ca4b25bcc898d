"""The recipe steps, one class each, found by their ``op`` name (see :mod:`.base`)."""

from mlcycle.prep.ops.base import Op, Problem, Run
from mlcycle.prep.ops.columns import Drop, Rename
from mlcycle.prep.ops.rows import Deduplicate, Filter
from mlcycle.prep.ops.types import Cast, ParseDates
from mlcycle.prep.ops.values import Clip, Impute

# In the order the docs list them.
REGISTRY: dict[str, Op] = {op.name: op for op in (
    Drop(), Rename(), Cast(), Filter(), Deduplicate(), Impute(), Clip(), ParseDates())}

__all__ = ["REGISTRY", "Op", "Problem", "Run"]
