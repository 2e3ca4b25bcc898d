"""Monitoring (lifecycle stage 8): each new batch checked against the model that scores it.

A check scores the batch with the serving version (a logged scoring run, the challenger
shadowing as usual) and, in the same pass over the file, tests it against that version's
own training data:

- data drift: every model input, with the drift engine (``mlcycle.drift.check``), against the rows
  the version was trained on; the parts derived from a date are compared through the date
  itself (``mlcycle.models.time_inputs``: time moves on between batches);
- prediction drift: the model's score (positive-class probability, predicted class or
  value) against its scores on the holdout. Testing the model's output was the strongest
  single detector in "Failing Loudly" (Rabanser et al., 2019), and it weighs a shift by
  how much it matters to this model;
- performance, when labels are given: the version's metric on the labelled rows against
  its holdout figure. A relative loss above ``MAX_LOSS`` that is also clear of sampling
  error (the bootstrap standard error of the difference, times the quantile of the check's
  budget share) is an alert (concept drift shows here, not in the inputs). Without labels,
  the metric is estimated with a 95 % interval (``mlcycle.monitor.estimators``: a
  classifier's from its calibrated scores, a regression model's from a model of its
  errors), and an estimated loss alerts when even the better end of a one-sided interval at
  its budget share is worse than the holdout's estimate by more than the policy's
  ``max_estimated_loss``.

All of these share one error budget per check (``mlcycle.monitor.budget``): an unshifted
batch raises some alert in at most 2 % of checks, at any size.

Each alert names its cause (``mlcycle.monitor.alerts``: a system issue, data drift ranked by
impact on this model, prediction drift, concept drift, an estimated loss) with its evidence
and playbook; retraining (``mlcycle.monitor.retraining``) is recommended only when
performance is worse beyond its uncertainty, measured or estimated: drift that costs nothing
says "no action needed" with the figure that shows it, and a system issue alone never
recommends it. The thresholds
(``MAX_LOSS``, ``MIN_LABELLED``, the share of inputs drifted, the per-input effect floors,
whether prediction drift alerts) are the project's policy (``mlcycle.monitor.policy``; these
names are its defaults). Each check is one row in ``monitor_checks``; the history feeds
``mlcycle monitor PROJECT`` and the TUI's charts. In the transaction that records it, the
policy's retraining triggers are evaluated (``mlcycle.monitor.decisions``), so a check is
never stored without its decision.

A check knows the content it checked (:class:`Content`): the same content is checked once
per model version, whether ``mlcycle monitor``, the watcher or the Python API meets it, and
again only when asked (``again``). A new version is a new question, so it checks it anew.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle import deploy, projects
from mlcycle.data import datasets, sources
from mlcycle.deploy import label_join, runs, score_files, score_input, scoring
from mlcycle.deploy.labels import row_keys
from mlcycle.models import evaluation, model_input, registry, time_inputs
from mlcycle.monitor import alerts as alert_kinds
from mlcycle.monitor import budget, decisions, estimators, importance
from mlcycle.monitor import policy as policies
from mlcycle.monitor.batch_file import Batch, record_watched
from mlcycle.projects.metrics import CATALOG
from mlcycle.store import cancel as cancelling
from mlcycle.store import events, files
from mlcycle.store.errors import NotFound
from mlcycle.store.schema import iso, utcnow
from mlcycle.store.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from mlcycle.drift.check import Profile
    from mlcycle.store.cancel import CancelToken

SCORE = "model_score"
# The policy's defaults: the relative loss of the metric against the holdout that raises
# an alert, and the labelled rows below which performance says too little to alert on.
MAX_LOSS = policies.DEFAULT.alerts.max_loss
MIN_LABELLED = policies.DEFAULT.alerts.min_labelled


@dataclass
class Reference:
    """What a version's new data is compared with; built once per version and reused."""

    scorer: scoring.Scorer
    inputs: Profile
    scores: Profile
    metric: str
    holdout_value: float | None
    # When the metric can be estimated without labels (mlcycle.monitor.estimators): the
    # estimator fitted on the holdout, and its estimate there that later ones are held to.
    estimator: estimators.Estimator | None = None
    estimated_holdout: float | None = None
    holdout_se: float | None = None  # sampling error of holdout_value (bootstrap)
    booleans: list[str] = field(default_factory=list)  # inputs profiled as booleans
    challenger: scoring.Scorer | None = None  # scores each batch in the champion's shadow
    # Each input's importance to this version (mlcycle.monitor.importance): ranks data drift.
    importance: dict[str, float] = field(default_factory=dict)

    @property
    def version(self) -> registry.ModelVersion:
        return self.scorer.version

    @property
    def signature(self) -> model_input.Signature:
        return self.scorer.signature


