"""Feature engineering (lifecycle stage 4): named, versioned feature sets and what they show.

A feature set is TOML: derived columns written in the expression language of
``mlcycle.prep.expressions`` and a selection::

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
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.prep import expressions
from mlcycle.prep.expressions import ExpressionError, compile_expr, explain, schema_types
from mlcycle.store import events, tomlfile
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso, utcnow

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from mlcycle.store.workspace import Workspace

FORMAT = 1
ID_LENGTH = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_DERIVE_HEADER = re.compile(r"^\s*\[\[\s*derive\s*\]\]")


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
    data = tomlfile.loads(text, source)
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
        if not isinstance(d.get("name"), str) or not d["name"].strip() \
                or not d["name"].isprintable():
            raise problem(line, where, 'needs name = "…" (printable text: a column name)')
        if not isinstance(d.get("description", ""), str):
            raise problem(line, where, 'description must be text: description = "…"')
        if not isinstance(d.get("expr"), str):
            raise problem(line, where, 'needs expr = "…", e.g. expr = "a / b"')
        try:
            expressions.parse(d["expr"])
        except ExpressionError as exc:
            raise problem(line, where, explain(d["expr"], exc)) from None
        if d["name"] in {x.name for x in derived}:
            raise problem(line, where, f"{d['name']!r} is derived twice")
        derived.append(Derived(d["name"], d["expr"], d.get("description", "")))
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
    if not isinstance(description, str):
        raise problem(line_of(r"^\s*description\s*="), "description",
                      'must be text: description = "…"')
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
        text=text, description=description,
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

    version = datasets.get(ws, project, ref)
    return schema_types(datasets.scan(ws, version).collect_schema())


# -- the default for dates -----------------------------------------------------------------

DEFAULT_NAME = "dates"
# What a date becomes when the project has no feature set: suffix -> expression function.
DATE_PARTS = {"year": "year", "month": "month", "weekday": "weekday",
              "day_of_year": "dayofyear", "days": "epoch_days"}


def default_for(dictionary: list[dict[str, Any]], schema: dict[str, str],
                target: str) -> FeatureSet | None:
    """The feature set training uses when the project has none: date parts of every date.

    A model takes numbers and categories, so a date or datetime column with the role feature
    would otherwise be left out. Each becomes ``<column>_year``, ``_month``, ``_weekday``,
    ``_day_of_year`` and ``_days`` (days since 1970-01-01). It is an ordinary feature set
    (the text is TOML a user can store as their own, see ``mlcycle featureset``), carried in
    the model's signature like any other, so scoring computes it with the same :func:`apply`.
    None when there is no such column. A column holding personal data that was not opted in,
    or whose name holds a backtick (which the expression language cannot quote), is not read.
    """
    dates = [c["name"] for c in dictionary
             if c["role"] == "feature" and c["name"] != target
             and schema.get(c["name"]) in ("date", "datetime") and "`" not in c["name"]
             and not (c.get("sensitive") and not (c.get("privacy") or {}).get("allowed"))]
    taken = set(schema)
    lines = [f'name = "{DEFAULT_NAME}"',
             'description = "Date parts of every date column (the default when a project has '
             'no feature set)"']
    for column in dates:
        for suffix, function in DATE_PARTS.items():
            name = f"{column}_{suffix}"
            if name in taken:  # the data already has it: keep theirs
                continue
            taken.add(name)
            lines += ["", "[[derive]]", f"name = {json.dumps(name, ensure_ascii=False)}",
                      f"expr = {json.dumps(f'{function}(`{column}`)', ensure_ascii=False)}"]
    if len(lines) == 2:
        return None
    return parse("\n".join(lines) + "\n", target, source="default feature set")


# The feature set a user starts from when the project has none (the TUI's editor).
TEMPLATE = """\
name = "base"

# [[derive]]
# name = "ratio"
# expr = "a / b"          # safe division; also log, sqrt, year(d), bin(x, 1, 5), length(s)

[select]
drop = []
"""
