"""``mlcycle serve``'s Open Inference Protocol v2 endpoints, over the service's own scoring.

The protocol (``mlcycle.deploy.oip``) is the one the bundle's standalone server speaks; here
its inputs are the data columns the service reads (a feature set's derived columns are
computed by the service, so they are not inputs), and an inference request becomes the rows
``POST /predict`` would get: it is checked, scored, shadowed and logged the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mlcycle.data import datasets
from mlcycle.deploy import oip
from mlcycle.models import model_input

if TYPE_CHECKING:
    from mlcycle.deploy.serve import Service
    from mlcycle.store.workspace import Workspace


def model(service: Service) -> oip.Model:
    """What the service serves now, as the protocol describes a model."""
    with service.lock:
        main = service.main
    sig = main.signature
    fields = model_input.raw_columns(sig)
    numeric = set(sig.numeric)
    read_only = [c for c in fields if c not in sig.inputs]  # read by the feature set alone
    if read_only:
        kinds = _kinds(service.ws, service.project, main.version.summary.get(
            "lineage", {}).get("dataset"))
        numeric |= {c for c in read_only if kinds.get(c) in ("numeric", "boolean")}
    return oip.Model(service.project, str(main.version.version),
                     [oip.input_tensor(c, c in numeric) for c in fields],
                     oip.outputs(sig.task, sig.classes, sig.label_type))


_KINDS: dict[tuple[str, str, str], dict[str, str]] = {}


def _kinds(ws: Workspace, project: str, dataset: str | None) -> dict[str, str]:
    """Each column's kind in the data dictionary of the dataset a version was trained on;
    read once per dataset (a dataset version never changes), not on every request."""
    if not dataset:
        return {}
    key = (str(ws.root), project, dataset)
    if key not in _KINDS:
        _KINDS[key] = {c["name"]: c["kind"]
                       for c in datasets.dictionary(ws, project, dataset)}
    return _KINDS[key]


def route(service: Service, method: str, path: str) -> str:
    """The endpoint ``path`` asks for; ``oip.ProtocolError`` 404 or 405 otherwise."""
    return oip.route(method, path, model(service))


def answer(service: Service, method: str, path: str, body: bytes | None,
           headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The answer to a request for a ``/v2`` path (``body`` for POST); ``headers`` carry a
    canary's request key when the deployment config names a header."""
    served = model(service)
    endpoint = oip.route(method, path, served)
    if endpoint == "live":
        return {"live": True}
    if endpoint == "ready":
        return {"ready": True}
    if endpoint == "model_ready":
        return {"name": served.name, "ready": True}
    if endpoint == "server":
        return oip.server_metadata("mlcycle", oip.PROTOCOL)
    if endpoint == "model":
        return oip.metadata(served)
    assert body is not None
    request = oip.read_infer(body, served, header_length=(headers or {}).get(
        oip.HEADER_LENGTH))
    rows = [{name: values[i] for name, values in request.columns.items()}
            for i in range(request.rows)]
    result = service.predict(rows, headers)
    predictions = result["predictions"]
    if "probabilities" in predictions[0]:
        classes = served.outputs[1].parameters["classes"]
        values = {"label": [p["prediction"] for p in predictions],
                  "probabilities": [[p["probabilities"][c] for c in classes]
                                    for p in predictions]}
    else:
        values = {"variable": [p["prediction"] for p in predictions]}
    # The version that answered: an alias that moved meanwhile is already followed.
    return oip.response(replace(served, version=str(result["model_version"])), request, values)


def openapi_paths(service: Service) -> dict[str, Any]:
    return oip.openapi_paths(model(service))