def score_frame(pred: dict[str, np.ndarray], signature: model_input.Signature) -> pl.DataFrame:
    """The one column that prediction drift is tested on."""
    import polars as pl

    if signature.task == "regression":
        return pl.DataFrame({SCORE: pred["value"]})
    if len(signature.classes) == 2:
        positive = signature.classes.index(evaluation.positive_class(signature.classes))
        return pl.DataFrame({SCORE: pred["proba"][:, positive].astype("float64")})
    return pl.DataFrame({SCORE: pred["label"]})


def reference(ws: Workspace, project: str, ref: str = registry.CHAMPION) -> Reference:
    """Profiles of a version's training inputs and of its scores on the holdout; and the
    challenger that shadows it, if one is named."""
    from mlcycle import drift

    scorer = scoring.scorer(ws, project, ref)
    signature = scorer.signature
    data, raw, y, mask = deploy.training_data(ws, scorer.version, signature)
    booleans = model_input.boolean_inputs(raw, signature)
    collected = _as_collected(ws, project, data, raw.filter(~mask), signature)
    inputs = drift.profile(model_input.as_booleans(time_inputs.frame(
        model_input.frame(collected, signature, exact=True), collected, signature), booleans))
    holdout = model_input.frame(raw.filter(mask), signature)
    pred = scorer.predict(holdout)
    scores = score_frame(pred, signature)
    metric = projects.get(ws, project).metric
    value = scorer.version.summary.get("metrics", {}).get(f"holdout.{metric}")
    base = Reference(scorer, inputs, drift.profile(scores), metric, value, booleans=booleans,
                     challenger=scoring.shadow_of(ws, project, scorer.version))
    base.holdout_se = _sampling_error(signature, metric, y[mask], pred)
    base.importance = importance.importances(scorer, holdout)
    base.estimator = estimators.fit(signature, metric, holdout, pred, y[mask], base.holdout_se)
    if base.estimator is not None:
        base.estimated_holdout = base.estimator.estimate(holdout, pred).value
    return base


def _as_collected(ws: Workspace, project: str, data: Any, training: pl.DataFrame,
                  signature: model_input.Signature) -> pl.DataFrame:
    """The rows new batches are compared with: as they were collected. Batches arrive raw,
    before any recipe, so against prepared rows a column the recipe imputed would 'drift'
    in its missing rate, an artefact of the comparison. The prepared rows stand in only
    when the recipe renamed or derived an input the collected data lacks."""

    from mlcycle import prep

    collected, recipe_id = prep.collected_parent(ws, project, data.id)
    if recipe_id is None:
        return training
    frame = datasets.frame(ws, collected)
    if all(c in frame.columns for c in model_input.raw_columns(signature)):
        return frame
    return training


def _sampling_error(signature: model_input.Signature, metric: str, y: np.ndarray,
                    pred: dict[str, np.ndarray]) -> float | None:
    if signature.task == "regression":
        return evaluation.bootstrap_se("regression", metric, y.astype("float64"),
                                       pred["value"])
    proba = pred["proba"].astype("float64")
    return evaluation.bootstrap_se("classification", metric, y, pred["label"],
                                   proba / proba.sum(axis=1, keepdims=True),
                                   signature.classes)


@dataclass(frozen=True)
class Content:
    """What a check is of: the SHA-256 of the batch file's bytes, and of its labels file's
    bytes when it has one. Labels ask more of a batch (its measured performance), so labels
    that arrive later, or corrected ones, are a new question; a batch without labels is
    answered by any check of it, labelled or not (each one tests drift and estimates)."""

    sha256: str
    labels_sha256: str | None = None


def content_hash(path: Path) -> str:
    """The SHA-256 of a file's bytes, with the readers' one-line errors."""
    try:
        with files.open_regular(path) as fh:
            return files.sha256(fh)
    except OSError as exc:
        raise sources.file_error(exc, str(path)) from None


