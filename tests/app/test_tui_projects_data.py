"""The projects and data views run their stage of the lifecycle: a project made from typed
forms, data added, columns described, the recipe applied, the demo built; keys, not a shell."""

from __future__ import annotations

from textual.widgets import Input, Select

from mlcycle import projects
from mlcycle.app.jobs import DONE, FAILED, RUNNING, Job
from mlcycle.app.screens.form import FormScreen
from mlcycle.app.ui import MlcycleApp
from mlcycle.data import datasets
from mlcycle.prep import recipes
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle, visible_text
from tests.conftest import SAMPLE
from tests.tui_keys import recorded

REFERENCE = str(SAMPLE / "churn_reference.csv")


async def _form(pilot) -> FormScreen:
    """The form that is, or is about to be, on top."""
    for _ in range(250):
        if isinstance(pilot.app.screen, FormScreen):
            await pilot.pause(0.05)
            return pilot.app.screen
        await pilot.pause(0.02)
    raise AssertionError(f"no form opened; the screen is {pilot.app.screen!r}")


async def _type(pilot, field: str, text: str) -> None:
    """Type into a form's field as a user does: focus it, clear it, press the keys."""
    box = pilot.app.screen.query_one(f"#field-{field}", Input)
    box.focus()
    box.value = ""
    await pilot.press(*text)


async def _choose(pilot, field: str, text: str) -> None:
    """Open a choice, type the start of an option and take it."""
    pilot.app.screen.query_one(f"#field-{field}", Select).focus()
    await pilot.press("enter")
    await pilot.pause(0.1)
    await pilot.press(*text)
    await pilot.press("enter")
    await pilot.pause(0.05)


async def _job(pilot, title: str) -> Job:
    """The job called ``title``, once it ended; the view's reload drawn."""
    for _ in range(1500):
        found = [j for j in pilot.app.jobs.all if j.title == title]
        if found and found[-1].state != RUNNING:
            await settle(pilot)
            await pilot.pause(0.2)
            await settle(pilot)
            return found[-1]
        await pilot.pause(0.02)
    raise AssertionError(f"job {title!r} did not end: {[j.title for j in pilot.app.jobs.all]}")


