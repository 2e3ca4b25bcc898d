"""mlcycle's engine: workspace store, data, training, deployment and monitoring. No UI here.

Heavy libraries (scikit-learn, onnxruntime, polars) are imported inside the functions that
need them, so importing ``core`` stays cheap for every command that does not train or score.
"""

from core.errors import MlcycleError
from core.workspace import Workspace, open_workspace

__all__ = ["MlcycleError", "Workspace", "open_workspace"]
