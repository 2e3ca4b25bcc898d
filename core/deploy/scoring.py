"""Scoring (lifecycle stage 7): batch predictions with onnxruntime, logged for monitoring.

Every scoring path is the same: raw rows are checked against the model's signature (a missing
column names itself, extra columns are noted once, text in a numeric column is cast when it
reads as a number and refused with the row otherwise), ``model_input.frame`` applies the
feature set and types the columns, and the version's parity-checked ONNX graph scores them.
Files are read in batches (polars' streaming engine), and output is written batch by batch,
so a million-row file needs memory for one batch, not for the file.

Each run is logged in ``scoring_runs``: version, rows, time and a summary of the predictions
(class shares and mean probabilities, or quantiles). When a challenger shadows the champion,
both score every row, the champion's predictions are returned, and the pairs are kept per row
(keyed by the identifier column, or a hash of the model inputs) so that ``compare`` can judge
both on the same rows once labels arrive.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle import deploy, projects
from mlcycle.data import sources
from mlcycle.data.columns import by_name
from mlcycle.deploy import onnx_export
from mlcycle.models import evaluation, model_input, paired, registry
from mlcycle.store import cancel as cancelling
from mlcycle.store import events, safety
from mlcycle.store.errors import InvalidInput, NotFound, first_line
from mlcycle.store.schema import iso, utcnow
from mlcycle.store.sql import fetch_one

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from mlcycle.store.cancel import CancelToken
    from mlcycle.store.workspace import Workspace

BATCH_ROWS = 100_000
SAMPLE_CAP = 100_000  # predictions kept for quantiles; thinned by halves beyond this
CHALLENGER = "challenger"
ROW_HASH = "row_hash"
SHADOWS = "scoring"  # the folder of artifacts/ holding the shadow pairs, per project
Note = Callable[[str], None]
Progress = Callable[[int, int], None]  # rows scored so far, rows in the file
_SWEPT: set[Path] = set()  # workspaces whose stale shadow files this process has swept


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


# -- checking input -----------------------------------------------------------------------


def check_input(raw: pl.DataFrame, signature: model_input.Signature) -> pl.DataFrame:
    """Cast the signature's columns that arrive as text; refuse values that are not numbers."""
    import polars as pl

    casts = []
    for name in signature.numeric:
        if name not in raw.columns:
            continue
        dtype = raw.schema[name]
        if dtype in (pl.Boolean, pl.Null) or dtype.is_numeric():  # Null: all missing
            continue
        if dtype != pl.Utf8:
            raise InvalidInput(f"column {name!r} must be numeric; it holds {dtype} values")
        text = by_name(name).str.strip_chars()
        lowered = text.str.to_lowercase()
        normalised = (
            pl.when(lowered == "true").then(pl.lit("1"))
            .when(lowered == "false").then(pl.lit("0"))
            .when(text == "").then(None)
            .otherwise(text)
        )
        cast = normalised.cast(pl.Float64, strict=False)
        bad = raw.select((normalised.is_not_null() & cast.is_null()).arg_true().first()).item()
        if bad is not None:
            raise InvalidInput(
                f"column {name!r} must be numeric, but row {bad + 1} of the batch holds "
                f"{raw[name][bad]!r}"
            )
        casts.append(cast.alias(name))
    for name in signature.categorical:
        if name in raw.columns and raw.schema[name] != pl.Utf8:
            casts.append(by_name(name).cast(pl.Utf8))
    return raw.with_columns(casts) if casts else raw


def missing_columns(table: Table, signature: model_input.Signature) -> None:
    """Refuse a file without a column the model reads, naming them."""
    missing = [c for c in model_input.raw_columns(signature) if c not in table.columns]
    if missing:
        raise InvalidInput(f"{Path(table.label).name} is missing column(s) the model needs: "
                           f"{', '.join(missing)}")


def check_table(ws: Workspace, table: Table, versions: list[registry.ModelVersion],
                batch_rows: int = BATCH_ROWS) -> None:
    """Refuse a file that ``versions`` cannot score before any is converted to ONNX.

    A conversion is stored, so it would be the first write of a scoring that then fails.
    The columns are checked always; the rows (numbers that are text or infinite), as
    :func:`model_frame` types them, only while a version is still to convert: otherwise
    scoring checks each batch itself and writes nothing until the last one is scored."""
    signatures = [deploy.signature_of(ws, v) for v in versions]
    for signature in signatures:
        missing_columns(table, signature)
    if all(deploy.get_export(ws, v.project, v.version) for v in versions):
        return
    for raw in table.batches(batch_rows):
        for signature in signatures:
            model_frame(raw, signature)


