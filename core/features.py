"""Feature engineering (lifecycle stage 4): named, versioned feature sets and what they show.

A feature set is TOML: derived columns written in the expression language of
``core.expressions`` and a selection::

    name = "churn-base"

    [[derive]]
    name = "charge_per_month"
    expr = "total_charges / tenure_months"        # safe division: 0 months gives null
    description = "Average bill so far"

    [[derive]]
    name = "log_charges"
    expr = "log1p(monthly_charges)"

    [select]
    drop = ["customer_id", "signup_date"]         # or keep = [...]; the target always stays

Derived columns may use earlier ones: ratios (``/`` is safe), ``log``/``sqrt``/``exp``, date
parts (``year``, ``month``, ``weekday``, …), ``bin(x, 12, 24, 48)``, ``length(text)`` and
interaction terms (``a * b``; booleans count as 0/1).

Design: one shared function, not a scikit-learn step
----------------------------------------------------
Derived columns are computed by :func:`apply`, one function used by training and by scoring.
The alternative, making each derived column a step of the model's scikit-learn pipeline,
would need arbitrary expressions as ``FunctionTransformer`` steps, and skl2onnx cannot
convert a ``FunctionTransformer`` that runs Python code, so the ONNX export of a later stage
could not carry them. Instead the model bundle carries the feature set (its TOML text, id and
target; see :meth:`FeatureSet.to_dict`), and scoring calls the same :func:`apply` on incoming
rows before the ONNX graph, which then only holds what skl2onnx converts (encoders, scalers,
the estimator). One function means training and scoring can never compute a feature in two
different ways, and a feature set's id (a hash of its content) recorded in a run's lineage
names exactly the computation that ran.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core import datasets, events, expressions, projects
from core.columns import by_name
from core.errors import InvalidInput, NotFound
from core.expressions import ExpressionError, compile_expr, explain, schema_types
from core.schema import iso, utcnow

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from core.workspace import Workspace

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

FORMAT = 1
ID_LENGTH = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_DERIVE_HEADER = re.compile(r"^\s*\[\[\s*derive\s*\]\]")
BINS = 10  # quantile bins for mutual information and stability
TOP = 20  # categories kept by name for the same; the rest pooled
SHIFTING, UNSTABLE = 0.1, 0.25  # PSI rules of thumb


@dataclass(frozen=True)
class Derived:
    name: str
    expr: str
    description: str = ""


@dataclass(frozen=True)
class FeatureSet:
    """A named, versioned feature definition. ``id`` is a hash of its content."""

    id: str
    name: str
    version: int | None  # None until stored
    target: str
    derived: tuple[Derived, ...]
    keep: tuple[str, ...] | None
    drop: tuple[str, ...]
    text: str
    description: str = ""
    project: str | None = None
    created_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name

    def to_dict(self) -> dict[str, Any]:
        """Everything scoring needs to rebuild it (``from_dict``), plus what people read."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "project": self.project,
            "target": self.target,
            "description": self.description,
            "derived": [{"name": d.name, "expr": d.expr, "description": d.description}
                        for d in self.derived],
            "keep": list(self.keep) if self.keep is not None else None,
            "drop": list(self.drop),
            "created_at": iso(self.created_at)
            if self.created_at else None,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSet:
        """Rebuild from ``to_dict`` (e.g. from a model bundle); the id is checked."""
        fs = parse(data["text"], data["target"], source=f"feature set {data.get('name')}")
        if data.get("id") and fs.id != data["id"]:
            raise InvalidInput(f"feature set {data.get('name')!r}: its text does not match "
                               f"its id {data['id']}")
        return _with(fs, version=data.get("version"), project=data.get("project"))


def _with(fs: FeatureSet, **changes: Any) -> FeatureSet:
    from dataclasses import replace

    return replace(fs, **changes)


# -- reading and checking -----------------------------------------------------------------

