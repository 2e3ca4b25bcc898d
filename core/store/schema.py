"""The workspace schema and its migrations.

Each migration is applied once, in order, inside the transaction that records it, so a
workspace written by an older mlcycle is brought up to date the first time a newer one
writes to it, and a kill during a migration leaves the old schema intact. Never edit a
published migration: add a new one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from mlcycle.store.errors import WorkspaceError
from mlcycle.store.sql import fetch_one

if TYPE_CHECKING:
    import duckdb

MIGRATIONS: list[str] = [
    # 1: problem definition and data collection
    """
    CREATE TABLE projects (
        name VARCHAR PRIMARY KEY,
        target VARCHAR NOT NULL,
        task VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        goal DOUBLE,
        description VARCHAR,
        kpi VARCHAR,
        created_at TIMESTAMP NOT NULL
    );
    CREATE TABLE datasets (
        id VARCHAR PRIMARY KEY,
        content_hash VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        n_rows BIGINT NOT NULL,
        n_columns INTEGER NOT NULL,
        size_bytes BIGINT NOT NULL,
        source_format VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL
    );
    CREATE TABLE dataset_columns (
        dataset_id VARCHAR NOT NULL,
        position INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        dtype VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        guessed_role VARCHAR NOT NULL,
        PRIMARY KEY (dataset_id, position)
    );
    CREATE TABLE quality_reports (
        dataset_id VARCHAR PRIMARY KEY,
        report JSON NOT NULL
    );
    CREATE TABLE project_datasets (
        project VARCHAR NOT NULL,
        dataset_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        added_at TIMESTAMP NOT NULL,
        PRIMARY KEY (project, dataset_id)
    );
    """,
    # 2: user notes on columns, and an activity log every stage appends to
    """
    CREATE TABLE column_notes (
        project VARCHAR NOT NULL,
        column_name VARCHAR NOT NULL,
        role VARCHAR,
        description VARCHAR,
        PRIMARY KEY (project, column_name)
    );
    CREATE SEQUENCE event_ids;
    CREATE TABLE events (
        id BIGINT DEFAULT nextval('event_ids') PRIMARY KEY,
        ts TIMESTAMP NOT NULL,
        project VARCHAR,
        kind VARCHAR NOT NULL,
        subject VARCHAR,
        detail JSON
    );
    """,
    # 3: experiment tracking, evaluation holdouts and the model registry
    """
    CREATE TABLE runs (
        id VARCHAR PRIMARY KEY,
        project VARCHAR NOT NULL,
        name VARCHAR,
        kind VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        group_id VARCHAR,
        started_at TIMESTAMP NOT NULL,
        ended_at TIMESTAMP,
        pid INTEGER
    );
    CREATE TABLE run_params (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR,
        PRIMARY KEY (run_id, key)
    );
    CREATE TABLE run_metrics (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        step BIGINT NOT NULL,
        value DOUBLE,
        ts TIMESTAMP NOT NULL
    );
    CREATE TABLE run_tags (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR,
        PRIMARY KEY (run_id, key)
    );
    CREATE TABLE run_artifacts (
        run_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        size_bytes BIGINT NOT NULL,
        PRIMARY KEY (run_id, name)
    );
    CREATE TABLE journal_offsets (
        file VARCHAR PRIMARY KEY,
        offset_bytes BIGINT NOT NULL
    );
    CREATE TABLE holdouts (
        dataset_id VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        fraction DOUBLE NOT NULL,
        path VARCHAR NOT NULL,
        n_holdout BIGINT NOT NULL,
        PRIMARY KEY (dataset_id, target)
    );
    CREATE TABLE model_versions (
        project VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        run_id VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        archived BOOLEAN NOT NULL DEFAULT false,
        summary JSON NOT NULL,
        PRIMARY KEY (project, version)
    );
    CREATE TABLE aliases (
        project VARCHAR NOT NULL,
        alias VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (project, alias)
    );
    CREATE SEQUENCE alias_history_ids;
    CREATE TABLE alias_history (
        id BIGINT DEFAULT nextval('alias_history_ids') PRIMARY KEY,
        ts TIMESTAMP NOT NULL,
        project VARCHAR NOT NULL,
        alias VARCHAR NOT NULL,
        version INTEGER,
        previous_version INTEGER,
        action VARCHAR NOT NULL,
        reason VARCHAR,
        figures JSON
    );
    """,
    # 4: preparation recipes, the lineage of derived dataset versions, feature sets
    """
    CREATE TABLE recipes (
        project VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        id VARCHAR NOT NULL,
        text VARCHAR NOT NULL,
        source VARCHAR,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (project, version)
    );
    CREATE TABLE dataset_lineage (
        dataset_id VARCHAR PRIMARY KEY,
        operation VARCHAR NOT NULL,
        input_id VARCHAR NOT NULL,
        recipe_id VARCHAR,
        detail JSON,
        created_at TIMESTAMP NOT NULL
    );
    CREATE TABLE feature_sets (
        project VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        id VARCHAR NOT NULL,
        text VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (project, name, version)
    );
    """,
    # Deployment: each version's ONNX export with its parity figures, and scoring runs.
    """
    CREATE TABLE onnx_exports (
        project VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        size_bytes BIGINT NOT NULL,
        seconds DOUBLE NOT NULL,
        parity JSON NOT NULL,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (project, version)
    );
    CREATE TABLE scoring_runs (
        id VARCHAR PRIMARY KEY,
        ts TIMESTAMP NOT NULL,
        project VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        shadow_version INTEGER,
        source VARCHAR NOT NULL,
        rows BIGINT NOT NULL,
        seconds DOUBLE NOT NULL,
        summary JSON NOT NULL,
        shadow_summary JSON,
        shadow_path VARCHAR
    );
    """,
    # 6: monitoring and the watched folders
    """
    CREATE TABLE monitor_checks (
        id VARCHAR PRIMARY KEY,
        ts TIMESTAMP NOT NULL,
        project VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        source VARCHAR NOT NULL,
        rows BIGINT NOT NULL,
        scoring_run VARCHAR NOT NULL,
        data_drift BOOLEAN NOT NULL,
        share_drifted DOUBLE NOT NULL,
        prediction_drift BOOLEAN NOT NULL,
        metric VARCHAR,
        metric_value DOUBLE,
        metric_reference DOUBLE,
        labelled_rows BIGINT,
        estimated_value DOUBLE,
        alerts JSON NOT NULL,
        report JSON NOT NULL
    );
    CREATE TABLE watched_files (
        project VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,
        status VARCHAR NOT NULL,
        check_id VARCHAR,
        error VARCHAR,
        PRIMARY KEY (project, sha256)
    );
    """,
    # 7: a sha256 for every stored data file (datasets, holdouts, shadow pairs), checked on
    # each read; the files already there are hashed by _hash_stored_files below.
    """
    ALTER TABLE datasets ADD COLUMN sha256 VARCHAR;
    ALTER TABLE holdouts ADD COLUMN sha256 VARCHAR;
    ALTER TABLE scoring_runs ADD COLUMN shadow_sha256 VARCHAR;
    """,
    # 8: a check knows the content it checked (the SHA-256 of the batch file's bytes, and of
    # its labels file when it had one), so that 'monitor' and 'watch' check a content once
    # per model version. The watcher's checks take the batch hash it kept (their labels'
    # stays unknown, so they answer only for the batch without labels); the others stay
    # unknown (NULL), which matches nothing: at worst a content is checked once more.
    """
    ALTER TABLE monitor_checks ADD COLUMN sha256 VARCHAR;
    ALTER TABLE monitor_checks ADD COLUMN labels_sha256 VARCHAR;
    UPDATE monitor_checks SET sha256 = watched.sha256 FROM watched_files AS watched
    WHERE watched.check_id = monitor_checks.id;
    """,
    # 9: closing the loop: a monitoring policy per project (versioned like recipes), the
    # decisions its triggers raise, the trigger firings that keep a decision from being
    # raised twice, and the running watchers' heartbeats.
    """
    CREATE TABLE policies (
        project VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        text VARCHAR NOT NULL,
        source VARCHAR,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (project, version)
    );
    CREATE TABLE decisions (
        id VARCHAR PRIMARY KEY,
        project VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        trigger VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        decided_at TIMESTAMP,
        reason VARCHAR,
        check_id VARCHAR,
        parent VARCHAR,
        policy_version INTEGER,
        mode VARCHAR NOT NULL,
        evidence JSON NOT NULL,
        proposal JSON NOT NULL,
        figures JSON
    );
    CREATE TABLE decision_triggers (
        project VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        decision_id VARCHAR,
        check_id VARCHAR,
        ts TIMESTAMP NOT NULL,
        PRIMARY KEY (project, key)
    );
    CREATE TABLE watchers (
        project VARCHAR NOT NULL,
        folder VARCHAR NOT NULL,
        pid INTEGER NOT NULL,
        host VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        heartbeat_at TIMESTAMP NOT NULL,
        interval DOUBLE NOT NULL,
        PRIMARY KEY (project, folder)
    );
    """,
    # 10: data sources (versioned like recipes) and each collection from one: the source
    # version it ran, the rows it read, the dataset version it gave and the changes found
    # against the previous collection (a breaking one is a system issue for monitoring).
    """
    CREATE TABLE sources (
        project VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        id VARCHAR NOT NULL,
        uri VARCHAR NOT NULL,
        query VARCHAR,
        incremental VARCHAR,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (project, name, version)
    );
    CREATE TABLE collections (
        id VARCHAR PRIMARY KEY,
        ts TIMESTAMP NOT NULL,
        project VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        source_version INTEGER NOT NULL,
        dataset_id VARCHAR NOT NULL,
        rows_read BIGINT NOT NULL,
        last_value VARCHAR,
        breaking BOOLEAN NOT NULL,
        changes JSON NOT NULL
    );
    """,
    # 11: privacy: what a scan of each dataset version found (a row per version scanned,
    # its findings as JSON), a user's reason for letting a sensitive column be a feature,
    # and the project's retention period and lawful basis for the personal data it holds.
    """
    CREATE TABLE IF NOT EXISTS dataset_privacy (
        dataset_id VARCHAR PRIMARY KEY,
        scanned_at TIMESTAMP NOT NULL,
        findings JSON NOT NULL
    );
    ALTER TABLE column_notes ADD COLUMN IF NOT EXISTS sensitive_allowed VARCHAR;
    ALTER TABLE projects ADD COLUMN IF NOT EXISTS retention_days INTEGER;
    ALTER TABLE projects ADD COLUMN IF NOT EXISTS lawful_basis VARCHAR;
    """,
    # 12: deployment strategies: each project's deployment config (versioned like policies),
    # its live state (strategy, canary share and step, active blue/green slot, the last
    # rollback), the rows each arm of a canary answered (Parquet in the workspace, for A/B
    # tests), and each A/B test's plan, fixed when the test starts.
    """
    CREATE TABLE deploy_configs (
        project VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        text VARCHAR NOT NULL,
        source VARCHAR,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (project, version)
    );
    CREATE TABLE deploy_state (
        project VARCHAR PRIMARY KEY,
        revision INTEGER NOT NULL,
        state JSON NOT NULL,
        updated_at TIMESTAMP NOT NULL
    );
    CREATE TABLE answer_logs (
        id VARCHAR PRIMARY KEY,
        ts TIMESTAMP NOT NULL,
        project VARCHAR NOT NULL,
        control INTEGER NOT NULL,
        treatment INTEGER NOT NULL,
        rows BIGINT NOT NULL,
        path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL
    );
    CREATE TABLE abtest_plans (
        project VARCHAR NOT NULL,
        control INTEGER NOT NULL,
        treatment INTEGER NOT NULL,
        metric VARCHAR NOT NULL,
        mde DOUBLE NOT NULL,
        alpha DOUBLE NOT NULL,
        power DOUBLE NOT NULL,
        per_arm BIGINT NOT NULL,
        detail JSON NOT NULL,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (project, control, treatment)
    );
    """,
    # 13: each run's latest value of each metric (the value at its highest step, the last
    # logged winning a tie), kept by the journal's fold, so that sorting and filtering
    # 100,000 runs reads one row per run and metric whatever the number of steps logged.
    # Derived from run_metrics, so it is rebuilt whole if the migration ever runs again.
    """
    CREATE OR REPLACE TABLE run_latest_metrics (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        step BIGINT NOT NULL,
        value DOUBLE,
        PRIMARY KEY (run_id, key)
    );
    INSERT INTO run_latest_metrics SELECT run_id, key, max(step), arg_max(value, (step, ts))
    FROM run_metrics GROUP BY run_id, key;
    """,
    # 14: a watcher's heartbeat also says when its loop last moved on, so that a watcher
    # whose process lives but whose loop is stuck shows as stalled, not alive.
    """
    ALTER TABLE watchers ADD COLUMN IF NOT EXISTS loop_at TIMESTAMP;
    """,
]

LATEST = len(MIGRATIONS)

# The tables holding a dataset version's own rows (keyed by dataset_id), besides `datasets`:
# what goes with a version no project holds any more.
PER_DATASET = ("dataset_columns", "quality_reports", "dataset_privacy", "holdouts",
               "dataset_lineage")
# The tables holding a run's own rows (keyed by run_id), besides `runs`.
PER_RUN = ("run_params", "run_metrics", "run_latest_metrics", "run_tags", "run_artifacts")

# (table, key column, path column, hash column) of the files migration 7 started hashing.
_HASHED_FILES = [
    ("datasets", "id", "path", "sha256"),
    ("holdouts", "path", "path", "sha256"),
    ("scoring_runs", "id", "shadow_path", "shadow_sha256"),
]


def _hash_stored_files(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Record the sha256 of data files written before the workspace hashed them.

    Part of migration 7, in its transaction. The hash vouches for the file as it is at the
    upgrade; a file already missing keeps no hash and is refused if it reappears.
    """
    from mlcycle.store.workspace import file_sha256

    for table, key, path_column, hash_column in _HASHED_FILES:
        rows = con.execute(
            f"SELECT {key}, {path_column} FROM {table} "  # noqa: S608 - names are ours
            f"WHERE {path_column} IS NOT NULL AND {hash_column} IS NULL"
        ).fetchall()
        for key_value, relpath in rows:
            file = root / "artifacts" / relpath
            if file.is_file():
                con.execute(f"UPDATE {table} SET {hash_column} = ? WHERE {key} = ?",  # noqa: S608
                            [file_sha256(file), key_value])