def earlier_check(ws: Workspace, project: str, content: Content, version: int, *,
                  since: datetime | None = None) -> dict[str, Any] | None:
    """The newest check that answers ``content`` by ``version`` (recorded after ``since``, if
    given), as :func:`check` returns a check, marked ``repeat_of``; None when there is none.
    Without labels, a check with labels answers too (see :class:`Content`)."""
    with ws.read() as con:
        rows = con.execute(
            "SELECT id FROM monitor_checks WHERE project = ? AND version = ? AND sha256 = ? "
            "AND (? IS NULL OR labels_sha256 = ?) AND (? IS NULL OR ts > ?) "
            "ORDER BY ts DESC LIMIT 1",
            [project, version, content.sha256, content.labels_sha256, content.labels_sha256,
             since, since]).fetchall()
    if not rows:
        return None
    stored = get_check(ws, project, rows[0][0])
    result = {key: stored[key] for key in ("id", "version", "source", "rows", "scoring_run")}
    result["project"] = project
    result["seconds"] = stored.get("seconds")  # checks stored before it was kept have none
    result.update({key: stored[key] for key in ("data_drift", "inputs", "prediction_drift",
                                                "performance", "estimated_performance",
                                                "alerts", "alert_details")})
    result["retrain_recommended"] = stored["retrain_recommended"]
    result["advice"] = stored["advice"]
    result["decision"] = None  # a repeat raises nothing: its check did, if anything
    result["repeat_of"] = stored["id"]
    return result


@dataclass
class _Collected:
    """Model inputs (numbers as the batch holds them, not as the model's float32), scores
    and join keys of a batch, gathered while it is scored."""

    identifier: str | None
    inputs: list[Any] = field(default_factory=list)
    compared: list[Any] = field(default_factory=list)  # what drift is tested on (time_inputs)
    scores: list[Any] = field(default_factory=list)
    predictions: list[Any] = field(default_factory=list)

    def add(self, raw: pl.DataFrame, inputs: pl.DataFrame, pred: dict[str, np.ndarray],
            predicted: pl.DataFrame, signature: model_input.Signature) -> None:
        import polars as pl

        self.inputs.append(score_input.model_frame(raw, signature, exact=True))
        self.compared.append(time_inputs.frame(self.inputs[-1], raw, signature))
        self.scores.append(score_frame(pred, signature))
        keys = row_keys(raw, inputs, self.identifier)
        self.predictions.append(pl.concat([pl.DataFrame([keys]), predicted], how="horizontal"))


def check(ws: Workspace, project: str, data: str | Path | Batch, *,
          labels: str | Path | None = None, ref: str = registry.CHAMPION,
          cached: Reference | None = None, note: scoring.Note | None = None,
          again: bool = False, since: datetime | None = None,
          policy: policies.Policy | None = None, cancel: CancelToken | None = None
          ) -> dict[str, Any]:
    """Score a batch and check it for data drift, prediction drift and (with labels) a loss
    of performance; record the check with its scoring run, in one transaction.

    ``data``: the batch file (with its ``labels``), or a :class:`Batch` that a caller which
    read the file already (the watcher) hands over with its digest, its table and its stamp;
    such a batch is recorded only once confirmed unchanged (:meth:`Batch.confirm`; raising
    there abandons the check and writes nothing), and a watched one's ``watched_files`` row
    is written in the transaction that records the check.

    A content (:class:`Content`) the same version checked before is not checked again
    unless ``again``: that check is returned, marked ``repeat_of``, and nothing is written.
    ``since``: only checks recorded after it count (the watcher's ``--again`` forgets the
    checks made before it started). ``cached``: a reference built earlier for the version
    that scores the batch (the watcher keeps one, ``References``), so that it is not built
    again for each batch.

    The batch and its labels are read and checked before anything is written. ``policy``:
    the thresholds and triggers to apply (default: the project's current policy).
    Cancelling stops between the steps (reading, scoring batch by batch, testing, waiting
    for the file to settle); nothing is written then."""
    batch = Batch.of(data, labels)
    labels = batch.labels
    content = Content(batch.digest or content_hash(batch.path.expanduser()),
                      content_hash(labels) if labels is not None else None)
    version = cached.version if cached else registry.get(ws, project, ref)
    if not again:
        earlier = earlier_check(ws, project, content, version.version, since=since)
        if earlier is not None:
            return earlier
    cancelling.check(cancel)
    policy = policy or policies.current(ws, project)
    table = batch.table or score_files.read_table(batch.path, cancel=cancel)
    try:
        truth = None
        if labels is not None:
            keyed = ((cached.signature, cached.scorer.identifier) if cached else
                     (deploy.signature_of(ws, version), deploy.identifier_of(ws, version)))
            truth = label_join.read(labels, *keyed, batch_rows=table.rows,
                                    batch=Path(table.label).name)
        if cached is None:  # building the reference may convert versions: a first write
            challenger = scoring.challenger_of(ws, project, version)
            score_input.check_table(ws, table, [version, *([challenger] if challenger else [])])
        cancelling.check(cancel)
        # By number: the version looked up above, even if the alias moves meanwhile.
        base = cached or reference(ws, project, str(version.version))
        result, run = _check_table(ws, project, base, table, labels, truth, note,
                                   policy.alerts, cancel)
    finally:
        if batch.table is None:
            table.close()
    cancelling.check(cancel)  # the last step before anything is written
    batch.confirm(cancel)
    with runs.recording(ws, run):
        _record(ws, result, run, content, batch, policy)
    return result


