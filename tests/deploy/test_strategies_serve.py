"""Deployment strategies as users run them: 'mlcycle deploy' commands, a running
'mlcycle serve' following them over loopback, and 'mlcycle abtest' on the canary's rows.

One workspace and one server for the module (the tests run in order: canary, A/B test,
blue/green), with column names that hold spaces, quotes, slashes and accents.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import polars as pl
import pytest

from mlcycle import deploy, projects
from mlcycle.data import datasets
from mlcycle.deploy import abtest, score_input, scoring, serve, strategies
from mlcycle.models import registry, training
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import open_workspace
from tests.conftest import MLCYCLE, ROOT, free_port, run_cli, wait_until_serving
from tests.deploy_fixtures import register_all
from tests.training_data import classification_frame, write

KEY = "customer id/é"
NAMES = {"id": KEY, "x1": 'size "m²" %', "plan": "plan d'été"}


def _rows(n: int, seed: int) -> list[dict]:
    return classification_frame(n, seed=seed).rename(NAMES).to_dicts()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("strategies")
    ws = open_workspace(root / "ws", create=True)[0]
    projects.create(ws, "clf", target="label", task="classification", metric="accuracy")
    datasets.add(ws, "clf", write(classification_frame(400).rename(NAMES), root, "clf.csv"))
    result = training.train(ws, training.TrainConfig(
        "clf", models=["logistic", "random_forest"], trials=1, cv=2))
    versions = register_all(ws, "clf", result.group)
    registry.promote(ws, "clf", str(versions[0]), reason="first")
    registry.promote(ws, "clf", str(versions[1]), alias="challenger", reason="second")
    assert deploy.identifier_of(ws, registry.get(ws, "clf", "1")) == KEY
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLCYCLE_WORKSPACE"}
    proc = subprocess.Popen([*MLCYCLE, "--workspace", str(ws.root), "serve", "clf",
                             "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until_serving(port, proc, lambda: proc.communicate()[1])
    yield ws, root, f"http://127.0.0.1:{port}"
    proc.kill()
    proc.communicate()


def _call(url: str, body: object | None = None, headers: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _cli(ws, *args: str) -> dict:
    proc = run_cli(*args, "--json", workspace=ws.root)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _refused(ws, *args: str) -> str:
    proc = run_cli(*args, workspace=ws.root)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


def _until(url: str, check) -> dict:
    """Poll /health until ``check`` holds (the server reads the workspace once a second)."""
    deadline = time.monotonic() + 20
    while True:
        health = _call(url + "/health")[1]
        if check(health):
            return health
        assert time.monotonic() < deadline, health
        time.sleep(0.1)


def test_a_canary_is_sticky_over_http_and_rolls_back_when_its_errors_cross_the_limit(
        setup, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, root, url = setup
    shown = _cli(ws, "deploy", "show", "clf")
    assert shown["default"] and shown["config"]["strategy"] == "shadow"
    assert "not canary" in _refused(ws, "deploy", "step", "clf")
    (root / "bad.toml").write_text('strategy = "canary"\n[canary]\nmax_eror_rate = 1\n')
    assert "bad.toml line 3: [canary] max_eror_rate is not a key" in _refused(
        ws, "deploy", "set", "clf", str(root / "bad.toml"))
    (root / "canary.toml").write_text(
        'strategy = "canary"\n[canary]\nsteps = [0.1, 0.5]\nmin_requests = 40\n'
        'min_keys = 40\nmax_error_rate = 0.05\n')
    assert _cli(ws, "deploy", "set", "clf", str(root / "canary.toml"))["version"] == 1
    stepped = _cli(ws, "deploy", "step", "clf")
    assert (stepped["to"], stepped["champion"], stepped["challenger"]) == (0.1, 1, 2)
    _until(url, lambda h: h.get("canary", {}).get("share") == 0.1)

    rows = _rows(120, seed=5)
    expected = [2 if strategies.to_canary(r[KEY], 0.1, "clf") else 1 for r in rows]
    assert 1 in expected and 2 in expected
    status, batch = _call(url + "/predict", {"rows": rows})
    assert status == 200 and batch["model_version"] is None
    assert [p["model_version"] for p in batch["predictions"]] == expected
    assert [p["id"] for p in batch["predictions"]] == [r[KEY] for r in rows]
    for row, version in list(zip(rows, expected))[:12]:  # one row at a time: the same model
        status, one = _call(url + "/predict", row)
        assert status == 200 and one["model_version"] == version
        assert one["prediction"]["model_version"] == version

    # The canary fails one request in four (in a service of this process): past 40 of its
    # requests it is rolled back, the figures saved, and the running server follows.
    service = serve.Service(ws, "clf", "champion")
    canary = service.route.canary
    calls = {"n": 0}
    answer = canary.predict

    def failing(inputs):
        calls["n"] += 1
        if calls["n"] % 4 == 0:
            raise RuntimeError("injected")
        return answer(inputs)

    monkeypatch.setattr(canary, "predict", failing)
    picked = [r for r in _rows(2000, seed=6) if strategies.to_canary(r[KEY], 0.1, "clf")]
    failed_keys = set()
    for row in picked[:60]:
        before = calls["n"]
        out = service.predict([row])
        if calls["n"] % 4 == 0 and calls["n"] != before:
            failed_keys.add(row[KEY])
        assert out["model_version"] in (1, 2)  # a failed canary row is answered by v1
        if service.rolled_back:
            break
    figures = service.rolled_back
    assert figures and figures["crossed"] == ["error rate 25.0% > 5.0%"]
    assert figures["requests"] == 40 and service.predict([picked[0]])["model_version"] == 1
    # The rollback names the keys whose requests failed (each weighs one in ten of them).
    drivers = figures["drivers"]["error rate"]
    assert len(drivers) == 5 and {d["key"] for d in drivers} <= failed_keys
    assert all(d["weight"] == 0.1 and d["value"] == 1.0 for d in drivers)
    state = _cli(ws, "deploy", "show", "clf")["state"]
    assert state["share"] == 0 and state["rollback"]["errors"] == 10
    event = next(e for e in events.recent(ws, "clf") if e["kind"] == "deploy.canary_rolled_back")
    assert event["detail"]["error_rate"] == 0.25 and event["detail"]["challenger"] == 2
    assert event["detail"]["keys"] == 40 and event["detail"]["drivers"] == figures["drivers"]
    _until(url, lambda h: h["canary"]["share"] == 0)
    status, after = _call(url + "/predict", {"rows": rows})
    assert {p["model_version"] for p in after["predictions"]} == {1}
    shown = run_cli("deploy", "show", "clf", workspace=ws.root).stdout
    assert "rolled back at 10%: error rate 25.0% > 5.0% (error rate driven most by key(s) " \
        f"{drivers[0]['key']!r}" in shown


def test_an_ab_test_joins_labels_to_both_arms_and_keeps_its_plan(setup) -> None:
    ws, root, _url = setup
    for _ in range(2):
        strategies.step(ws, "clf")  # 10%, then 50%
    service = serve.Service(ws, "clf", "champion")
    rows = _rows(600, seed=9)
    for start in range(0, 600, 50):
        service.predict(rows[start:start + 50])
    service.flush()
    labels = root / "outcomes.csv"
    classification_frame(600, seed=9).rename(NAMES).select(KEY, "label").write_csv(labels)
    assert "give --mde" in _refused(ws, "abtest", "clf", str(labels))
    result = _cli(ws, "abtest", "clf", str(labels), "--mde", "0.3")
    arms = result["control"]["rows"], result["treatment"]["rows"]
    assert sum(arms) == 600 and min(arms) > 200
    assert (result["method"], result["test"]) == ("fixed-horizon", "two-proportion z-test")
    plan = result["plan"]
    assert 10 < plan["per_arm"] < 200 and result["verdict"] != "collecting"
    assert result["still_needed"] == {"control": 0, "treatment": 0}
    assert result["result"]["ci"][0] <= result["result"]["difference"] <= result["result"]["ci"][1]
    with pytest.raises(InvalidInput, match="the plan of this test was fixed on"):
        abtest.report(ws, "clf", labels, mde=0.1)
    again = abtest.report(ws, "clf", labels)
    # Decided once: looking again changes nothing.
    assert again.to_dict()["result"] == result["result"]
    text = run_cli("abtest", "clf", str(labels), workspace=ws.root).stdout
    assert "method: fixed-horizon" in text and "recommendation:" in text
    strategies.step(ws, "clf", back=True)


def test_a_blue_green_switch_under_200_concurrent_requests_drops_none_and_mixes_none(
        setup) -> None:
    ws, root, url = setup
    (root / "bg.toml").write_text('strategy = "blue_green"\n[blue_green]\nblue = 1\n'
                                  'green = 2\n')
    _cli(ws, "deploy", "set", "clf", str(root / "bg.toml"))
    _until(url, lambda h: h.get("slots") == {"blue": 1, "green": 2} and h["version"] == 1)
    rows = _rows(2, seed=11)
    expected = {}
    for version in (1, 2):
        scorer = scoring.scorer(ws, "clf", str(version))
        pred = scorer.predict(score_input.model_frame(pl.from_dicts(rows), scorer.signature))
        expected[version] = pred["proba"][:, 1]
        positive = scorer.signature.classes[1]
    assert not np.allclose(expected[1], expected[2], atol=1e-4)

    answers: list = []
    failures: list = []
    stop = threading.Event()
    gate = threading.Barrier(200)

    def client() -> None:
        gate.wait()
        while not stop.is_set():
            try:
                answers.append(_call(url + "/predict", {"rows": rows}))
            except Exception as exc:  # recorded, asserted below
                failures.append(exc)

    threads = [threading.Thread(target=client) for _ in range(200)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(answers) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    switched = run_cli("deploy", "switch", "clf", workspace=ws.root)
    assert switched.returncode == 0 and "green slot live (v2)" in switched.stdout
    seen = len(answers)
    while (not any(a[1].get("model_version") == 2 for a in answers[seen:])
           or len(answers) < seen + 200) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(30)
    assert not failures, failures[:3]
    assert all(status == 200 for status, _ in answers), [a for a in answers if a[0] != 200][:3]
    for _, body in answers:
        version = body["model_version"]
        assert {p["model_version"] for p in body["predictions"]} == {version}
        got = [p["probabilities"][positive] for p in body["predictions"]]
        assert np.allclose(got, expected[version], atol=1e-5)
    versions = [body["model_version"] for _, body in answers]
    first_new = versions.index(2)
    assert set(versions[:200]) == {1} and versions.count(2) >= 200
    assert versions[first_new:].count(1) <= 200  # only requests already in flight
    back = _cli(ws, "deploy", "switch", "clf", "--back")
    assert (back["to"], back["to_version"]) == ("blue", 1)
    _until(url, lambda h: h["active_slot"] == "blue")
    assert "no switch" in _refused(ws, "deploy", "switch", "clf", "--back")
    kinds = [e["kind"] for e in events.recent(ws, "clf")]
    assert kinds.count("deploy.switched") == 2


def test_a_routing_header_sent_twice_is_refused_with_one_line(setup) -> None:
    import http.client

    ws, root, url = setup
    (root / "header.toml").write_text('strategy = "canary"\n[canary]\nheader = "X-Customer"\n')
    _cli(ws, "deploy", "set", "clf", str(root / "header.toml"))
    _until(url, lambda h: h["strategy"] == "canary")
    body = json.dumps(_rows(1, seed=12)[0]).encode()
    host, port = url.removeprefix("http://").split(":")
    for headers in ([("X-Customer", "K1")], [("X-Customer", "K1"), ("x-customer", "K2")]):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.putrequest("POST", "/predict")
        for name, value in [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))), *headers]:
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        status, answer = response.status, json.loads(response.read())
        conn.close()
        if len(headers) == 1:
            assert status == 200 and answer["model_version"] == 1
        else:
            assert status == 400 and answer == {
                "error": "the routing header X-Customer is sent 2 times; send it once"}
