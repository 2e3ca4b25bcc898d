"""``mlcycle export --kserve``: the bundle carries a KServe InferenceService that runs its own
image speaking the Open Inference Protocol v2, with the canary's share as
``canaryTrafficPercent`` when the challenger is exported under a canary config."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mlcycle import deploy
from mlcycle.deploy import config as configs
from mlcycle.deploy import kserve, strategies
from mlcycle.models import registry, training
from tests.conftest import run_cli, run_json

# No YAML library is installed: the text is compared whole, so the structure (indentation,
# keys, quoting) is asserted exactly.
CANARY_YAML = """\
# 9_Churn.v2 v3: the bundle's standalone server on KServe (Open Inference Protocol v2).
# Build the image from this folder's Dockerfile and push it where the cluster pulls from
# (change "image" below to that name), then: kubectl apply -f inferenceservice.yaml
# The project deploys v3 as a canary: KServe sends it 25% of requests and the
# rest to the revision rolled out before (serverless mode only).
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: "model-9-churn-v2"
  labels:
    app.kubernetes.io/name: "model-9-churn-v2"
    app.kubernetes.io/version: "v3"
spec:
  predictor:
    canaryTrafficPercent: 25
    containers:
      - name: kserve-container
        image: "9_churn.v2:v3"
        env:
          - name: PROTOCOL
            value: "v2"
        ports:
          - containerPort: 8080
            protocol: TCP
        readinessProbe:
          httpGet:
            path: /v2/health/ready
            port: 8080
        livenessProbe:
          httpGet:
            path: /v2/health/live
            port: 8080
"""


def test_the_inference_service_text_names_a_valid_resource_and_quotes_every_string() -> None:
    assert kserve.inference_service("9_Churn.v2", 3, 25) == CANARY_YAML
    assert kserve.resource_name("Churn") == "churn"
    assert kserve.resource_name("a" * 70 + "-b") == "a" * 63


def _yaml(bundle: Path) -> str:
    return (bundle / kserve.FILE).read_text(encoding="utf-8")


def test_export_kserve_writes_the_inference_service_and_the_canary_share(
        clf_champion, tmp_path: Path) -> None:
    ws = clf_champion
    # Without --kserve, no InferenceService.
    assert deploy.export(ws, "clf", "champion", tmp_path / "plain").kserve is None
    assert not (tmp_path / "plain" / kserve.FILE).exists()

    # Shadow (the default strategy): the champion takes every request once ready.
    out = run_json("export", "clf", "--out", str(tmp_path / "b1"), "--kserve",
                   workspace=ws.root)
    text = _yaml(tmp_path / "b1")
    assert out["kserve"] == {"file": str(tmp_path / "b1" / kserve.FILE),
                             "canary_traffic_percent": None}
    assert text == kserve.inference_service("clf", 1, None)
    assert "canaryTrafficPercent" not in text and "canary" not in text
    assert '        image: "clf:v1"\n' in text and "          - containerPort: 8080\n" in text
    manifest = json.loads((tmp_path / "b1" / "manifest.json").read_text())
    assert manifest[kserve.FILE] == hashlib.sha256(text.encode()).hexdigest()
    assert deploy.verify(tmp_path / "b1", server=False).extra_files == ()  # listed

    # A canary: the challenger v2 at the config's first step, then at the step it reached.
    training.train(ws, training.TrainConfig("clf", models=["logistic"], trials=1, cv=2))
    registry.promote(ws, "clf", "2", alias="challenger", reason="canary it")
    configs.store(ws, "clf", configs.parse('strategy = "canary"\n'), "test")
    proc = run_cli("export", "clf", "challenger", "--out", str(tmp_path / "b2"), "--kserve",
                   workspace=ws.root, check=True)
    assert f"wrote {tmp_path / 'b2' / kserve.FILE} (a canary: 5% of requests)" in proc.stdout
    assert "    canaryTrafficPercent: 5\n" in _yaml(tmp_path / "b2")
    strategies.step(ws, "clf", reason="first")
    strategies.step(ws, "clf", reason="more")
    deploy.export(ws, "clf", "challenger", tmp_path / "b2", force=True, kserve=True)
    assert _yaml(tmp_path / "b2") == kserve.inference_service("clf", 2, 10)
    # The champion, exported under the same config, is no canary.
    exported = deploy.export(ws, "clf", "champion", tmp_path / "b3", kserve=True)
    assert exported.kserve is not None and exported.kserve.canary_traffic_percent is None
