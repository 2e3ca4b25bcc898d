"""A dataset version's dictionary and quality report as a Markdown document."""

from __future__ import annotations

import shlex
from typing import Any

from mlcycle.data import quality
from mlcycle.data.datasets import DatasetVersion


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cell(text: Any) -> str:
    return _fmt(text).replace("|", "\\|").replace("\n", " ")


def guessed_roles(project: str, dictionary: list[dict[str, Any]], report: dict[str, Any]
                  ) -> list[str]:
    """One line per column guessed an identifier or free text: the guess, its reason, and
    how to change it (or the role a user set instead)."""
    roles = {c["name"]: c["role"] for c in dictionary}
    lines = []
    for s in report["column_stats"]:
        reason, role = s.get("role_reason"), roles.get(s["name"])
        if not reason or role == "target":
            continue
        guess = "an identifier" if s["guessed_role"] == "identifier" else "free text"
        if role == s["guessed_role"]:
            lines.append(f"{s['name']}: guessed {guess} ({reason}), left out of the model "
                         "inputs and the drift tests; to use it as an input: mlcycle data role "
                         f"{shlex.quote(project)} {shlex.quote(s['name'])} feature")
        else:
            lines.append(f"{s['name']}: guessed {guess} ({reason}); its role is set to {role}")
    return lines


def to_markdown(
    version: DatasetVersion, dictionary: list[dict[str, Any]], report: dict[str, Any]
) -> str:
    """The data dictionary and quality report of one version."""
    lines = [
        f"# Dataset version {version.id} of {version.project}",
        "",
        f"- Source: {version.source} ({version.source_format})",
        f"- Stored: {version.created_at:%Y-%m-%d %H:%M} UTC, "
        f"{version.size_bytes:,} bytes of Parquet",
        f"- Rows: {report['rows']:,}; columns: {report['columns']}; "
        f"duplicate rows: {report['duplicate_rows']:,}",
    ]
    if report["constant_columns"]:
        lines.append(f"- Constant columns: {', '.join(report['constant_columns'])}")
    sampled = [s["name"] for s in report["column_stats"] if s.get("quantiles_every")]
    if sampled:
        lines.append(f"- p50 of {', '.join(sampled)} (more than {quality.QUANTILE_VALUES:,} "
                     f"values each): from a sample of at most {quality.QUANTILE_VALUES:,} rows, "
                     "picked by a hash of each row")
    lines += [
        "",
        "## Data dictionary",
        "",
        "| column | type | kind | role | description |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {_cell(c['name'])} | {c['dtype']} | {c['kind']} | {c['role']} "
        f"| {_cell(c['description'])} |"
        for c in dictionary
    ]
    guessed = guessed_roles(version.project, dictionary, report)
    if guessed:
        lines += ["", *(f"- {_cell(line)}" for line in guessed)]
    lines += [
        "",
        "## Quality",
        "",
        "| column | missing | distinct | min | mean | std | p50 | max | top values |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in report["column_stats"]:
        top = ", ".join(f"{_cell(t['value'])} ({t['count']:,})" for t in s.get("top", [])[:5])
        lines.append(
            f"| {_cell(s['name'])} | {s['missing_share']:.1%} | {s['distinct']:,} | "
            f"{_cell(s.get('min'))} | {_cell(s.get('mean'))} | {_cell(s.get('std'))} | "
            f"{_cell((s.get('quantiles') or {}).get('p50'))} | {_cell(s.get('max'))} | {top} |"
        )
    target = report.get("target")
    if target:
        lines += ["", f"## Target: {target['name']}", ""]
        if not target["present"]:
            lines.append("The target column is not in this version.")
        else:
            lines.append(f"Missing: {target['missing_share']:.1%}")
            if "classes" in target:
                lines += ["", "| class | rows | share |", "|---|---|---|"]
                lines += [
                    f"| {_cell(c['value'])} | {c['count']:,} | {c['share']:.1%} |"
                    for c in target["classes"]
                ]
            else:
                d = target["distribution"]
                lines.append(
                    f"min {_fmt(d['min'])}, mean {_fmt(d['mean'])}, std {_fmt(d['std'])}, "
                    f"max {_fmt(d['max'])}"
                )
    return "\n".join(lines) + "\n"
