"""Data collection (lifecycle stage 2): immutable, content-addressed dataset versions.

``add`` reads a file, folder or glob once, stores it as Parquet inside the workspace and
profiles it. The version id is derived from a hash of the source bytes, as DVC does, so adding
the same content again returns the same id and stores nothing. The heavy work (parsing,
Parquet writing, profiling) happens in a private in-memory DuckDB, outside the workspace lock;
only the final registration is a short write transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle import projects
from mlcycle.data import columns, privacy, quality, sources
from mlcycle.store import cancel as cancelling
from mlcycle.store import events, files, suggest
from mlcycle.store.cancel import CancelToken
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso, utcnow
from mlcycle.store.sql import fetch_one, memory_connection
from mlcycle.store.workspace import Workspace, file_sha256

if TYPE_CHECKING:
    import polars as pl

ID_LENGTH = 12
_ID = re.compile(r"^[0-9a-f]{4,40}$")
_VERSION_FIELDS = (
    "d.id, pd.project, d.n_rows, d.n_columns, d.size_bytes, d.source_format, pd.source, "
    "d.created_at, pd.added_at, d.path, d.sha256"
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a project's data."""

    id: str
    project: str
    n_rows: int
    n_columns: int
    size_bytes: int
    source_format: str
    source: str
    created_at: datetime
    added_at: datetime
    path: str
    sha256: str | None  # of the stored Parquet, checked on every read

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("created_at", "added_at"):
            out[key] = iso(out[key])
        return out


@dataclass(frozen=True)
class AddResult:
    version: DatasetVersion
    stored: bool  # False when the same content was already in the workspace

    def to_dict(self) -> dict[str, Any]:
        return {**self.version.to_dict(), "stored": self.stored}


def content_hash(source: sources.Source) -> str:
    """A hash of the bytes of every file in the source, in path order."""
    outer = hashlib.blake2b(digest_size=20)
    outer.update(source.format.encode())
    for path in source.files:
        inner = hashlib.blake2b(digest_size=20)
        with files.open_regular(path) as fh:
            while chunk := fh.read(1 << 20):
                inner.update(chunk)
        outer.update(inner.digest())
    return outer.hexdigest()


def add(
    ws: Workspace, project: str, spec: str | Path, progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> AddResult:
    """Store the data at ``spec`` as a version of ``project``'s data (or find it stored).

    Cancelling stops the conversion itself (DuckDB is interrupted); nothing is stored."""
    import duckdb

    say = progress or (lambda _msg: None)
    proj = projects.get(ws, project)
    source = sources.resolve(spec)
    say(f"hashing {source.label}")
    digest = content_hash(source)
    version_id = digest[:ID_LENGTH]
    cancelling.check(cancel)

    found = _link_stored(ws, project, proj.target, version_id, source.label)
    if found is not None:
        return found

    ws.sweep_temp()  # files a killed process left behind
    con = memory_connection()
    temp = ws.temp_path(".parquet")
    try:
        try:
            say(f"reading {source.label}")
            rel = sources.load(con, source)
            _require_target(project, proj.target, rel.columns, source.label)
            say("writing Parquet")
            try:
                with cancelling.interrupting(cancel, con.interrupt):
                    rel.to_parquet(str(temp), compression="zstd")
            except duckdb.Error as exc:
                cancelling.check(cancel)  # an interrupted conversion was cancelled
                raise InvalidInput(
                    f"cannot read {source.label}: {sources.error_text(exc)}"
                ) from None
        finally:
            con.close()
        cancelling.check(cancel)
        version = register_parquet(
            ws,
            project,
            temp,
            version_id=version_id,
            digest=digest,
            source_format=source.format,
            source_label=source.label,
            progress=say,
        )
    finally:
        temp.unlink(missing_ok=True)
    return AddResult(version, stored=True)


def _link_stored(ws: Workspace, project: str, target: str, version_id: str, label: str,
                 in_transaction: Callable[[Any], None] | None = None) -> AddResult | None:
    """Link the version already stored under ``version_id`` to the project; None if none is."""
    with ws.read() as con:
        stored_names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM dataset_columns WHERE dataset_id = ? ORDER BY position",
                [version_id],
            ).fetchall()
        ]
    if not stored_names:
        return None
    _require_target(project, target, stored_names, label)
    with ws.write() as con:
        link(con, project, version_id, label)
        if in_transaction is not None:
            in_transaction(con)
    version = get(ws, project, version_id)
    _scan_if_never_scanned(ws, version)
    return AddResult(version, stored=False)


