"""A/B tests (lifecycle stage 6): the champion and a canary, each judged on the rows it
answered, once their labels arrive.

While a canary answers a share of the rows, ``mlcycle serve`` logs every answered row (its
key, the version that answered, the prediction) as Parquet in the workspace. The test joins
a labels file to those rows, splits them by arm and applies mlcycle.deploy.abstats under the
test's plan: rows per arm for a minimum detectable effect, sized from the champion's spread
on its holdout and stored when the test starts, before any outcome is seen.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from mlcycle import deploy, projects
from mlcycle.deploy import abstats, predictions, score_input, scoring
from mlcycle.deploy.labels import labels_frame
from mlcycle.deploy.results import ABLook, ABPlan, Arm
from mlcycle.models import registry
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso, utcnow

if TYPE_CHECKING:
    import polars as pl

    from mlcycle.store.workspace import Workspace


def log_answers(ws: Workspace, project: str, control: int, treatment: int,
                frames: list[pl.DataFrame]) -> str:
    """Store the rows both arms of a canary answered (key ``id``, ``model_version``, the
    prediction): a Parquet file in the workspace, then its row."""
    import polars as pl

    from mlcycle.store.workspace import file_sha256

    frame = pl.concat(frames, how="diagonal_relaxed")
    name = uuid.uuid4().hex[:12]
    temp = ws.temp_path(".parquet")
    frame.write_parquet(temp)
    sha = file_sha256(temp)
    relpath = f"answers/{project}/{name}.parquet"
    ws.commit_file(temp, relpath)
    with ws.write() as con:
        con.execute("INSERT INTO answer_logs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [name, utcnow(), project, control, treatment, frame.height, relpath, sha])
    return name


def _answers(ws: Workspace, project: str) -> tuple[int, int, pl.DataFrame]:
    """The newest canary's arms and the rows they answered, in the order answered (a row
    answered twice counts once, as first answered)."""
    import polars as pl

    with ws.read() as con:
        latest = con.execute("SELECT control, treatment FROM answer_logs WHERE project = ? "
                             "ORDER BY ts DESC LIMIT 1", [project]).fetchall()
        if not latest:
            raise NotFound(f"project {project!r} has no rows answered by a canary; set "
                           "strategy = \"canary\" ('mlcycle deploy set'), take a step "
                           "('mlcycle deploy step') and serve")
        control, treatment = latest[0]
        stored = con.execute("SELECT id, path, sha256 FROM answer_logs WHERE project = ? AND "
                             "control = ? AND treatment = ? ORDER BY ts",
                             [project, control, treatment]).fetchall()
    frames = [pl.read_parquet(ws.verified_path(path, sha, f"the canary answers {name}"))
              for name, path, sha in stored]
    return control, treatment, pl.concat(frames, how="diagonal_relaxed").unique(
        "id", keep="first", maintain_order=True)


def _arm(frame: pl.DataFrame, task: str, classes: list[str]) -> abstats.Arm:
    import numpy as np

    y = frame.get_column("y").to_numpy()
    pred = frame.get_column("prediction")
    if task == "regression":
        return abstats.Arm(y.astype(np.float64), pred.to_numpy().astype(np.float64))
    labels = pred.cast(str).to_numpy()  # class names, whatever the label type
    proba = np.column_stack([frame.get_column(f"probability_{c}").to_numpy()
                             for c in classes]).astype(np.float64)
    return abstats.Arm(y.astype(str), labels, proba / proba.sum(axis=1, keepdims=True))


def _stored_plan(ws: Workspace, project: str, control: int, treatment: int
                 ) -> tuple[abstats.Plan, str] | None:
    with ws.read() as con:
        row = con.execute("SELECT metric, mde, alpha, power, per_arm, detail, created_at "
                          "FROM abtest_plans WHERE project = ? AND control = ? AND "
                          "treatment = ?", [project, control, treatment]).fetchall()
    if not row:
        return None
    metric, mde, alpha, power, per_arm, detail, created = row[0]
    return (abstats.Plan(metric, mde, alpha, power, int(per_arm),
                         json.loads(detail)["variance"]), iso(created))


def _make_plan(ws: Workspace, project: str, metric: str, control: int, treatment: int,
               mde: float, alpha: float, power: float) -> tuple[abstats.Plan, str]:
    """Size the test from the champion's spread on its own holdout, then store the plan."""
    import polars as pl

    version = registry.get(ws, project, str(control))
    signature = deploy.signature_of(ws, version)
    _data, raw, y, mask = deploy.training_data(ws, version, signature)
    holdout = raw.filter(mask)
    pred = scoring.scorer(ws, project, str(control)).predict(
        score_input.model_frame(holdout, signature))
    arm = _arm(predictions.prediction_frame(pred, signature).with_columns(
        pl.Series("y", y[mask])), signature.task, signature.classes)
    variance = abstats.row_variance(metric, signature.task, arm, signature.classes)
    plan = abstats.Plan(metric, mde, alpha, power,
                        abstats.per_arm_size(variance, mde, alpha, power), variance)
    created = utcnow()
    with ws.write() as con:
        con.execute("INSERT INTO abtest_plans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [project, control, treatment, metric, mde, alpha, power, plan.per_arm,
                     json.dumps({"variance": variance, "holdout_rows": arm.y.size}), created])
        events.record(con, "deploy.abtest_planned", project=project, subject=f"v{treatment}",
                      detail={"control": control, "treatment": treatment, **plan.to_dict()})
    return plan, iso(created)