def model_frame(raw: pl.DataFrame, signature: model_input.Signature, *,
                exact: bool = False) -> pl.DataFrame:
    """Raw rows to model inputs: checked, then ``model_input.frame`` (the one shared path;
    ``exact``: numbers in 64 bits, for drift checks)."""
    import polars as pl

    try:
        return model_input.frame(check_input(raw, signature), signature, exact=exact)
    except pl.exceptions.PolarsError as exc:
        raise InvalidInput(f"cannot prepare the input rows: {first_line(exc)}") from None


def input_notes(columns: list[str], signature: model_input.Signature,
                identifier: str | None) -> list[str]:
    """What to tell the user once about the columns of their file."""
    used = {*signature.inputs, *model_input.raw_columns(signature), signature.target}
    extra = [c for c in columns if c not in used and c != identifier]
    if not extra:
        return []
    shown = ", ".join(extra[:8]) + (f" and {len(extra) - 8} more" if len(extra) > 8 else "")
    return [f"note: ignoring {len(extra)} column(s) the model does not use: {shown}"]


def unseen_categories(inputs: pl.DataFrame, signature: model_input.Signature) -> dict[str, int]:
    """Rows per column whose category the model never saw (scored as in training: ignored)."""

    out = {}
    for name in signature.categorical:
        known = signature.categories.get(name, [])
        count = inputs.select(
            (~by_name(name).is_in(known) & (by_name(name) != model_input.MISSING_CATEGORY)).sum()
        ).item()
        if count:
            out[name] = int(count)
    return out


# -- predictions and their summary --------------------------------------------------------


def prediction_frame(pred: dict[str, np.ndarray], signature: model_input.Signature,
                     prefix: str = "") -> pl.DataFrame:
    import polars as pl

    if signature.task == "classification":
        cols = {f"{prefix}prediction": model_input.label_series(
            f"{prefix}prediction", pred["label"], signature)}
        for i, cls in enumerate(signature.classes):
            cols[f"{prefix}probability_{cls}"] = pred["proba"][:, i].astype("float64")
        return pl.DataFrame(cols)
    return pl.DataFrame({f"{prefix}prediction": pred["value"]})


@dataclass
class Summary:
    """A running summary of predictions in bounded memory."""

    task: str
    classes: list[str]
    rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    proba_sums: list[float] = field(default_factory=list)
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")
    _sample: list[Any] = field(default_factory=list)
    _kept: int = 0
    _stride: int = 1

    def add(self, pred: dict[str, np.ndarray]) -> None:
        import numpy as np

        if self.task == "classification":
            labels, counts = np.unique(pred["label"], return_counts=True)
            for label, count in zip(labels.tolist(), counts.tolist()):
                self.counts[label] = self.counts.get(label, 0) + int(count)
            sums = pred["proba"].sum(axis=0).tolist()
            self.proba_sums = [a + b for a, b in zip(self.proba_sums, sums)] or sums
            self.rows += len(pred["label"])
            return
        values = pred["value"]
        if not len(values):
            return
        self.rows += len(values)
        self.total += float(values.sum())
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        # Keep every stride-th value; when the sample outgrows its cap, halve it and double
        # the stride, so quantiles come from an even spread of the whole file.
        self._sample.append(values[:: self._stride].copy())
        self._kept += len(self._sample[-1])
        while self._kept > SAMPLE_CAP:
            merged = np.concatenate(self._sample)[::2]
            self._sample, self._kept, self._stride = [merged], len(merged), self._stride * 2

    def to_dict(self) -> dict[str, Any]:
        import numpy as np

        if self.task == "classification":
            return {
                "rows": self.rows,
                "class_shares": {k: v / self.rows for k, v in sorted(self.counts.items())}
                if self.rows else {},
                "mean_probability": {
                    c: s / self.rows for c, s in zip(self.classes, self.proba_sums)
                } if self.rows else {},
            }
        if not self.rows:
            return {"rows": 0}
        sample = np.concatenate(self._sample)
        qs = np.quantile(sample, [0.05, 0.25, 0.5, 0.75, 0.95]).tolist()
        return {
            "rows": self.rows,
            "mean": self.total / self.rows,
            "min": self.low,
            "max": self.high,
            "quantiles": dict(zip(["p05", "p25", "p50", "p75", "p95"], qs)),
        }


