"""Canary routing, the canary's watch, the deployment config, and the A/B test statistics:
the functions themselves, fast, without a workspace."""

from __future__ import annotations

import numpy as np
import pytest

from mlcycle.deploy import abstats, canary_watch, routing, strategies
from mlcycle.deploy import config as configs
from mlcycle.store.errors import InvalidInput


def test_a_canary_at_ten_percent_gets_ten_percent_of_keys_and_each_key_one_model() -> None:
    keys = [f"customer {i}/é \"{i % 7}\"" for i in range(5000)]
    picked = [strategies.to_canary(k, 0.10, "churn") for k in keys]
    assert 0.08 <= sum(picked) / len(keys) <= 0.12
    # The same key meets the same model every time, in any order.
    again = [strategies.to_canary(k, 0.10, "churn") for k in reversed(keys)]
    assert picked == again[::-1]
    # Raising the share keeps every key that met the canary with it.
    wider = [strategies.to_canary(k, 0.25, "churn") for k in keys]
    assert all(w for p, w in zip(picked, wider) if p) and 0.23 <= sum(wider) / 5000 <= 0.27
    # Another project splits its customers independently; no key, no canary.
    other = [strategies.to_canary(k, 0.10, "fraud") for k in keys]
    assert other != picked
    assert not strategies.to_canary(None, 1.0, "churn")


def test_a_row_is_routed_by_its_key_field_the_identifier_or_a_header() -> None:
    from types import SimpleNamespace

    def route(**canary) -> routing.Route:
        scorer = SimpleNamespace(identifier="customer id")  # keys() reads only this
        return routing.Route("canary", scorer, scorer, 0.5, 1, 1, configs.Canary(**canary))

    rows = [{"customer id": "C1", "région/é": "nord"}, {"customer id": None, "région/é": 7}]
    assert route().keys(rows, {}) == ["C1", None]  # no key: the champion answers
    assert route(key="région/é").keys(rows, {}) == ["nord", "7"]
    assert route(header="X-Customer").keys(rows, {"X-Customer": "K9"}) == ["K9", "K9"]
    assert route(header="X-Customer").keys(rows, {}) == [None, None]


def test_a_routing_header_sent_twice_is_refused() -> None:
    from email.message import Message
    from types import SimpleNamespace

    scorer = SimpleNamespace(identifier="customer id")
    route = routing.Route("canary", scorer, scorer, 0.5, 1, 1,
                          configs.Canary(header="X-Customer"))
    headers = Message()
    headers["x-customer"] = "K9"
    assert route.keys([{}], headers) == ["K9"]  # header names ignore case
    headers["X-Customer"] = "K1"
    with pytest.raises(InvalidInput, match=r"^the routing header X-Customer is sent 2 times"):
        route.keys([{}], headers)


def _keys(prefix: str, n: int) -> list[str]:
    return [f"{prefix} {i}/é \"{i}\"" for i in range(n)]


def test_the_watch_trips_on_errors_latency_and_scores_only_past_the_minimum() -> None:
    limits = configs.Canary(min_requests=50, min_keys=50, max_error_rate=0.05,
                            max_latency_p95=0.5, max_psi=0.25)
    rng = np.random.default_rng(0)
    watch = canary_watch.CanaryWatch()
    watch.champion(_keys("champion", 2000), rng.beta(2, 5, 2000))
    for i, key in enumerate(_keys("customer", 49)):
        watch.canary(0.01, [key] * 3, None if i % 5 == 0 else rng.beta(2, 5, 3))
    assert watch.judge(limits) is None  # 20% errors, but too few keys to say
    watch.canary(0.01, ["customer 49"] * 3, rng.beta(2, 5, 3))
    verdict = watch.judge(limits)
    assert verdict and verdict["crossed"] == ["error rate 20.0% > 5.0%"]
    assert (verdict["requests"], verdict["errors"], verdict["keys"]) == (50, 10, 50)
    assert {d["key"] for d in verdict["drivers"]["error rate"]} <= {
        k for i, k in enumerate(_keys("customer", 49)) if i % 5 == 0}

    healthy = canary_watch.CanaryWatch()
    healthy.champion(_keys("champion", 2000), rng.beta(2, 5, 2000))
    for key in _keys("customer", 60):
        healthy.canary(0.01, [key] * 5, rng.beta(2, 5, 5))
    assert healthy.judge(limits) is None
    shifted = canary_watch.CanaryWatch()
    shifted.champion(_keys("champion", 2000), rng.beta(2, 5, 2000))
    for key in _keys("customer", 60):
        shifted.canary(0.9, [key] * 5, rng.beta(5, 2, 5))
    crossed = shifted.judge(limits)["crossed"]
    assert crossed[0].startswith("latency p95 0.900s") and crossed[1].startswith("score PSI")