def parse(text: str, target: str, source: str = "features") -> FeatureSet:
    """Read a feature set from TOML; raises InvalidInput (one line naming the line)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{source}: TOML syntax error: {str(exc).splitlines()[0]}") from None
    lines = text.splitlines()

    def line_of(pattern: str) -> int | None:
        rx = re.compile(pattern)
        return next((i + 1 for i, ln in enumerate(lines) if rx.search(ln)), None)

    def problem(line: int | None, where: str, message: str) -> InvalidInput:
        return InvalidInput(f"{source}{f' line {line}' if line else ''}, {where}: {message}")

    allowed = {"name", "description", "derive", "select"}
    for key in data:
        if key not in allowed:
            raise problem(line_of(rf"^\s*\[?\s*{re.escape(key)}\b"), f"key {key!r}",
                          f"unknown; a feature set has {', '.join(sorted(allowed))}")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise problem(line_of(r"^\s*name\s*="), "name",
                      'needs name = "…" (letters, digits, _ - .; up to 64)')
    raw = data.get("derive", [])
    if not isinstance(raw, list) or not all(isinstance(d, dict) for d in raw):
        raise problem(line_of(r"^\s*derive\s*="), "derive",
                      "write each derived column as a [[derive]] table")
    headers = [i + 1 for i, ln in enumerate(lines) if _DERIVE_HEADER.match(ln)]
    derived: list[Derived] = []
    for i, d in enumerate(raw):
        line = headers[i] if len(headers) == len(raw) else None
        where = f"derive {i + 1}" + (f" ({d['name']})" if isinstance(d.get("name"), str) else "")
        extra = set(d) - {"name", "expr", "description"}
        if extra:
            raise problem(line, where, f"unknown key {sorted(extra)[0]!r}; use name, expr, "
                                       "description")
        if not isinstance(d.get("name"), str) or not d["name"].strip():
            raise problem(line, where, 'needs name = "…"')
        if not isinstance(d.get("expr"), str):
            raise problem(line, where, 'needs expr = "…", e.g. expr = "a / b"')
        try:
            expressions.parse(d["expr"])
        except ExpressionError as exc:
            raise problem(line, where, explain(d["expr"], exc)) from None
        if d["name"] in {x.name for x in derived}:
            raise problem(line, where, f"{d['name']!r} is derived twice")
        derived.append(Derived(d["name"], d["expr"], str(d.get("description", ""))))
    select = data.get("select", {})
    select_line = line_of(r"^\s*\[\s*select\s*\]")
    if not isinstance(select, dict) or set(select) - {"keep", "drop"}:
        raise problem(select_line, "select", "takes keep = [...] or drop = [...]")
    if "keep" in select and "drop" in select:
        raise problem(select_line, "select", "give keep or drop, not both")
    lists = {}
    for key in ("keep", "drop"):
        value = select.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise problem(select_line, f"select.{key}", "must be a list of column names")
        lists[key] = value
    if target in lists["drop"]:
        raise problem(select_line, "select.drop", f"drops the target {target!r}")
    description = data.get("description", "")
    canonical = {
        "format": FORMAT, "name": name, "target": target,
        "derive": [[d.name, d.expr] for d in derived],
        "keep": lists["keep"] if "keep" in select else None, "drop": sorted(lists["drop"]),
    }
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    fid = hashlib.blake2b(blob.encode(), digest_size=20).hexdigest()[:ID_LENGTH]
    return FeatureSet(
        id=fid, name=name, version=None, target=target, derived=tuple(derived),
        keep=tuple(lists["keep"]) if "keep" in select else None, drop=tuple(lists["drop"]),
        text=text, description=str(description),
    )


def check(fs: FeatureSet, schema: dict[str, str]) -> dict[str, str]:
    """Check a feature set against the data's columns; returns the features' schema.

    Raises InvalidInput naming the derived column or selection that cannot work.
    """
    cols = dict(schema)
    lines = fs.text.splitlines()
    headers = [i + 1 for i, ln in enumerate(lines) if _DERIVE_HEADER.match(ln)]
    for i, d in enumerate(fs.derived):
        at = f" line {headers[i]}" if len(headers) == len(fs.derived) else ""
        where = f"feature set {fs.name}{at}, derive {i + 1} ({d.name})"
        if d.name in schema:
            raise InvalidInput(f"{where}: a column {d.name!r} is already in the data; "
                               "choose another name")
        try:
            cols[d.name] = compile_expr(d.expr, cols).type
        except ExpressionError as exc:
            raise InvalidInput(f"{where}: {explain(d.expr, exc)}") from None
    return _select_schema(fs, cols, strict=True)


def _select_schema(fs: FeatureSet, cols: dict[str, str], strict: bool) -> dict[str, str]:
    listed = fs.keep if fs.keep is not None else fs.drop
    if strict:
        for name in listed:
            if name not in cols:
                kind = "keep" if fs.keep is not None else "drop"
                raise InvalidInput(f"feature set {fs.name}, select.{kind}: no column {name!r} "
                                   "in the data or among the derived columns")
    if fs.keep is not None:
        names = [c for c in cols if c in fs.keep or c == fs.target]
    else:
        names = [c for c in cols if c not in fs.drop]
    return {c: cols[c] for c in names}


def apply(feature_set: FeatureSet, frame: pl.DataFrame | pl.LazyFrame
          ) -> pl.DataFrame | pl.LazyFrame:
    """Compute the derived columns and the selection: THE function training and scoring share.

    Columnar polars expressions only. The target is kept when present and not required (scoring
    data has none); columns listed under ``drop`` are dropped when present; columns a derived
    column or ``keep`` needs must be there, or this raises InvalidInput naming them.
    Returns the same kind of frame it was given.
    """
    lazy = frame.lazy()
    cols = schema_types(lazy.collect_schema())
    for d in feature_set.derived:
        try:
            compiled = compile_expr(d.expr, cols)
        except ExpressionError as exc:
            raise InvalidInput(f"feature {d.name!r} of {feature_set.ref}: "
                               f"{explain(d.expr, exc)}") from None
        lazy = lazy.with_columns(compiled.expr.alias(d.name))
        cols[d.name] = compiled.type
    if feature_set.keep is not None:
        missing = [c for c in feature_set.keep if c not in cols]
        if missing:
            raise InvalidInput(f"feature set {feature_set.ref} keeps {missing[0]!r}, which the "
                               "data does not have")
    lazy = lazy.select(list(_select_schema(feature_set, cols, strict=False)))
    return lazy if _is_lazy(frame) else lazy.collect()


def _is_lazy(frame: Any) -> bool:
    import polars as pl

    return isinstance(frame, pl.LazyFrame)


# -- stored versions ----------------------------------------------------------------------

_FIELDS = "project, name, version, id, text, target, created_at"


def _from_row(row: tuple[Any, ...]) -> FeatureSet:
    project, name, version, _id, text, target, created = row
    fs = parse(text, target, source=f"feature set {name}@{version}")
    return _with(fs, version=version, project=project, created_at=created)


def history(ws: Workspace, project: str) -> list[FeatureSet]:
    """Every stored feature set version of the project, newest first."""
    projects.get(ws, project)
    with ws.read() as con:
        rows = con.execute(
            f"SELECT {_FIELDS} FROM feature_sets WHERE project = ? "  # noqa: S608
            "ORDER BY created_at DESC, version DESC",
            [project],
        ).fetchall()
    return [_from_row(r) for r in rows]


def resolve(ws: Workspace, project: str, ref: str | None = "latest") -> FeatureSet | None:
    """The feature set ``ref`` names, or None when the project has none.

    ``ref``: ``latest`` or None (the newest stored), ``NAME`` (its newest version),
    ``NAME@N`` (version N), or an id or id prefix (4+ hex digits). A ref that names nothing in
    a project that has feature sets raises NotFound.
    """
    found = history(ws, project)
    if not found:
        return None
    if ref in (None, "", "latest"):
        return found[0]
    assert ref is not None
    name, _, number = ref.partition("@")
    for fs in found:  # newest first, so a bare name gives its newest version
        if fs.name == name and (not number or str(fs.version) == number.lstrip("v")):
            return fs
    if re.fullmatch(r"[0-9a-f]{4,40}", ref):
        by_id = {fs.id: fs for fs in found if fs.id.startswith(ref)}
        if len(by_id) == 1:
            return next(iter(by_id.values()))
    names = sorted({fs.name for fs in found})
    raise NotFound(f"project {project!r} has no feature set {ref!r} (it has: {', '.join(names)})")


def store_with(con: duckdb.DuckDBPyConnection, project: str, fs: FeatureSet) -> tuple[int, bool]:
    """Store ``fs`` as the newest version of its name unless its text already is."""
    rows = con.execute(
        "SELECT version, text FROM feature_sets WHERE project = ? AND name = ? "
        "ORDER BY version DESC LIMIT 1",
        [project, fs.name],
    ).fetchall()
    if rows and rows[0][1] == fs.text:
        return int(rows[0][0]), False
    number = (int(rows[0][0]) if rows else 0) + 1
    con.execute("INSERT INTO feature_sets VALUES (?, ?, ?, ?, ?, ?, ?)",
                [project, fs.name, number, fs.id, fs.text, fs.target, utcnow()])
    events.record(con, "features.saved", project=project, subject=f"{fs.name}@{number}",
                  detail={"id": fs.id, "derived": len(fs.derived)})
    return number, True


def store(ws: Workspace, project: str, text: str, source: str = "features",
          data: str | None = None) -> tuple[FeatureSet, bool]:
    """Check a feature definition against the project's data, then store it as a version."""
    proj = projects.get(ws, project)
    fs = parse(text, proj.target, source)
    versions = datasets.list_versions(ws, project)
    if versions or data:
        check(fs, frame_schema(ws, project, data or "latest"))
    with ws.write() as con:
        number, created = store_with(con, project, fs)
    stored = resolve(ws, project, f"{fs.name}@{number}")
    assert stored is not None
    return stored, created