def row_keys(raw: pl.DataFrame, inputs: pl.DataFrame, identifier: str | None) -> pl.Series:
    """The key that joins a scored row to its label later: the identifier, else a row hash."""
    import polars as pl

    if identifier and identifier in raw.columns:
        return raw.get_column(identifier).cast(pl.Utf8).alias("id")
    return inputs.hash_rows(seed=7).cast(pl.Utf8).alias("id")


def shadow_frame(keys: pl.Series, main: dict[str, np.ndarray], shadow: dict[str, np.ndarray],
                 signature: model_input.Signature) -> pl.DataFrame:
    import polars as pl

    return pl.concat(
        [pl.DataFrame([keys]), prediction_frame(main, signature, "champion_"),
         prediction_frame(shadow, signature, "challenger_")],
        how="horizontal",
    )


@dataclass
class Run:
    """One scoring run, to be recorded with :func:`record_run` (inside :func:`recording`)."""

    project: str
    version: int
    source: str
    rows: int
    seconds: float
    summary: dict[str, Any]
    shadow_version: int | None = None
    shadow_summary: dict[str, Any] | None = None
    shadow_rows: list[pl.DataFrame] = field(default_factory=list)
    shadow_path: str | None = None
    shadow_sha256: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


def sweep_shadows(ws: Workspace, older_than: float | None = None) -> int:
    """Remove the shadow-pair files no scoring run names, left by a process killed between
    storing the file and recording its run; returns how many were removed. Only files older
    than ``older_than`` (the workspace's stale age, an hour) go: a younger one may be a
    running process's, about to be recorded."""
    from mlcycle.store.workspace import STALE_TEMP_SECONDS

    cutoff = time.time() - (STALE_TEMP_SECONDS if older_than is None else older_than)
    old = []
    for path in (ws.artifacts / SHADOWS).glob("*/*.parquet"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                old.append(path)
    if not old:
        return 0
    with ws.read() as con:
        named = {row[0] for row in con.execute(
            "SELECT shadow_path FROM scoring_runs WHERE shadow_path IS NOT NULL").fetchall()}
    orphans = [p for p in old if p.relative_to(ws.artifacts).as_posix() not in named]
    for path in orphans:
        path.unlink(missing_ok=True)
    return len(orphans)


def save_shadow(ws: Workspace, run: Run) -> None:
    """Store a run's shadow pairs as Parquet in the workspace, before the run is recorded (a
    row never points at a file that is not in place). The first time a process does so, it
    sweeps what killed processes left (:func:`sweep_shadows`)."""
    import polars as pl

    from mlcycle.store.workspace import file_sha256

    root = ws.root.resolve()
    if root not in _SWEPT:
        _SWEPT.add(root)
        sweep_shadows(ws)
    if run.shadow_rows and run.shadow_path is None:
        temp = ws.temp_path(".parquet")
        pl.concat(run.shadow_rows).write_parquet(temp)
        run.shadow_sha256 = file_sha256(temp)
        relpath = f"{SHADOWS}/{run.project}/{run.id}.parquet"
        ws.commit_file(temp, relpath)
        run.shadow_path = relpath


@contextlib.contextmanager
def recording(ws: Workspace, run: Run) -> Iterator[None]:
    """Store ``run``'s shadow pairs (:func:`save_shadow`) for the block that records the
    run; if the block fails before the run is recorded, the file goes too, so no file is
    left that no run names (a kill leaves one for :func:`sweep_shadows`)."""
    save_shadow(ws, run)
    try:
        yield
    except BaseException:
        if run.shadow_path is not None:
            # Unsure whether the run was recorded (the workspace is busy, say): the sweep
            # decides once the file is stale.
            with contextlib.suppress(Exception):
                with ws.read() as con:
                    recorded = fetch_one(con, "SELECT 1 FROM scoring_runs WHERE id = ?",
                                         [run.id])
                if recorded is None:
                    ws.artifact_path(run.shadow_path).unlink(missing_ok=True)
        raise


def record_run(con: Any, run: Run) -> None:
    """Insert a run and its event, inside the caller's write transaction."""
    con.execute(
        "INSERT INTO scoring_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run.id, utcnow(), run.project, run.version, run.shadow_version, run.source, run.rows,
         run.seconds, json.dumps(run.summary),
         json.dumps(run.shadow_summary) if run.shadow_summary else None, run.shadow_path,
         run.shadow_sha256],
    )
    events.record(con, "deploy.scored", project=run.project, subject=f"v{run.version}",
                  detail={"run": run.id, "rows": run.rows, "source": run.source,
                          "shadow": run.shadow_version})