def _check_table(ws: Workspace, project: str, base: Reference, batch: score_files.Table,
                 labels: Path | None, truth: label_join.Labels | None,
                 note: scoring.Note | None, limits: policies.Alerts,
                 cancel: CancelToken | None = None
                 ) -> tuple[dict[str, Any], runs.Run]:
    import polars as pl

    from mlcycle import drift

    identifier = base.scorer.identifier
    collected = _Collected(identifier)
    started = time.perf_counter()
    scored, run = scoring.score_table(
        ws, project, batch, base.scorer, base.challenger, note=note, cancel=cancel,
        on_batch=lambda raw, inputs, pred, predicted: collected.add(
            raw, inputs, pred, predicted, base.signature))
    batch_scores = pl.concat(collected.scores)
    predictions = pl.concat(collected.predictions)
    inputs = pl.concat(collected.inputs)
    # Each question gets its share of the check's budget (mlcycle.monitor.budget).
    data = drift.check(base.inputs, model_input.as_booleans(pl.concat(collected.compared),
                                                            base.booleans),
                       alpha=budget.INPUTS, min_psi=limits.min_psi, min_h=limits.min_h)
    cancelling.check(cancel)
    scores = drift.check(base.scores, batch_scores, alpha=budget.PREDICTIONS)
    performance = None
    if labels is not None and truth is not None:
        performance = _performance(base, labels, truth, identifier, predictions,
                                   Path(batch.label))
    estimated = _estimate(base, inputs, batch_scores, predictions)
    details = alert_kinds.classify(data, scores, performance, estimated, base.importance,
                                   project=project, source=batch.label, limits=limits)
    return {
        "id": uuid.uuid4().hex[:12],
        "project": project,
        "version": base.version.version,
        "source": batch.label,
        "rows": scored.rows,
        "scoring_run": run.id,
        "seconds": round(time.perf_counter() - started, 3),
        "data_drift": data.to_dict(),
        "inputs": alert_kinds.inputs(data, base.importance,
                                     time_inputs.left_out(base.signature)),
        "prediction_drift": scores.to_dict(),
        "performance": performance,
        "estimated_performance": estimated,
        "alerts": alert_kinds.messages(details),
        "alert_details": details,
        "retrain_recommended": alert_kinds.retrain_recommended(details),
        "advice": alert_kinds.advice(details),
    }, run


def _performance(base: Reference, labels: Path, truth: label_join.Labels,
                 identifier: str | None, predictions: pl.DataFrame, batch: Path
                 ) -> dict[str, Any]:
    import numpy as np
    import polars as pl

    signature = base.signature
    given, counts = label_join.join(truth, predictions.get_column("id"), predictions.height,
                                    batch.name, signature, identifier)
    mask = given.is_not_null()
    joined = predictions.filter(mask)
    out: dict[str, Any] = {"labels": str(labels), "labelled_rows": joined.height,
                           "metric": base.metric, "reference": base.holdout_value,
                           "value": None, "relative_loss": None,
                           "join": counts.to_dict(), "join_note": counts.note(labels.name)}
    y = model_input.target_values(pl.DataFrame([given.filter(mask)]), signature)
    pred = model_input.predicted_values(joined.get_column("prediction"), signature)
    proba = None
    if signature.task == "classification":
        proba = np.column_stack([joined.get_column(f"probability_{c}").to_numpy()
                                 for c in signature.classes]).astype(np.float64)
        proba = proba / proba.sum(axis=1, keepdims=True)
    else:
        y = y.astype(np.float64)
    figures = evaluation.scores(signature.task, y, pred, proba, signature.classes or None)
    value = figures.get(base.metric)
    out["value"] = value
    out["metrics"] = figures
    if value is not None and base.holdout_value:
        sign = 1 if CATALOG[base.metric].greater_is_better else -1
        out["relative_loss"] = sign * (base.holdout_value - value) / abs(base.holdout_value)
        # A loss must also be clear of the sampling error of both figures (the standard
        # error of their difference at the measured loss's share of the check's budget): a
        # small holdout or batch moves a metric by chance.
        errors = [base.holdout_se, evaluation.bootstrap_se(
            signature.task, base.metric, y, pred, proba, signature.classes or None)]
        out["noise"] = (budget.Z_MEASURED * float(np.hypot(*errors))
                        if all(e is not None for e in errors) else None)
    return out