def frame_schema(ws: Workspace, project: str, ref: str = "latest") -> dict[str, str]:
    """Column -> type of a stored dataset version (reads only the Parquet footer)."""
    import polars as pl

    version = datasets.get(ws, project, ref)
    return schema_types(pl.scan_parquet(datasets.data_path(ws, version)).collect_schema())


# -- insight ------------------------------------------------------------------------------

def insight(ws: Workspace, project: str, ref: str | None = "latest", data: str = "latest",
            against: str | None = None) -> dict[str, Any]:
    """Per feature: definition, type, missing share, relation to the target, stability.

    Stability is the population stability index between the first and second half of the
    data's rows (or between ``against`` and ``data``), in quantile bins of the first; above
    0.25 a feature is flagged unstable, above 0.1 shifting.
    """
    import polars as pl

    proj = projects.get(ws, project)
    fs = resolve(ws, project, ref)
    version = datasets.get(ws, project, data)
    frame = pl.read_parquet(datasets.data_path(ws, version))
    roles = {c["name"]: c["role"] for c in datasets.dictionary(ws, project, version.id)}
    applied = apply(fs, frame) if fs else frame
    derived = {d.name: d for d in fs.derived} if fs else {}
    names = [
        c for c in applied.columns
        if c != proj.target and (c in derived or roles.get(c, "feature") == "feature"
                                 or (fs is not None and fs.keep is not None))
    ]
    if against:
        other = datasets.get(ws, project, against)
        base = pl.read_parquet(datasets.data_path(ws, other))
        reference = apply(fs, base) if fs else base
        current, basis = applied, f"version {other.id} → {version.id}"
    else:
        half = applied.height // 2
        reference, current = applied.head(half), applied.slice(half)
        basis = "first half → second half of the rows"
    relations = relationships(applied, proj.target, proj.task, names)
    rows = []
    for name in names:
        series = applied[name]
        kind = expressions.type_of(series.dtype)
        missing = series.null_count() + (int(series.is_nan().sum()) if kind == "float" else 0)
        psi = stability(reference, current, name) if name in reference.columns else None
        rows.append({
            "name": name,
            "definition": derived[name].expr if name in derived else "input column",
            "description": derived[name].description if name in derived else "",
            "type": kind,
            "missing_share": missing / applied.height if applied.height else 0.0,
            **relations.get(name, {"mutual_info": None, "correlation": None}),
            "psi": psi,
            "stability": _stability_label(psi),
        })
    return {
        "project": project,
        "target": proj.target,
        "feature_set": fs.to_dict() if fs else None,
        "data": version.id,
        "rows": applied.height,
        "stability_basis": basis,
        "correlation_with": relations.get("__positive__"),
        "features": rows,
    }