def log_run(ws: Workspace, project: str, version: int, source: str, rows: int, seconds: float,
            summary: dict[str, Any], shadow_version: int | None = None,
            shadow_summary: dict[str, Any] | None = None,
            shadow_rows: list[pl.DataFrame] | None = None) -> str:
    """Record one scoring run (and the shadow pairs, as Parquet in the workspace)."""
    run = Run(project, version, source, rows, seconds, summary, shadow_version,
              shadow_summary, shadow_rows or [])
    with recording(ws, run), ws.write() as con:
        record_run(con, run)
    return run.id


def recent_runs(ws: Workspace, project: str, limit: int = 20) -> list[dict[str, Any]]:
    projects.get(ws, project)
    with ws.read() as con:
        rows = con.execute(
            "SELECT id, ts, version, shadow_version, source, rows, seconds, summary "
            "FROM scoring_runs WHERE project = ? ORDER BY ts DESC LIMIT ?",
            [project, limit],
        ).fetchall()
    return [
        {"id": r[0], "ts": iso(r[1]), "version": r[2],
         "shadow_version": r[3], "source": r[4], "rows": r[5], "seconds": r[6],
         "summary": json.loads(r[7])}
        for r in rows
    ]


# -- files --------------------------------------------------------------------------------



@dataclass
class Table:
    """A user's file read once, by the reader every command shares (``mlcycle.data.sources``),
    into a private Parquet copy that scoring streams in batches. Close it when done."""

    label: str
    columns: list[str]
    rows: int
    path: Path
    folder: Any  # the tempfile.TemporaryDirectory holding ``path``

    def batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[pl.DataFrame]:
        import polars as pl

        batches = pl.scan_parquet(self.path, glob=False).collect_batches(chunk_size=batch_rows)
        for batch in batches:
            if batch.height:
                yield batch

    def close(self) -> None:
        self.folder.cleanup()


def read_table(path: str | Path, *, label: str | None = None,
               cancel: CancelToken | None = None) -> Table:
    """Read and check a file to score (``label`` names it in errors, for a copy); refuses a
    file without rows, since nothing can be said about none. Cancelling interrupts the
    reading; nothing is kept."""
    import tempfile

    import polars as pl

    folder = tempfile.TemporaryDirectory(prefix="mlcycle-score-")
    try:
        out = Path(folder.name) / "rows.parquet"
        shown = label or str(Path(path).expanduser().absolute())
        columns = sources.to_parquet(path, out, label=shown, cancel=cancel)
        rows = pl.scan_parquet(out, glob=False).select(pl.len()).collect().item()
        if not rows:
            raise InvalidInput(f"{shown}: has no rows")
    except BaseException:
        folder.cleanup()
        raise
    return Table(shown, columns, rows, out, folder)


