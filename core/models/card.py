"""The model card of a registered version, as Markdown."""

from __future__ import annotations

import json
from typing import Any

from mlcycle import projects
from mlcycle.models import registry, tracking
from mlcycle.projects.metrics import CATALOG, meets_goal
from mlcycle.store.workspace import Workspace


def _f(value: Any) -> str:
    return "–" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def baseline_of(ws: Workspace, run: tracking.RunRecord) -> tracking.RunRecord | None:
    """The baseline run trained alongside ``run`` (same training group), if any."""
    if not run.group:
        return None
    found = [r for r in tracking.runs(ws, run.project, group=run.group) if r.kind == "baseline"]
    return found[0] if found else None


def render(ws: Workspace, project: str, ref: str) -> str:
    proj = projects.get(ws, project)
    version = registry.get(ws, project, ref)
    run = tracking.get_run(ws, version.run_id)
    baseline = baseline_of(ws, run)
    evaluation = json.loads(tracking.artifact_path(ws, run, "evaluation.json").read_text())
    key = f"holdout.{proj.metric}"
    value = run.metrics.get(key)
    lines = [
        f"# Model card: {project} version {version.version}",
        "",
        f"- Problem: {proj.description or '–'}",
        f"- Predicts: `{proj.target}` ({proj.task}); business KPI: {proj.kpi or '–'}",
        f"- Model: {version.summary.get('model')} "
        f"({', '.join(f'{k}={v}' for k, v in run.params.items()) or 'default parameters'})",
        f"- Aliases: {', '.join(version.aliases) or 'none'}; registered "
        f"{version.created_at:%Y-%m-%d %H:%M} UTC; archived: {'yes' if version.archived else 'no'}",
        f"- Lineage: run `{run.id}`, dataset version `{run.tags.get('mlcycle.dataset')}`, "
        f"seed {run.tags.get('mlcycle.seed')}, training group `{run.group}`",
        f"- Model file: `{version.path}`, sha256 `{version.sha256[:16]}…`",
        "",
        "## Verdict",
        "",
    ]
    direction = "higher" if CATALOG[proj.metric].greater_is_better else "lower"
    base_value = baseline.metrics.get(key) if baseline else None
    lines.append(
        f"Primary metric **{proj.metric}** ({direction} is better) on the holdout: "
        f"**{_f(value)}**; baseline {_f(base_value)}."
    )
    if base_value is not None and value is not None:
        from mlcycle.models.evaluation import beats

        lines.append(
            f"- Beats the baseline: {'yes' if beats(proj.metric, value, base_value) else 'NO'}"
        )
    if proj.goal is not None and value is not None:
        lines.append(
            f"- Meets the goal ({proj.goal:g}): "
            f"{'yes' if meets_goal(proj.metric, value, proj.goal) else 'NO'}"
        )
    lines += [
        "",
        "## Metrics",
        "",
        "| metric | holdout | baseline | cross-validation (± sd) |",
        "|---|---|---|---|",
    ]
    for name, metric_value in evaluation["metrics"].items():
        base = baseline.metrics.get(f"holdout.{name}") if baseline else None
        cv, sd = run.metrics.get(f"cv.{name}"), run.metrics.get(f"cv.{name}.std")
        lines.append(f"| {name} | {_f(metric_value)} | {_f(base)} | {_f(cv)} ± {_f(sd)} |")
    matrix = evaluation.get("confusion_matrix")
    if matrix:
        labels = matrix["labels"]
        lines += [
            "",
            "## Confusion matrix (rows: actual, columns: predicted)",
            "",
            "| | " + " | ".join(labels) + " |",
            "|---" * (len(labels) + 1) + "|",
        ]
        lines += [
            f"| {label} | " + " | ".join(str(c) for c in row) + " |"
            for label, row in zip(labels, matrix["counts"])
        ]
    calibration = evaluation.get("calibration")
    if calibration:
        lines += [
            "",
            f"## Calibration: Brier {_f(calibration['brier'])}, expected calibration "
            f"error {_f(calibration['expected_calibration_error'])}",
            "",
            "| predicted | rows | mean predicted | observed |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {b['bin']} | {b['rows']} | {_f(b['mean_predicted'])} | {_f(b['observed'])} |"
            for b in calibration["bins"]
        ]
    lines += [
        "",
        "## Permutation importance (drop in the primary metric)",
        "",
        "| feature | mean | sd |",
        "|---|---|---|",
    ]
    lines += [
        f"| {p['feature']} | {_f(p['mean'])} | {_f(p['std'])} |"
        for p in evaluation["permutation_importance"]
    ]
    lines += ["", "## Segments", ""]
    for column, rows in evaluation["segments"].items():
        shown = (
            proj.metric
            if rows and proj.metric in rows[0]
            else ("accuracy" if proj.task == "classification" else "rmse")
        )
        lines.append(
            f"- **{column}**: "
            + "; ".join(f"{r['value']} ({r['rows']} rows) {shown} {_f(r.get(shown))}" for r in rows)
        )
    lines += [
        "",
        "## Worst-predicted holdout rows",
        "",
        "| id | actual | predicted | loss |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {w['id'] if w['id'] is not None else w['row']} | {w['actual']} | "
        f"{w['predicted']} | {_f(w['loss'])} |"
        for w in evaluation["worst_rows"][:10]
    ]
    env = json.loads(run.tags.get("mlcycle.environment") or "{}")
    lines += [
        "",
        "## Limits",
        "",
        f"Judged on {evaluation['rows']:,} holdout rows of one dataset version; data that "
        "drifts away from it (see monitoring) may be served worse. Environment: "
        + ", ".join(f"{k} {v}" for k, v in env.items())
        + ".",
    ]
    return "\n".join(lines) + "\n"