def _stability_label(psi: float | None) -> str:
    if psi is None:
        return "–"
    if psi >= UNSTABLE:
        return "unstable"
    return "shifting" if psi >= SHIFTING else "stable"


def _codes(reference: pl.DataFrame, name: str) -> Any:
    """A function turning the column into small integer cells fitted on ``reference``:
    quantile bins for many-valued numbers, values for the rest (top ones), -1 for missing."""
    import polars as pl

    series = reference[name]
    kind = expressions.type_of(series.dtype)
    col = by_name(name)
    if kind in ("date", "datetime"):
        col = col.cast(pl.Int64)
        series = series.cast(pl.Int64)
        kind = "integer"
    if kind == "float":
        col = col.fill_nan(None)
        series = series.fill_nan(None)
    if kind in ("integer", "float") and series.n_unique() > BINS:
        qs = [i / BINS for i in range(1, BINS)]
        edges = sorted({float(v) for v in (series.quantile(q, "nearest") for q in qs)
                        if v is not None})

        def numeric(expr: pl.Expr = col) -> pl.Expr:
            cells = pl.sum_horizontal([(expr > e).cast(pl.Int32) for e in edges])
            return pl.when(expr.is_null()).then(-1).otherwise(cells)

        return numeric
    text = series.cast(pl.String)
    top = text.drop_nulls().value_counts(sort=True).head(TOP)[text.name or name].to_list()
    mapping = {v: i for i, v in enumerate(sorted(top))}

    def categorical(expr: pl.Expr = col) -> pl.Expr:
        as_text = expr.cast(pl.String)
        return (pl.when(as_text.is_null()).then(-1)
                .otherwise(as_text.replace_strict(mapping, default=len(mapping),
                                                  return_dtype=pl.Int32)))

    return categorical