def _estimate(base: Reference, inputs: pl.DataFrame, scores: pl.DataFrame,
              predictions: pl.DataFrame) -> dict[str, Any] | None:
    """The metric expected on the batch without its labels, with its 95 % interval
    (``low``, ``high``). ``least_loss``, which the estimated-loss alert is held to, is the
    relative loss at the better end of a one-sided sampling interval at the estimated loss's
    share of the check's budget (``budget.Z_ESTIMATED``): the holdout's estimate it is
    measured against shares the calibration's error (``mlcycle.monitor.estimation``)."""
    import numpy as np

    if base.estimator is None or base.estimated_holdout is None or not scores.height:
        return None
    classes = base.signature.classes
    pred = ({"label": model_input.predicted_values(predictions.get_column("prediction"),
                                                   base.signature),
             "proba": np.column_stack([predictions.get_column(f"probability_{c}").to_numpy()
                                       for c in classes])}
            if classes else {"value": scores.get_column(SCORE).to_numpy()})
    figure = base.estimator.estimate(inputs, pred)
    sign = 1 if CATALOG[base.metric].greater_is_better else -1
    reference = base.estimated_holdout

    def loss(value: float) -> float | None:
        return sign * (reference - value) / abs(reference) if reference else None

    return {"metric": base.metric, "value": figure.value, "low": figure.low,
            "high": figure.high, "reference": reference, "relative_loss": loss(figure.value),
            "least_loss": loss(figure.value + sign * budget.Z_ESTIMATED * figure.error),
            "rows": scores.height, "method": base.estimator.method}


def _record(ws: Workspace, result: dict[str, Any], run: runs.Run, content: Content,
            batch: Batch, policy: policies.Policy) -> None:
    performance = result["performance"] or {}
    report = {k: result[k] for k in ("data_drift", "inputs", "prediction_drift", "performance",
                                     "estimated_performance", "seconds", "alert_details")}
    with ws.write() as con:
        runs.record_run(con, run)
        con.execute(
            "INSERT INTO monitor_checks VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [result["id"], utcnow(), result["project"], result["version"], result["source"],
             result["rows"], result["scoring_run"], result["data_drift"]["drift_detected"],
             result["data_drift"]["share_drifted"],
             result["prediction_drift"]["drift_detected"], performance.get("metric"),
             performance.get("value"), performance.get("reference"),
             performance.get("labelled_rows"),
             (result["estimated_performance"] or {}).get("value"), json.dumps(result["alerts"]),
             json.dumps(report, default=str), content.sha256, content.labels_sha256],
        )
        detail = {"check": result["id"], "rows": result["rows"], "alerts": result["alerts"],
                  "source": result["source"]}
        events.record(con, "monitor.checked", project=result["project"],
                      subject=f"v{result['version']}", detail=detail)
        if result["alerts"]:
            kinds = sorted({a["kind"] for a in result["alert_details"]})
            events.record(con, "monitor.alert", project=result["project"],
                          subject=f"v{result['version']}", detail={**detail, "kinds": kinds})
        result["decision"] = decisions.after_check(con, result, policy)
        if batch.watched:
            record_watched(con, result["project"], batch.path, content.sha256, "checked",
                           result["id"], None)


_HISTORY_COLUMNS = ("id", "ts", "version", "source", "rows", "scoring_run", "data_drift",
                    "share_drifted", "prediction_drift", "metric", "metric_value",
                    "metric_reference", "labelled_rows", "estimated_value", "alerts", "sha256",
                    "labels_sha256")
