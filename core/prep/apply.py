"""Applying a preparation recipe: a dataset version in, a new dataset version out, with lineage.

The output is an ordinary dataset version of the project (so training takes it with
``--data VERSION``), registered with its lineage: the input version and the recipe id.

Determinism: the output's id is a hash of (input version id, recipe id), never of the Parquet
bytes, so the same input and the same recipe always name the same output, in any process, on
any machine, and running it again finds it stored and writes nothing.

How it runs: the recipe is first checked against the input's columns and types
(:func:`mlcycle.prep.recipes.check`); then every step becomes one lazy polars query over the stored
Parquet. Statistics a step needs (the median to impute, the quantiles to clip) are aggregates
inside that query, and the checks that casts and date parsing lost no value, together with the
fitted values the report shows, are extra small queries over the same plan, collected together
with it. Expectations are checked on the input (before any work) and on the output; with
``strict`` any violation stops the run before anything is written. Only then is the output
written to ``artifacts/.tmp`` and registered, with its lineage and the recipe version, in one
transaction (see ``datasets.register_parquet``): a kill leaves nothing half-registered.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.prep import expectations, ops, recipes
from mlcycle.prep.expressions import schema_types
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import utcnow
from mlcycle.store.sql import fetch_one

if TYPE_CHECKING:
    import polars as pl

    from mlcycle.store.workspace import Workspace

Progress = Callable[[str], None]


class ExpectationsFailed(InvalidInput):
    """With ``strict``: the data broke the recipe's expectations, and nothing was written."""

    def __init__(self, message: str, result: PrepResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class PrepResult:
    input: datasets.DatasetVersion
    recipe_id: str
    recipe_version: int | None
    output_id: str
    version: datasets.DatasetVersion | None  # None when a strict run stopped
    stored: bool  # False when this input and recipe had been prepared before
    rows_in: int
    rows_out: int | None
    outcomes: list[expectations.Outcome] = field(default_factory=list)
    fitted: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def violations(self) -> list[expectations.Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output_id,
            # A rerun of the same input and recipe finds the version it made: nothing written.
            "written": self.version is not None and self.stored,
            "stored": self.stored,
            "input": self.input.id,
            "recipe": {"id": self.recipe_id, "version": self.recipe_version},
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "expectations": [o.to_dict() for o in self.outcomes],
            "violations": len(self.violations),
            "fitted": self.fitted,
            "seconds": round(self.seconds, 3),
        }


def output_id(input_id: str, recipe_id: str) -> str:
    """The id of the version a recipe makes from an input: a hash of the two ids."""
    blob = f"mlcycle-prep/{recipes.FORMAT}\0{input_id}\0{recipe_id}".encode()
    return hashlib.blake2b(blob, digest_size=20).hexdigest()[: datasets.ID_LENGTH]


def latest_raw(ws: Workspace, project: str) -> datasets.DatasetVersion:
    """The newest version that was collected rather than prepared: what a recipe applies to."""
    with ws.read() as con:
        rows = con.execute(
            f"SELECT {datasets._VERSION_FIELDS} FROM project_datasets pd "  # noqa: S608
            "JOIN datasets d ON d.id = pd.dataset_id WHERE pd.project = ? "
            "ORDER BY (d.id IN (SELECT dataset_id FROM dataset_lineage WHERE operation = 'prep')), "
            "pd.added_at DESC "
            "LIMIT 1",
            [project],
        ).fetchall()
    if not rows:
        raise NotFound(f"project {project!r} has no data yet; add some with 'mlcycle data add'")
    return datasets.DatasetVersion(*rows[0])


def run(
    ws: Workspace,
    project: str,
    *,
    recipe: recipes.Recipe | None = None,
    recipe_source: str | None = None,
    data: str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
) -> PrepResult:
    """Apply ``recipe`` (default: the project's latest) to ``data`` (default: latest raw).

    A recipe passed in becomes the project's newest recipe version when the output is
    registered (not when a strict run stops).
    """
    import polars as pl

    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    proj = projects.get(ws, project)
    stored_version: int | None = None
    if recipe is None:
        current = recipes.get(ws, project, "latest")
        recipe, stored_version = current.recipe, current.version
    source = datasets.get(ws, project, data) if data else latest_raw(ws, project)
    lf = datasets.scan(ws, source)
    schema = schema_types(lf.collect_schema())
    say("checking the recipe")
    recipes.check(recipe, schema, proj.target)
    out_id = output_id(source.id, recipe.id)
    result = PrepResult(source, recipe.id, stored_version, out_id, None, False, source.n_rows,
                        None)

    say("checking expectations on the input")
    result.outcomes += expectations.check(list(recipe.expect), lf, "input")
    if strict and result.violations:
        raise _strict_failure(result, "input", started)

    existing = _registered_path(ws, out_id)
    if existing is not None:
        say("already prepared; checking the stored output")
        frame = pl.read_parquet(existing, glob=False)
    else:
        say("applying the recipe")
        frame, result.fitted = _execute(recipe, lf, schema, proj.target)
    result.rows_out = frame.height
    if frame.height == 0:
        raise InvalidInput(
            f"{recipe.source}: the recipe leaves no rows of version {source.id} "
            f"({source.n_rows:,} rows in); loosen its filter"
        )
    result.outcomes += expectations.check(list(recipe.expect), frame, "output")
    if strict and result.violations:
        raise _strict_failure(result, "output", started)

    detail = {
        "input_source": source.source,
        "rows_in": result.rows_in,
        "rows_out": result.rows_out,
        "expectations": [o.to_dict() for o in result.outcomes],
        "fitted": result.fitted,
    }
    label = f"prepared from {source.id} by recipe {recipe.id}"

    def register(con: Any) -> None:
        version_number = stored_version
        if version_number is None:
            version_number, _ = recipes.store_with(con, project, recipe, recipe_source)
        result.recipe_version = version_number
        detail["recipe_version"] = version_number
        con.execute(
            "INSERT INTO dataset_lineage VALUES (?, 'prep', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [out_id, source.id, recipe.id, json.dumps(detail, default=str), utcnow()],
        )
        events.record(con, "prep.applied", project=project, subject=out_id, detail={
            "input": source.id, "recipe": recipe.id, "recipe_version": version_number,
            "rows_in": result.rows_in, "rows_out": result.rows_out,
            "violations": len(result.violations),
        })

    if existing is None:
        say("writing Parquet")
        temp = ws.temp_path(".parquet")
        try:
            frame.write_parquet(temp, compression="zstd")
            duplicates = _duplicate_rows(frame)
            result.version = datasets.register_parquet(
                ws, project, temp, version_id=out_id, digest=out_id, source_format="prep",
                source_label=label, progress=say, in_transaction=register,
                duplicate_rows=duplicates,
            )
        finally:
            temp.unlink(missing_ok=True)
        result.stored = True
    else:
        _link_existing(ws, project, out_id, label, recipe, stored_version, recipe_source, result)
        result.version = datasets.get(ws, project, out_id)
    result.seconds = time.perf_counter() - started
    return result


def _duplicate_rows(frame: pl.DataFrame) -> int:
    """Exact count of rows repeating an earlier row, for the quality report.

    Counted on the rows in memory, which is several times cheaper than the report's distinct
    pass over the file: equal rows have equal row hashes, so only rows whose hash repeats
    can be duplicates, and those few are then compared exactly (a hash collision can never
    be counted as a duplicate).
    """
    candidates = frame.filter(frame.hash_rows().is_duplicated())
    return candidates.height - candidates.n_unique() if candidates.height else 0


def _strict_failure(result: PrepResult, side: str, started: float) -> ExpectationsFailed:
    result.seconds = time.perf_counter() - started
    n = len(result.violations)
    return ExpectationsFailed(
        f"{n} expectation{'s' if n != 1 else ''} failed on the {side} (--strict): "
        "nothing was written",
        result,
    )


def _registered_path(ws: Workspace, version_id: str) -> Any:
    with ws.read() as con:
        row = fetch_one(con, "SELECT path, sha256 FROM datasets WHERE id = ?", [version_id])
    if row is None or not ws.artifact_path(row[0]).exists():
        return None
    return ws.verified_path(row[0], row[1], f"the stored data of version {version_id}")


def _link_existing(ws: Workspace, project: str, out_id: str, label: str,
                   recipe: recipes.Recipe, stored_version: int | None,
                   recipe_source: str | None, result: PrepResult) -> None:
    """A re-run: write only what is new (a recipe text, a link to this project)."""
    with ws.read() as con:
        linked = con.execute(
            "SELECT 1 FROM project_datasets WHERE project = ? AND dataset_id = ?",
            [project, out_id],
        ).fetchall()
        latest = fetch_one(con, "SELECT text, version FROM recipes WHERE project = ? "
                                "ORDER BY version DESC LIMIT 1", [project])
    new_text = stored_version is None and (latest is None or latest[0] != recipe.text)
    if stored_version is None and not new_text and latest is not None:
        result.recipe_version = int(latest[1])
    if not linked or new_text:
        with ws.write() as con:
            if new_text:
                result.recipe_version, _ = recipes.store_with(con, project, recipe,
                                                              recipe_source)
            if not linked:
                datasets.link(con, project, out_id, label)


# -- the polars plan ----------------------------------------------------------------------

def _execute(recipe: recipes.Recipe, lf: pl.LazyFrame, schema: dict[str, str],
             target: str) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Run the steps as lazy polars queries; returns the output and the fitted statistics.

    Steps that need a statistic of the data as it is at that step (a median to impute, the
    quantiles to clip) or that must prove no value was lost (casts from text, date parsing)
    first collect what precedes them, compute that once on the collected frame, and continue
    lazily from it with the statistic as a literal. Every step so runs once, and the recorded
    statistics are exactly the values applied.
    """
    schemas = recipes.walk(recipe, schema, target)
    fitted: list[dict[str, Any]] = []
    for step, cols in zip(recipe.steps, schemas):
        lf = _apply_step(recipe, step, lf, cols, fitted)
    return lf.collect(), fitted


def _apply_step(recipe: recipes.Recipe, step: recipes.Step, lf: pl.LazyFrame,
                cols: dict[str, str], fitted: list[dict[str, Any]]) -> pl.LazyFrame:
    where = f"{recipe.source}{f' line {step.line}' if step.line else ''}, {step.where}"
    run = ops.Run(where, step.number, step.op, fitted)
    return ops.REGISTRY[step.op].apply(run, step.params, lf, cols)


# -- lineage ------------------------------------------------------------------------------

def lineage(ws: Workspace, project: str, ref: str = "latest") -> list[dict[str, Any]]:
    """Where a version came from: itself, then its input, back to collected data."""
    version = datasets.get(ws, project, ref)
    chain: list[dict[str, Any]] = []
    seen: set[str] = set()
    current: str | None = version.id
    with ws.read() as con:
        recipe_versions = {
            rid: ver for rid, ver in con.execute(
                "SELECT id, max(version) FROM recipes WHERE project = ? GROUP BY id", [project]
            ).fetchall()
        }
        while current and current not in seen:
            seen.add(current)
            row = fetch_one(
                con,
                "SELECT l.operation, l.input_id, l.recipe_id, l.detail, d.n_rows, d.created_at "
                "FROM dataset_lineage l JOIN datasets d ON d.id = l.dataset_id "
                "WHERE l.dataset_id = ?",
                [current],
            )
            if row is None:
                found = fetch_one(
                    con,
                    "SELECT pd.source, d.n_rows, d.created_at FROM datasets d LEFT JOIN "
                    "project_datasets pd ON pd.dataset_id = d.id AND pd.project = ? "
                    "WHERE d.id = ?",
                    [project, current],
                )
                if found:
                    chain.append({"version": current, "operation": "collected",
                                  "source": found[0], "rows": found[1],
                                  "created_at": found[2]})
                break
            operation, input_id, recipe_id, detail, rows, created = row
            info = json.loads(detail or "{}")
            if operation == "collect":  # from a source (mlcycle.collect), maybe appended
                chain.append({"version": current, "operation": "collected",
                              "source": f"{info['source']} v{info['source_version']}",
                              "query": info["query"], "rows_read": info["rows_read"],
                              "input": input_id or None, "rows": rows, "created_at": created})
                current = input_id
                continue
            chain.append({
                "version": current, "operation": operation, "input": input_id,
                "recipe_id": recipe_id,
                "recipe_version": info.get("recipe_version", recipe_versions.get(recipe_id)),
                "rows": rows, "created_at": created,
                "violations": sum(1 for o in info.get("expectations", []) if not o["ok"]),
            })
            current = input_id
    return chain


def runs(ws: Workspace, project: str) -> list[dict[str, Any]]:
    """Every prepared version of the project: output, input, recipe, figures; newest first."""
    projects.get(ws, project)
    with ws.read() as con:
        rows = con.execute(
            "SELECT l.dataset_id, l.input_id, l.recipe_id, l.detail, l.created_at "
            "FROM dataset_lineage l JOIN project_datasets pd ON pd.dataset_id = l.dataset_id "
            "WHERE pd.project = ? ORDER BY l.created_at DESC",
            [project],
        ).fetchall()
    out = []
    for output, input_id, recipe_id, detail, created in rows:
        info = json.loads(detail or "{}")
        out.append({"output": output, "input": input_id, "recipe_id": recipe_id,
                    "recipe_version": info.get("recipe_version"), "created_at": created,
                    "rows_in": info.get("rows_in"), "rows_out": info.get("rows_out"),
                    "expectations": info.get("expectations", [])})
    return out


@dataclass
class CheckResult:
    input: datasets.DatasetVersion
    columns: dict[str, str]  # the output's column -> type
    outcomes: list[expectations.Outcome]

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input.id,
            "output_columns": self.columns,
            "expectations": [o.to_dict() for o in self.outcomes],
            "violations": sum(1 for o in self.outcomes if not o.ok),
        }


def check(ws: Workspace, project: str, recipe: recipes.Recipe, data: str | None = None
          ) -> CheckResult:
    """Check a recipe against a version without running it: the steps over its columns and
    types (raises on the first that cannot work), and the input expectations on its rows."""

    proj = projects.get(ws, project)
    source = datasets.get(ws, project, data) if data else latest_raw(ws, project)
    lf = datasets.scan(ws, source)
    columns = recipes.check(recipe, schema_types(lf.collect_schema()), proj.target)
    return CheckResult(source, columns, expectations.check(list(recipe.expect), lf, "input"))


def overview(ws: Workspace, project: str, version_id: str) -> dict[str, Any]:
    """The preparation side of one version, for the data view: the project's recipe, the
    validation results that concern this version, and the feature set.

    A prepared version shows the expectations checked when it was made; a collected one shows
    whether the newest recipe applies to it and how its input expectations fare.
    """
    from mlcycle.prep import features
    from mlcycle.store.errors import MlcycleError

    out: dict[str, Any] = {"recipe": None, "validation": None, "feature_set": None}
    current = recipes.latest(ws, project)
    with ws.read() as con:
        made = fetch_one(con, "SELECT recipe_id, input_id, detail FROM dataset_lineage "
                              "WHERE dataset_id = ?", [version_id])
    if current is not None:
        try:
            steps = [s.summary() for s in current.recipe.steps]
        except MlcycleError as exc:  # a stored text that no longer reads: say so, don't crash
            steps = [f"cannot read: {exc}"]
        out["recipe"] = {"version": current.version, "id": current.id, "steps": steps,
                         "source": current.source}
    if made is not None:
        info = json.loads(made[2] or "{}")
        out["validation"] = {
            "basis": f"made from {made[1]} by recipe v{info.get('recipe_version', '?')} "
                     f"({made[0]})",
            "error": None,
            "expectations": info.get("expectations", []),
        }
    elif current is not None:
        basis = f"recipe v{current.version} checked on this version"
        try:
            checked = check(ws, project, current.recipe, version_id)
            out["validation"] = {"basis": basis, "error": None,
                                 "expectations": [o.to_dict() for o in checked.outcomes]}
        except MlcycleError as exc:
            out["validation"] = {"basis": basis, "error": str(exc), "expectations": []}
    fs = features.resolve(ws, project)
    out["feature_set"] = fs.to_dict() if fs else None
    return out


def collected_parent(ws: Workspace, project: str, dataset_id: str
                     ) -> tuple[datasets.DatasetVersion, str | None]:
    """The collected version a dataset version was prepared from, and the id of the recipe
    that prepared it; the version itself and None when no recipe made it."""
    with ws.read() as con:
        found = con.execute(
            "SELECT input_id, recipe_id FROM dataset_lineage WHERE dataset_id = ? "
            "AND operation = 'prep'", [dataset_id]).fetchall()
    if found:
        return datasets.get(ws, project, found[0][0]), found[0][1]
    return datasets.get(ws, project, dataset_id), None
