"""The prediction service, run as users run it: a subprocess on a loopback port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mlcycle.deploy import runs
from mlcycle.models import registry
from tests.conftest import MLCYCLE, ROOT, free_port, wait_until_serving
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame


def _call(url: str, body: object | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def served(tmp_path: Path):
    ws = classification_workspace(tmp_path)
    registry.promote(ws, "clf", "1", reason="first")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLCYCLE_WORKSPACE"}
    proc = subprocess.Popen(
        [*MLCYCLE, "--workspace", str(ws.root), "serve", "clf",
         "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(port, proc, lambda: proc.communicate()[1])
    yield ws, url, proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_serves_200_concurrent_requests_reloads_the_champion_and_logs(served) -> None:
    ws, url, proc = served
    rows = classification_frame(200, seed=8).to_dicts()
    results: list[tuple[int, dict] | Exception] = [None] * 200  # type: ignore[list-item]
    gate = threading.Barrier(200)

    def one(i: int) -> None:
        gate.wait()
        try:
            results[i] = _call(url + "/predict", rows[i])
        except Exception as exc:  # recorded, then asserted below
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(r, tuple) and r[0] == 200 for r in results), [
        r for r in results if not (isinstance(r, tuple) and r[0] == 200)][:3]
    first = results[0][1]  # type: ignore[index]
    assert first["model_version"] == 1 and first["prediction"]["id"] == rows[0]["id"]
    assert set(first["prediction"]["probabilities"]) == {"false", "true"}

    status, batch = _call(url + "/predict", {"rows": rows[:5]})
    assert status == 200 and len(batch["predictions"]) == 5
    spec = _call(url + "/openapi.json")[1]
    assert spec["openapi"].startswith("3.") and "/predict" in spec["paths"]

    # Bad input: one clear line each, and the service keeps serving.
    missing = {k: v for k, v in rows[0].items() if k != "x1"}
    status, body = _call(url + "/predict", missing)
    assert status == 400 and "missing column(s) the model needs: x1" in body["error"]
    status, body = _call(url + "/predict", {**rows[0], "x2": "tall"})
    assert status == 400 and "column 'x2' must be numeric" in body["error"]
    status, body = _call(url + "/predict", {"rows": "nope"})
    assert status == 400
    assert _call(url + "/nowhere")[0] == 404

    registry.promote(ws, "clf", "2", reason="reload test")
    deadline = time.monotonic() + 20
    while _call(url + "/health")[1]["version"] != 2:
        assert time.monotonic() < deadline, "the service did not follow the champion"
        time.sleep(0.3)
    assert _call(url + "/predict", rows[0])[1]["model_version"] == 2

    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    logged = runs.recent_runs(ws, "clf")
    assert sum(r.rows for r in logged if r.source == "serve") == 200 + 5 + 1
    assert {r.version for r in logged} == {1, 2}