ALPHA, POWER = 0.05, 0.8  # a new plan's, unless told otherwise


def report(ws: Workspace, project: str, labels: str | Path, mde: float | None = None,
           alpha: float | None = None, power: float | None = None, rounds: int = 1000
           ) -> ABLook:
    """The A/B test of the newest canary on the rows whose labels arrived; the first call
    plans it (``mde`` required then; ``alpha`` and ``power`` default to ALPHA and POWER),
    later calls follow that plan, and every call is recorded in the audit trail."""
    import polars as pl

    if mde is not None and mde <= 0:
        raise InvalidInput(f"--mde must be above 0, not {mde:g}")
    if (alpha is not None and not 0 < alpha < 0.5) or (
            power is not None and not 0.5 <= power < 1):
        raise InvalidInput("--alpha must be between 0 and 0.5, --power between 0.5 and 1")
    proj = projects.get(ws, project)
    metric = proj.metric
    control, treatment, answers = _answers(ws, project)
    version = registry.get(ws, project, str(control))
    signature = deploy.signature_of(ws, version)
    truth = labels_frame(Path(labels).expanduser(), signature,
                         deploy.identifier_of(ws, version))
    joined = answers.join(truth, on="id", how="inner", maintain_order="left")
    stored = _stored_plan(ws, project, control, treatment)
    if stored is None:
        if mde is None:
            raise InvalidInput(f"the A/B test of v{treatment} against v{control} has no plan "
                               f"yet: give --mde, the smallest difference in {metric} worth "
                               "detecting (e.g. --mde 0.02)")
        stored = _make_plan(ws, project, metric, control, treatment, mde,
                            ALPHA if alpha is None else alpha, POWER if power is None else power)
    plan, planned_at = stored
    asked = (mde, alpha, power)
    if any(a is not None and a != b for a, b in zip(asked, (plan.mde, plan.alpha, plan.power))):
        raise InvalidInput(
            f"the plan of this test was fixed on {planned_at} (mde {plan.mde:g}, alpha "
            f"{plan.alpha:g}, power {plan.power:g}: {plan.per_arm:,} rows per arm); changing "
            "it after seeing outcomes would bias the test. Run without --mde, --alpha, --power")
    arms = {side: _arm(joined.filter(pl.col("model_version") == v), signature.task,
                       signature.classes)
            for side, v in (("control", control), ("treatment", treatment))}
    analysis = abstats.analyse(plan.metric, signature.task, arms["control"],
                               arms["treatment"], signature.classes, plan, rounds)
    look = ABLook(
        project, plan.metric, Arm(control, analysis.control_rows),
        Arm(treatment, analysis.treatment_rows), analysis.verdict, analysis.result,
        dict(analysis.still_needed), abstats.METHOD, abstats.fitting_test(plan.metric),
        answers.height, joined.height, ABPlan(**plan.to_dict(), planned_at=planned_at),
        _recommend(project, plan, control, treatment, analysis))
    with ws.write() as con:
        events.record(con, "deploy.abtest", project=project, subject=f"v{treatment}",
                      detail=look.recorded())
    return look


def _recommend(project: str, plan: abstats.Plan, control: int, treatment: int,
               analysis: abstats.Analysis) -> str:
    verdict = analysis.verdict
    if verdict == abstats.COLLECTING:
        more = max(analysis.still_needed.values())
        return (f"keep the canary answering: {more:,} more labelled rows per arm are needed "
                "before the test concludes")
    if verdict == abstats.BETTER:
        return f"promote v{treatment}: mlcycle promote {project} {treatment}"
    if verdict == abstats.WORSE:
        return f"keep v{control} and send the canary back: mlcycle deploy step {project} --back"
    return (f"no difference of {plan.mde:g} or more in {plan.metric}: keep v{control} unless "
            f"v{treatment} is wanted for other reasons")


def last(ws: Workspace, project: str) -> ABLook | None:
    """The newest A/B test look recorded, for the terminal UI."""
    for event in events.recent(ws, project, limit=200):
        if event["kind"] == "deploy.abtest":
            return ABLook.from_event(project, iso(event["ts"]), event["detail"])
    return None
