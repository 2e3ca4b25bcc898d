"""Privacy scan: what looking for personal data adds to storing a table.

On a generated 1,000,000-row x 25-column table (emails, phone numbers, IP addresses, dates
of birth, names, free text with emails; card- and IBAN-shaped references that fail their
checksums, order numbers, product codes, version strings and ordinary columns), in one
process: DuckDB's own COPY of the table to Parquet (the work `data add` and `collect` do
anyway) against `mlcycle.data.privacy.scan_parquet` of that Parquet (what `data add` runs).
The scan reads a reservoir sample, so the checks cost the same whatever the rows; reading
the sample costs one pass over the columns that can hold personal data.
Goal: the scan well under the copy.
"""

from __future__ import annotations

import statistics
import time

from timing import DATA

ROWS = 1_000_000
RUNS = 3


def _columns() -> list[str]:
    first = "['alice','bruno','chloe','david','emma','hugo','ines','liam'][range % 8 + 1]"
    last = "['Martin','Smith','Dubois','Garcia','Muller','Nguyen','Rossi','Silva'][range % 7 + 1]"
    cols = [
        f"{first} || '.' || (range % 977)::VARCHAR || '@example.com' AS email",
        "'+44 20 ' || lpad((range % 9973)::VARCHAR, 4, '0') || ' ' "
        "|| lpad((range % 7919)::VARCHAR, 4, '0') AS phone",
        "'4' || lpad((hash(range) % 100000000000000)::VARCHAR, 15, '0') AS order_ref",
        "'GB' || lpad((range % 97)::VARCHAR, 2, '0') || 'WEST' || lpad(range::VARCHAR, 14, '0')"
        " AS account_ref",
        "(range % 223 + 1)::VARCHAR || '.' || (range % 251)::VARCHAR || '.' || "
        "(range % 241)::VARCHAR || '.' || (range % 239)::VARCHAR AS client_ip",
        "DATE '1940-01-01' + (range % 23000)::INTEGER AS date_of_birth",
        f"{last} AS last_name",
        "'the parcel came late, write to ' || " + first + " || '@example.org' AS notes",
        "lpad((hash(range * 7) % 10000000000000000)::VARCHAR, 16, '4') AS order_number",
        "'PRD-' || (range % 90000 + 10000)::VARCHAR AS product_code",
        "(range % 12)::VARCHAR || '.' || (range % 30)::VARCHAR || '.1' AS version",
    ]
    cols += [f"round(random() * 100 + {i}, 3) AS num_{i}" for i in range(8)]
    cols += [f"(random() * 1000)::INTEGER AS int_{i}" for i in range(4)]
    cols += ["['red','green','blue'][range % 3 + 1] AS colour", "random() < 0.3 AS target"]
    return cols


def main() -> None:
    import duckdb

    from mlcycle.data import privacy

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"privacy-{ROWS}.parquet"
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT {', '.join(_columns())} FROM range({ROWS})")  # noqa: S608
    copies, scans = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        con.execute(f"COPY t TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
        copies.append(time.perf_counter() - started)
        started = time.perf_counter()
        found = privacy.scan_parquet(con, str(path))
        scans.append(time.perf_counter() - started)
    copy, scan = statistics.median(copies), statistics.median(scans)
    print(f"table: {ROWS:,} rows x {len(_columns())} columns")
    print(f"DuckDB COPY to Parquet   {copy:6.2f} s")
    print(f"privacy scan             {scan:6.2f} s  ({scan / copy:.2f}x the copy)")
    print("found: " + ", ".join(f"{f.column}={f.kind}" for f in found))


if __name__ == "__main__":
    main()
