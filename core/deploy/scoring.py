"""Scoring (lifecycle stage 7): batch predictions with onnxruntime, logged for monitoring.

Every scoring path is the same: raw rows are checked against the model's signature
(:mod:`mlcycle.deploy.score_input`), and the version's parity-checked ONNX graph scores them.
Files are read in batches and output is written batch by batch
(:mod:`mlcycle.deploy.score_files`).

Each run is logged (:mod:`mlcycle.deploy.runs`). When a challenger shadows the champion, both
score every row, the champion's predictions are returned, and the pairs are kept
(:mod:`mlcycle.deploy.shadows`) for :mod:`mlcycle.deploy.comparison` once labels arrive.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle import deploy
from mlcycle.deploy import onnx_export
from mlcycle.deploy.labels import row_keys
from mlcycle.deploy.predictions import Summary, prediction_frame
from mlcycle.deploy.results import PredictionSummary, Scoring
from mlcycle.deploy.runs import Run, record_run, recording
from mlcycle.deploy.score_files import BATCH_ROWS, Table, Writer, read_table
from mlcycle.deploy.score_input import (
    check_table,
    input_notes,
    missing_columns,
    model_frame,
    unseen_categories,
)
from mlcycle.deploy.shadows import shadow_frame
from mlcycle.models import model_input, registry
from mlcycle.store import cancel as cancelling
from mlcycle.store import safety
from mlcycle.store.errors import NotFound

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from mlcycle.store.cancel import CancelToken
    from mlcycle.store.workspace import Workspace

CHALLENGER = "challenger"
Note = Callable[[str], None]
Progress = Callable[[int, int], None]  # rows scored so far, rows in the file


@dataclass
class Scorer:
    """One model version ready to score: its signature and onnxruntime session."""

    version: registry.ModelVersion
    signature: model_input.Signature
    session: Any
    identifier: str | None

    def predict(self, inputs: pl.DataFrame) -> dict[str, np.ndarray]:
        """``label`` (class names) and ``proba`` (rows × classes), or ``value``, for model
        inputs; :func:`prediction_frame` types the labels as the version predicts them."""
        import numpy as np

        out = onnx_export.run(self.session, inputs, self.signature)
        if self.signature.task == "classification":
            return {"label": model_input.label_texts(out[0], self.signature),
                    "proba": np.asarray(out[1])}
        return {"value": np.asarray(out[0], dtype=np.float64).ravel()}


def scorer(ws: Workspace, project: str, ref: str = registry.CHAMPION) -> Scorer:
    """A scorer for a version; exports it first (with the parity check) if needed."""
    version = registry.get(ws, project, ref)
    export = deploy.build(ws, project, str(version.version))
    session = onnx_export.session(deploy.onnx_bytes(ws, export))
    return Scorer(version, deploy.signature_of(ws, version), session,
                  deploy.identifier_of(ws, version))


def challenger_of(ws: Workspace, project: str,
                  main: registry.ModelVersion) -> registry.ModelVersion | None:
    """The challenger, when one is named and it is not the version already scoring."""
    try:
        challenger = registry.get(ws, project, CHALLENGER)
    except NotFound:
        return None
    return None if challenger.version == main.version else challenger


def shadow_of(ws: Workspace, project: str, main: registry.ModelVersion) -> Scorer | None:
    """A scorer for the challenger (:func:`challenger_of`), if there is one."""
    challenger = challenger_of(ws, project, main)
    return None if challenger is None else scorer(ws, project, str(challenger.version))


def predict_file(ws: Workspace, project: str, path: str | Path, ref: str = registry.CHAMPION,
                 out: str | Path | None = None, shadow: bool = True,
                 batch_rows: int = BATCH_ROWS, note: Note | None = None,
                 progress: Progress | None = None,
                 cancel: CancelToken | None = None) -> Scoring:
    """Score a file with a version (and the challenger in its shadow); log the run.

    The file is read and checked (:func:`check_table`) before anything is converted, scored
    or written. Cancelling stops between batches: no output file and no run are left."""
    # Checked first: predictions never replace their input or anything in a workspace.
    target = safety.output_path(out, "--out", workspace=ws.root, inputs=[path]) if out else None
    table = read_table(path, cancel=cancel)
    try:
        version = registry.get(ws, project, ref)
        challenger = challenger_of(ws, project, version) if shadow else None
        check_table(ws, table, [version, *([challenger] if challenger else [])], batch_rows)
        # By number: the versions checked above, even if an alias moves meanwhile.
        main = scorer(ws, project, str(version.version))
        second = scorer(ws, project, str(challenger.version)) if challenger else None
        result, run = score_table(ws, project, table, main, second, out=target,
                                  batch_rows=batch_rows, note=note, progress=progress,
                                  cancel=cancel)
    finally:
        table.close()
    with recording(ws, run), ws.write() as con:
        record_run(con, run)
    return result


def score_table(ws: Workspace, project: str, table: Table, main: Scorer,
                second: Scorer | None, *, out: str | Path | None = None,
                batch_rows: int = BATCH_ROWS, note: Note | None = None,
                on_batch: Callable[[pl.DataFrame, pl.DataFrame, dict[str, np.ndarray],
                                    pl.DataFrame], None] | None = None,
                progress: Progress | None = None, cancel: CancelToken | None = None
                ) -> tuple[Scoring, Run]:
    """Score a table with ``main`` (and ``second``, the challenger, in its shadow): the
    scoring, and the run for the caller to record (monitoring records it with its check, in
    one transaction).

    ``on_batch`` sees each batch's raw rows, model inputs, predictions and their
    ``prediction_frame`` (monitoring collects them there, so a checked file is read and
    scored once). ``progress(rows, total)`` follows the batches; cancelling stops between
    them, and an output file is then not written at all."""
    import polars as pl

    say = note or (lambda _text: None)
    missing_columns(table, main.signature)
    for text in input_notes(table.columns, main.signature, main.identifier):
        say(text)
    writer = Writer(Path(out)) if out else None
    summary = Summary(main.signature.task, main.signature.classes)
    shadow_summary = Summary(main.signature.task, main.signature.classes) if second else None
    shadow_rows: list[pl.DataFrame] = []
    unseen: dict[str, int] = {}
    started = time.perf_counter()
    preview: list[dict[str, Any]] = []
    try:
        for raw in table.batches(batch_rows):
            cancelling.check(cancel)
            inputs = model_frame(raw, main.signature)
            for column, count in unseen_categories(inputs, main.signature).items():
                unseen[column] = unseen.get(column, 0) + count
            pred = main.predict(inputs)
            summary.add(pred)
            predicted = prediction_frame(pred, main.signature)
            if on_batch:
                on_batch(raw, inputs, pred, predicted)
            keep = [c for c in [main.identifier] if c and c in raw.columns]
            frame = pl.concat([raw.select(keep), predicted], how="horizontal")
            if second is not None and shadow_summary is not None:
                other = second.predict(model_frame(raw, second.signature))
                shadow_summary.add(other)
                shadow_rows.append(shadow_frame(row_keys(raw, inputs, main.identifier),
                                                pred, other, main.signature))
            if writer:
                writer.write(frame)
            elif len(preview) < 20:
                preview += frame.head(20 - len(preview)).to_dicts()
            if progress:
                progress(summary.rows, table.rows)
        cancelling.check(cancel)  # the last batch is scored: the output is whole or absent
        if writer:
            writer.finish()
    except BaseException:
        if writer:
            writer.abort()
        raise
    seconds = time.perf_counter() - started
    for column, count in unseen.items():
        say(f"note: column {column!r}: {count} row(s) hold categories the model never saw; "
            "scored as in training (the category is ignored)")
    run = Run(project, main.version.version, table.label, summary.rows, seconds,
              summary.to_dict(), second.version.version if second else None,
              shadow_summary.to_dict() if shadow_summary else None, shadow_rows)
    return Scoring(
        run.id, project, main.version.version, second.version.version if second else None,
        summary.rows, round(seconds, 3),
        round(summary.rows / seconds) if seconds > 0 else None,
        PredictionSummary.from_dict(run.summary),
        PredictionSummary.from_dict(run.shadow_summary) if run.shadow_summary else None,
        unseen, str(writer.out) if writer else None, tuple(preview) if not writer else (),
    ), run
