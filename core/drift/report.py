"""Drift reports as Markdown or self-contained HTML (no scripts, no external files).

Both show the verdict, one table row per column (drifted columns first), and for each
drifted column the reference and current shares per bin or category side by side.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.store import safety
from mlcycle.store.errors import InvalidInput

if TYPE_CHECKING:
    from mlcycle.drift.check import ColumnDrift, DriftResult

_BAR = 24  # characters of the widest Markdown bar
# A preface line, or a line with lines under it (a monitoring alert with its evidence).
Preface = str | tuple[str, list[str]]


def write_report(result: DriftResult, path: str | Path, *, title: str = "Data drift report",
                 preface: list[Preface] | None = None) -> Path:
    """Write ``result`` to ``path``; the suffix (.md or .html) picks the format.

    ``preface``: lines of plain text shown under the title, before the drift verdict (a
    monitoring check puts its alerts and performance there); a ``(line, lines)`` pair shows
    ``lines`` nested under ``line``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        text = markdown(result, title, preface or [])
    elif suffix in (".html", ".htm"):
        text = render_html(result, title, preface or [])
    else:
        raise InvalidInput(f"{path}: the report must end in .md or .html")
    return safety.write_text(path, text)


def _ordered(result: DriftResult) -> list[ColumnDrift]:
    def key(c: ColumnDrift) -> tuple[int, float]:
        if c.drifted:
            return 0, c.p_value or 0.0
        return (1, c.p_value if c.p_value is not None else 1.0) if c.tested else (2, 0.0)

    return sorted(result.columns, key=key)


def dataset_verdict(result: DriftResult) -> str:
    """The dataset verdict in one sentence (the CLI prints it too)."""
    joint = result.multivariate is not None and result.multivariate.drifted
    if result.drift_detected and not result.drifted and joint:
        return (f"Drift detected in the inputs taken together; none of {result.n_tested} "
                "tested columns drifted on its own.")
    if result.drift_detected:
        also = "; the inputs taken together drifted too" if joint else ""
        return (f"Drift detected in {len(result.drifted)} of {result.n_tested} tested columns "
                f"({result.share_drifted:.0%}){also}.")
    return f"No drift detected in {result.n_tested} tested columns."


def multivariate_line(result: DriftResult) -> str | None:
    """One line on the joint test: its verdict and figures, or why it did not apply."""
    joint = result.multivariate
    if joint is None:
        return None
    if not joint.applicable:
        return f"inputs taken together: not tested ({joint.reason})"
    word = "DRIFT" if joint.drifted else "ok"
    return (f"inputs taken together ({len(joint.columns)} columns, {joint.components} "
            f"principal components): {word}, p-value {_p(joint.p_value)}, "
            f"{joint.statistic_name} {joint.statistic or 0:.3f}, mean reconstruction error "
            f"{joint.mean_error_reference or 0:.3g} → {joint.mean_error_current or 0:.3g}"
            + (f"; {joint.note}" if joint.note else ""))


def _one_sided(result: DriftResult) -> list[str]:
    """What was not compared because only one side has it."""
    return [f"not compared, only in the {side}: {', '.join(names)}"
            for side, names in (("reference", result.only_in_reference),
                                ("current", result.only_in_current)) if names]


def _p(value: float | None) -> str:
    return "" if value is None else f"{value:.2g}"


