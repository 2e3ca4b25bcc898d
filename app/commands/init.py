from __future__ import annotations

import click

from mlcycle.app.output import Context, emit_json, json_option


@click.command()
@json_option
@click.pass_obj
def init(ctx: Context, as_json: bool) -> None:
    """Create a workspace (a DuckDB file and an artifacts folder)."""
    from mlcycle.store.workspace import open_workspace

    ws, created = open_workspace(ctx.workspace_path, create=True)
    if as_json:
        emit_json({"workspace": str(ws.root), "created": created})
    else:
        click.echo(f"{'created' if created else 'already a'} workspace at {ws.root}")
