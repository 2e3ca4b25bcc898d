"""The data view's preparation panels: the recipe with its validation, and the feature set."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from mlcycle.app.words import tally


class RecipePanel(Static):
    """The project's recipe, its steps and the expectations checked for the shown version."""

    def show(self, info: dict[str, Any] | None) -> None:
        text = Text()
        recipe = (info or {}).get("recipe")
        if not recipe:
            text.append("Recipe\n", style="bold")
            text.append("no preparation recipe yet: press r to write one", style="dim")
            self.update(text)
            return
        text.append(f"Recipe v{recipe['version']}", style="bold")
        text.append(f"  {recipe['id']}  (r edits)\n", style="dim")
        for i, step in enumerate(recipe["steps"], 1):
            text.append(f"{i:>2}. {step}\n")
        validation = info.get("validation") if info else None
        if validation:
            text.append(f"validation: {validation['basis']}\n", style="dim")
            if validation["error"]:
                text.append(f"✗ {validation['error']}\n", style="red")
            results = validation["expectations"]
            failed = [r for r in results if not r["ok"]]
            for r in results:
                mark, style = ("✓", "green") if r["ok"] else ("✗", "red")
                text.append(f"{mark} ", style=style)
                text.append(f"{r['side']}: {r['expected']}: {r['message']}\n",
                            style="" if r["ok"] else "red")
            if results:
                summary = tally(len(failed), len(results), "expectation", "failed", "met")
                text.append(summary, style="red bold" if failed else "green")
        self.update(text)


class FeatureSetPanel(Static):
    """The newest feature set: derived columns and selection."""

    def show(self, fs: dict[str, Any] | None) -> None:
        text = Text()
        if not fs:
            text.append("Feature set\n", style="bold")
            text.append("no feature set yet: press f to define one", style="dim")
            self.update(text)
            return
        text.append(f"Feature set {fs['name']}@{fs['version']}", style="bold")
        text.append(f"  {fs['id']}  (f edits)\n", style="dim")
        for d in fs["derived"]:
            text.append(f"  {d['name']}", style="cyan")
            text.append(f" = {d['expr']}\n")
        if fs["keep"] is not None:
            text.append(f"keep: {', '.join(fs['keep'])}", style="dim")
        elif fs["drop"]:
            text.append(f"drop: {', '.join(fs['drop'])}", style="dim")
        else:
            text.append("all columns kept", style="dim")
        self.update(text)
