"""Personal data: found in the columns that hold it (and not in decoys), marked in the data
dictionary, masked wherever values are shown, kept out of features until opted in,
redacted into a new version, and purged past the project's retention period."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from mlcycle.data import datasets, privacy
from mlcycle.store.masking import mask_text
from mlcycle.store.schema import utcnow
from mlcycle.store.workspace import Workspace
from tests.conftest import run_cli, run_json
from tests.privacy_data import planted, planted_values

ROWS = 2000


@pytest.fixture(scope="module")
def planted_ws(tmp_path_factory) -> dict:
    """A workspace whose project 'p' holds the planted table as its one version."""
    root = tmp_path_factory.mktemp("privacy")
    cols, truth = planted(ROWS, seed=3)
    cols["target"] = ["yes" if i % 3 else "no" for i in range(ROWS)]
    cols["score"] = [str(i % 17) for i in range(ROWS)]
    csv = root / "customers.csv"
    pl.DataFrame(cols, schema={k: pl.Utf8 for k in cols}).write_csv(csv)
    ws = root / "ws"
    run_cli("project", "create", "p", "--target", "target", "--task", "classification",
            workspace=ws, check=True)
    added = run_json("data", "add", "p", str(csv), workspace=ws)
    return {"ws": ws, "csv": csv, "cols": cols, "truth": truth, "version": added["id"],
            # Searched for in every output: each column's most frequent values, which a
            # report would show first, and a sample of the rest.
            "values": planted_values(cols, truth, per_column=150),
            "key": root / "keys" / "redact.key"}


def _leaks(text: str, values: set[str]) -> list[str]:
    """The planted values ``text`` shows (names are matched as whole words)."""
    found = []
    for v in values:
        hit = re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text) if len(v) < 8 else v in text
        if hit:
            found.append(v)
    return sorted(found)


def test_each_kind_is_found_with_95_percent_recall_and_precision(tmp_path: Path) -> None:
    cols, truth = planted(3000, seed=11)
    path = tmp_path / "planted.parquet"
    pl.DataFrame(cols, schema={k: pl.Utf8 for k in cols}).write_parquet(path)
    with duckdb.connect() as con:
        findings = privacy.scan(con.read_parquet(str(path)))
    got = {f.column: f for f in findings}
    for f in findings:
        assert 0 < f.confidence <= 1 and f.reason
    for kind in privacy.KINDS:
        planted_cols = {c for c, k in truth.items() if k == kind}
        flagged = {c for c, f in got.items() if f.kind == kind}
        assert planted_cols, kind
        recall = len(planted_cols & flagged) / len(planted_cols)
        precision = len(planted_cols & flagged) / len(flagged) if flagged else 0.0
        assert recall >= 0.95 and precision >= 0.95, (kind, planted_cols ^ flagged)
    decoys = [c for c, k in truth.items() if k is None and c in got]
    assert decoys == [], {c: got[c].reason for c in decoys}
    # National identifiers say which scheme they follow.
    assert "UK NINO" in got["ni_number"].reason and "FR INSEE" in got["numéro sécu"].reason
    assert "US SSN" in got["ssn"].reason


def test_a_card_number_stored_as_an_integer_is_found_and_an_order_number_is_not(
        tmp_path: Path) -> None:
    import random

    from tests.privacy_data import card, order_number

    rng = random.Random(5)
    path = tmp_path / "ints.csv"
    lines = ["card,order_id"] + [f"{card(rng, 0)},{order_number(rng)}" for _ in range(300)]
    path.write_text("\n".join(lines) + "\n")
    with duckdb.connect() as con:
        rel = con.read_csv(str(path))
        assert str(rel.types[0]).upper() == "BIGINT"
        assert [(f.column, f.kind) for f in privacy.scan(rel)] == [("card", "card_number")]


def test_the_dictionary_marks_sensitive_columns_and_no_report_shows_their_values(
        planted_ws: dict) -> None:
    ws = planted_ws["ws"]
    shown = run_json("data", "show", "p", workspace=ws)
    kinds = {c["name"]: c["sensitive"] for c in shown["dictionary"]}
    truth = {**planted_ws["truth"], "target": None, "score": None}
    assert kinds == truth
    email = next(c for c in shown["dictionary"] if c["name"] == "email")
    assert email["role"] == "ignored" and email["privacy"]["allowed"] is None
    assert "email addresses" in email["privacy"]["reason"]
    by_name = {s["name"]: s for s in shown["quality"]["column_stats"]}
    assert by_name["nom"]["top"] and all(t["value"] == "•••• person name"
                                         for t in by_name["nom"]["top"])
    # A card number typed as an integer keeps none of its extremes or quantiles.
    assert all(by_name["pay0"].get(k) is None for k in ("min", "max", "mean", "quantiles"))
    table = run_cli("data", "show", "p", workspace=ws, check=True).stdout
    markdown = run_cli("data", "show", "p", "--markdown", workspace=ws, check=True).stdout
    for text in (json.dumps(shown, ensure_ascii=False), table, markdown):
        assert _leaks(text, planted_ws["values"]) == []
    assert "ignored (email)" in table and "•••• person name" in markdown


async def test_the_data_view_and_column_profile_show_personal_data_masked(
        planted_ws: dict) -> None:
    from textual.widgets import DataTable

    from mlcycle.app.ui import MlcycleApp
    from tests.app.test_tui import settle, visible_text

    app = MlcycleApp(Workspace(planted_ws["ws"]), project="p")
    names = list(planted_ws["cols"])
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        seen = [visible_text(app)]
        table = app.screen.query_one("#columns", DataTable)
        table.focus()
        for column in ("nom", "email", "pay0", "date_of_birth", "notes"):
            table.move_cursor(row=names.index(column))
            await settle(pilot)
            seen.append(visible_text(app))
    text = "\n".join(seen)
    assert _leaks(text, planted_ws["values"]) == []
    assert "personal data: person name" in text and "•••• person name" in text
    assert "left out of features, values masked" in text and "ignored (email)" in text


def test_drift_reports_compare_personal_data_by_missing_rate_only(planted_ws: dict,
                                                                  tmp_path: Path) -> None:
    cols = planted_ws["cols"]
    reference = pl.DataFrame(cols, schema={k: pl.Utf8 for k in cols})
    # The current batch's surnames shift to a few of them: a drift that would be reported
    # with the names themselves.
    current = reference.with_columns(pl.Series("nom", ["Martin", "Nguyen"] * (ROWS // 2)))
    reference.write_csv(tmp_path / "ref.csv")
    current.write_csv(tmp_path / "cur.csv")
    report = tmp_path / "drift.html"
    proc = run_cli("drift", str(tmp_path / "ref.csv"), str(tmp_path / "cur.csv"), "--json",
                   "--report", str(report), check=True)
    found = {c["name"]: c for c in json.loads(proc.stdout)["columns"]}
    assert "personal data (person name)" in found["nom"]["method"] + json.dumps(found["nom"])
    assert not found["nom"]["drifted"]
    for text in (proc.stdout, report.read_text()):
        assert _leaks(text, planted_ws["values"]) == []


def test_error_messages_mask_the_values_they_quote(planted_ws: dict, tmp_path: Path) -> None:
    ws = planted_ws["ws"]
    email = next(v for v in planted_ws["cols"]["email"] if v)
    proc = run_cli("data", "role", "p", email, "feature", workspace=ws)
    assert proc.returncode == 2 and email not in proc.stderr and "***@***." in proc.stderr
    # DuckDB quotes the value it could not convert: a card number and an email here.
    bad = tmp_path / "bad.csv"
    rows = [f"{i},{i * 3},yes" for i in range(30_000)]
    bad.write_text("id,amount,target\n" + "\n".join(rows)
                   + f"\n1,{email} 4532015112830366,no\n")
    proc = run_cli("data", "add", "p", str(bad), workspace=ws)
    assert proc.returncode == 2 and "cannot read" in proc.stderr
    assert email not in proc.stderr and "4532015112830366" not in proc.stderr
    assert "•••• card number" in proc.stderr
    # What the workbench itself prints stays readable.
    assert mask_text("serving on 127.0.0.1:8000 at 05:33:06, version 1.2.3") == \
        "serving on 127.0.0.1:8000 at 05:33:06, version 1.2.3"


def test_sensitive_columns_stay_out_of_features_until_opted_in_with_a_reason(
        planted_ws: dict) -> None:
    from mlcycle.models import model_input

    ws_path = planted_ws["ws"]
    ws = Workspace(ws_path)
    signature = model_input.infer(datasets.dictionary(ws, "p"), "target", "classification")
    sensitive = {c for c, k in planted_ws["truth"].items() if k}
    assert not set(signature.inputs) & sensitive and "score" in signature.inputs
    refused = run_cli("data", "role", "p", "nom", "feature", workspace=ws_path)
    assert refused.returncode == 2 and "--allow-sensitive --reason" in refused.stderr
    run_cli("data", "role", "p", "nom", "--allow-sensitive", "--reason",
            "surname origin studied with consent", workspace=ws_path, check=True)
    nom = next(c for c in datasets.dictionary(ws, "p") if c["name"] == "nom")
    assert nom["role"] == "feature" and nom["sensitive"] == "person_name"
    assert nom["privacy"]["allowed"] == "surname origin studied with consent"
    signature = model_input.infer(datasets.dictionary(ws, "p"), "target", "classification")
    assert "nom" in signature.categorical
    # Setting the role again without the opt-in takes it back.
    run_cli("data", "role", "p", "nom", "ignored", workspace=ws_path, check=True)
    nom = next(c for c in datasets.dictionary(ws, "p") if c["name"] == "nom")
    assert nom["role"] == "ignored" and nom["privacy"]["allowed"] is None


def test_a_feature_set_cannot_read_personal_data_not_opted_in(ws: Workspace,
                                                              tmp_path: Path) -> None:
    from mlcycle import projects
    from mlcycle.models import training
    from mlcycle.prep import features
    from mlcycle.store.errors import InvalidInput

    lines = ["customer email,x,target"] + [
        f"user{i}@example.com,{i % 7},{'a' if i % 2 else 'b'}" for i in range(60)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    projects.create(ws, "f", target="target", task="classification")
    datasets.add(ws, "f", tmp_path / "d.csv")
    features.store(ws, "f", 'name = "leaky"\n[[derive]]\nname = "n"\n'
                   'expr = "length(`customer email`)"\n')
    with pytest.raises(InvalidInput, match=r"personal data \(email\).*--allow-sensitive"):
        training.prepare(ws, "f", "latest", 2)


def test_redact_hashes_generalises_and_drops_into_a_new_version(planted_ws: dict) -> None:
    ws_path, key = planted_ws["ws"], planted_ws["key"]
    env = {"MLCYCLE_KEY_FILE": str(key)}
    version = planted_ws["version"]
    bad = run_cli("data", "redact", "p", version, "--generalise", "col p0",
                  workspace=ws_path, env=env)
    assert bad.returncode == 2 and "has no generalisation" in bad.stderr
    inside = run_cli("data", "redact", "p", version, workspace=ws_path,
                     env={"MLCYCLE_KEY_FILE": str(ws_path / "k.key")})
    assert inside.returncode == 2 and "inside the workspace" in inside.stderr
    args = ("data", "redact", "p", version, "--drop", "city", "--json")
    first = json.loads(run_cli(*args, workspace=ws_path, env=env, check=True).stdout)
    again = json.loads(run_cli(*args, workspace=ws_path, env=env, check=True).stdout)
    assert first["stored"] and not again["stored"]
    assert again["version"]["id"] == first["version"]["id"] != version
    plan = first["columns"]
    assert plan["email"]["action"] == "hash" and plan["dob"]["action"] == "generalise"
    assert plan["notes"]["action"] == "drop" and plan["city"] == {
        "action": "drop", "kind": None, "how": "column removed"}
    assert oct(key.stat().st_mode & 0o777) == "0o600"

    ws = Workspace(ws_path)
    out = datasets.get(ws, "p", first["version"]["id"])
    data = pl.read_parquet(datasets.data_path(ws, out))
    assert "notes" not in data.columns and "city" not in data.columns
    assert data["email"].str.contains(r"^[0-9a-f]{32}$").all()
    assert set(data["date_of_birth"].drop_nulls().to_list()) <= set(range(1940, 2006))
    assert data["addr4"].str.ends_with(".0/24").all()
    assert data["v6"].str.ends_with("::/48").all()
    cells = {str(v) for col in data.columns for v in data[col].to_list()}
    hashed = {c for c, p in plan.items() if p["action"] == "hash"}
    assert not cells & planted_values(planted_ws["cols"], {
        c: k for c, k in planted_ws["truth"].items() if c in hashed})
    # The redacted version holds no personal data any more; its lineage says what was done.
    assert all(c["sensitive"] is None for c in datasets.dictionary(ws, "p", out.id))
    with ws.read() as con:
        op, source, detail = con.execute(
            "SELECT operation, input_id, detail FROM dataset_lineage WHERE dataset_id = ?",
            [out.id]).fetchall()[0]
    assert (op, source) == ("redact", version)
    assert json.loads(detail)["columns"]["email"]["action"] == "hash"
    assert key.read_text().strip() not in detail


def test_card_data_handling_and_purge_past_retention(planted_ws: dict, tmp_path: Path) -> None:
    ws_path, version = planted_ws["ws"], planted_ws["version"]
    no_period = run_cli("data", "purge", "p", workspace=ws_path)
    assert no_period.returncode == 2 and "--retention-days" in no_period.stderr
    run_cli("project", "edit", "p", "--retention-days", "30", "--lawful-basis",
            "contract, GDPR art. 6(1)(b)", workspace=ws_path, check=True)
    card = run_json("project", "show", "p", workspace=ws_path)
    handling = card["data_handling"]
    assert handling["retention_days"] == 30 and handling["lawful_basis"].startswith("contract")
    emails = next(h for h in handling["sensitive"] if h["kind"] == "email")
    assert emails["versions"] == [version] and "Adresse Électronique" in emails["columns"]
    shown = run_cli("project", "show", "p", workspace=ws_path, check=True).stdout
    assert "email address: email, contact, Adresse Électronique" in shown
    assert "retention      30 days" in shown
    # The TUI's card shows the period and the basis too.
    import io

    from rich.console import Console

    from mlcycle import projects
    from mlcycle.app.widgets.project_card import card_renderable

    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(
        card_renderable(projects.get(Workspace(ws_path), "p")))
    assert "30 days" in out.getvalue() and "GDPR art. 6(1)(b)" in out.getvalue()

    # A second project holds the same data; another one trained a model on its own data.
    run_cli("project", "create", "q", "--target", "target", "--task", "classification",
            workspace=ws_path, check=True)
    run_cli("data", "add", "q", str(planted_ws["csv"]), workspace=ws_path, check=True)
    small = tmp_path / "small.csv"
    small.write_text("x,target\n" + "\n".join(f"{i % 9},{'ab'[i % 2]}" for i in range(80)))
    run_cli("project", "create", "m", "--target", "target", "--task", "classification",
            "--metric", "accuracy", workspace=ws_path, check=True)
    trained_on = run_json("data", "add", "m", str(small), workspace=ws_path)["id"]
    run_cli("train", "m", "--models", "logistic", "--trials", "1", "--cv", "2",
            workspace=ws_path, check=True)
    run_cli("project", "edit", "m", "--retention-days", "1", workspace=ws_path, check=True)
    ws = Workspace(ws_path)
    with ws.write() as con:  # forty days pass for the versions p and m added first
        con.execute("UPDATE project_datasets SET added_at = ? WHERE dataset_id IN (?, ?)",
                    [utcnow() - timedelta(days=40), version, trained_on])
    path = datasets.data_path(ws, datasets.get(ws, "p", version))

    dry = run_json("data", "purge", "p", "--dry-run", workspace=ws_path)
    assert [e["id"] for e in dry["removed"]] == [version] and dry["dry_run"]
    assert dry["removed"][0]["still_in"] == ["q"] and dry["removed"][0]["files"] == []
    assert len(datasets.list_versions(ws, "p")) == 2
    done = run_json("data", "purge", "p", workspace=ws_path)
    assert [e["id"] for e in done["removed"]] == [version]
    assert version not in [v.id for v in datasets.list_versions(ws, "p")]
    assert path.exists() and version in [v.id for v in datasets.list_versions(ws, "q")]

    kept = run_json("data", "purge", "m", workspace=ws_path)
    assert kept["removed"] == [] and kept["kept"][0]["id"] == trained_on
    assert "m v1" in kept["kept"][0]["reason"]
    model_data = datasets.data_path(ws, datasets.get(ws, "m", trained_on))
    forced = run_json("data", "purge", "m", "--force", workspace=ws_path)
    assert [e["id"] for e in forced["removed"]] == [trained_on]
    assert not model_data.exists() and small.exists() and planted_ws["csv"].exists()
    files = forced["removed"][0]["files"]
    assert files[0] == f"datasets/{trained_on}.parquet"
    assert all(f.startswith("holdouts/") for f in files[1:])


def test_a_version_stored_before_scanning_existed_is_scanned_when_added_again(
        ws: Workspace, tmp_path: Path) -> None:
    from mlcycle import projects

    lines = ["contact,x,target"] + [f"user{i}@example.com,{i % 7},{'ab'[i % 2]}"
                                    for i in range(50)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    projects.create(ws, "old", target="target", task="classification")
    version = datasets.add(ws, "old", tmp_path / "d.csv").version
    with ws.write() as con:  # as a workspace written before the scan existed
        con.execute("DELETE FROM dataset_privacy")
    assert projects.data_handling(ws, "old")["unscanned_versions"] == [version.id]
    assert datasets.dictionary(ws, "old")[0]["sensitive"] is None
    assert not datasets.add(ws, "old", tmp_path / "d.csv").stored
    assert datasets.dictionary(ws, "old")[0]["sensitive"] == "email"
    assert projects.data_handling(ws, "old")["unscanned_versions"] == []


def test_collect_from_a_database_finds_and_masks_personal_data(tmp_path: Path) -> None:
    import sqlite3

    from mlcycle import collect
    from mlcycle.store.workspace import open_workspace

    cols, truth = planted(600, seed=7)
    names = sorted(truth)[:6]  # a few planted kinds, as a shop's table would hold them
    db = tmp_path / "crm.sqlite"
    with sqlite3.connect(db) as con:
        quoted = ", ".join('"' + n.replace('"', '""') + '" TEXT' for n in names)
        con.execute(f'CREATE TABLE customers ({quoted}, "churn" TEXT)')
        con.executemany(f"INSERT INTO customers VALUES ({', '.join('?' * (len(names) + 1))})",
                        [(*(cols[n][i] for n in names), "yes" if i % 3 else "no")
                         for i in range(600)])
    ws = open_workspace(tmp_path / "ws", create=True)[0]
    run_cli("project", "create", "crm", "--target", "churn", "--task", "classification",
            workspace=ws.root, check=True)
    collect.add(ws, "crm", "customers", f"sqlite:///{db}", "SELECT * FROM customers")
    version = collect.collect(ws, "crm", "customers").version
    shown = run_json("data", "show", "crm", version.id, workspace=ws.root)
    marked = {c["name"]: c["sensitive"] for c in shown["dictionary"]}
    assert {n: marked[n] for n in names} == {n: truth[n] for n in names}
    text = run_cli("data", "show", "crm", version.id, workspace=ws.root, check=True).stdout
    assert not _leaks(text + json.dumps(shown), planted_values(
        {n: cols[n] for n in names}, {n: truth[n] for n in names}, per_column=50))