def _md_cell(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _split(item: Preface) -> tuple[str, list[str]]:
    return (item, []) if isinstance(item, str) else item


def markdown(result: DriftResult, title: str = "Data drift report",
             preface: list[Preface] | None = None) -> str:
    lines = [f"# {_md_cell(title)}", ""]
    if preface:
        for line, nested in map(_split, preface):
            lines += [f"- {_md_cell(line)}"] + [f"  - {_md_cell(sub)}" for sub in nested]
        lines += ["", "## Data drift", ""]
    lines += [
        f"**{dataset_verdict(result)}**",
        "",
        f"- reference: {_md_cell(result.reference or '(profile)')}, "
        f"{result.n_reference:,} rows",
        f"- current: {_md_cell(result.current or '(batch)')}, {result.n_current:,} rows",
        f"- false-alarm rate for the whole table: {result.alpha:g} "
        f"(a column needs p < {result.threshold:.2g} and a change large "
        "enough to matter)",
        *[f"- {_md_cell(line)}" for line in _one_sided(result)],
        *[f"- {_md_cell(line)}" for line in [multivariate_line(result)] if line],
        "",
        "| column | type | drift | p-value | effect | missing ref → cur | method | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for col in _ordered(result):
        verdict = "**DRIFT**" if col.drifted else ("ok" if col.tested else "–")
        effect = f"{col.statistic_name} {col.statistic:.3f}" if col.tested else ""
        lines.append(
            f"| `{_md_cell(col.name)}` | {col.type} | {verdict} | {_p(col.p_value)} | {effect} "
            f"| {col.missing_reference:.1%} → {col.missing_current:.1%} "
            f"| {_md_cell(col.method)} | {_md_cell(col.note or '')} |"
        )
    for col in result.drifted:
        lines += ["", f"## `{_md_cell(col.name)}`", "", _md_cell(col.note or ""), ""]
        lines += _md_histogram(col)
    return "\n".join(lines) + "\n"


def _md_histogram(col: ColumnDrift) -> list[str]:
    hist = col.histogram
    if not hist:
        return [f"missing: {col.missing_reference:.1%} → {col.missing_current:.1%}"]
    top = max([*hist["reference"], *hist["current"], 1e-12])
    out = ["| bin | reference | | current | |", "|---|---:|---|---:|---|"]
    for label, r, c in zip(hist["labels"], hist["reference"], hist["current"]):
        out.append(f"| {_md_cell(label)} | {r:.1%} | `{_bar(r, top)}` | {c:.1%} | "
                   f"`{_bar(c, top)}` |")
    return out


def _bar(share: float, top: float) -> str:
    blocks = " ▏▎▍▌▋▊▉█"
    eighths = round(share / top * _BAR * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (blocks[part] if part else "")).ljust(_BAR)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;
font-size:14px;text-align:left}th{background:#f3f3f3}.drift{color:#b00;font-weight:bold}
.ok{color:#070}.na{color:#888}.verdict{font-size:1.3em;font-weight:bold}
.bad{color:#b00}.good{color:#070}svg text{font-size:11px;font-family:system-ui,sans-serif}
"""


def _html_preface(preface: list[Preface]) -> str:
    e = html.escape
    items = []
    for line, nested in map(_split, preface):
        sub = "<ul>" + "".join(f"<li>{e(s)}</li>" for s in nested) + "</ul>" if nested else ""
        items.append(f"<li>{e(line)}{sub}</li>")
    return "<ul>" + "".join(items) + "</ul><h2>Data drift</h2>"


def render_html(result: DriftResult, title: str = "Data drift report",
                preface: list[Preface] | None = None) -> str:
    e = html.escape
    rows = []
    for col in _ordered(result):
        cls, word = ("drift", "DRIFT") if col.drifted else (
            ("ok", "ok") if col.tested else ("na", "–"))
        effect = f"{col.statistic_name} {col.statistic:.3f}" if col.tested else ""
        rows.append(
            f"<tr><td><code>{e(col.name)}</code></td><td>{e(col.type)}</td>"
            f"<td class='{cls}'>{word}</td><td>{_p(col.p_value)}</td><td>{e(effect)}</td>"
            f"<td>{col.missing_reference:.1%} → {col.missing_current:.1%}</td>"
            f"<td>{e(col.method)}</td><td>{e(col.note or '')}</td></tr>"
        )
    sections = []
    for col in result.drifted:
        sections.append(f"<h2><code>{e(col.name)}</code></h2><p>{e(col.note or '')}</p>"
                        + _svg(col))
    verdict_cls = "bad" if result.drift_detected else "good"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>{_CSS}</style></head><body>
<h1>{e(title)}</h1>
{_html_preface(preface) if preface else ""}
<p class="verdict {verdict_cls}">{e(dataset_verdict(result))}</p>
<p>reference: {e(result.reference or "(profile)")}, {result.n_reference:,} rows<br>
current: {e(result.current or "(batch)")}, {result.n_current:,} rows<br>
false-alarm rate for the whole table: {result.alpha:g} (a column needs
p &lt; {result.threshold:.2g} and a change large enough to matter)
{"".join(f"<br>{e(line)}" for line in _one_sided(result))}
{"".join(f"<br>{e(line)}" for line in [multivariate_line(result)] if line)}</p>
<table><tr><th>column</th><th>type</th><th>drift</th><th>p-value</th><th>effect</th>
<th>missing ref → cur</th><th>method</th><th>note</th></tr>
{"".join(rows)}
</table>
{"".join(sections)}
</body></html>
"""


def _svg(col: ColumnDrift) -> str:
    hist = col.histogram
    if not hist:
        return (f"<p>missing: {col.missing_reference:.1%} → {col.missing_current:.1%}</p>")
    labels, ref, cur = hist["labels"], hist["reference"], hist["current"]
    top = max([*ref, *cur, 1e-12])
    row_h, label_w, bar_w = 18, 170, 300
    height = row_h * len(labels) + 30
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{label_w + bar_w + 80}' "
             f"height='{height}' role='img'>",
             "<rect x='0' y='2' width='10' height='8' fill='#7a9cc6'/>"
             "<text x='14' y='10'>reference</text>"
             "<rect x='90' y='2' width='10' height='8' fill='#e07b39'/>"
             "<text x='104' y='10'>current</text>"]
    for i, (label, r, c) in enumerate(zip(labels, ref, cur)):
        y = 24 + i * row_h
        parts.append(f"<text x='0' y='{y + 11}'>{html.escape(str(label)[:28])}</text>")
        parts.append(f"<rect x='{label_w}' y='{y}' width='{r / top * bar_w:.1f}' height='7' "
                     "fill='#7a9cc6'/>")
        parts.append(f"<rect x='{label_w}' y='{y + 7}' width='{c / top * bar_w:.1f}' "
                     "height='7' fill='#e07b39'/>")
        parts.append(f"<text x='{label_w + bar_w + 6}' y='{y + 11}'>{r:.1%} / {c:.1%}</text>")
    parts.append("</svg>")
    return "".join(parts)