def stability(reference: pl.DataFrame, current: pl.DataFrame, name: str) -> float | None:
    """PSI of a column between two frames, in cells fitted on ``reference``."""
    import polars as pl

    from core.drift import psi

    if reference.height == 0 or current.height == 0:
        return None
    code = _codes(reference, name)()
    ref = reference.select(code.alias("c"))["c"].value_counts()
    cur = current.select(code.alias("c"))["c"].value_counts()
    joined = ref.join(cur, on="c", how="full", coalesce=True, suffix="_cur").fill_null(0)
    counts = joined.sort("c").select(pl.col("count"), pl.col("count_cur"))
    return round(psi(counts["count"].to_list(), counts["count_cur"].to_list()), 4)


def relationships(frame: pl.DataFrame, target: str, task: str, names: list[str]
                  ) -> dict[str, Any]:
    """Mutual information (nats, in binned cells) of each column with the target, and the
    Pearson correlation of numeric columns with a numeric or two-class target.

    The key ``__positive__`` says what a positive correlation means for a two-class target.
    """
    import polars as pl

    out: dict[str, Any] = {}
    if target not in frame.columns:
        return out
    labelled = frame.filter(by_name(target).is_not_null())
    if labelled.height == 0:
        return out
    t_kind = expressions.type_of(labelled[target].dtype)
    t_code = _codes(labelled, target)() if task != "classification" else None
    if task == "classification":
        values = labelled[target].cast(pl.String)
        counts = values.value_counts(sort=True)
        classes = counts[values.name].to_list()
        mapping = {v: i for i, v in enumerate(classes)}
        t_code = by_name(target).cast(pl.String).replace_strict(mapping, default=len(mapping),
                                                               return_dtype=pl.Int32)
        numeric_target = None
        if len(classes) == 2:
            # A positive correlation means "more of the rarer class" (true for booleans).
            positive = "true" if t_kind == "boolean" else classes[-1]
            numeric_target = (by_name(target).cast(pl.String) == positive).cast(pl.Float64)
            out["__positive__"] = f"{target} = {positive}"
    else:
        numeric_target = by_name(target).cast(pl.Float64)
        out["__positive__"] = target
    for name in names:
        if name not in labelled.columns:
            continue
        cells = labelled.select(_codes(labelled, name)().alias("f"), t_code.alias("t"))
        table = cells.group_by("f", "t").len()
        mi = _mutual_info(table["f"].to_list(), table["t"].to_list(), table["len"].to_list())
        corr = None
        kind = expressions.type_of(labelled[name].dtype)
        if numeric_target is not None and kind in ("integer", "float", "boolean"):
            value = labelled.select(pl.corr(by_name(name).cast(pl.Float64).fill_nan(None),
                                            numeric_target)).item()
            corr = round(value, 4) if value is not None and math.isfinite(value) else None
        out[name] = {"mutual_info": round(mi, 4), "correlation": corr}
    return out


def _mutual_info(fs: list[int], ts: list[int], ns: list[int]) -> float:
    total = sum(ns)
    if not total:
        return 0.0
    pf: dict[int, int] = {}
    pt: dict[int, int] = {}
    for f, t, n in zip(fs, ts, ns):
        pf[f] = pf.get(f, 0) + n
        pt[t] = pt.get(t, 0) + n
    # Sum over the (at most ~21 x 21) cells of the contingency table, not over rows.
    return max(sum(n / total * math.log(n * total / (pf[f] * pt[t]))
                   for f, t, n in zip(fs, ts, ns) if n), 0.0)


def target_correlations(ws: Workspace, project: str, ref: str = "latest"
                        ) -> dict[str, Any]:
    """Correlation (and mutual information) of every numeric column with the target, for
    the data view's chart."""
    import polars as pl

    proj = projects.get(ws, project)
    version = datasets.get(ws, project, ref)
    frame = pl.read_parquet(datasets.data_path(ws, version))
    roles = {c["name"]: c["role"] for c in datasets.dictionary(ws, project, version.id)}
    names = [c for c in frame.columns if c != proj.target and roles.get(c) == "feature"
             and expressions.type_of(frame[c].dtype) in ("integer", "float", "boolean")]
    found = relationships(frame, proj.target, proj.task, names)
    return {
        "positive": found.pop("__positive__", None),
        "columns": sorted(
            ({"name": n, **found[n]} for n in names if n in found),
            key=lambda r: -abs(r["correlation"] or 0.0),
        ),
    }