async def test_a_project_is_created_from_the_empty_workspace(ws: Workspace) -> None:
    app = MlcycleApp(ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        text = visible_text(app)
        assert "No projects yet" in text and "Press n" in text and "Press d" in text
        assert "mlcycle project" not in text and "mlcycle demo" not in text  # no shell hint
        await pilot.press("n")
        await _form(pilot)
        await _type(pilot, "name", "churn")
        await _type(pilot, "data", REFERENCE)
        await _choose(pilot, "task", "class")
        await pilot.press("ctrl+s")
        form = await _form(pilot)
        assert "2 of 2" in form.title_text
        # The target is one of the file's columns.
        assert ("churned", "churned") in form.query_one("#field-target", Select)._options
        await _choose(pilot, "target", "churned")
        await _choose(pilot, "metric", "f1")
        await _type(pilot, "goal", "0.7")
        await _type(pilot, "description", "who leaves next month")
        await pilot.press("ctrl+s")
        job = await _job(pilot, "create: churn")
        assert job.state == DONE, job.outcome
        assert "predict churned" in job.outcome and "12,000 rows" in job.outcome
        card = projects.get(ws, "churn")
        assert (card.target, card.metric, card.goal) == ("churned", "f1", 0.7)
        assert len(datasets.list_versions(ws, "churn")) == 1
        text = visible_text(app)
        assert "churn" in text and "who leaves next month" in text and "No projects" not in text
        assert app.project == "churn"


async def test_a_bad_project_name_is_refused_in_the_form(ws: Workspace) -> None:
    app = MlcycleApp(ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        form = await _form(pilot)
        await _type(pilot, "name", "no spaces")
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        assert "is not valid" in str(form.query_one("#form-error").content)
        assert app.screen is form and not projects.list_all(ws)


async def test_the_card_is_edited_with_its_values_prefilled(churn_ws: Workspace) -> None:
    app = MlcycleApp(churn_ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        form = await _form(pilot)
        assert form.query_one("#field-goal", Input).value == "0.8"
        await _type(pilot, "goal", "0.85")
        await _type(pilot, "kpi", "calls saved")
        await pilot.press("ctrl+s")
        for _ in range(200):
            if projects.get(churn_ws, "churn").goal == 0.85:
                break
            await pilot.pause(0.02)
        await settle(pilot)
        card = projects.get(churn_ws, "churn")
        assert (card.goal, card.kpi, card.metric) == (0.85, "calls saved", "roc_auc")
        assert "calls saved" in visible_text(app)


async def test_a_wrong_target_is_set_again_in_the_card_form(churn_ws: Workspace) -> None:
    projects.update(churn_ws, "churn", target="tenure_months")  # nothing trained yet
    app = MlcycleApp(churn_ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        form = await _form(pilot)
        # The target is offered from the data's columns while it may still change.
        assert ("churned", "churned") in form.query_one("#field-target", Select)._options
        await _choose(pilot, "target", "churned")
        await pilot.press("ctrl+s")
        for _ in range(200):
            if projects.get(churn_ws, "churn").target == "churned":
                break
            await pilot.pause(0.02)
        assert projects.get(churn_ws, "churn").target == "churned"


async def test_a_trained_project_s_form_has_no_target(clf_champion: Workspace) -> None:
    app = MlcycleApp(clf_champion)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        form = await _form(pilot)
        assert not form.query("#field-target")
        assert "the target label and task classification stay" in visible_text(app)


async def test_a_project_is_deleted_after_a_confirmation_naming_what_goes(
        clf_champion: Workspace) -> None:
    from textual.widgets import Label

    from mlcycle.app.screens.confirm import ConfirmScreen

    app = MlcycleApp(clf_champion)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("X")
        for _ in range(250):
            if isinstance(app.screen, ConfirmScreen):
                break
            await pilot.pause(0.02)
        question = str(app.screen.query_one("#confirm-question", Label).content)
        assert question.startswith("Delete project clf: its card, 1 dataset version, ")
        assert "registered model versions go too" in question
        await pilot.press("escape")  # cancelled: nothing goes
        await settle(pilot)
        assert [p.name for p in projects.list_all(clf_champion)] == ["clf"]
        await pilot.press("X")
        for _ in range(250):
            if isinstance(app.screen, ConfirmScreen):
                break
            await pilot.pause(0.02)
        await pilot.click("#confirm-yes")
        job = await _job(pilot, "delete: clf")
        assert job.state == DONE, job.outcome
        assert job.outcome.startswith("deleted project clf: its card, 1 dataset version")
        assert projects.list_all(clf_champion) == []
        assert "No projects yet" in visible_text(app)


async def test_data_is_added_from_the_data_view(ws: Workspace) -> None:
    projects.create(ws, "churn", target="churned", task="classification")
    app = MlcycleApp(ws, project="churn")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert "no data yet. Press a" in visible_text(app)
        await pilot.press("a")
        await _form(pilot)
        await _type(pilot, "path", REFERENCE)
        await pilot.press("enter")
        job = await _job(pilot, "add data: churn")
        assert job.state == DONE and "stored version" in job.outcome, job.outcome
        version = datasets.list_versions(ws, "churn")[0]
        text = visible_text(app)
        assert version.id in text and "12,000" in text and "no data yet" not in text


async def test_a_bad_path_is_one_line_and_the_app_keeps_going(ws: Workspace, tmp_path) -> None:
    projects.create(ws, "churn", target="churned", task="classification")
    empty = tmp_path / "empty.csv"
    empty.write_text("customer_id,churned\n")
    app = MlcycleApp(ws, project="churn")
    notices = recorded(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("a")
        form = await _form(pilot)
        await _type(pilot, "path", str(tmp_path / "nowhere.csv"))
        await pilot.press("enter")
        await pilot.pause(0.1)
        error = str(form.query_one("#form-error").content)
        assert error.endswith("nowhere.csv: no such file or folder") and "\n" not in error
        # A file that is there but cannot be a version: the job says why, in one line.
        await _type(pilot, "path", str(empty))
        await pilot.press("enter")
        job = await _job(pilot, "add data: churn")
        assert job.state == FAILED and "no rows" in job.outcome and "\n" not in job.outcome
        assert any("add data: churn" in n and "no rows" in n for n in notices)
        assert app.is_running and not datasets.list_versions(ws, "churn")
        await pilot.press("a")  # still answering keys
        await _form(pilot)


async def test_a_column_gets_a_role_and_a_description(churn_ws: Workspace) -> None:
    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        # The first column, customer_id, is highlighted: make it ignored and describe it.
        await pilot.press("c")
        form = await _form(pilot)
        assert "customer_id" in form.title_text
        await _choose(pilot, "role", "ign")
        await _type(pilot, "description", "account number")
        await pilot.press("ctrl+s")
        for _ in range(200):
            entry = datasets.dictionary(churn_ws, "churn")[0]
            if entry["description"]:
                break
            await pilot.pause(0.02)
        await settle(pilot)
        assert (entry["role"], entry["description"]) == ("ignored", "account number")
        text = visible_text(app)
        assert "account number" in text and "ignored" in text


async def test_the_recipe_is_applied_and_its_validation_shown(churn_ws: Workspace) -> None:
    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert "no preparation recipe yet" in visible_text(app)
        await pilot.press("p")
        await _form(pilot)
        await _type(pilot, "recipe", str(SAMPLE / "recipe.toml"))
        await pilot.press("ctrl+s")
        job = await _job(pilot, "apply recipe: churn")
        assert job.state == DONE, job.outcome
        assert "prepared version" in job.outcome and "expectations met" in job.outcome
        assert job.rows and all(r[0] == "✓" for r in job.rows)
        assert recipes.latest(churn_ws, "churn").version == 1
        prepared = job.result.output_id
        text = visible_text(app)
        # The view shows the prepared version, the recipe and the expectations it passed.
        assert f"version {prepared}" in text and "Recipe v1" in text
        assert "expectations met" in text


async def test_a_strict_run_that_fails_shows_the_failed_expectations(
        churn_ws: Workspace, tmp_path) -> None:
    recipe = tmp_path / "strict.toml"
    recipe.write_text('[[step]]\nop = "drop"\ncolumns = ["region"]\n\n'
                      "[expect]\nmin_rows = 1000000\n")
    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("p")
        form = await _form(pilot)
        await _type(pilot, "recipe", str(recipe))
        form.query_one("#field-strict").value = True
        await pilot.press("ctrl+s")
        job = await _job(pilot, "apply recipe: churn")
        assert job.state == FAILED and "\n" not in job.outcome
        assert [r[2] for r in job.rows if r[0] == "✗"], job.rows
        assert len(datasets.list_versions(churn_ws, "churn")) == 1  # nothing written


async def test_the_demo_is_built_from_the_empty_workspace(ws: Workspace) -> None:
    app = MlcycleApp(ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        job = await _job(pilot, "build: demo")
        assert job.state == DONE and "churn" in job.outcome, job.outcome
        text = visible_text(app)
        assert "churn" in text and "No projects yet" not in text
        assert "Predict which subscribers cancel" in text
        assert datasets.list_versions(ws, "churn")


async def test_the_palette_names_what_each_action_acts_on(churn_ws: Workspace) -> None:
    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        names = [c[0] for c in app.screen.palette_commands()]
        assert {"create: project", "build: demo", "edit card: churn"} <= set(names)
        await pilot.press("2")
        await settle(pilot)
        names = [c[0] for c in app.screen.palette_commands()]
        assert {"add data: churn", "apply recipe: churn",
                "edit column: churn customer_id"} <= set(names)
