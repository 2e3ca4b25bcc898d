from __future__ import annotations

import click

from mlcycle.app.output import Context


def run_ui(ctx: Context, project: str | None = None) -> None:
    """Open the terminal UI on the context's workspace (created if missing)."""
    from mlcycle.app.ui import MlcycleApp

    MlcycleApp(ctx.workspace(create=True), project=project).run()


@click.command()
@click.option("--project", "-p", help="Open with this project selected.")
@click.pass_obj
def ui(ctx: Context, project: str | None) -> None:
    """Open the terminal UI."""
    run_ui(ctx, project)