# Work a migration needs beyond its SQL, run right after it in the same transaction.
_AFTER = {7: _hash_stored_files}


def version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open workspace database (0 for an empty file)."""
    found = fetch_one(
        con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    )
    if not found or not found[0]:
        return 0
    row = fetch_one(con, "SELECT max(version) FROM schema_version")
    return int(row[0] or 0) if row else 0


def is_current(con: duckdb.DuckDBPyConnection, root: Path) -> bool:
    """Whether the schema is up to date; raises if a newer mlcycle wrote it."""
    found = version(con)
    _refuse_newer(found, root)
    return found == LATEST


def migrate(con: duckdb.DuckDBPyConnection, root: Path, upto: int = LATEST) -> int:
    """Apply missing migrations up to ``upto``, each in its own transaction."""
    found = version(con)
    _refuse_newer(found, root)
    if found == 0:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)"
        )
    for number in range(found + 1, upto + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(MIGRATIONS[number - 1])
            if number in _AFTER:
                _AFTER[number](con, root)
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [number, utcnow()])
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    return max(found, upto)


def _refuse_newer(found: int, root: Path) -> None:
    if found > LATEST:
        raise WorkspaceError(
            f"workspace {root} has schema {found}, newer than this mlcycle knows ({LATEST}); "
            "upgrade mlcycle"
        )


def utcnow() -> datetime:
    """Now, in UTC without a zone (DuckDB TIMESTAMP), to the microsecond."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso(ts: datetime) -> str:
    """A time as mlcycle shows and emits it: ISO-8601 with ``T`` and the UTC offset.

    Stored times are UTC without a zone (:func:`utcnow`); this one spelling, e.g.
    ``2026-12-01T23:50:00+00:00``, is used by every JSON output, so a reader never has to
    guess the zone or the separator.
    """
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc).isoformat(timespec="seconds")
