"""The demo workspace as a user has it after a first round of the lifecycle: a trained
champion with several runs, registered and promoted, an exported bundle, and monitoring
checks of a calm month and of March's drifted one. And :func:`steady`, which fixes what
differs from one build to the next (clocks, durations, random ids), for pictures."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from mlcycle import demo
from mlcycle.store.workspace import Workspace, open_workspace
from tests.app.test_snapshots import FIXED

MONTHS = ("2026-01", "2026-03")  # a calm month, then the price rise that drifts


def build(root: Path) -> Workspace:
    """The workspace at ``root/ws`` and its bundle at ``root/bundle``: one fast model family,
    few trials and folds, so it takes seconds on a small machine."""
    from mlcycle.deploy import bundle
    from mlcycle.models import registry, training
    from mlcycle.monitor import monitoring

    ws = open_workspace(root / "ws", create=True)[0]
    demo.build(ws)
    result = training.train(ws, training.TrainConfig(
        demo.PROJECT, models=["logistic"], trials=3, cv=2))
    registry.promote(ws, demo.PROJECT, str(result.registered_version),
                     reason="best of the first training")
    bundle.export(ws, demo.PROJECT, registry.CHAMPION, root / "bundle")
    sample = demo.sample_dir()
    for month in MONTHS:
        monitoring.check(ws, demo.PROJECT, sample / "batches" / f"{month}.csv",
                         labels=sample / "labels" / f"{month}.csv")
    return ws


# Random ids, each renamed by its place in the order it was made: a query of them in that
# order. And the digests of pickled models: skops names the parts of its file by memory
# address, so the file's bytes differ from build to build (the model card shows the digest);
# renamed, they no longer match their files: the pictures never load a model.
_IDS = [
    "SELECT group_id FROM runs GROUP BY group_id ORDER BY min(started_at)",
    "SELECT id FROM runs ORDER BY started_at",
    "SELECT id FROM monitor_checks ORDER BY ts",
    "SELECT id FROM scoring_runs ORDER BY ts",
    "SELECT id FROM decisions ORDER BY created_at",
    "SELECT a.sha256 FROM run_artifacts a JOIN runs r ON r.id = a.run_id "
    "WHERE a.name LIKE '%.skops' ORDER BY r.started_at",
]
# What a clock measured, shown to a hundredth: every such figure becomes one second.
_SECONDS = [
    ("onnx_exports", "seconds"),
    ("scoring_runs", "seconds"),
]


def steady(ws: Workspace) -> None:
    """Make the workspace draw the same picture from any build: every timestamp becomes
    FIXED plus its rank among all the workspace's timestamps (so orders hold), each run lasts
    one second, measured seconds read 1, and random ids (and model digests) get ids made from
    their rank."""
    with ws.write() as con:
        columns = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY table_name, column_name").fetchall()
        stamps = [(t, c) for t, c, kind in columns if kind.startswith("TIMESTAMP")]
        texts = [(t, c) for t, c, kind in columns if kind in ("VARCHAR", "JSON")]
        renames: dict[str, str] = {}
        for query in _IDS:
            for (old,) in con.execute(query).fetchall():
                if old is not None:
                    renames.setdefault(old, hashlib.sha256(
                        f"id {len(renames)}".encode()).hexdigest()[:len(old)])
        for table, column in texts:
            value = f'"{column}"'
            for old, new in renames.items():
                value = f"replace({value}, '{old}', '{new}')"
            con.execute(f'UPDATE "{table}" SET "{column}" = {value} '
                        f'WHERE "{column}" IS NOT NULL')
        _rank_clocks(con, stamps)
        con.execute("UPDATE runs SET ended_at = started_at + INTERVAL 1 SECOND "
                    "WHERE ended_at IS NOT NULL")
        con.execute("UPDATE run_metrics SET value = 1 WHERE key LIKE '%seconds%'")
        con.execute("UPDATE run_latest_metrics SET value = 1 WHERE key LIKE '%seconds%'")
        for table, column in _SECONDS:
            con.execute(f'UPDATE "{table}" SET "{column}" = 1')
        con.execute("UPDATE project_datasets SET source = 'churn_reference.csv'")
    runs = ws.root / "artifacts" / "runs"
    for old, new in renames.items():
        if (runs / old).is_dir():
            shutil.move(runs / old, runs / new)


def _rank_clocks(con, stamps: list[tuple[str, str]]) -> None:
    union = " UNION ".join(f'SELECT "{c}" AS ts FROM "{t}" WHERE "{c}" IS NOT NULL'
                           for t, c in stamps)
    con.execute(f"CREATE TEMP TABLE clock AS SELECT ts, TIMESTAMP '{FIXED}' + "
                f"to_seconds(dense_rank() OVER (ORDER BY ts) - 1) AS fixed "
                f"FROM ({union}) GROUP BY ts")
    for table, column in stamps:
        con.execute(f'UPDATE "{table}" SET "{column}" = clock.fixed FROM clock '
                    f'WHERE "{table}"."{column}" = clock.ts')
    con.execute("DROP TABLE clock")
