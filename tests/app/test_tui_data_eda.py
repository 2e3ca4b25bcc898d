"""The data view's exploration: correlations, the recipe with its validation, the feature set,
and editing the recipe in the app (checked before it is saved)."""

from __future__ import annotations

from textual.widgets import TextArea

from mlcycle import prep
from mlcycle.app.ui import MlcycleApp
from mlcycle.prep import features, recipes
from mlcycle.store.workspace import Workspace
from tests.app.test_tui import settle
from tests.app.test_tui import visible_text as _tables_and_text


def visible_text(app: MlcycleApp) -> str:
    """What test_tui's helper sees, plus the signed bars of the correlation chart."""
    import io

    from rich.console import Console

    from mlcycle.app.widgets.signed_bars import SignedBars

    parts = [_tables_and_text(app)]
    for chart in app.screen.query(SignedBars):
        out = io.StringIO()
        Console(file=out, width=max(chart.size.width, 40), color_system=None).print(
            chart.render())
        parts.append(out.getvalue())
    return "\n".join(parts)

RECIPE = """\
[[step]]
op = "drop"
columns = ["customer_id"]

[[step]]
op = "impute"
columns = ["total_charges"]
strategy = "median"

[expect]
ranges = { monthly_charges = [0, 100] }

[expect.output]
max_missing = { total_charges = 0.0 }
"""

FEATURES = """\
name = "churn-base"

[[derive]]
name = "charge_per_month"
expr = "total_charges / tenure_months"

[select]
drop = ["signup_date"]
"""


async def test_data_view_charts_correlations_recipe_validation_and_feature_set(
    churn_ws: Workspace,
) -> None:
    recipes.store(churn_ws, "churn", recipes.parse(RECIPE, "recipe.toml"))
    prep.run(churn_ws, "churn")
    features.store(churn_ws, "churn", FEATURES)
    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(180, 120)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        text = visible_text(app)
        # The existing charts stay: distribution of the highlighted column, class balance.
        assert "class balance" in text and "█" in text
        # Correlation of numeric columns with the target, strongest first.
        assert "correlation with the target" in text and "churned = true" in text
        tenure = next(ln for ln in text.splitlines() if ln.strip().startswith("tenure_months")
                      and "│" in ln)
        assert "-0.3" in tenure  # longer tenure, less churn
        # The newest version is the prepared one: its recipe and the checks made when it was.
        assert "Recipe v1" in text and "impute total_charges with median" in text
        assert "made from" in text
        assert "✗ input: monthly_charges within [0, 100]" in text
        assert "✓ output: total_charges missing ≤ 0.0%" in text
        assert "✗ output: monthly_charges within [0, 100]" in text
        assert "2 of 3 expectations failed" in text
        assert "Feature set churn-base@1" in text
        assert "charge_per_month = total_charges / tenure_months" in text


async def test_editing_recipe_and_feature_set_checks_them_before_saving(
    churn_ws: Workspace,
) -> None:
    app = MlcycleApp(churn_ws, project="churn")
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        assert "no preparation recipe yet" in visible_text(app)
        await pilot.press("r")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "TextEditorScreen"
        area = app.screen.query_one(TextArea)
        # A step naming a column that does not exist: refused, with its line, nothing saved.
        area.text = '[[step]]\nop = "drop"\ncolumns = ["no_such_column"]\n'
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "TextEditorScreen"
        status = str(app.screen.query_one("#editor-status").content)
        assert "not saved" in status and "line 1, step 1 (drop)" in status
        assert "no_such_column" in status
        assert recipes.latest(churn_ws, "churn") is None
        # A TOML syntax error: refused too.
        area.text = '[[step]\nop = "drop"\n'
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "TOML syntax error" in str(app.screen.query_one("#editor-status").content)
        assert recipes.latest(churn_ws, "churn") is None
        # Fixed: saved as version 1, and the view shows it.
        area.text = '[[step]]\nop = "drop"\ncolumns = ["customer_id"]\n'
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "DataScreen"
        stored = recipes.latest(churn_ws, "churn")
        assert stored is not None and stored.version == 1 and "customer_id" in stored.text
        text = visible_text(app)
        assert "Recipe v1" in text and "drop customer_id" in text
        # Escape leaves the editor without saving anything, once the user says so.
        await pilot.press("r")
        await pilot.pause()
        app.screen.query_one(TextArea).text = "garbage = ["
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        await pilot.click("#confirm-yes")
        await pilot.pause()
        assert recipes.latest(churn_ws, "churn").version == 1
        assert app.screen.__class__.__name__ == "DataScreen"

        # The feature set editor: an unknown column is refused with a suggestion.
        await pilot.press("f")
        await pilot.pause()
        area = app.screen.query_one(TextArea)
        area.text = 'name = "x"\n[[derive]]\nname = "r"\nexpr = "tenure / 2"\n'
        await pilot.press("ctrl+s")
        await pilot.pause()
        status = str(app.screen.query_one("#editor-status").content)
        assert "unknown column 'tenure'" in status and "did you mean 'tenure_months'" in status
        assert features.resolve(churn_ws, "churn") is None
        area.text = 'name = "x"\n[[derive]]\nname = "r"\nexpr = "tenure_months / 2"\n'
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert features.resolve(churn_ws, "churn").ref == "x@1"
        assert "Feature set x@1" in visible_text(app)
