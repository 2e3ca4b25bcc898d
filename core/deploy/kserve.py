"""A bundle's server on KServe: the ``inferenceservice.yaml`` that ``export --kserve`` writes.

The InferenceService runs the bundle's own image (its ``Dockerfile``) as a custom predictor:
one container named ``kserve-container`` listening on the port ``server.py`` is started on,
with ``PROTOCOL=v2`` (how KServe learns that a custom container speaks the Open Inference
Protocol; ``protocolVersion`` belongs to its built-in runtimes only) and the protocol's
health endpoints as probes. Under a canary deployment config, exporting the challenger maps
the canary's share to ``canaryTrafficPercent``: KServe then sends that share of requests to
this new revision and the rest to the revision rolled out before (the champion's). The share
is the live one once ``mlcycle deploy step`` has raised it, else the config's first step.

The YAML is written by hand (no YAML library is a dependency): every string is a
double-quoted scalar, which YAML reads as JSON spells it.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from mlcycle.deploy import config as configs
from mlcycle.deploy import standalone, strategies
from mlcycle.models import registry
from mlcycle.store.errors import MlcycleError

if TYPE_CHECKING:
    from mlcycle.store.workspace import Workspace

FILE = "inferenceservice.yaml"

_TEMPLATE = """\
# {project} v{version}: the bundle's standalone server on KServe (Open Inference Protocol v2).
# Build the image from this folder's Dockerfile and push it where the cluster pulls from
# (change "image" below to that name), then: kubectl apply -f {file}
{canary_note}apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/version: {label_version}
spec:
  predictor:
{canary}    containers:
      - name: kserve-container
        image: {image}
        env:
          - name: PROTOCOL
            value: "v2"
        ports:
          - containerPort: {port}
            protocol: TCP
        readinessProbe:
          httpGet:
            path: /v2/health/ready
            port: {port}
        livenessProbe:
          httpGet:
            path: /v2/health/live
            port: {port}
"""


def resource_name(project: str) -> str:
    """The project's name as Kubernetes names a resource (RFC 1035: lowercase letters,
    digits and '-', starting with a letter, at most 63)."""
    name = re.sub(r"[^a-z0-9]+", "-", project.lower()).strip("-")
    if not name[:1].isalpha():
        name = f"model-{name}"
    return name[:63].rstrip("-")


def canary_percent(ws: Workspace, project: str, version: int) -> int | None:
    """``canaryTrafficPercent`` for ``version``: the canary's share, in whole percent (at
    least 1), when the project's strategy is canary and ``version`` is its challenger;
    None otherwise (the revision then takes every request once ready)."""
    cfg = configs.current(ws, project)
    if cfg.strategy != configs.CANARY:
        return None
    try:
        challenger = registry.get(ws, project, "challenger").version
    except MlcycleError:  # no challenger: no canary to roll out
        return None
    if challenger != version:
        return None
    share = strategies.state(ws, project).share or cfg.canary.steps[0]
    return max(1, round(share * 100))


def inference_service(project: str, version: int, percent: int | None) -> str:
    """The InferenceService's YAML text for a bundle of ``project`` ``version``."""
    name = _quoted(resource_name(project))
    canary = f"    canaryTrafficPercent: {percent}\n" if percent is not None else ""
    note = (f"# The project deploys v{version} as a canary: KServe sends it {percent}% of "
            "requests and the\n# rest to the revision rolled out before (serverless mode "
            "only).\n" if percent is not None else "")
    return _TEMPLATE.format(
        project=project, version=version, file=FILE, name=name, canary=canary,
        canary_note=note, label_version=_quoted(f"v{version}"),
        image=_quoted(standalone.image(project, version)), port=standalone.PORT)


def _quoted(text: str) -> str:
    # A JSON string is a YAML double-quoted scalar with the same meaning.
    return json.dumps(text)
