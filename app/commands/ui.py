from __future__ import annotations

import click

from mlcycle.app.output import Context, note


def run_ui(ctx: Context, project: str | None = None) -> None:
    """Open the terminal UI on the context's workspace; where there is none, offer to create it."""
    from mlcycle.app.ui import MlcycleApp
    from mlcycle.store.workspace import exists, resolve_path

    if exists(ctx.workspace_path):
        ws = ctx.workspace()
    else:
        from mlcycle.app.screens.workspace_prompt import CreateWorkspaceApp

        root = resolve_path(ctx.workspace_path)
        ws = CreateWorkspaceApp(root).run()
        if ws is None:
            note(f"no workspace at {root}; nothing was created (create one with "
                 "'mlcycle init' or answer y)")
            return
        note(f"created workspace at {ws.root}")
    app = MlcycleApp(ws, project=project)
    app.run()
    if app.return_code:  # the app itself crashed (Textual printed why): tell the shell
        raise SystemExit(app.return_code)


@click.command()
@click.option("--project", "-p", help="Open with this project selected.")
@click.pass_obj
def ui(ctx: Context, project: str | None) -> None:
    """Open the terminal UI (where there is no workspace, it offers to create one)."""
    run_ui(ctx, project)