class _Writer:
    """Predictions written batch by batch to CSV or Parquet, moved into place at the end."""

    def __init__(self, out: Path) -> None:
        suffix = out.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise InvalidInput(f"--out must end in .csv or .parquet, not {out.name}")
        if not out.parent.is_dir():
            raise NotFound(f"no folder {out.parent} for {out.name}")
        safety.sweep(out.parent)  # what killed runs left beside it
        self.out = out
        self.parquet = suffix == ".parquet"
        self.temp = out.parent / safety.temp_name(f".{out.name}.", ".tmp")
        self.parts: list[Path] = []
        if self.parquet:
            self.temp.mkdir()
        else:
            self.handle = open(self.temp, "wb")  # noqa: SIM115 - closed in finish/abort
        self.first = True

    def write(self, frame: pl.DataFrame) -> None:
        if self.parquet:
            part = self.temp / f"{len(self.parts):06d}.parquet"
            frame.write_parquet(part)
            self.parts.append(part)
        else:
            frame.write_csv(self.handle, include_header=self.first)
        self.first = False

    def finish(self) -> None:
        import os

        import polars as pl

        if self.parquet:
            # Streaming concatenation of the parts keeps memory at one part.
            final = self.out.parent / safety.temp_name(f".{self.out.name}.", ".part")
            pl.scan_parquet([str(p) for p in self.parts], glob=False).sink_parquet(final)
            os.replace(final, self.out)
            shutil.rmtree(self.temp, ignore_errors=True)
        else:
            self.handle.close()
            os.replace(self.temp, self.out)

    def abort(self) -> None:
        if self.parquet:
            shutil.rmtree(self.temp, ignore_errors=True)
        else:
            self.handle.close()
            self.temp.unlink(missing_ok=True)


def predict_file(ws: Workspace, project: str, path: str | Path, ref: str = registry.CHAMPION,
                 out: str | Path | None = None, shadow: bool = True,
                 batch_rows: int = BATCH_ROWS, note: Note | None = None,
                 progress: Progress | None = None,
                 cancel: CancelToken | None = None) -> dict[str, Any]:
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
                ) -> tuple[dict[str, Any], Run]:
    """Score a table with ``main`` (and ``second``, the challenger, in its shadow): the
    result, and the run for the caller to record (monitoring records it with its check, in
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
    writer = _Writer(Path(out)) if out else None
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
    return {
        "run": run.id,
        "project": project,
        "version": main.version.version,
        "shadow_version": second.version.version if second else None,
        "rows": summary.rows,
        "seconds": round(seconds, 3),
        "rows_per_second": round(summary.rows / seconds) if seconds > 0 else None,
        "summary": summary.to_dict(),
        "shadow_summary": shadow_summary.to_dict() if shadow_summary else None,
        "unseen_categories": unseen,
        "out": str(writer.out) if writer else None,
        "preview": preview if not writer else [],
    }, run


# -- champion and challenger --------------------------------------------------------------


def compare(ws: Workspace, project: str, labels: str | Path,
            promote: bool = False, reason: str | None = None) -> dict[str, Any]:
    """Both models' metrics on the shadowed rows that now have labels."""
    import numpy as np
    import polars as pl

    proj = projects.get(ws, project)
    with ws.read() as con:
        latest = con.execute(
            "SELECT version, shadow_version FROM scoring_runs WHERE project = ? AND "
            "shadow_path IS NOT NULL ORDER BY ts DESC LIMIT 1", [project]).fetchall()
        if not latest:
            raise NotFound(f"project {project!r} has no shadowed scoring runs; name a "
                           "challenger ('mlcycle promote PROJECT V --alias challenger') and "
                           "score with 'mlcycle predict' or 'mlcycle serve'")
        champion_v, challenger_v = latest[0]
        stored = con.execute(
            "SELECT id, shadow_path, shadow_sha256 FROM scoring_runs WHERE project = ? AND "
            "version = ? AND shadow_version = ? AND shadow_path IS NOT NULL ORDER BY ts", [
                project, champion_v, challenger_v]).fetchall()
    main = registry.get(ws, project, str(champion_v))
    signature = deploy.signature_of(ws, main)
    identifier = deploy.identifier_of(ws, main)
    source = Path(labels).expanduser()
    truth = labels_frame(source, signature, identifier)
    scored = pl.concat([
        pl.read_parquet(ws.verified_path(path, sha, f"the shadow scores of scoring run {run}"),
                        glob=False)
        for run, path, sha in stored]).unique("id", keep="last")
    joined = scored.join(truth, on="id", how="inner")
    if not joined.height:
        raise InvalidInput(f"none of the labelled rows in {source.name} were shadow-scored")
    y = joined.get_column("y").to_numpy()
    if signature.task == "regression":
        y = y.astype(np.float64)
    figures, sides = {}, {}
    for side in ("champion", "challenger"):
        pred = model_input.predicted_values(joined.get_column(f"{side}_prediction"), signature)
        proba = None
        if signature.task == "classification":
            proba = np.column_stack([joined.get_column(f"{side}_probability_{c}").to_numpy()
                                     for c in signature.classes]).astype(np.float64)
            # float32 probabilities sum to 1 within 1e-7; log loss wants it exact
            proba = proba / proba.sum(axis=1, keepdims=True)
        sides[side] = (pred, proba)
        figures[side] = evaluation.scores(signature.task, y, pred, proba,
                                          signature.classes or None)
    metric = proj.metric
    # Judged against noise: both models on the same resampled rows (the gate's bootstrap).
    judged = paired.judge(metric, signature.task, list(signature.classes or []), y,
                          sides["champion"], sides["challenger"])
    better, verdict = paired.verdict(judged, f"the challenger v{challenger_v}",
                                     f"the champion v{champion_v}")
    result: dict[str, Any] = {
        "project": project,
        "rows": joined.height,
        "metric": metric,
        "champion": {"version": champion_v, "metrics": figures["champion"]},
        "challenger": {"version": challenger_v, "metrics": figures["challenger"]},
        "difference": {k: judged[k] for k in ("difference", "low", "high", "confidence",
                                              "rounds")},
        "challenger_better": better,  # None: no clear difference
        "verdict": verdict,
        "promoted": False,
    }
    with ws.write() as con:
        events.record(con, "deploy.compared", project=project, subject=f"v{challenger_v}",
                      detail={k: result[k] for k in ("rows", "metric", "champion",
                                                     "challenger", "difference",
                                                     "challenger_better", "verdict")})
    if promote:
        if not better:
            raise InvalidInput(f"not promoted: {verdict}")
        why = (f"{reason or 'shadow comparison'}: {metric} "
               f"{_fmt(figures['challenger'].get(metric))} vs champion v{champion_v}'s "
               f"{_fmt(figures['champion'].get(metric))} on {joined.height} labelled rows")
        registry.promote(ws, project, str(challenger_v), registry.CHAMPION, why)
        result["promoted"] = True
        result["reason"] = why
    return result