def store_parquet(
    ws: Workspace, project: str, temp: Path, *, digest: str, source_format: str,
    source_label: str, in_transaction: Callable[[Any], None] | None = None,
    progress: Progress | None = None,
) -> AddResult:
    """Store a finished Parquet file (data collected from a source) as a version of
    ``project``, its id the start of ``digest`` (a hash of the file's bytes), or link the
    version already stored under that id: the same content is the same version, as with
    :func:`add`. ``in_transaction`` runs in the registering transaction either way."""
    proj = projects.get(ws, project)
    version_id = digest[:ID_LENGTH]
    found = _link_stored(ws, project, proj.target, version_id, source_label, in_transaction)
    if found is not None:
        return found
    with memory_connection() as con:
        _require_target(project, proj.target, con.read_parquet(str(temp)).columns,
                        source_label)
    version = register_parquet(ws, project, temp, version_id=version_id, digest=digest,
                               source_format=source_format, source_label=source_label,
                               progress=progress, in_transaction=in_transaction)
    return AddResult(version, stored=True)


def register_parquet(
    ws: Workspace,
    project: str,
    temp: Path,
    *,
    version_id: str,
    digest: str,
    source_format: str,
    source_label: str,
    progress: Progress | None = None,
    in_transaction: Callable[[Any], None] | None = None,
    duplicate_rows: int | None = None,
) -> DatasetVersion:
    """Profile a finished Parquet file under ``artifacts/.tmp`` and register it as a version.

    Shared by ``add`` (data from a file) and by stages that derive data (preparation), so a
    version is registered one way only: the quality report and the file's sha256 are computed
    outside the lock, then one write transaction moves the file into place and inserts the
    version, its columns, its report and its link to the project. ``in_transaction`` runs
    inside that same transaction (lineage, events), so a kill leaves either all of it or
    none. ``duplicate_rows``: see ``quality.compute``.
    """
    say = progress or (lambda _msg: None)
    con = memory_connection()
    try:
        con.read_parquet(str(temp)).create_view("stored")
        say("profiling")
        report = quality.compute(con, "stored", duplicate_rows)
        say("looking for personal data")
        findings = privacy.scan_parquet(con, str(temp))
    finally:
        con.close()
    # Stored masked: the workspace itself never holds a sensitive column's values in clear
    # outside the data file.
    report = privacy.mask_report(report, {f.column: f.kind for f in findings})
    if report["rows"] == 0:
        raise InvalidInput(f"{source_label}: has a header but no rows")
    relpath = f"datasets/{version_id}.parquet"
    size = temp.stat().st_size
    sha256 = file_sha256(temp)

    with ws.write() as wcon:
        # Under the write lock: when a concurrent add of the same content registered first,
        # its file (which its recorded hash vouches for) stays and this one is dropped.
        if fetch_one(wcon, "SELECT 1 FROM datasets WHERE id = ?", [version_id]) is None:
            ws.commit_file(temp, relpath)
        wcon.execute(
            "INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                version_id,
                digest,
                relpath,
                report["rows"],
                report["columns"],
                size,
                source_format,
                utcnow(),
                sha256,
            ],
        )
        stats = report["column_stats"]
        # One statement for every column: executemany takes a second per few hundred rows,
        # minutes for a table of 10,000 columns.
        wcon.execute(
            "INSERT INTO dataset_columns SELECT ?, unnest(?::INTEGER[]), unnest(?::VARCHAR[]), "
            "unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]) "
            "ON CONFLICT DO NOTHING",
            [version_id, list(range(len(stats))), [s["name"] for s in stats],
             [s["dtype"] for s in stats], [s["kind"] for s in stats],
             [s["guessed_role"] for s in stats]],
        )
        wcon.execute(
            "INSERT INTO quality_reports VALUES (?, ?) ON CONFLICT DO NOTHING",
            [version_id, json.dumps(report, default=str)],
        )
        _record_findings(wcon, version_id, findings)
        link(wcon, project, version_id, source_label)
        if in_transaction is not None:
            in_transaction(wcon)
    return get(ws, project, version_id)


def _record_findings(con: Any, version_id: str, findings: list[privacy.Finding]) -> None:
    con.execute(
        "INSERT INTO dataset_privacy VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [version_id, utcnow(), json.dumps([f.to_dict() for f in findings])],
    )


def _scan_if_never_scanned(ws: Workspace, version: DatasetVersion) -> None:
    """Scan a version stored before mlcycle looked for personal data, once."""
    with ws.read() as con:
        if fetch_one(con, "SELECT 1 FROM dataset_privacy WHERE dataset_id = ?", [version.id]):
            return
    with memory_connection() as mem:
        findings = privacy.scan_parquet(mem, str(data_path(ws, version)))
    with ws.write() as con:
        _record_findings(con, version.id, findings)


def sensitive_columns(ws: Workspace, version_id: str) -> dict[str, dict[str, Any]]:
    """What the privacy scan found in a version: column -> {kind, confidence, reason}."""
    with ws.read() as con:
        row = fetch_one(con, "SELECT findings FROM dataset_privacy WHERE dataset_id = ?",
                        [version_id])
    return {f["column"]: f for f in json.loads(row[0])} if row else {}


