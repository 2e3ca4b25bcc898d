"""Alerts that say why: each alert of a monitoring check is classed by its cause.

The lifecycle's stage 8 asks what caused a degradation, because each cause has its own
remedy, so each alert names its kind:

- ``system``: the data broke, not the world. An input's missing rate jumped (or fell) in
  this batch, a categorical input holds categories the model never saw (a retyped column,
  codes instead of names, a new product), or an input that varied in training holds one
  value in every row (a stuck sensor, a default filled in). A number the model never saw is
  no such thing: numbers are ordered, so a shift is data drift whatever the number of
  distinct values. Retraining on broken data teaches the model the breakage, so a
  system alert alone does not recommend retraining: fix the upstream system. An input
  whose only change is such a burst is *not* counted as data drift. (A batch that cannot be
  scored at all, missing an input the model needs or holding text in a numeric input, is
  refused with a one-line error and, in a watched folder, set aside in ``rejected/``: there is
  no check to attach an alert to, and imputing a whole missing column would score rows
  on values nobody measured.)
- ``data_drift``: inputs moved (a change of location, spread or shape). Drifted inputs are
  ranked by their impact on this model: the drift statistic (PSI) times the input's
  importance to the version (``mlcycle.monitor.importance``), so a harmless shift of an
  input the model hardly uses ranks below a small shift of its main input. A measured loss
  of performance while inputs moved is data drift too: the model meets rows unlike its
  training data.
- ``prediction_drift``: the model's scores moved. Its evidence names the inputs that
  explain it (the ranked drifted or broken inputs).
- ``concept_drift``: measured performance fell while no input moved: the relation between
  inputs and outcome changed.
- ``estimated_loss``: the metric estimated without labels fell (labels come later) by
  more than the policy allows even at the better end of the batch's sampling interval
  (``least_loss``), so a loss within the batch's sampling noise does not alert.

What an alert asks of a person is its ``action``, judged once for the whole check: retraining
is recommended only when performance is worse than on the holdout beyond its uncertainty,
measured on labels beyond their noise (the measured-loss alert) or estimated without them
beyond the estimate's interval (``estimated_loss``). Drift that costs nothing stays an
alert (it is real drift) with ``no action needed`` and the figure that shows performance
holding; drift whose cost cannot be told (too few labelled rows, no estimate for the model
or too few rows to estimate on) says so and asks for a look with labels, not a retraining.
A system issue asks for the upstream fix. The check's one line of advice (:func:`advice`)
follows from the actions, and only an alert whose action is not ``none`` or ``look`` fires
the policy's ``on_alert`` trigger (``mlcycle.monitor.decisions``).

The kinds share one error budget per check (``mlcycle.monitor.budget``): the drift and
breakage tests of the inputs and their joint test, the test of the scores, and the estimated
and measured losses each fire at their share of it, so an unshifted batch raises any alert
in at most 2 % of checks.

Each alert is a JSON-able dict: ``kind``, ``message`` (the one line shown in lists, as
before), ``evidence`` (the figures), ``playbook`` (what to look at and what to do,
written from the figures) and ``action``.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcycle.drift.check import ColumnDrift, DriftResult
    from mlcycle.monitor.policy import Alerts

SYSTEM = "system"
DATA_DRIFT = "data_drift"
PREDICTION_DRIFT = "prediction_drift"
CONCEPT_DRIFT = "concept_drift"
ESTIMATED_LOSS = "estimated_loss"
KINDS = (SYSTEM, DATA_DRIFT, PREDICTION_DRIFT, CONCEPT_DRIFT, ESTIMATED_LOSS)
# What retraining addresses; a system issue is fixed upstream instead.
RETRAINABLE = frozenset({DATA_DRIFT, PREDICTION_DRIFT, CONCEPT_DRIFT, ESTIMATED_LOSS})
# What an alert asks of a person (see module).
RETRAIN = "retrain"  # performance is worse beyond its uncertainty
NO_ACTION = "none"  # drift with no loss clear of the noise
LOOK = "look"  # drift whose cost is not known yet
FIX = "fix_upstream"  # a system issue
ACTIONS = (RETRAIN, NO_ACTION, LOOK, FIX)

# The drift engine's tests that show breakage ("new_values" is tested on categories only).
_SYSTEM_TESTS = ("missing", "new_values", "constant")
_SHOWN = 6  # inputs named in a message


def alert(kind: str, message: str, evidence: dict[str, Any], playbook: list[str]
          ) -> dict[str, Any]:
    return {"kind": kind, "message": message, "evidence": evidence, "playbook": playbook}


def action_of(item: dict[str, Any]) -> str:
    """What an alert asks for; an alert stored before actions were judged asks what it
    asked then (retraining for any kind retraining addresses)."""
    return item.get("action") or (RETRAIN if item["kind"] in RETRAINABLE else FIX)


def retrain_recommended(alerts: list[dict[str, Any]]) -> bool:
    """True when performance is worse beyond its uncertainty (see module)."""
    return any(action_of(a) == RETRAIN for a in alerts)


def calling(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts that call for an action: all but drift that costs nothing or whose cost
    is not known yet."""
    return [a for a in alerts if action_of(a) not in (NO_ACTION, LOOK)]


