"""A source's query is input: checked when it is stored and again each time it runs, so a
query that would write or read a file, attach a database or change a setting is refused with
one line, whether the user typed it or a received workspace holds it. And purging the
versions a source collected never stops it from collecting again."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from mlcycle import collect, projects
from mlcycle.data import datasets, queries
from mlcycle.store.errors import InvalidInput
from mlcycle.store.schema import utcnow
from mlcycle.store.workspace import Workspace
from tests.conftest import assert_consistent, run_cli

TABLE = "clients é/2024"  # an awkward table name a database may hold
COLUMNS = '"id" INTEGER, "montant €" DOUBLE, "a/b %" VARCHAR, "churn" INTEGER'


def _hostile(target: Path) -> list[str]:
    return [
        f"COPY (SELECT 43 AS pwned) TO '{target}'",
        f"ATTACH DATABASE '{target}' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA version",
        "SET threads = 1",
        "CALL pragma_version()",
        f"EXPORT DATABASE '{target.parent}'",
        "SELECT * FROM read_text('/etc/passwd')",
        f"SELECT * FROM read_csv('{target}')",
        "SELECT * FROM glob('/etc/*')",
        f"SELECT * FROM parquet_scan('{target}')",
        f'SELECT * FROM "{TABLE}"; SELECT 1',
        f'WITH gone AS (DELETE FROM "{TABLE}" RETURNING *) SELECT * FROM gone',
        "SELECT pg_read_file('/etc/passwd')",
    ]


def _duckdb_file(path: Path, first: int, last: int) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute(f'CREATE TABLE IF NOT EXISTS "{TABLE}" ({COLUMNS})')
        con.execute(f'INSERT INTO "{TABLE}" SELECT range, range * 1.5, \'x\' || (range % 3), '
                    f"range % 2 FROM range({first}, {last + 1})")
    return path


def _sqlite_file(path: Path, first: int, last: int) -> Path:
    with sqlite3.connect(path) as con:
        con.execute(f'CREATE TABLE IF NOT EXISTS "{TABLE}" ({COLUMNS})')
        con.executemany(f'INSERT INTO "{TABLE}" VALUES (?, ?, ?, ?)',
                        [(i, i * 1.5, f"x{i % 3}", i % 2) for i in range(first, last + 1)])
    return path


@pytest.fixture
def shop(ws: Workspace) -> Workspace:
    projects.create(ws, "shop", target="churn", task="classification")
    return ws


def _one_line_refusal(done, what: str) -> None:
    assert done.returncode == 2, (what, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, (what, done.stderr)
    assert lines[0].startswith("error: source s: "), lines[0]


def test_hostile_queries_are_refused_when_a_source_is_added(shop: Workspace,
                                                            tmp_path: Path) -> None:
    db = _duckdb_file(tmp_path / "shop.duckdb", 1, 20)
    lite = _sqlite_file(tmp_path / "shop.sqlite", 1, 20)
    csv = tmp_path / "clients.csv"
    csv.write_text("id,churn\n1,0\n2,1\n")
    target = tmp_path / "elsewhere" / "x.csv"
    target.parent.mkdir()
    for query in _hostile(target):
        done = run_cli("source", "add", "shop", "s", "--uri", f"duckdb:///{db}",
                       "--query", query, workspace=shop.root)
        _one_line_refusal(done, query)
        # The same rule for every kind of source, through the same check.
        for uri, name, table in ((f"sqlite:///{lite}", "lite", TABLE),
                                 (str(csv), "clients", "clients")):
            with pytest.raises(InvalidInput, match=f"^source {name}: "):
                collect.add(shop, "shop", name, uri, query.replace(TABLE, table))
    assert not target.exists() and not (target.parent / "other").exists()
    assert collect.list_sources(shop, "shop") == []
    # What a source may do: one SELECT (WITH … SELECT) over its own tables.
    for query in (f'SELECT "id", "montant €", "churn" FROM "{TABLE}"',
                  f'WITH c AS (SELECT * FROM "{TABLE}") SELECT * FROM c WHERE "a/b %" <> \'\''):
        run_cli("source", "add", "shop", "s", "--uri", f"duckdb:///{db}", "--query", query,
                workspace=shop.root, check=True)
    assert collect.collect(shop, "shop", "s").rows_read == 20


def test_sqlite_attach_is_one_line_not_an_unexpected_error(shop: Workspace,
                                                           tmp_path: Path) -> None:
    lite = _sqlite_file(tmp_path / "shop.sqlite", 1, 5)
    done = run_cli("source", "add", "shop", "s", "--uri", f"sqlite:///{lite}", "--query",
                   f"ATTACH DATABASE '{tmp_path / 'other.sqlite'}' AS other",
                   workspace=shop.root)
    _one_line_refusal(done, "ATTACH")
    assert "ATTACH is not allowed" in done.stderr
    assert not (tmp_path / "other.sqlite").exists()


def _versions(ws: Workspace) -> list[tuple[str, int]]:
    return sorted((v.id, v.n_rows) for v in datasets.list_versions(ws, "shop"))


@pytest.mark.parametrize("kind", ["duckdb", "sqlite", "file", "aggregate"])
def test_a_hostile_query_in_a_received_workspace_is_refused_at_collect(
        shop: Workspace, tmp_path: Path, kind: str) -> None:
    db = _duckdb_file(tmp_path / "shop.duckdb", 1, 20)
    lite = _sqlite_file(tmp_path / "shop.sqlite", 1, 20)
    csv = tmp_path / "clients.csv"
    csv.write_text("id,churn\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    name, uri, table = {"duckdb": ("s", f"duckdb:///{db}", TABLE),
                        "sqlite": ("s", f"sqlite:///{lite}", TABLE),
                        "file": ("s", str(csv), "s"),
                        "aggregate": ("s", "sources:clients", "clients")}[kind]
    if kind == "aggregate":
        collect.add(shop, "shop", "clients", str(csv))
    collect.add(shop, "shop", name, uri, f'SELECT * FROM "{table}"')
    collect.collect(shop, "shop", name)
    before = _versions(shop)
    target = tmp_path / "elsewhere" / "x.csv"
    target.parent.mkdir()
    secret = tmp_path / "secret.csv"
    secret.write_text("secret,churn\nhunter2,1\n")
    for query in (f'SELECT * FROM "{table}"; COPY (SELECT 43 AS pwned) TO \'{target}\'',
                  f"ATTACH DATABASE '{target}' AS other",
                  f"SELECT * FROM '{secret}'"):
        with shop.write() as con:  # the workspace arrives with its query edited
            con.execute("UPDATE sources SET query = ? WHERE project = 'shop' AND name = ?",
                        [query, name])
        done = run_cli("collect", "shop", name, workspace=shop.root)
        _one_line_refusal(done, query)
        assert not target.exists(), query
        assert _versions(shop) == before, query
        assert "hunter2" not in done.stdout + done.stderr


def test_the_engine_reaches_no_other_file_even_past_the_check(tmp_path: Path) -> None:
    """The second guard: where a source's query runs, only its own files can be read and
    only the output written, whatever the SQL says."""
    own, other, out = tmp_path / "own.csv", tmp_path / "other.csv", tmp_path / "out.parquet"
    own.write_text("a\n1\n")
    other.write_text("a\n2\n")
    with queries.guarded_connection([own], [out]) as con:
        assert con.sql(f"SELECT * FROM read_csv('{own}')").fetchall() == [(1,)]
        con.sql(f"SELECT * FROM read_csv('{own}')").to_parquet(str(out), use_tmp_file=False)
        for sql in (f"SELECT * FROM read_csv('{other}')",
                    f"COPY (SELECT 1) TO '{tmp_path / 'written.csv'}'",
                    f"ATTACH '{tmp_path / 'new.duckdb'}'", "INSTALL httpfs",
                    "SET enable_external_access = true"):
            with pytest.raises(duckdb.Error):
                con.execute(sql)
    assert out.exists() and not (tmp_path / "written.csv").exists()
    assert not (tmp_path / "new.duckdb").exists()


def test_a_duckdb_source_reads_no_file_but_its_database(shop: Workspace,
                                                       tmp_path: Path) -> None:
    """A DuckDB file's table may have any name, so the check lets a path through as one;
    the database, opened with external access off, does not read it."""
    db = _duckdb_file(tmp_path / "shop.duckdb", 1, 5)
    secret = tmp_path / "secret.csv"
    secret.write_text("secret,churn\nhunter2,1\n")
    collect.add(shop, "shop", "s", f"duckdb:///{db}", f'SELECT * FROM "{secret}"')
    done = run_cli("collect", "shop", "s", workspace=shop.root)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    assert datasets.list_versions(shop, "shop") == []


def _age(ws: Workspace, *versions: str) -> None:
    with ws.write() as con:  # forty days pass for these versions
        con.execute("UPDATE project_datasets SET added_at = ? WHERE dataset_id IN "
                    f"({', '.join('?' * len(versions))})",
                    [utcnow() - timedelta(days=40), *versions])


def _collect_json(ws: Workspace, name: str) -> dict:
    done = run_cli("collect", "shop", name, "--json", workspace=ws.root, check=True)
    return json.loads(done.stdout)[0]


def test_purge_then_collect_again(shop: Workspace, tmp_path: Path) -> None:
    db = _duckdb_file(tmp_path / "shop.duckdb", 1, 10)
    lite = _sqlite_file(tmp_path / "feed.sqlite", 1, 10)
    collect.add(shop, "shop", "full", f"duckdb:///{db}", f'SELECT * FROM "{TABLE}"')
    collect.add(shop, "shop", "feed", f"sqlite:///{lite}", f'SELECT * FROM "{TABLE}"',
                incremental="id")
    full = collect.collect(shop, "shop", "full").version.id
    first = collect.collect(shop, "shop", "feed").version.id
    _sqlite_file(lite, 11, 20)
    second = collect.collect(shop, "shop", "feed").version.id
    run_cli("project", "edit", "shop", "--retention-days", "1", workspace=shop.root,
            check=True)
    _age(shop, full, second)  # the feed's newest version goes, its first stays
    purged = run_cli("data", "purge", "shop", "--json", workspace=shop.root, check=True)
    assert sorted(e["id"] for e in json.loads(purged.stdout)["removed"]) == sorted(
        [full, second])
    assert_consistent(shop)

    # A full source collects in full again, and says why.
    _duckdb_file(db, 11, 12)
    again = _collect_json(shop, "full")
    assert again["rows"] == 12 and again["stored"]
    assert again["note"] == f"version {full} of the last collection was purged: collecting in full"
    # An incremental source appends to the newest version left, not to the purged one.
    _sqlite_file(lite, 21, 25)
    shown = run_cli("collect", "shop", "feed", workspace=shop.root, check=True).stdout
    assert (f"version {second} of the last collection was purged: appending to version "
            f"{first}, the newest left") in shown
    feed = collect.history(shop, "shop", "feed")[0]
    assert feed["rows_read"] == 15
    newest = datasets.get(shop, "shop", feed["version"])
    assert newest.n_rows == 25
    with shop.read() as con:
        parent = con.execute("SELECT input_id FROM dataset_lineage WHERE dataset_id = ?",
                             [newest.id]).fetchall()
    assert parent == [(first,)]
    assert_consistent(shop)

    # Everything purged: the incremental source starts over in full.
    _age(shop, *(v.id for v in datasets.list_versions(shop, "shop")))
    run_cli("data", "purge", "shop", workspace=shop.root, check=True)
    assert_consistent(shop)
    restarted = _collect_json(shop, "feed")
    assert restarted["rows"] == 25 and restarted["after"] is None
    assert restarted["note"].endswith("collecting in full")
    assert_consistent(shop)