def _require_target(project: str, target: str, names: list[str], label: str) -> None:
    if target not in names:
        raise InvalidInput(
            f"{label}: no column {target!r} to predict{suggest.did_you_mean(target, names)} "
            f"(columns: {suggest.listing(target, names)}); set the target with "
            f"'mlcycle project edit {project} --target COLUMN'"
        )


def link(con: Any, project: str, version_id: str, label: str) -> None:
    if con.execute(
        "SELECT 1 FROM project_datasets WHERE project = ? AND dataset_id = ?", [project, version_id]
    ).fetchall():
        return
    con.execute(
        "INSERT INTO project_datasets VALUES (?, ?, ?, ?)", [project, version_id, label, utcnow()]
    )
    events.record(con, "data.added", project=project, subject=version_id, detail={"source": label})


def list_versions(ws: Workspace, project: str) -> list[DatasetVersion]:
    """The project's dataset versions, newest first."""
    projects.get(ws, project)
    with ws.read() as con:
        rows = con.execute(
            f"SELECT {_VERSION_FIELDS} FROM project_datasets pd JOIN datasets d "  # noqa: S608
            "ON d.id = pd.dataset_id WHERE pd.project = ? ORDER BY pd.added_at DESC",
            [project],
        ).fetchall()
    return [DatasetVersion(*row) for row in rows]


def get(ws: Workspace, project: str, ref: str = "latest") -> DatasetVersion:
    """A version by id, unique id prefix, or ``latest``."""
    versions = list_versions(ws, project)
    if not versions:
        raise NotFound(f"project {project!r} has no data yet; add some with 'mlcycle data add'")
    if ref == "latest":
        return versions[0]
    if not _ID.match(ref):
        raise InvalidInput(
            f"{ref!r} is not a dataset version id (hex, at least 4 characters) or 'latest'"
        )
    matches = [v for v in versions if v.id.startswith(ref)]
    if len(matches) > 1:
        raise InvalidInput(f"{ref!r} matches several versions: {', '.join(v.id for v in matches)}")
    if not matches:
        raise NotFound(f"project {project!r} has no dataset version {ref!r}")
    return matches[0]


def data_path(ws: Workspace, version: DatasetVersion) -> Path:
    """The stored Parquet of a version, after checking it is the file that was registered."""
    return ws.verified_path(version.path, version.sha256,
                            f"the stored data of version {version.id}")


def frame(ws: Workspace, version: DatasetVersion) -> pl.DataFrame:
    """A version's rows, checked. Its path is taken as it is, never as a glob: a workspace
    may live under a folder named ``runs[2]``."""
    import polars as pl

    return pl.read_parquet(data_path(ws, version), glob=False)


def scan(ws: Workspace, version: DatasetVersion) -> pl.LazyFrame:
    """A version's rows as a lazy frame, checked; the path is not a glob (see :func:`frame`)."""
    import polars as pl

    return pl.scan_parquet(data_path(ws, version), glob=False)


def dictionary(ws: Workspace, project: str, ref: str = "latest") -> list[dict[str, Any]]:
    """Column, type, kind, role and description of each column of a version."""
    proj = projects.get(ws, project)
    version = get(ws, project, ref)
    with ws.read() as con:
        rows = con.execute(
            "SELECT c.name, c.dtype, c.kind, c.guessed_role, n.role, n.description, "
            "n.sensitive_allowed FROM dataset_columns c LEFT JOIN column_notes n "
            "ON n.project = ? AND n.column_name = c.name "
            "WHERE c.dataset_id = ? ORDER BY c.position",
            [project, version.id],
        ).fetchall()
    found = sensitive_columns(ws, version.id)
    out = []
    for name, dtype, kind, guessed, role, description, allowed in rows:
        chosen = role or ("target" if name == proj.target else guessed)
        finding = found.get(name)
        if finding and not allowed and name != proj.target:
            # Personal data is no feature, nor an identifier shown beside predictions,
            # until a user opts the column in with a reason.
            chosen = "ignored"
        if kind == "text" and role == "feature":
            # A user made a high-cardinality string a feature: its values are the categories.
            kind = "categorical"
        out.append(
            {
                "name": name,
                "dtype": dtype,
                "kind": kind,
                "role": chosen,
                "description": description or "",
                "sensitive": finding["kind"] if finding else None,
                "privacy": ({"confidence": finding["confidence"], "reason": finding["reason"],
                             "allowed": allowed} if finding else None),
            }
        )
    return out