def test_fifty_hostile_rows_on_a_few_keys_do_not_roll_the_canary_back() -> None:
    limits = configs.Canary(min_requests=10, min_keys=50, max_error_rate=0.05,
                            max_latency_p95=0.5, max_psi=0.2)
    rng = np.random.default_rng(7)
    hostile = ["attacker/1", "attacker \"2\"", "attacker 3 %"]

    def watch_with(legit: int) -> canary_watch.CanaryWatch:
        watch = canary_watch.CanaryWatch()
        watch.champion(_keys("champion", 500), rng.beta(2, 5, 500))
        for key in _keys("customer", legit):
            watch.canary(0.01, [key], rng.beta(2, 5, 1))
        for i in range(50):  # 50 extreme rows (scores of 1.0), slow, on three keys
            watch.canary(0.9, [hostile[i % 3]], np.ones(1))
        return watch

    alone = watch_with(0)
    assert alone.requests == 50 and alone.figures()["keys"] == 3
    assert alone.judge(limits) is None  # three keys are not the canary's customers
    # Among 100 ordinary customers, the three keys weigh three in 103, however many rows.
    among = watch_with(100)
    figures = among.figures()
    assert figures["keys"] == 103 and figures["psi"] < 0.2
    assert among.judge(limits) is None
    # Had each of the 50 rows counted, their scores alone would have crossed the limit.
    by_row = canary_watch.score_psi(rng.beta(2, 5, 500), np.concatenate(
        [rng.beta(2, 5, 100), np.ones(50)]))
    assert by_row > 0.2


def test_a_rollback_driven_by_many_keys_names_the_keys_with_the_most_weight() -> None:
    limits = configs.Canary(min_requests=10, min_keys=50, max_psi=0.2)
    rng = np.random.default_rng(8)
    watch = canary_watch.CanaryWatch()
    watch.champion(_keys("champion", 1000), rng.beta(2, 5, 1000))
    drifted = _keys("drifted", 40)
    for key in _keys("customer", 40):
        watch.canary(0.01, [key, key], rng.beta(2, 5, 2))
    for key in drifted:  # 40 customers the challenger scores near 1
        watch.canary(0.01, [key], rng.uniform(0.97, 1.0, 1))
    verdict = watch.judge(limits)
    assert verdict and verdict["crossed"][0].startswith("score PSI")
    top = verdict["drivers"]["score PSI"]
    assert len(top) == canary_watch.TOP and {d["key"] for d in top} <= set(drifted)
    assert all(d["value"] >= 0.97 and d["requests"] == 1 for d in top)
    assert top[0]["weight"] >= top[-1]["weight"] > 0
    assert "score PSI driven most by key(s) 'drifted" in canary_watch.drivers_line(
        verdict["drivers"])


def test_the_watch_remembers_the_newest_keys_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(canary_watch, "KEPT", 3)
    watch = canary_watch.CanaryWatch()
    watch.canary(0.01, ["a", "b", "c", "d"], np.array([0.1, 0.2, 0.3, 0.4]))
    watch.canary(0.01, ["b"], None)  # seen again: the newest, kept over c
    watch.canary(0.01, ["e"], np.array([0.5]))
    watch.champion(["x", None, "y", "z", "w"], np.array([0.1, 0.2, 0.3, 0.4, 0.5]))
    figures = watch.figures()
    assert (figures["keys"], figures["champion_keys"], figures["requests"]) == (3, 3, 3)
    assert figures["error_rate"] == pytest.approx(1 / 6)  # b failed one of its two


def test_the_config_refuses_a_misspelt_key_or_falling_steps_by_line() -> None:
    text = 'strategy = "canary"\n[canary]\nsteps = [0.1, 0.05]\n'
    with pytest.raises(InvalidInput, match=r"^d.toml line 3: \[canary\] steps must rise"):
        configs.parse(text, "d.toml")
    with pytest.raises(InvalidInput, match=r"line 2: \[blue_green\] gren is not a key of a "
                                           r"deployment config"):
        configs.parse('[blue_green]\ngren = "2"\n', "d.toml")
    parsed = configs.parse('strategy = "blue_green"\n[blue_green]\ngreen = 4\n')
    assert parsed.blue_green.green == "4" and parsed.explicit == {"strategy", "blue_green.green"}
    # What 'deploy show' prints reads back to the same config.
    assert configs.parse(configs.render(parsed, "p")).values() == parsed.values()


# -- A/B statistics -----------------------------------------------------------------------


def _arm(rng: np.random.Generator, n: int, accuracy: float) -> abstats.Arm:
    y = rng.choice(np.array(["no", "yes"]), n)
    right = rng.random(n) < accuracy
    pred = np.where(right, y, np.where(y == "yes", "no", "yes"))
    return abstats.Arm(y, pred)


def _plan(mde: float, accuracy: float = 0.8) -> abstats.Plan:
    variance = accuracy * (1 - accuracy)
    return abstats.Plan("accuracy", mde, 0.05, 0.8,
                        abstats.per_arm_size(variance, mde, 0.05, 0.8), variance)


