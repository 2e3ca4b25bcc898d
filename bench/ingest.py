"""Ingest: `mlcycle data add` (quality report included) vs DuckDB's own read_csv + SUMMARIZE.

Both run as whole processes on the same generated 1,000,000-row × 25-column CSV.
Goal: mlcycle at most 2x DuckDB.
"""

from __future__ import annotations

import shutil
import sys

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


def main() -> None:
    csv = make_csv()
    ws = DATA / "ingest-ws"

    def fresh_workspace() -> None:
        shutil.rmtree(ws, ignore_errors=True)
        measure(
            [
                str(BIN / "mlcycle"),
                "--workspace",
                str(ws),
                "project",
                "create",
                "bench",
                "--target",
                "target",
                "--task",
                "classification",
            ],
            runs=1,
            warmup=0,
        )

    duck = [
        sys.executable,
        "-c",
        'import duckdb, sys; duckdb.sql("SUMMARIZE SELECT * FROM read_csv(\'" + sys.argv[1] '
        '+ "\')").fetchall()',
        csv,
    ]
    print(f"ingest of a {ROWS:,}-row × 25-column CSV (whole process, median of 3):")
    report(
        [
            ("duckdb read_csv + SUMMARIZE", measure(duck, runs=3)),
            (
                "mlcycle data add",
                measure(
                    [str(BIN / "mlcycle"), "--workspace", str(ws), "data", "add", "bench", csv],
                    runs=3,
                    before=fresh_workspace,
                ),
            ),
        ],
        baseline="duckdb read_csv + SUMMARIZE",
        goal="mlcycle data add at most 2x",
    )


if __name__ == "__main__":
    main()