def quality_report(ws: Workspace, project: str, ref: str = "latest") -> dict[str, Any]:
    """The stored quality report of a version, with a section on the project's target."""

    proj = projects.get(ws, project)
    version = get(ws, project, ref)
    with ws.read() as con:
        row = fetch_one(
            con, "SELECT report FROM quality_reports WHERE dataset_id = ?", [version.id]
        )
    if row is None:
        raise NotFound(f"version {version.id} has no quality report")
    sensitive = {name: f["kind"] for name, f in sensitive_columns(ws, version.id).items()}
    # Masked again on the way out: a report stored before the scan existed holds values.
    report = privacy.mask_report(json.loads(row[0]), sensitive)
    stats = {s["name"]: s for s in report["column_stats"]}
    target: dict[str, Any] = {"name": proj.target, "present": proj.target in stats}
    if target["present"]:
        s = stats[proj.target]
        target["missing_share"] = s["missing_share"]
        if proj.task == "classification":
            with memory_connection() as mem:
                mem.read_parquet(str(data_path(ws, version))).create_view("stored")
                target["classes"] = quality.class_balance(mem, "stored", proj.target)
        else:
            target["distribution"] = {
                k: s.get(k) for k in ("min", "max", "mean", "std", "quantiles")
            }
    report["target"] = target
    return report


def project_columns(ws: Workspace, project: str) -> list[str]:
    """Every column name of the project's dataset versions, the newest version's first."""
    with ws.read() as con:
        rows = con.execute(
            "SELECT c.name FROM dataset_columns c "
            "JOIN project_datasets pd ON pd.dataset_id = c.dataset_id "
            "WHERE pd.project = ? ORDER BY pd.added_at DESC, c.position",
            [project],
        ).fetchall()
    return list(dict.fromkeys(r[0] for r in rows))


def _known_column(ws: Workspace, project: str, column: str) -> None:
    if column not in project_columns(ws, project):
        raise NotFound(f"no column {column!r} in any dataset version of project {project!r}")


def describe_column(ws: Workspace, project: str, column: str, text: str) -> None:
    """Set the dictionary description of a column; it carries across versions."""
    projects.get(ws, project)
    _known_column(ws, project, column)
    _set_note(ws, project, column, "description", text)


def set_role(ws: Workspace, project: str, column: str, role: str,
             allow_sensitive: str | None = None) -> None:
    """Override the guessed role of a column (feature, identifier, ignored).

    A column found to hold personal data stays out of the features until a user opts it in:
    ``allow_sensitive`` is their reason, recorded with the role. Setting the role again
    without it withdraws the opt-in."""
    proj = projects.get(ws, project)
    if role not in columns.ROLES or role == "target":
        allowed = ", ".join(r for r in columns.ROLES if r != "target")
        raise InvalidInput(
            f"role {role!r} is not one of: {allowed} (the target is set on the project)"
        )
    if column == proj.target:
        raise InvalidInput(f"{column!r} is the project's target; its role cannot change")
    _known_column(ws, project, column)
    kind = _sensitive_kind(ws, project, column)
    if allow_sensitive is not None:
        if not allow_sensitive.strip():
            raise InvalidInput("--reason must say why this personal data may be used")
        if kind is None:
            raise InvalidInput(f"{column!r} was not found to hold personal data; "
                               "set its role without --allow-sensitive")
        if role == "ignored":
            raise InvalidInput("an ignored column needs no opt-in; drop --allow-sensitive")
    elif kind is not None and role != "ignored":
        raise InvalidInput(
            f"{column!r} holds personal data ({kind}); to use it as {role} add "
            "--allow-sensitive --reason TEXT")
    _set_note(ws, project, column, "role", role)
    if kind is not None:
        _set_note(ws, project, column, "sensitive_allowed", allow_sensitive)


def _sensitive_kind(ws: Workspace, project: str, column: str) -> str | None:
    """The kind of personal data any version of the project holds in ``column``."""
    with ws.read() as con:
        rows = con.execute(
            "SELECT p.findings FROM dataset_privacy p JOIN project_datasets pd "
            "ON pd.dataset_id = p.dataset_id WHERE pd.project = ? ORDER BY pd.added_at DESC",
            [project],
        ).fetchall()
    for (findings,) in rows:
        for f in json.loads(findings):
            if f["column"] == column:
                return f["kind"]
    return None


def _set_note(ws: Workspace, project: str, column: str, field: str, value: str | None) -> None:
    assert field in ("role", "description", "sensitive_allowed")
    with ws.write() as con:
        con.execute(
            f"INSERT INTO column_notes (project, column_name, {field}) VALUES (?, ?, ?) "  # noqa: S608
            f"ON CONFLICT (project, column_name) DO UPDATE SET {field} = excluded.{field}",
            [project, column, value],
        )
        events.record(
            con, f"data.column_{field}", project=project, subject=column, detail={field: value}
        )