def advice(alerts: list[dict[str, Any]]) -> str | None:
    """The check's one line of what to do, every face's (None without alerts)."""
    if not alerts:
        return None
    if retrain_recommended(alerts):
        losses = [a for a in alerts if action_of(a) == RETRAIN
                  and "relative_loss" in a["evidence"]]
        return "retraining recommended" + (f": {losses[0]['message']}" if losses else "")
    parts = []
    if any(action_of(a) == FIX for a in alerts):
        parts.append("retraining not recommended: fix the system issue first")
    drift = next((a for a in alerts if action_of(a) in (NO_ACTION, LOOK)), None)
    if drift is not None:
        standing = drift["evidence"]["performance"]["standing"]
        parts.append(f"no action needed: {standing}" if action_of(drift) == NO_ACTION
                     else f"retraining not recommended yet: {standing}")
    return "; ".join(parts)


def messages(alerts: list[dict[str, Any]]) -> list[str]:
    return [a["message"] for a in alerts]


def classify(data: DriftResult, scores: DriftResult, performance: dict[str, Any] | None,
             estimated: dict[str, Any] | None, importance: dict[str, float], *, project: str,
             source: str, limits: Alerts) -> list[dict[str, Any]]:
    """The alerts of a check, each with its kind, evidence and playbook (see module), at
    the thresholds of the project's policy (``limits``)."""
    max_loss, min_labelled = limits.max_loss, limits.min_labelled
    broken, moved = _partition(data, importance)
    source = shlex.quote(source)  # the playbook's commands are pasted into a shell
    retrain = _retrain_command(project, source, performance)
    out = []
    if broken:
        out.append(_system(broken, project, source))
    joint = data.multivariate
    if moved and len(moved) / max(data.n_tested, 1) >= limits.drift_share:
        drift = _data_drift(moved, data.n_tested, retrain)
        if joint is not None and joint.drifted:  # the same drift, seen jointly too
            drift["evidence"]["joint"] = _joint_evidence(joint)
        out.append(drift)
    # Only the joint test fired: the inputs' relations changed. A broken input moves the
    # joint test too; then that is the system issue, not drift.
    elif (joint is not None and joint.drifted
          and not any(b["input"] in joint.columns for b in broken)):
        out.append(_joint_drift(joint, retrain))
    if scores.drift_detected and limits.prediction_drift:
        out.append(_prediction_drift(scores.columns[0], moved, broken, project, source,
                                     retrain))
    for item in out:
        item["action"] = FIX if item["kind"] == SYSTEM else RETRAIN
    loss = _measured_loss(performance, max_loss, min_labelled)
    if loss is not None:
        out.append(_performance_loss(loss, moved, broken, retrain))
    elif (performance is None and estimated and _least_loss(estimated) is not None
          and _least_loss(estimated) > limits.max_estimated_loss
          and estimated["rows"] >= min_labelled):
        out.append(_estimated_loss(estimated, moved, project, source, retrain))
    else:  # no loss beyond its uncertainty: the drift alerts ask for no retraining
        standing = _standing(performance, estimated, min_labelled)
        for item in out:
            if item["kind"] != SYSTEM:
                _settle(item, standing, retrain, project, source)
        return out
    out[-1]["action"] = RETRAIN
    return out


