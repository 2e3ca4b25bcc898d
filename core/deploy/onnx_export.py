"""Deployment's name for the pipeline-to-ONNX conversion, which lives in
``mlcycle.models.onnx_graph`` so that training can prove a model exportable before it is
registered."""

from mlcycle.models.onnx_graph import OPSET, SESSION_ROWS, feeds, run, session, to_onnx

__all__ = ["OPSET", "SESSION_ROWS", "feeds", "run", "session", "to_onnx"]
