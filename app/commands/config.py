from __future__ import annotations

import click

from mlcycle.app.output import Context, console, emit_json, json_option


@click.group()
def config() -> None:
    """The terminal UI's settings (config.toml): theme, keys, defaults, export folder."""


@config.command("path")
def path() -> None:
    """Print where config.toml is read from ($XDG_CONFIG_HOME/mlcycle/config.toml)."""
    from mlcycle.app.settings import config_path

    click.echo(str(config_path()))


@config.command("show")
@json_option
@click.pass_obj
def show(ctx: Context, as_json: bool) -> None:
    """The effective settings, every default shown, and each key by its action name.

    A problem in the file (a bad value, a key that is no key, a clash) is listed: the UI
    keeps the default there and says the same at start."""
    from rich.table import Table
    from rich.text import Text

    from mlcycle.app import keymap
    from mlcycle.app.settings import load

    settings = load()
    known = keymap.actions()
    remaps, bad = keymap.check(settings.keys, known)
    found = settings.as_dict()
    found["problems"] = settings.problems + bad
    found["keys"] = [{"action": a.id, "keys": remaps.get(a.id, a.keys),
                      "default": a.keys, "does": a.description} for a in known]
    if as_json:
        emit_json(found)
        return
    out = console()
    exists = "" if found["config_exists"] else " (no file: every value is a default)"
    out.print(Text(f"config {found['config']}{exists}"))
    out.print(Text(f"state  {found['state']} (theme picked in the palette, last view "
                   "and project)"))
    for name in ("theme", "workspace", "project", "refresh_interval", "export_folder"):
        value = found[name]
        shown = {None: "–"}.get(value, value) if not isinstance(value, float) else value
        out.print(Text(f"{name:17} {shown}"))
    table = Table("action", "keys", "does")
    for k in found["keys"]:
        changed = k["keys"] != k["default"]
        table.add_row(Text(k["action"]), Text(k["keys"] + (" (remapped)" if changed else "")),
                      Text(k["does"]), style="bold" if changed else "")
    out.print(table)
    for line in found["problems"]:
        out.print(Text(line, style="red"))
