"""The TUI's exports go through the CLI's output guard: never into the workspace."""

from __future__ import annotations

from pathlib import Path

from mlcycle.app.ui import MlcycleApp
from mlcycle.models import registry
from tests.app.test_tui import settle
from tests.deploy_fixtures import classification_workspace


async def test_the_model_card_export_refuses_the_workspace_and_writes_elsewhere(
        tmp_path: Path, monkeypatch) -> None:
    ws = classification_workspace(tmp_path, models=["logistic"])
    registry.promote(ws, "clf", "1", reason="first")
    before = sorted(p.relative_to(ws.root) for p in ws.root.rglob("*"))
    monkeypatch.chdir(ws.root)  # a user who opened the TUI from inside the workspace
    app = MlcycleApp(ws, project="clf")
    notices: list[str] = []
    shown = app.notify
    monkeypatch.setattr(app, "notify", lambda message, **kw: (notices.append(str(message)),
                                                             shown(message, **kw)))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert any("inside the workspace" in n for n in notices), notices
        assert not list(ws.root.glob("*model-card.md"))

        elsewhere = tmp_path / "exports"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        await pilot.press("e")
        await pilot.pause()
        written = list(elsewhere.glob("clf-v1-model-card.md"))
        assert any("model card written to" in n for n in notices), notices
        assert written and written[0].read_text().startswith("# ")
    after = sorted(p.relative_to(ws.root) for p in ws.root.rglob("*")
                   if not p.name.endswith((".wal", ".lock")))
    assert [p for p in after if p not in before and "journal" not in str(p)] == []