def _standing(performance: dict[str, Any] | None, estimated: dict[str, Any] | None,
              min_labelled: int) -> dict[str, Any]:
    """Where performance stands when no loss alert fired: held (with the figure that shows
    it) or unknown (with why), as the evidence of the drift alerts."""
    if performance and performance["labelled_rows"] >= min_labelled:
        if performance["value"] is None or performance["reference"] is None:
            return {"holds": False, "standing": f"performance unknown: no {performance['metric']}"
                    " on the labelled rows, or none on the holdout, to compare"}
        noise = performance.get("noise")
        return {"holds": True, "standing": (
            f"no clear loss ({performance['metric']} {performance['value']:.4f} on "
            f"{performance['labelled_rows']:,} labelled rows vs {performance['reference']:.4f}"
            " on the holdout" + (f", noise {noise:.4f}" if noise else "") + ")"),
            **_loss_evidence(performance, performance["labelled_rows"]), "estimated": False}
    # As the estimated-loss alert: an estimate is the word only when nothing was measured.
    if (not performance and estimated and estimated["rows"] >= min_labelled
            and _least_loss(estimated) is not None):
        interval = (f" [{estimated['low']:.4f}, {estimated['high']:.4f}]"
                    if estimated.get("low") is not None else "")
        return {"holds": True, "standing": (
            f"no clear loss (estimated {estimated['metric']} {estimated['value']:.4f}"
            f"{interval} vs {estimated['reference']:.4f} on the holdout)"),
            **_loss_evidence(estimated, estimated["rows"]), "estimated": True,
            "low": estimated.get("low"), "high": estimated.get("high")}
    if performance:
        why = (f"{performance['labelled_rows']:,} labelled rows are fewer than the "
               f"{min_labelled:,} the policy needs to judge it")
    elif estimated and estimated["rows"] < min_labelled:
        why = (f"{estimated['rows']:,} rows are too few to estimate it without labels (the "
               f"policy needs {min_labelled:,})")
    else:
        why = "this model's performance cannot be estimated without labels"
    return {"holds": False, "standing": f"performance unknown: {why}"}


def _settle(item: dict[str, Any], standing: dict[str, Any], retrain: str, project: str,
            source: str) -> None:
    """A drift alert that costs nothing (or nothing known yet): it stays, says so with its
    evidence, and its playbook drops the steps that retrain (each names ``retrain``)."""
    labels = f"mlcycle monitor {project} {source} --labels FILE"
    if standing["holds"]:
        item["action"] = NO_ACTION
        item["message"] += f"; no action needed: {standing['standing']}"
        head = (f"No action needed: {standing['standing']}: whatever this drift costs is "
                "within the noise of the figures, so retraining is not called for now.")
        tail = [f"Retrain only if labels show a loss: {labels}"]
        if any(labels in step for step in item["playbook"]):  # it says so already
            tail = []
    else:
        item["action"] = LOOK
        item["message"] += f"; {standing['standing']}; look before retraining"
        head = (f"Not a case for retraining yet: what this drift costs is not known "
                f"({standing['standing']}).")
        tail = [f"Measure it with labels before retraining: {labels}"]
    item["evidence"]["performance"] = standing
    item["playbook"] = [head, *(s for s in item["playbook"] if retrain not in s), *tail]


