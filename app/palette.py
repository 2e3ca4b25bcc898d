"""Command-palette entries: 'view: …' to switch views, 'project: …' to pick a project, and the
actions of the view it was opened from ('train: churn'), which the view lists itself."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from mlcycle.app.views import VIEWS


class ViewCommands(Provider):
    async def startup(self) -> None:
        from mlcycle import projects

        worker = self.app.run_worker(
            lambda: [p.name for p in projects.list_all(self.app.workspace)], thread=True
        )
        self._projects: list[str] = await worker.wait()

    def _commands(self) -> list[tuple[str, object, str]]:
        out: list[tuple[str, object, str]] = [
            (f"view: {v.name}", partial(self.app.switch_mode, v.name), v.about) for v in VIEWS
        ]
        out += [
            (f"project: {name}", partial(self.app.select_project, name), "work on this project")
            for name in self._projects
        ]
        actions = getattr(self.screen, "palette_commands", None)
        if callable(actions):
            out += actions()
        return out

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, help=help_text)
