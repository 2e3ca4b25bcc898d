"""Ingest: `mlcycle data add` (quality report included) vs DuckDB's own read_csv + SUMMARIZE,
and `mlcycle collect` of a SQLite table vs the fastest plain path into Parquet.

Each pair runs as whole processes on the same generated 1,000,000-row × 25-column data (the
CSV, and the same rows as a SQLite table). DuckDB's own sqlite_scan needs its sqlite
extension, which DuckDB downloads at run time (nothing is downloaded here, and the extension
wheels on PyPI are built for an older DuckDB), so the SQLite baseline is the fastest plain
path that works offline: the ADBC SQLite driver's Arrow batches scanned by DuckDB into
Parquet (what collect itself reads with, before it profiles, hashes and registers).
Goal: mlcycle at most 2x in both. ``--collect-only`` runs the collect pair alone.

``--wide`` times `mlcycle data add` of a 10,000-column × 50-row CSV against the same DuckDB
pair; the goal there is an absolute one, under 60 s on a 2-core machine, since a report per
column is work DuckDB's SUMMARIZE does not do.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from timing import BIN, DATA, measure, report

ROWS = 1_000_000


def make_csv() -> str:
    import duckdb

    path = DATA / f"ingest-{ROWS}.csv"
    if path.exists():
        return str(path)
    DATA.mkdir(parents=True, exist_ok=True)
    cols = [f"round(random() * 100 + {i}, 3) AS num_{i}" for i in range(14)]
    cols += [f"(random() * 1000)::INTEGER AS int_{i}" for i in range(5)]
    cols += [
        f"['red','green','blue','yellow','black'][(random() * 5)::INTEGER % 5 + 1] AS cat_{i}"
        for i in range(4)
    ]
    cols += ["'C' || lpad(range::VARCHAR, 8, '0') AS customer_id", "random() < 0.3 AS target"]
    duckdb.sql(f"COPY (SELECT {', '.join(cols)} FROM range({ROWS})) TO '{path}'")  # noqa: S608
    return str(path)


def make_sqlite(csv: str) -> str:
    """The CSV's rows as a SQLite table, written once (sqlite3, in chunks)."""
    import sqlite3

    import duckdb

    path = DATA / f"ingest-{ROWS}.sqlite"
    if path.exists():
        return str(path)
    source = duckdb.connect()
    source.execute("SELECT * FROM read_csv(?)", [csv])
    columns = [d[0] for d in source.description]
    temp = path.with_suffix(".partial")
    temp.unlink(missing_ok=True)
    with sqlite3.connect(temp) as con:
        con.execute(f"CREATE TABLE rows ({', '.join(columns)})")
        insert = f"INSERT INTO rows VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
        while chunk := source.fetchmany(100_000):
            con.executemany(insert, chunk)
    temp.rename(path)
    return str(path)


_ADBC_TO_PARQUET = """
import sys, adbc_driver_sqlite, adbc_driver_manager as adbc, duckdb
database = adbc_driver_sqlite.connect(sys.argv[1])
connection = adbc.AdbcConnection(database)
statement = adbc.AdbcStatement(connection)
statement.set_options(**{"adbc.sqlite.query.batch_rows": "65536"})
statement.set_sql_query("SELECT * FROM rows")
stream, _ = statement.execute_query()
duckdb.connect().from_arrow(stream).to_parquet(sys.argv[2], compression="zstd")
"""


def collect_sqlite(csv: str) -> None:
    db = make_sqlite(csv)
    ws = DATA / "collect-ws"
    mlcycle = [str(BIN / "mlcycle"), "--workspace", str(ws)]

    def fresh_workspace() -> None:
        shutil.rmtree(ws, ignore_errors=True)
        measure([*mlcycle, "project", "create", "bench", "--target", "target", "--task",
                 "classification"], runs=1, warmup=0)
        measure([*mlcycle, "source", "add", "bench", "rows", "--uri", f"sqlite:///{db}",
                 "--query", "SELECT * FROM rows"], runs=1, warmup=0)

    out = DATA / "collect-baseline.parquet"
    plain = [sys.executable, "-c", _ADBC_TO_PARQUET, db, str(out)]
    print(f"collect of a {ROWS:,}-row × 25-column SQLite table (whole process, median of 3):")
    report(
        [
            ("ADBC sqlite -> DuckDB -> Parquet", measure(plain, runs=3)),
            ("mlcycle collect", measure([*mlcycle, "collect", "bench", "rows"], runs=3,
                                        before=fresh_workspace)),
        ],
        baseline="ADBC sqlite -> DuckDB -> Parquet",
        goal="mlcycle collect at most 2x",
    )


def make_wide_csv(columns: int = 10_000, rows: int = 50) -> str:
    import duckdb

    path = DATA / f"wide-{columns}x{rows}.csv"
    if path.exists():
        return str(path)
    DATA.mkdir(parents=True, exist_ok=True)
    cols = [f"round(random() * 6 - 3, 3) AS c{i}" for i in range(columns)]
    duckdb.sql(f"COPY (SELECT {', '.join(cols)}, range % 2 AS label "  # noqa: S608
               f"FROM range({rows})) TO '{path}'")
    return str(path)


def fresh(ws: Path, target: str) -> Callable[[], None]:
    """A ``before`` hook: an empty workspace holding one project."""
    def make() -> None:
        shutil.rmtree(ws, ignore_errors=True)
        measure([str(BIN / "mlcycle"), "--workspace", str(ws), "project", "create", "bench",
                 "--target", target, "--task", "classification"], runs=1, warmup=0)
    return make


def add_wide() -> None:
    csv = make_wide_csv()
    ws = DATA / "wide-ws"
    print("data add of a 10,000-column × 50-row CSV (whole process, median of 3):")
    report(
        [
            ("duckdb read_csv + SUMMARIZE", measure(_summarize(csv), runs=3)),
            ("mlcycle data add", measure(
                [str(BIN / "mlcycle"), "--workspace", str(ws), "data", "add", "bench", csv],
                runs=3, before=fresh(ws, "label"))),
        ],
        baseline="duckdb read_csv + SUMMARIZE",
        goal="mlcycle data add under 60 s",
    )


def _summarize(csv: str) -> list[str]:
    return [sys.executable, "-c",
            'import duckdb, sys; duckdb.sql("SUMMARIZE SELECT * FROM read_csv(\'" + sys.argv[1] '
            '+ "\')").fetchall()', csv]


def main() -> None:
    if "--wide" in sys.argv[1:]:
        add_wide()
        return
    csv = make_csv()
    if "--collect-only" in sys.argv[1:]:
        collect_sqlite(csv)
        return
    ws = DATA / "ingest-ws"
    duck = _summarize(csv)
    print(f"ingest of a {ROWS:,}-row × 25-column CSV (whole process, median of 3):")
    report(
        [
            ("duckdb read_csv + SUMMARIZE", measure(duck, runs=3)),
            (
                "mlcycle data add",
                measure(
                    [str(BIN / "mlcycle"), "--workspace", str(ws), "data", "add", "bench", csv],
                    runs=3,
                    before=fresh(ws, "target"),
                ),
            ),
        ],
        baseline="duckdb read_csv + SUMMARIZE",
        goal="mlcycle data add at most 2x",
    )
    collect_sqlite(csv)


if __name__ == "__main__":
    main()