def unjoinable_labels(labels: Path, identifier: str) -> InvalidInput:
    """The one message for a labels file without the row key (monitor, watch, retrain)."""
    return InvalidInput(f"{labels.name} needs the identifier column {identifier!r} to join its "
                        "labels to the batch's rows")


def unmatched_labels(labels: Path, batch: Path, identifier: str | None) -> InvalidInput:
    """The one message for labels whose keys match none of the batch's rows."""
    return InvalidInput(f"none of the rows in {labels.name} match the rows of {batch.name}"
                        + (f" on {identifier!r}" if identifier else ""))


def labels_frame(source: Path, signature: model_input.Signature, identifier: str | None,
                 raw: pl.DataFrame | None = None) -> pl.DataFrame:
    """Labels that arrived later, keyed like scored rows (``id``) with their target (``y``).
    ``raw``: the file, already read with ``sources.read_frame``."""
    import polars as pl

    # Read like 'data add' read the training data, so a target such as yes/no gets the
    # same values (DuckDB reads it as a boolean) as the classes the model learnt.
    raw = sources.read_frame(source) if raw is None else raw
    if signature.target not in raw.columns:
        raise InvalidInput(f"{source.name} has no target column {signature.target!r}")
    if identifier and identifier in raw.columns:
        keys = raw.get_column(identifier).cast(pl.Utf8).alias("id")
    elif not identifier:
        # No identifier: scored rows were keyed by a hash of their model inputs, so the
        # labels file must carry the same input columns.
        keys = row_keys(raw, model_frame(raw, signature), None)
    else:
        raise unjoinable_labels(source, identifier)
    labelled = raw.get_column(signature.target).is_not_null()
    return pl.DataFrame([keys.filter(labelled), pl.Series(
        "y", model_input.target_values(raw.filter(labelled), signature))]).unique(
        "id", keep="last")


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def last_comparison(ws: Workspace, project: str) -> dict[str, Any] | None:
    for event in events.recent(ws, project, limit=200):
        if event["kind"] == "deploy.compared":
            return {"ts": iso(event["ts"]), **event["detail"]}
    return None
