"""Retraining (lifecycle stage 9): new labelled rows in, a validated successor out.

``retrain`` closes the loop the way the lifecycle draws it (retraining leads back to data
preparation):

1. the new batches, joined to their labels as monitoring joins them (by identifier, by
   position or by full rows: ``mlcycle.deploy.label_join``), are appended to the raw data
   the champion was trained on: a new dataset version, with lineage to its parent and to
   the files it took;
2. if the champion's data was prepared by a recipe, the same recipe version prepares the
   new raw version;
3. the champion's model is trained again, with the same feature set, seed and folds (a
   fresh search over its parameters), and registered;
4. candidate and champion are scored on the same rows: the new version's holdout, and the
   new rows within it. The candidate is judged on the new rows when the holdout holds at
   least ``MIN_RECENT`` of them (they describe the world the model scores next), else on
   the whole holdout. A better candidate replaces the champion with ``promote``; otherwise
   it becomes the challenger, which shadows the champion when scoring. With a ``gate``
   (the policy's), "better" is the gate's verdict (``mlcycle.models.paired``): a margin and
   a paired bootstrap interval, not a bare comparison.

New rows are found in the new version by a hash of their values, not by an identifier, so
a project without an identifier column is judged on its new rows too. The hash covers the
columns the recipe leaves as they were collected (an imputed or clipped column changes
its values between the batch and the prepared data).

Every step is recorded (``retrain.*`` events), so the registry's audit trail says why a
version was made and why it was or was not promoted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle import deploy, projects
from mlcycle.data import datasets, sources
from mlcycle.data.columns import by_name
from mlcycle.deploy import label_join
from mlcycle.deploy.scoring import CHALLENGER
from mlcycle.models import evaluation, model_input, registry
from mlcycle.store import events
from mlcycle.store.cancel import Cancelled, CancelToken
from mlcycle.store.cancel import check as check_cancel
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import utcnow
from mlcycle.store.workspace import Workspace, file_sha256

if TYPE_CHECKING:
    import polars as pl

Progress = Callable[[str], None]
MIN_RECENT = 100  # new holdout rows needed to judge a candidate on the new rows alone


def labelled_rows(batch: Path, labels: Path | None, signature: model_input.Signature,
                  identifier: str | None, schema: dict[str, Any]
                  ) -> tuple[pl.DataFrame, int, label_join.Counts | None]:
    """A batch's rows that have a label, in the parent's columns and types (extra columns
    are dropped, missing ones refused); how many rows had none; and how ``labels`` were
    joined (``mlcycle.deploy.label_join``, as monitoring joins them)."""
    import polars as pl

    target = signature.target
    rows = sources.read_frame(batch)
    counts = None
    if labels is not None:
        truth = label_join.read(labels, signature, identifier)
        keys = (None if truth.how == label_join.POSITION else
                label_join.keys(rows, truth.how, signature, identifier))
        given, counts = label_join.join(truth, keys, rows.height, batch.name, signature,
                                        identifier)
        rows = rows.with_columns(given.alias(target))
    elif target not in rows.columns:
        raise InvalidInput(f"{batch.name} has no target column {target!r}; give its labels "
                           "with --labels")
    unlabelled = int(rows.get_column(target).is_null().sum())
    rows = rows.filter(by_name(target).is_not_null())
    missing = [name for name in schema if name not in rows.columns]
    if missing:
        raise InvalidInput(f"{batch.name} lacks column(s) of the training data: "
                           f"{', '.join(missing[:8])}{' …' if len(missing) > 8 else ''}")
    columns = []
    for name, dtype in schema.items():
        column = rows.get_column(name)
        if dtype == pl.Boolean and column.dtype == pl.Utf8:
            column = _booleans(column)
        try:
            columns.append(column.cast(dtype))
        except Exception:  # polars raises several types for a failed cast
            raise InvalidInput(f"{batch.name}: column {name!r} cannot be read as {dtype} like "
                               "the training data") from None
    return rows.select(columns), unlabelled, counts


_TRUTH = {"true": True, "t": True, "yes": True, "y": True, "1": True,
          "false": False, "f": False, "no": False, "n": False, "0": False}


def _booleans(column: pl.Series) -> pl.Series:
    """Text that reads as booleans (yes/no, true/false), as booleans. DuckDB reads such a
    column of a CSV as booleans but leaves it text in JSON and Parquet, so the same batch
    in another format would not match the training data; other text is left for the cast
    to refuse."""
    import polars as pl

    words = column.str.strip_chars().str.to_lowercase()
    known = words.replace_strict(_TRUTH, default=None, return_dtype=pl.Boolean)
    if (known.is_null() & words.is_not_null() & (words != "")).any():
        return column
    return known


def combine(ws: Workspace, project: str, parent: datasets.DatasetVersion,
            batches: list[tuple[Path, Path | None]], identifier: str | None,
            signature: model_input.Signature, progress: Progress | None = None, *,
            keep_old: bool = True, finite: Sequence[str] = ()) -> dict[str, Any]:
    """A new raw version: ``parent``'s rows plus the labelled rows of ``batches``; with
    ``keep_old`` false, the batches' rows alone (in ``parent``'s schema): a model retrained
    on a sliding window forgets a world that has changed. Every batch is read and checked
    before anything is written; ``finite``: the columns whose numbers must be finite (the
    model's inputs and target as the batches hold them)."""
    import polars as pl

    say = progress or (lambda _msg: None)
    old = datasets.frame(ws, parent) if keep_old else None
    schema = old.schema if old is not None else datasets.scan(ws, parent).collect_schema()
    parts, added, unlabelled = [old] if old is not None else [], [], 0
    kept = "" if keep_old else "\0without its rows"
    blob = hashlib.blake2b(f"mlcycle-retrain\0{parent.id}{kept}".encode(), digest_size=20)
    for batch, labels in batches:
        say(f"reading {batch.name}")
        rows, missing, joined = labelled_rows(batch, labels, signature, identifier, schema)
        model_input.refuse_infinite(rows, list(finite), batch.name)
        parts.append(rows)
        unlabelled += missing
        added.append({"batch": str(batch), "labels": str(labels) if labels else None,
                      "rows": rows.height, "unlabelled": missing,
                      "join": joined.to_dict() if joined else None,
                      "join_note": joined.note(labels.name) if joined and labels else None})
        for file in (batch, labels):
            if file is not None:
                blob.update(b"\0" + file_sha256(file).encode())
    new_rows = sum(a["rows"] for a in added)
    if not new_rows:
        raise InvalidInput("none of the new rows has a label; nothing to retrain on")
    version_id = blob.hexdigest()[: datasets.ID_LENGTH]
    detail = {"parent": parent.id, "added": added, "rows_added": new_rows,
              "old_rows": "keep" if keep_old else "drop"}
    label = (f"{parent.id if keep_old else 'the rows'} + "
             f"{', '.join(Path(a['batch']).name for a in added)}")
    result = {"rows_added": new_rows, "unlabelled": unlabelled, "added": added,
              "new_rows": pl.concat(parts[1:] if keep_old else parts)}
    try:
        return {"version": datasets.get(ws, project, version_id), **result}
    except NotFound:
        pass

    def register(con: Any) -> None:
        con.execute(
            "INSERT INTO dataset_lineage VALUES (?, 'retrain', ?, NULL, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [version_id, parent.id, json.dumps(detail), utcnow()])

    temp = ws.temp_path(".parquet")
    try:
        pl.concat(parts).write_parquet(temp, compression="zstd")
        version = datasets.register_parquet(
            ws, project, temp, version_id=version_id, digest=version_id,
            source_format="retrain", source_label=label, progress=say,
            in_transaction=register)
    finally:
        temp.unlink(missing_ok=True)
    return {"version": version, **result}


def untouched_columns(recipe: Any, columns: list[str]) -> list[str]:
    """The ``columns`` whose values a recipe (``mlcycle.prep.recipes.Recipe``, or None)
    leaves as collected: the ones no step renames, casts, imputes, clips or parses."""
    changed: set[str] = set()
    for step in recipe.steps if recipe is not None else ():
        if step.op in ("rename", "cast", "impute", "clip", "parse_dates"):
            changed.update(step.params.get("columns") or ())
    return [c for c in columns if c not in changed]


def row_hashes(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """A hash of each row's values in ``columns``: how a new row is known again."""
    return frame.select(columns).hash_rows(seed=11)


Predictions = dict[str, dict[int, tuple[Any, Any, Any]]]  # part -> version -> (y, pred, proba)


def head_to_head(ws: Workspace, project: str, data: datasets.DatasetVersion,
                 versions: list[registry.ModelVersion], recent: pl.DataFrame | None = None,
                 columns: list[str] | None = None, predictions: Predictions | None = None
                 ) -> dict[str, dict[int, dict[str, Any]]]:
    """Each version's metrics on the same rows: the holdout of ``data`` ("holdout") and,
    given the ``recent`` rows, the holdout rows that are among them ("recent"), known by
    their values in ``columns`` (all the columns both have, by default). ``predictions``,
    when given, is filled with each version's targets, predictions and probabilities on
    those rows, for the gate."""

    proj = projects.get(ws, project)
    raw = datasets.frame(ws, data).filter(
        by_name(proj.target).is_not_null())
    new = None
    if recent is not None:
        keys = columns or [c for c in recent.columns if c in raw.columns]
        keys = [c for c in keys if c in raw.columns and c in recent.columns]
        if keys:
            new = row_hashes(raw, keys).is_in(row_hashes(recent, keys).implode()).to_numpy()
    out: dict[str, dict[int, dict[str, Any]]] = {"holdout": {}, "recent": {}}
    for version in versions:
        signature = deploy.signature_of(ws, version)
        y = model_input.target_values(raw, signature)
        mask = evaluation.holdout_mask(ws, data, signature.target, y, signature.task)
        parts = {"holdout": mask}
        if new is not None and (mask & new).sum() >= MIN_RECENT:
            parts["recent"] = mask & new
        _, pipeline = registry.load(ws, project, str(version.version))
        for part, rows in parts.items():
            inputs = model_input.frame(raw.filter(rows), signature)
            proba = (pipeline.predict_proba(inputs) if signature.task == "classification"
                     else None)
            pred = pipeline.predict(inputs)
            out[part][version.version] = evaluation.scores(
                signature.task, y[rows], pred, proba, signature.classes or None)
            if predictions is not None:
                predictions.setdefault(part, {})[version.version] = (y[rows], pred, proba)
    return out


def retrain(ws: Workspace, project: str, batches: list[tuple[Path, Path | None]], *,
            trials: int = 10, promote: bool = False,
            progress: Progress | None = None,
            cancel: CancelToken | None = None, gate: Any = None,
            search: str = "champion", reuse_since: datetime | None = None,
            old_rows: str = "keep") -> dict[str, Any]:
    """Retrain the champion on its data plus ``batches``; see the module docstring.

    ``gate``: the policy's gate (``mlcycle.monitor.policy.Gate``): the candidate is better
    only if it passes it; its figures are in the result under "gate". ``search``:
    "champion" searches the champion's model family again, "catalog" every model of the
    task (the best one is the candidate). ``old_rows``: "keep" trains on the champion's
    rows plus the batches', "drop" on the batches' rows alone.

    Every batch is read and checked first (the columns and types of the training data, and
    finite numbers where the model reads them), so a refused batch stores nothing.
    Cancelling stops between steps: the combined dataset version, once stored, stays (it is
    content-addressed, so a second attempt reuses it); a training stopped early registers
    nothing and no alias moves. ``reuse_since``: a version registered since then from the
    same data is the candidate, not trained again (a retraining carried on after its process
    was killed once its candidate was registered)."""
    from mlcycle import prep
    from mlcycle.models import training
    from mlcycle.prep import recipes

    say = progress or (lambda _msg: None)
    proj = projects.get(ws, project)
    if not batches:
        raise InvalidInput("give at least one batch of new rows (--with FILE)")
    for batch, labels in batches:
        for file in (batch, labels):
            if file is not None:
                sources.resolve(file)  # refused as every reader refuses it, before any work
    champion = registry.get(ws, project, registry.CHAMPION)
    lineage = champion.summary.get("lineage", {})
    if not lineage.get("dataset"):
        raise InvalidInput(f"champion v{champion.version} records no dataset to extend")
    raw_parent, recipe_id = prep.collected_parent(ws, project, lineage["dataset"])
    identifier = deploy.identifier_of(ws, champion)
    prepared = recipes.get(ws, project, recipe_id).recipe if recipe_id else None
    signature = deploy.signature_of(ws, champion)
    combined = combine(ws, project, raw_parent, batches, identifier, signature, say,
                       keep_old=old_rows != "drop", finite=_finite_columns(signature, prepared))
    data = combined["version"]
    check_cancel(cancel)
    if recipe_id:
        say("preparing the new data with the champion's recipe")
        recipe = recipes.get(ws, project, recipe_id)
        data = prep.run(ws, project, recipe=recipe.recipe, data=data.id,
                        progress=say).version
    run_config = json.loads(_tag(ws, champion.run_id, "mlcycle.config") or "{}")
    config = training.TrainConfig(
        project, data=data.id,
        models=None if search == "catalog" else [champion.summary["model"]], trials=trials,
        cv=int(run_config.get("cv", 5)), seed=int(lineage.get("seed") or 0),
        features=lineage.get("features"))
    check_cancel(cancel)
    candidate = (trained_since(ws, project, data.id, reuse_since, champion.version)
                 if reuse_since is not None else None)
    if candidate is None:
        family = ("every model of the catalog" if search == "catalog"
                  else champion.summary["model"])
        say(f"training {family} on {data.id}")
        trained = training.train(ws, config, register=True, cancel=cancel)
        if trained.stopped == "cancelled":
            raise Cancelled(f"retraining cancelled after {trained.trials_finished} trials; "
                            "nothing was registered")
        if trained.not_registered:
            raise InvalidInput(f"training on {data.id} registered no model: "
                               f"{trained.not_registered}")
        if trained.registered_version is None:
            raise InvalidInput(f"training on {data.id} stopped before a model was registered"
                               f" ({trained.stopped or 'no trial finished'})")
        candidate = registry.get(ws, project, str(trained.registered_version))
    else:
        say(f"v{candidate.version} was trained on {data.id} already; it is the candidate")
    say("comparing the new version with the champion on the same rows")
    predictions: Predictions = {}
    compared = head_to_head(
        ws, project, data, [champion, candidate], combined["new_rows"],
        untouched_columns(prepared, combined["new_rows"].columns), predictions)
    # Judge on the new rows when the holdout holds enough of them: they are the world the
    # model will score next, which the old rows no longer describe.
    basis = "recent" if compared["recent"] else "holdout"
    figures = compared[basis]
    metric = proj.metric
    better = bool(evaluation.beats(metric, figures[candidate.version].get(metric),
                                   figures[champion.version].get(metric)))
    where = "the new rows of the holdout" if basis == "recent" else "the same holdout"
    why = (f"retrained on {data.id} ({combined['rows_added']:+,} labelled rows): {metric} "
           f"{figures[candidate.version].get(metric):.4f} vs champion v{champion.version}'s "
           f"{figures[champion.version].get(metric):.4f} on {where}")
    verdict = None
    if gate is not None:
        from mlcycle.models import paired as gates

        say("the gate: a paired bootstrap of the difference on the same rows")
        y, base_pred, base_proba = predictions[basis][champion.version]
        _, new_pred, new_proba = predictions[basis][candidate.version]
        signature = deploy.signature_of(ws, candidate)
        verdict = gates.judge(metric, signature.task, list(signature.classes or []), y,
                              (base_pred, base_proba), (new_pred, new_proba),
                              margin=gate.margin, confidence=gate.confidence,
                              rounds=gate.rounds)
        better = verdict["passed"]
        why += f"; gate {'passed' if better else 'failed'}: {verdict['why']}"
    alias = (registry.CHAMPION if promote else CHALLENGER) if better else None
    if alias and alias not in candidate.aliases:  # a candidate reused may hold it already
        registry.promote(ws, project, str(candidate.version), alias, why)
    result = {
        "project": project,
        "dataset": data.id,
        "raw_dataset": combined["version"].id,
        "rows_added": combined["rows_added"],
        "unlabelled_rows_skipped": combined["unlabelled"],
        "labels_joined": [a["join_note"] for a in combined["added"] if a["join_note"]],
        "prepared_with": recipe_id,
        "judged_on": basis,
        "champion": {"version": champion.version,
                     **{part: f[champion.version] for part, f in compared.items() if f}},
        "candidate": {"version": candidate.version,
                      **{part: f[candidate.version] for part, f in compared.items() if f}},
        "metric": metric,
        "candidate_better": better,
        "alias": alias,
        "reason": why,
        "gate": verdict,
    }
    with ws.write() as con:
        events.record(con, "retrain.completed", project=project,
                      subject=f"v{candidate.version}",
                      detail={k: result[k] for k in ("dataset", "rows_added", "metric",
                                                     "candidate_better", "alias", "reason",
                                                     "gate")})
    return result


def _finite_columns(signature: model_input.Signature, recipe: Any) -> list[str]:
    """The columns of a batch whose infinite numbers training would fail on: the model's
    inputs and a regression's target, where the recipe passes them on unchanged (a clip
    step, say, may bound an infinity)."""
    read = model_input.raw_columns(signature)
    if signature.task == "regression":
        read = [*read, signature.target]
    return untouched_columns(recipe, read)


def trained_since(ws: Workspace, project: str, data: str, since: datetime,
                  champion: int) -> registry.ModelVersion | None:
    """The newest version other than the champion registered from dataset ``data`` since
    ``since``, if any."""
    found = [v for v in registry.versions(ws, project)
             if v.version != champion and v.created_at >= since
             and v.summary.get("lineage", {}).get("dataset") == data]
    return found[0] if found else None


def _tag(ws: Workspace, run_id: str, name: str) -> str | None:
    from mlcycle.models import tracking

    return tracking.get_run(ws, run_id).tags.get(name)