# A check's inputs as counted when it was made (None for checks made before they were kept).
_SELECT = "SELECT " + ", ".join(_HISTORY_COLUMNS) + ", json_extract(report, '$.inputs')"


def history(ws: Workspace, project: str, limit: int = 50) -> list[dict[str, Any]]:
    """The project's checks, oldest first (the last ``limit``)."""
    projects.get(ws, project)
    with ws.read() as con:
        rows = con.execute(
            _SELECT + " FROM monitor_checks WHERE project = ? "
            "ORDER BY ts DESC LIMIT ?", [project, limit]).fetchall()
    out = []
    for row in reversed(rows):
        item = dict(zip((*_HISTORY_COLUMNS, "inputs"), row))
        item["ts"] = iso(item["ts"])
        item["alerts"] = json.loads(item["alerts"])
        item["inputs"] = json.loads(item["inputs"]) if item["inputs"] else None
        out.append(item)
    return out


def metric_of(check: dict[str, Any]) -> tuple[float | None, bool]:
    """A stored check's metric: the measured one, else the estimate; and whether it is the
    estimate."""
    if check["metric_value"] is not None:
        return check["metric_value"], False
    return check["estimated_value"], check["estimated_value"] is not None


def get_check(ws: Workspace, project: str, check_id: str | None = None) -> dict[str, Any]:
    """One check with its full report; the newest when ``check_id`` is None."""
    with ws.read() as con:
        rows = con.execute(
            _SELECT + ", report FROM monitor_checks "
            "WHERE project = ? AND (? IS NULL OR id = ?) ORDER BY ts DESC LIMIT 1",
            [project, check_id, check_id]).fetchall()
    if not rows:
        what = f"check {check_id!r}" if check_id else "no checks yet"
        raise NotFound(f"project {project!r}: {what}; run 'mlcycle monitor {project} FILE'")
    item = dict(zip((*_HISTORY_COLUMNS, "inputs", "report"), rows[0]))
    item["ts"] = iso(item["ts"])
    item["alerts"] = json.loads(item["alerts"])
    item["inputs"] = None  # the report holds them, for checks made since they are kept
    item.update(json.loads(item.pop("report")))
    if "alert_details" not in item:  # stored before alerts were classed
        item["alert_details"] = alert_kinds.from_messages(item["alerts"])
    item["retrain_recommended"] = alert_kinds.retrain_recommended(item["alert_details"])
    item["advice"] = alert_kinds.advice(item["alert_details"])
    return item


def write_report(check: dict[str, Any], path: str | Path) -> Path:
    """A check as a Markdown or HTML report (the suffix decides): alerts (each with its kind,
    evidence and playbook), performance, prediction drift, then the data-drift report of
    every input."""
    from mlcycle.drift.report import write_report as write

    name = Path(check["source"]).name
    preface: list[str | tuple[str, list[str]]] = [
        f"{name}: {check['rows']:,} rows scored by version {check['version']} "
        f"(check {check['id']})"]
    details = check.get("alert_details") or alert_kinds.from_messages(check["alerts"])
    preface += [(f"ALERT: {a['message']}", alert_kinds.report_lines(a))
                for a in details] or ["no alerts"]
    from mlcycle.drift.check import effect_label

    score = check["prediction_drift"]["columns"][0]
    preface.append(f"prediction drift: {'yes' if score['drifted'] else 'no'} "
                   f"({effect_label(score['statistic_name'])} {score['statistic'] or 0:.3f})")
    for key, what in (("performance", "on the labelled rows"),
                      ("estimated_performance", "estimated without labels")):
        figure = check.get(key)
        if figure and figure["value"] is not None:
            reference = figure["reference"]
            interval = (f" [{figure['low']:.4f}, {figure['high']:.4f}] (95 % interval)"
                        if figure.get("low") is not None else "")
            preface.append(f"{figure['metric']} {what}: {figure['value']:.4f}{interval}"
                           + (f" (holdout {reference:.4f})" if reference is not None else ""))
    return write(drift_result(check), path, title=f"Monitoring check of {name}",
                 preface=preface)


def drift_result(report: dict[str, Any]) -> Any:
    """The stored data-drift part of a check as a ``DriftResult``, for the report writers."""
    from mlcycle.drift.check import DriftResult

    return DriftResult.from_dict(report["data_drift"])