def inputs(data: DriftResult, importance: dict[str, float],
           left_out: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The inputs of a check counted the one way every face shows them: ``tested``, those
    that ``drifted`` (moved: data drift, most impact first) and those ``broken`` by their
    source (a system issue: missing-value bursts, never-seen categories, stuck values),
    never counted as drift too; ``left_out``: the model's inputs not tested, by reason
    (those derived from a date, :mod:`mlcycle.models.time_inputs`)."""
    broken, moved = _partition(data, importance)
    return {"tested": data.n_tested, "drifted": [m["input"] for m in moved],
            "broken": [b["input"] for b in broken], "left_out": left_out or []}


def _partition(data: DriftResult, importance: dict[str, float]
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The inputs a system broke, most important first, and those that moved, by impact."""
    broken = sorted((_broken(c, importance) for c in data.drifted
                     if _firing(c, _SYSTEM_TESTS)), key=lambda b: -(b["importance"] or 0.0))
    # A column stuck at one value moves too; that is the breakage, not drift.
    moved = sorted((_moved(c, importance) for c in data.drifted
                    if _firing(c, ("location", "spread", "shape"))
                    and not _firing(c, ("constant",))),
                   key=lambda m: (-m["impact"], -m["drift"], m["input"]))
    return broken, moved


def _firing(column: ColumnDrift, tests: tuple[str, ...]) -> list[dict[str, Any]]:
    return [t for t in column.tests
            if t["test"] in tests and t.get("significant") and t.get("large_enough")]


def _broken(column: ColumnDrift, importance: dict[str, float]) -> dict[str, Any]:
    tests = {t["test"] for t in _firing(column, _SYSTEM_TESTS)}
    out: dict[str, Any] = {"input": column.name, "type": column.type,
                           "importance": importance.get(column.name)}
    if "missing" in tests:
        out["missing_reference"] = column.missing_reference
        out["missing_current"] = column.missing_current
    if "new_values" in tests:
        test = next(t for t in column.tests if t["test"] == "new_values")
        out["new_value_rows"] = int(test["statistic"])
        out["new_values"] = column.new_values[:5]
    if "constant" in tests:
        out["constant_value"] = next(t["value"] for t in column.tests if t["test"] == "constant")
    return out


def _moved(column: ColumnDrift, importance: dict[str, float]) -> dict[str, Any]:
    # Ranked by PSI, the one effect every distribution test of a column shares (a location
    # test's own effect is a shift in standard deviations, not comparable across inputs).
    drift = next(abs(t["effect"]) for t in column.tests if t["test"] == "shape")
    weight = importance.get(column.name)
    return {"input": column.name, "type": column.type, "drift": drift,
            "statistic_name": "psi", "importance": weight,
            # An input without an importance (none computed) ranks by its drift alone.
            "impact": drift * weight if weight is not None else drift,
            "p_value": column.p_value, "change": column.note}


def _what_broke(item: dict[str, Any]) -> str:
    parts = []
    if "missing_current" in item:
        parts.append(f"missing {item['missing_reference']:.1%} -> {item['missing_current']:.1%}")
    if "new_value_rows" in item:
        shown = ", ".join(repr(v["value"]) for v in item["new_values"][:3])
        parts.append(f"{item['new_value_rows']:,} rows with never-seen categories ({shown})")
    if "constant_value" in item:
        parts.append(f"every value is {item['constant_value']!r} (it varied in training)")
    return f"{item['input']} " + " and ".join(parts)


def _system(broken: list[dict[str, Any]], project: str, source: str) -> dict[str, Any]:
    listed = "; ".join(_what_broke(b) for b in broken[:_SHOWN])
    more = f"; and {len(broken) - _SHOWN} more" if len(broken) > _SHOWN else ""
    names = ", ".join(b["input"] for b in broken[:_SHOWN])
    playbook = [f"Look at where {names} come from: a broken feed, an export that changed "
                "its format or a tracking bug shows as missing or unknown values, not as a "
                "change in the world."]
    if any("missing_current" in b for b in broken):
        playbook.append("Missing values are scored as in training (imputed): the scores of "
                        "rows missing an important input are guesses until the feed is fixed.")
    if any("new_value_rows" in b for b in broken):
        playbook.append("Never-seen categories are scored as unknown. If a category is real "
                        "(a new product or payment method), collect labelled rows holding it "
                        f"and retrain (mlcycle retrain {project} --with FILE --labels FILE).")
    if any("constant_value" in b for b in broken):
        playbook.append("An input stuck at one value is scored as that value for every row: "
                        "look for a stuck sensor, a default an export fills in, or a join "
                        "that lost the column.")
    playbook += ["Fix the upstream system; do not retrain on this batch: a model trained on "
                 "broken data learns the breakage.",
                 f"Once fixed, check the batch again: mlcycle monitor {project} {source} --again"]
    return alert(SYSTEM, f"system issue in {len(broken)} input(s): {listed}{more}",
                 {"inputs": broken}, playbook)


def source_issue(collection: dict[str, Any], project: str) -> dict[str, Any]:
    """The system issue of a collection that found its source changed in a breaking way
    (``mlcycle.collect.history`` gives the collection; the collect stage records it, this
    stage classes it)."""
    broken = [c for c in collection["changes"] if c["breaking"]]
    name = collection["source"]
    listed = "; ".join(c["message"] for c in broken[:_SHOWN])
    more = f"; and {len(broken) - _SHOWN} more" if len(broken) > _SHOWN else ""
    playbook = [f"Look at what feeds source {name}: a removed or retyped column, or values "
                "gone missing, is a changed export or a broken feed, not a change in the world.",
                "Fix the source, or redefine it to match (mlcycle source add "
                f"{project} {name} --uri … --query …), then collect again: "
                f"mlcycle collect {project} {name}",
                "Do not train on the version this collection stored: a model trained on broken "
                "data learns the breakage."]
    return alert(SYSTEM, f"system issue in source {name}: {listed}{more}",
                 {"source": name, "source_version": collection["source_version"],
                  "version": collection["version"], "changes": broken}, playbook)


def _ranked(moved: list[dict[str, Any]], limit: int = 3) -> str:
    return ", ".join(f"{m['input']} (impact {m['impact']:.3f})" for m in moved[:limit])


def _data_drift(moved: list[dict[str, Any]], n_tested: int, retrain: str) -> dict[str, Any]:
    names = ", ".join(m["input"] for m in moved[:_SHOWN])
    more = f" and {len(moved) - _SHOWN} more" if len(moved) > _SHOWN else ""
    top = moved[0]
    playbook = [f"Look first at the inputs that matter most to this model: {_ranked(moved)}"
                + (f"; {top['input']}: {top['change']}" if top["change"] else "") + "."]
    harmless = [m["input"] for m in moved if m["importance"] is not None
                and m["importance"] < 0.01]
    if harmless:
        playbook.append(f"{', '.join(harmless)} moved but the model hardly uses "
                        f"{'it' if len(harmless) == 1 else 'them'}: little to fear there.")
    playbook += ["If the change is real (prices, customers, a season), collect labelled rows "
                 f"from the new period and retrain: {retrain}",
                 "If it is not real, look for a changed unit, scale or source upstream."]
    return alert(DATA_DRIFT, f"data drift in {len(moved)} of {n_tested} inputs: {names}{more}",
                 {"inputs": moved, "n_tested": n_tested,
                  "ranked_by": "impact = drift statistic (PSI) x importance to the model"},
                 playbook)


def _joint_evidence(joint: Any) -> dict[str, Any]:
    return {"method": joint.method, "statistic": joint.statistic, "p_value": joint.p_value,
            "columns": list(joint.columns)}


def _joint_drift(joint: Any, retrain: str) -> dict[str, Any]:
    """The inputs' relations changed (each input may look the same on its own)."""
    return alert(
        DATA_DRIFT,
        f"data drift in the inputs taken together: {joint.note} (p {joint.p_value:.2g})",
        _joint_evidence(joint),
        ["Look at how the inputs vary together (a scatter of the most important pairs, "
         "a segment that changed mix): each one alone may look as before.",
         "If the relation changed in the world, the model learned the old one: collect "
         f"labelled rows from the new period and retrain: {retrain}",
         "If one source now fills a column from another, or joins rows wrongly, fix that "
         "upstream first."])


def _prediction_drift(column: ColumnDrift, moved: list[dict[str, Any]],
                      broken: list[dict[str, Any]], project: str, source: str,
                      retrain: str) -> dict[str, Any]:
    summary = column.summary or {}
    explained = [{"input": m["input"], "impact": m["impact"], "cause": DATA_DRIFT}
                 for m in moved]
    explained += [{"input": b["input"], "importance": b["importance"], "cause": SYSTEM}
                  for b in broken]
    evidence = {"statistic_name": column.statistic_name, "statistic": column.statistic,
                "p_value": column.p_value, "reference_mean": summary.get("reference_mean"),
                "current_mean": summary.get("current_mean"), "explained_by": explained}
    if moved:
        playbook = [f"Look at the inputs that explain it, by impact: {_ranked(moved)}."]
    elif broken:
        playbook = ["No input moved, but "
                    f"{', '.join(b['input'] for b in broken)} broke (see the system alert): "
                    "fix that first; the scores may move only because of it."]
    else:
        playbook = ["No single input moved: look at joint changes of the inputs "
                    "(mlcycle drift --json) and at the scoring pipeline."]
    playbook += [f"Measure what it costs once labels arrive: mlcycle monitor {project} "
                 f"{source} --labels FILE",
                 f"If performance is lost, retrain: {retrain}"]
    from mlcycle.drift.check import effect_label

    message = (f"prediction drift: the model's scores moved "
               f"({effect_label(column.statistic_name)} {column.statistic:.3f})")
    return alert(PREDICTION_DRIFT, message, evidence, playbook)


def _measured_loss(performance: dict[str, Any] | None, max_loss: float, min_labelled: int
                   ) -> dict[str, Any] | None:
    """The measured performance when it fell by more than ``max_loss``, clear of noise."""
    if not performance or performance["relative_loss"] is None:
        return None
    lost = performance["relative_loss"] * abs(performance["reference"])
    clear = performance.get("noise") is None or lost > performance["noise"]
    if (performance["labelled_rows"] >= min_labelled and performance["relative_loss"] > max_loss
            and clear):
        return performance
    return None


def _loss_evidence(figure: dict[str, Any], rows: int) -> dict[str, Any]:
    return {"metric": figure["metric"], "value": figure["value"],
            "reference": figure["reference"], "relative_loss": figure["relative_loss"],
            "rows": rows, "noise": figure.get("noise")}


def _performance_loss(performance: dict[str, Any], moved: list[dict[str, Any]],
                      broken: list[dict[str, Any]], retrain: str) -> dict[str, Any]:
    n = performance["labelled_rows"]
    message = (f"{performance['metric']} fell to {performance['value']:.4f} on {n} labelled "
               f"rows from {performance['reference']:.4f} on the holdout "
               f"({performance['relative_loss']:.1%} worse)")
    evidence = _loss_evidence(performance, n)
    evidence["inputs_moved"] = [m["input"] for m in moved]
    if moved:
        # The model meets rows unlike its training data: the data-drift remedy applies.
        playbook = [f"The inputs moved ({_ranked(moved)}) and the model lost "
                    f"{performance['relative_loss']:.1%} of its {performance['metric']}.",
                    f"Retrain on labelled rows from the new period: {retrain}"]
        return alert(DATA_DRIFT, message, evidence, playbook)
    playbook = ["No input moved, yet the outcomes changed: the relation between inputs and "
                "outcome is not the one the model learned (concept drift)."]
    if broken:
        playbook.append(f"Rule out the broken inputs first ({', '.join(b['input'] for b in broken)}"
                        "; see the system alert).")
    playbook += ["Revise the features or the model: look for a driver the inputs do not "
                 "carry (a competitor, a policy, a season) and add it if it can be measured.",
                 "Retraining on recent labelled rows helps only if the new relation holds: "
                 f"{retrain}"]
    return alert(CONCEPT_DRIFT, message, evidence, playbook)


def _least_loss(estimated: dict[str, Any]) -> float | None:
    """The relative loss at the better end of the estimate's interval (an estimate stored
    before it had an interval: at its value)."""
    return estimated.get("least_loss", estimated["relative_loss"])


def _estimated_loss(estimated: dict[str, Any], moved: list[dict[str, Any]], project: str,
                    source: str, retrain: str) -> dict[str, Any]:
    interval = (f" [{estimated['low']:.4f}, {estimated['high']:.4f}]"
                if estimated.get("low") is not None else "")
    least = (f", at least {estimated['least_loss']:.1%} at this batch's size"
             if estimated.get("least_loss") is not None else "")
    message = (f"estimated {estimated['metric']} (labels not known yet) fell to "
               f"{estimated['value']:.4f}{interval} from {estimated['reference']:.4f} on the "
               f"holdout ({estimated['relative_loss']:.1%} worse{least})")
    evidence = _loss_evidence(estimated, estimated["rows"])
    evidence["method"] = estimated.get("method")
    evidence["low"], evidence["high"] = estimated.get("low"), estimated.get("high")
    playbook = ["The estimate sees what shifted inputs cost"
                + (f" ({_ranked(moved)})" if moved else "")
                + ", not a changed relation between inputs and outcome.",
                f"Confirm when labels arrive: mlcycle monitor {project} {source} --labels FILE",
                f"Then retrain on the labelled rows: {retrain}"]
    return alert(ESTIMATED_LOSS, message, evidence, playbook)


def _retrain_command(project: str, source: str, performance: dict[str, Any] | None) -> str:
    labels = (shlex.quote(performance["labels"]) if performance and performance.get("labels")
              else "FILE")
    return f"mlcycle retrain {project} --with {source} --labels {labels}"


# The stored checks from before alerts were classed hold only their messages.
_PREFIXES = (("data drift in", DATA_DRIFT), ("prediction drift", PREDICTION_DRIFT),
             ("estimated ", ESTIMATED_LOSS), ("system issue", SYSTEM))


def from_messages(stored: list[str]) -> list[dict[str, Any]]:
    """Alerts rebuilt from the messages of a check stored before alerts were classed (a
    measured loss is read as concept drift: those checks kept no finer cause)."""
    out = []
    for message in stored:
        kind = next((k for prefix, k in _PREFIXES if message.startswith(prefix)), CONCEPT_DRIFT)
        out.append(alert(kind, message, {}, []))
    return out


def report_lines(item: dict[str, Any]) -> list[str]:
    """What a report shows under an alert's message: its kind, evidence and playbook."""
    kind = item["kind"] + ("" if item["kind"] in RETRAINABLE
                           else " (retraining does not fix it)")
    return [f"kind: {kind}", *(f"evidence: {line}" for line in evidence_lines(item)),
            *(f"playbook: {step}" for step in item["playbook"])]


def evidence_lines(item: dict[str, Any]) -> list[str]:
    """An alert's evidence as lines a person reads (reports)."""
    evidence = item["evidence"]
    kind = item["kind"]
    if kind == SYSTEM:
        return [_what_broke(b) + _importance(b.get("importance"))
                for b in evidence.get("inputs", [])] + [
                    f"source {evidence['source']} v{evidence['source_version']}: {c['message']}"
                    for c in evidence.get("changes", [])]
    lines = []
    if kind == DATA_DRIFT and "inputs" in evidence:
        lines = [f"{m['input']}: impact {m['impact']:.4f} = PSI {m['drift']:.4f}"
                 + (f" x importance {m['importance']:.3f}" if m["importance"] is not None
                    else "") + (f" ({m['change']})" if m["change"] else "")
                 for m in evidence["inputs"]]
    if kind == PREDICTION_DRIFT and evidence:
        means = ""
        if evidence.get("reference_mean") is not None and evidence.get("current_mean") is not None:
            means = (f", mean score {evidence['reference_mean']:.4f} -> "
                     f"{evidence['current_mean']:.4f}")
        lines = [f"{evidence['statistic_name']} {evidence['statistic']:.4f}{means}"]
        lines += [f"explained by {e['input']} ({e['cause']})" for e in evidence["explained_by"]]
    if "metric" in evidence:
        lines.append(f"{evidence['metric']} {evidence['value']:.4f} on {evidence['rows']:,} "
                     f"rows against {evidence['reference']:.4f} on the holdout "
                     f"({evidence['relative_loss']:.1%} worse"
                     + (f"; noise {evidence['noise']:.4f}" if evidence.get("noise") else "")
                     + ")")
    return lines


def _importance(value: float | None) -> str:
    return f" (importance {value:.3f})" if value is not None else ""
