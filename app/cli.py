"""The ``mlcycle`` command line.

Subcommands live in ``app/commands/`` and are imported only when run, so ``mlcycle --help``
and every light command start without loading scikit-learn, onnxruntime or polars.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from mlcycle.app import output

# name -> (module in mlcycle.app.commands:attribute, one-line help shown by `mlcycle --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init:init", "Create a workspace."),
    "project": ("project:project", "Define problems: target, task, success metric."),
    "data": ("data:data", "Add dataset versions; dictionaries and quality reports."),
    "source": ("source:source", "Name data sources: files, SQLite, DuckDB, PostgreSQL."),
    "collect": ("source:collect", "Collect a source into a dataset version; its changes."),
    "recipe": ("recipe:recipe", "Write, check and version preparation recipes."),
    "prep": ("prep:prep", "Apply the preparation recipe: a new dataset version."),
    "featureset": ("features:featureset", "Define named, versioned feature sets."),
    "features": ("features:features", "Feature insight: target relation, stability."),
    "train": ("train:train", "Train and tune models; every trial is a tracked run."),
    "runs": ("runs:runs", "List a project's runs, or compare two runs."),
    "run": ("runs:run", "Show or reproduce one run."),
    "models": ("models:models", "Registered model versions and their aliases."),
    "promote": ("models:promote", "Give a model version an alias (champion)."),
    "rollback": ("models:rollback", "Give an alias back to its previous version."),
    "alias": ("models:alias", "Clear a model alias (kept in the audit trail)."),
    "model": ("models:model", "One model version: card, register, archive."),
    "export": ("deploy:export", "Export a model version as a checked ONNX bundle."),
    "bundle": ("deploy:bundle", "Verify an exported bundle (hashes, smoke test, server)."),
    "predict": ("deploy:predict", "Score a file with onnxruntime; logged."),
    "serve": ("deploy:serve", "Serve predictions over local HTTP JSON."),
    "compare": ("deploy:compare", "Champion vs challenger on labelled rows."),
    "deploy": ("strategy:deploy", "Deployment strategy: shadow, canary, blue/green."),
    "abtest": ("strategy:abtest", "A/B test of the canary against the champion."),
    "monitor": ("monitor:monitor", "Check new batches for drift and performance."),
    "watch": ("monitor:watch", "Watch a folder: check every batch that lands."),
    "retrain": ("retrain:retrain", "Retrain the champion with new labelled rows."),
    "policy": ("policy:policy", "A project's monitoring policy: alerts, triggers, gate."),
    "decisions": ("decisions:decisions", "Decisions the policy raised, and their outcome."),
    "decide": ("decisions:decide", "Approve or reject a decision; request a retraining."),
    "status": ("status:status", "Where the loop stands: champion, batches, alerts, watcher."),
    "drift": (
        "drift:drift",
        "Compare two files for data drift (no workspace needed).",
    ),
    "config": ("config:config", "The terminal UI's settings: show them, or where they live."),
    "demo": ("demo:demo", "Build a demo workspace from sample_data/ and open it."),
    "ui": ("ui:ui", "Open the terminal UI (the default with no command)."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attr = COMMANDS[cmd_name][0].split(":")
        return getattr(importlib.import_module(f"mlcycle.app.commands.{module_name}"), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--workspace",
    "-w",
    envvar="MLCYCLE_WORKSPACE",
    type=click.Path(file_okay=False),
    default=None,
    help="Workspace folder (default: $MLCYCLE_WORKSPACE or ./.mlcycle).",
)
@click.version_option(package_name="mlcycle")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None) -> None:
    """mlcycle: the machine-learning lifecycle, local and offline, in your terminal.

    Run without a command to open the terminal UI on the workspace.
    """
    if workspace is None:
        # config.toml may name a default workspace; the flag and the variable come first.
        from mlcycle.app.settings import load

        workspace = load().workspace
    ctx.obj = output.Context(workspace)
    if ctx.invoked_subcommand is None:
        from mlcycle.app.commands.ui import run_ui

        run_ui(ctx.obj)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI and turns every expected failure into one line on stderr."""
    from mlcycle.store.errors import MlcycleError, error_line

    try:
        code = cli.main(args=argv, prog_name="mlcycle", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        output.error(exc.format_message() + hint)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        output.error(exc.format_message())
        sys.exit(exc.exit_code)
    except MlcycleError as exc:
        output.error(error_line(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as exc:
        # Not only Exception: a panic inside a compiled library (polars raises pyo3's
        # PanicException, a BaseException) must end in one line too, not a traceback.
        if os.environ.get("MLCYCLE_DEBUG"):
            raise
        output.error(f"unexpected {error_line(exc)} (set MLCYCLE_DEBUG=1 to see where)")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