def test_the_plan_is_the_textbook_size_and_nothing_is_concluded_below_it() -> None:
    plan = _plan(0.05)
    # (z_0.975 + z_0.8)^2 * 2 * 0.16 / 0.05^2 = 7.849 * 0.32 / 0.0025
    assert plan.per_arm == 1005
    rng = np.random.default_rng(1)
    early = abstats.analyse("accuracy", "classification", _arm(rng, 400, 0.6),
                            _arm(rng, 400, 0.95), ["no", "yes"], plan)
    # A huge interim difference, yet no conclusion: the plan is not reached.
    assert early.verdict == abstats.COLLECTING
    assert early.result is not None and early.result.p_value < 1e-6
    assert early.still_needed == {"control": 605, "treatment": 605}


def test_a_known_effect_is_found_at_the_planned_size() -> None:
    plan = _plan(0.05)
    rng = np.random.default_rng(2)
    found = 0
    for _ in range(200):
        out = abstats.analyse("accuracy", "classification", _arm(rng, plan.per_arm, 0.80),
                              _arm(rng, plan.per_arm, 0.85), ["no", "yes"], plan)
        found += out.verdict == abstats.BETTER
    assert found / 200 >= 0.72  # planned power 0.8 (binomial spread over 200: ±0.03)
    one = abstats.analyse("accuracy", "classification", _arm(rng, plan.per_arm, 0.80),
                          _arm(rng, plan.per_arm, 0.90), ["no", "yes"], plan)
    assert one.verdict == abstats.BETTER and one.result is not None and one.result.low > 0


def test_without_an_effect_repeated_looks_conclude_no_difference_at_most_5_percent() -> None:
    plan = _plan(0.05)
    rng = np.random.default_rng(3)
    false_positives = 0
    for _ in range(200):
        control, treatment = _arm(rng, 2 * plan.per_arm, 0.8), _arm(rng, 2 * plan.per_arm, 0.8)
        # Looks at a quarter, half, the plan, and beyond it: only the plan's rows decide.
        verdicts = [abstats.analyse("accuracy", "classification", control.head(n),
                                    treatment.head(n), ["no", "yes"], plan).verdict
                    for n in (plan.per_arm // 4, plan.per_arm // 2, plan.per_arm,
                              2 * plan.per_arm)]
        assert verdicts[:2] == [abstats.COLLECTING] * 2 and verdicts[2] == verdicts[3]
        false_positives += verdicts[2] != abstats.NO_DIFFERENCE
    assert false_positives / 200 <= 0.05


def test_welch_for_regression_errors_and_bootstrap_for_roc_auc() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=3000)
    near, far = (abstats.Arm(y[:1500], y[:1500] + rng.normal(0, 0.5, 1500)),
                 abstats.Arm(y[1500:], y[1500:] + rng.normal(0, 0.7, 1500)))
    out = abstats.difference("rmse", "regression", near, far, [], 0.05)
    assert out.test == abstats.WELCH and out.p_value < 1e-6
    assert out.low < 0.2 < out.high  # RMSE 0.7 - 0.5
    same = abstats.difference("mae", "regression", near, near, [], 0.05)
    assert same.p_value > 0.99

    labels = rng.random(800) < 0.5
    noisy = np.clip(labels * 0.3 + rng.random(800) * 0.7, 0, 1)
    sharp = np.clip(labels * 0.6 + rng.random(800) * 0.4, 0, 1)
    arms = [abstats.Arm(np.where(labels, "yes", "no")[s], np.where(p[s] > 0.5, "yes", "no"),
                        np.column_stack([1 - p[s], p[s]]))
            for p, s in ((noisy, slice(0, 400)), (sharp, slice(400, 800)))]
    auc = abstats.difference("roc_auc", "classification", *arms, ["no", "yes"], 0.05,
                             rounds=200)
    assert auc.test == abstats.BOOTSTRAP and auc.difference > 0.1
    assert auc.p_value < 0.001 and 0 < auc.low < auc.difference < auc.high


def test_the_p_values_are_scipys_yates_chi_square_and_welch_t_test() -> None:
    from scipy.stats import chi2_contingency, ttest_ind

    rng = np.random.default_rng(5)
    control, treatment = _arm(rng, 700, 0.8), _arm(rng, 650, 0.84)
    ours = abstats.difference("accuracy", "classification", control, treatment, [], 0.05)
    right = [int((a.pred == a.y).sum()) for a in (control, treatment)]
    table = [[right[0], 700 - right[0]], [right[1], 650 - right[1]]]
    assert ours.p_value == pytest.approx(chi2_contingency(table, correction=True)[1],
                                            rel=1e-9)
    y = rng.normal(size=900)
    arms = (abstats.Arm(y[:400], y[:400] + rng.normal(0, 1.0, 400)),
            abstats.Arm(y[400:], y[400:] + rng.normal(0, 1.1, 500)))
    welch = abstats.difference("mae", "regression", *arms, [], 0.05)
    errors = [np.abs(a.pred - a.y) for a in arms]
    assert welch.p_value == pytest.approx(
        ttest_ind(errors[1], errors[0], equal_var=False).pvalue, rel=1e-9)
