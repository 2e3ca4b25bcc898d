"""Deployment (lifecycle stage 7): ONNX export and bundles, scoring, the local server."""

from mlcycle.deploy.bundle import (
    BUNDLE_FILES,
    BUNDLE_FORMAT,
    MANIFEST,
    SERVER_FILES,
    build,
    export,
    exports,
    get_export,
    identifier_of,
    onnx_bytes,
    parity_line,
    signature_of,
    training_data,
    verify,
)

__all__ = [
    "BUNDLE_FILES",
    "BUNDLE_FORMAT",
    "MANIFEST",
    "SERVER_FILES",
    "build",
    "export",
    "exports",
    "get_export",
    "identifier_of",
    "onnx_bytes",
    "parity_line",
    "signature_of",
    "training_data",
    "verify",
]
