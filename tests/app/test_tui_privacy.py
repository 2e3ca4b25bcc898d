"""The data view's privacy actions, driven by keys: opt a column of personal data in with a
reason (o), redact a column into a new version (x), purge the versions past retention (P)
after a confirmation naming each; refusals are one-line notices."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from textual.widgets import DataTable

from mlcycle import projects
from mlcycle.app.jobs import DONE
from mlcycle.app.screens.confirm import ConfirmScreen
from mlcycle.app.ui import MlcycleApp
from mlcycle.data import datasets
from mlcycle.store.schema import utcnow
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle, visible_text
from tests.app.test_tui_projects_data import _form, _job
from tests.privacy_data import FIRST, LAST
from tests.tui_keys import fill_form, recorded, until

COLUMNS = ["surname", "email", "plan", "monthly_charges", "churned"]


def shop_csv(folder: Path, rows: int = 300, seed: int = 2) -> tuple[Path, set[str]]:
    """A table with emails and surnames in it; the emails, as planted."""
    rng = random.Random(seed)
    emails = [f"{rng.choice(FIRST).lower()}{i}@example.com" for i in range(rows)]
    lines = [",".join(COLUMNS)] + [
        f"{rng.choice(LAST)},{emails[i]},{rng.choice(['basic', 'pro'])},"
        f"{rng.randint(20, 90)},{rng.choice(['true', 'false'])}" for i in range(rows)]
    path = folder / f"shop-{seed}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, set(emails)


def shop(ws: Workspace, folder: Path) -> str:
    projects.create(ws, "shop", target="churned", task="classification")
    return datasets.add(ws, "shop", shop_csv(folder)[0]).version.id


async def on_column(pilot, name: str) -> None:
    """The data view open, the cursor on column ``name``, moved there with the arrow keys."""
    await pilot.press("2")
    await settle(pilot)
    table = pilot.app.screen.query_one("#columns", DataTable)
    table.focus()
    await pilot.press("g")  # the first column
    for _ in range(len(COLUMNS)):
        if table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value == name:
            break
        await pilot.press("down")
    else:
        raise AssertionError(f"no column {name!r} in the table")
    await settle(pilot)


def entry(ws: Workspace, name: str) -> dict:
    return next(c for c in datasets.dictionary(ws, "shop") if c["name"] == name)


async def test_a_column_of_personal_data_is_opted_in_with_its_reason(ws: Workspace,
                                                                    tmp_path: Path) -> None:
    shop(ws, tmp_path)
    assert entry(ws, "email")["role"] == "ignored"
    app = MlcycleApp(ws, project="shop")
    async with app.run_test(size=(120, 36)) as pilot:
        shown = recorded(app)
        await settle(pilot)
        await on_column(pilot, "plan")
        await pilot.press("o")  # not personal data: nothing to opt in
        await settle(pilot)
        assert any("plan was not found to hold personal data" in s for s in shown), shown
        await on_column(pilot, "email")
        await pilot.press("o")
        form = await _form(pilot)
        assert "Use email (email address) in shop's models" in form.title_text
        await fill_form(pilot, {})  # the reason is required
        assert "Reason is required" in str(form.query_one("#form-error").content)
        await fill_form(pilot, {"reason": "fraud model, DPIA 12 signed"})
        await until(pilot, lambda: any("opted in" in s for s in shown))
        await settle(pilot)
        assert "email is now feature (personal data, opted in)" in shown
        assert "feature (email)" in visible_text(app)
    email = entry(ws, "email")
    assert email["role"] == "feature"
    assert email["privacy"]["allowed"] == "fraud model, DPIA 12 signed"


async def test_setting_a_sensitive_column_s_role_without_opt_in_is_a_notice(
        ws: Workspace, tmp_path: Path) -> None:
    shop(ws, tmp_path)
    app = MlcycleApp(ws, project="shop")
    async with app.run_test(size=(120, 36)) as pilot:
        shown = recorded(app)
        await settle(pilot)
        await on_column(pilot, "email")
        await pilot.press("c")
        await _form(pilot)
        await fill_form(pilot, {"role": "feature"})
        await until(pilot, lambda: any("--allow-sensitive" in s for s in shown))
        assert app.is_running and "Traceback" not in " ".join(shown)
    assert entry(ws, "email")["role"] == "ignored"


async def test_a_column_is_redacted_into_a_new_version(ws: Workspace, tmp_path: Path,
                                                      monkeypatch) -> None:
    monkeypatch.setenv("MLCYCLE_KEY_FILE", str(tmp_path / "keys" / "shop.key"))
    first = shop(ws, tmp_path)
    app = MlcycleApp(ws, project="shop")
    async with app.run_test(size=(120, 36)) as pilot:
        shown = recorded(app)
        await settle(pilot)
        await on_column(pilot, "email")
        names = [c[0] for c in app.screen.palette_commands()]
        assert {"opt in: shop email", "redact: shop email", "purge: shop"} <= set(names)
        await pilot.press("ctrl+p")  # the palette's entry opens the same form as x
        await pilot.pause()
        await pilot.press(*"redact: shop email")
        await pilot.pause(0.5)
        await pilot.press("enter")
        form = await _form(pilot)
        assert f"Redact email (email address) of version {first}" in form.title_text
        # The command redacts every column of personal data: the form says which others.
        assert "also redacted, by default: surname (hash)" in visible_text(app)
        await fill_form(pilot, {"how": "drop"})
        job = await _job(pilot, "redact: shop email")
        assert job.state == DONE, job.outcome
        versions = datasets.list_versions(ws, "shop")
        redacted = next(v for v in versions if v.id != first)
        assert (f"stored version {redacted.id} from {first}: surname: salted SHA-256; "
                "email: column removed; hashing key") in job.outcome
        assert redacted.id in visible_text(app)
        # A column with no generalisation: the form says so and nothing is stored.
        await on_column(pilot, "plan")
        assert "opt in: shop plan" not in [c[0] for c in app.screen.palette_commands()]
        await pilot.press("x")
        form = await _form(pilot)
        await fill_form(pilot, {"how": "generalise"})
        assert "has no generalisation" in str(form.query_one("#form-error").content)
        await pilot.press("escape")
        await on_column(pilot, "churned")  # the target: the command's refusal, in the form
        await pilot.press("x")
        form = await _form(pilot)
        await fill_form(pilot, {})
        assert "is the project's target" in str(form.query_one("#form-error").content)
        await pilot.press("escape")
        assert not [s for s in shown if "Traceback" in s]
    names = [c["name"] for c in datasets.dictionary(ws, "shop", redacted.id)]
    assert "email" not in names and "surname" in names
    assert len(datasets.list_versions(ws, "shop")) == 2


async def test_purge_names_what_it_deletes_and_deletes_only_that(ws: Workspace,
                                                                tmp_path: Path) -> None:
    old = shop(ws, tmp_path)
    recent = datasets.add(ws, "shop", shop_csv(tmp_path, seed=3)[0]).version.id
    path = datasets.data_path(ws, datasets.get(ws, "shop", old))
    app = MlcycleApp(ws, project="shop")
    async with app.run_test(size=(120, 36)) as pilot:
        shown = recorded(app)
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("P")  # no retention period yet: the command's refusal
        await until(pilot, lambda: any("--retention-days" in s for s in shown))
        projects.update(ws, "shop", retention_days=30)
        with ws.write() as con:  # forty days pass for the first version
            con.execute("UPDATE project_datasets SET added_at = ? WHERE dataset_id = ?",
                        [utcnow() - timedelta(days=40), old])
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = app.screen.question
        assert f"version {old} (added " in question and f"datasets/{old}.parquet" in question
        assert recent not in question
        await pilot.press("escape")  # cancelled: nothing goes
        await settle(pilot)
        assert path.exists() and len(datasets.list_versions(ws, "shop")) == 2
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")  # Cancel has the focus: a stray Enter deletes nothing
        await settle(pilot)
        assert path.exists()
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        with ws.write() as con:  # the other version comes due while the question is shown
            con.execute("UPDATE project_datasets SET added_at = ? WHERE dataset_id = ?",
                        [utcnow() - timedelta(days=35), recent])
        await pilot.click("#confirm-yes")
        await until(pilot, lambda: any("removed 1 version" in s for s in shown))
        await settle(pilot)
        assert old not in visible_text(app) and recent in visible_text(app)
    # Only what the confirmation named went: the other waits for the next purge.
    assert [v.id for v in datasets.list_versions(ws, "shop")] == [recent]
    assert not path.exists()
