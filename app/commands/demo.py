from __future__ import annotations

import click

from mlcycle.app.output import Context


@click.command()
@click.option("--no-ui", is_flag=True, help="Only build the workspace.")
@click.pass_obj
def demo(ctx: Context, no_ui: bool) -> None:
    """Build a demo workspace from sample_data/ (customer churn) and open the UI on it."""
    from mlcycle import demo as demo_data
    from mlcycle.app.output import console

    ws = ctx.workspace(create=True)
    with console().status("building the demo workspace", spinner="dots") as status:
        project = demo_data.build(ws, train=True, progress=status.update)
    if no_ui:
        click.echo(f"demo workspace ready at {ws.root} (project {project})")
        return
    from mlcycle.app.ui import MlcycleApp

    MlcycleApp(ws, project=project).run()
