"""The UI's settings, read from one place.

Two files, on purpose:

- ``$XDG_CONFIG_HOME/mlcycle/config.toml`` is the user's: theme, keys, default workspace and
  project, refresh interval, export folder. mlcycle only reads it, so its comments and layout
  stay exactly as written.
- ``$XDG_STATE_HOME/mlcycle/state.json`` is what the UI remembers by itself: the theme picked
  in the palette and, per workspace, the last view and project. Written atomically.

Reading never fails: a bad value keeps its default and adds a one-line problem, which the
UI shows as a notice at start and ``mlcycle config show`` prints.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_THEME = "textual-dark"
DEFAULT_REFRESH = 2.0
MIN_REFRESH, MAX_REFRESH = 0.2, 3600.0  # seconds; nan or infinity would stop the refresh
KNOWN = ("theme", "workspace", "project", "refresh_interval", "export_folder", "keys")


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "mlcycle" / "config.toml"


def state_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "mlcycle" / "state.json"


@dataclass
class Settings:
    """The effective settings: the config file's values over the defaults."""

    path: Path
    theme: str = DEFAULT_THEME
    workspace: str | None = None  # None: $MLCYCLE_WORKSPACE, else ./.mlcycle
    project: str | None = None  # None: the last one used, else the first
    refresh_interval: float = DEFAULT_REFRESH  # seconds between checks for changes
    export_folder: Path | None = None  # None: the current folder
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> key(s)
    problems: list[str] = field(default_factory=list)

    def exports(self) -> Path:
        """The folder exports and screenshots go to."""
        return self.export_folder or Path.cwd()

    def as_dict(self) -> dict[str, Any]:
        return {
            "config": str(self.path),
            "config_exists": self.path.is_file(),
            "state": str(state_path()),
            "theme": self.theme,
            "workspace": self.workspace,
            "project": self.project,
            "refresh_interval": self.refresh_interval,
            "export_folder": str(self.exports()),
            "keys": dict(self.keys),
            "problems": list(self.problems),
        }


def load(path: Path | None = None) -> Settings:
    """The settings of ``path`` (default: the config file); never raises."""
    from mlcycle.store import tomlfile
    from mlcycle.store.errors import InvalidInput

    path = path or config_path()
    settings = Settings(path)
    try:
        raw = tomlfile.loads(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        return settings
    except (OSError, UnicodeDecodeError) as exc:
        settings.problems.append(f"{path}: cannot read it ({exc}); using the defaults")
        return settings
    except InvalidInput as exc:
        why = str(exc).removeprefix(f"{path}: ")
        settings.problems.append(f"{path}: cannot read it ({why}); using the defaults")
        return settings
    say = settings.problems.append
    for key in raw:
        if key not in KNOWN:
            say(f"{path}: unknown setting {key!r} ignored (known: {', '.join(KNOWN)})")
    for name in ("theme", "workspace", "project"):
        if name in raw:
            if _text(raw[name]):
                setattr(settings, name, raw[name].strip())
            else:
                say(f"{path}: {name} must be a non-empty string of printable characters; "
                    "ignored")
    if "refresh_interval" in raw:
        value = raw["refresh_interval"]
        if (isinstance(value, (int, float)) and not isinstance(value, bool)
                and MIN_REFRESH <= value <= MAX_REFRESH):
            settings.refresh_interval = float(value)
        else:
            say(f"{path}: refresh_interval must be a number of seconds from {MIN_REFRESH:g} to "
                f"{MAX_REFRESH:g}; using {DEFAULT_REFRESH:g}")
    if "export_folder" in raw:
        value = raw["export_folder"]
        if _text(value):
            settings.export_folder = Path(value).expanduser().absolute()
        else:
            say(f"{path}: export_folder must be a folder path; using the current folder")
    keys = raw.get("keys", {})
    if not isinstance(keys, dict):
        say(f"{path}: [keys] must be a table of action = \"key\"; ignored")
        keys = {}
    for action, value in _flat(keys):
        if _text(value):
            settings.keys[action] = value.strip()
        else:
            say(f"{path}: keys.{action} must be a key name such as \"ctrl+t\"; ignored")
    return settings


def _text(value: Any) -> bool:
    """A usable string: not blank, and no control character (a NUL in a path, a newline in
    a project name would fail far from the file that holds it)."""
    return isinstance(value, str) and bool(value.strip()) and value.isprintable()


def _flat(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``experiments.train = "T"`` in TOML is a nested table: back to 'experiments.train'."""
    out: list[tuple[str, Any]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            out += _flat(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


# -- state: what the UI remembers between runs -----------------------------------------------

def load_state() -> dict[str, Any]:
    try:
        found = json.loads(state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # unreadable, or nested past json's depth
        return {}
    return found if isinstance(found, dict) else {}


def save_state(**changes: Any) -> None:
    """Merge ``changes`` into the state file, atomically; a failure to write is ignored (the
    UI works the same, it only forgets)."""
    from mlcycle.store import safety

    state = load_state() | changes
    try:
        state_path().parent.mkdir(parents=True, exist_ok=True)
        safety.write_text(state_path(), json.dumps(state, indent=2, sort_keys=True))
    except OSError:
        pass


def chosen_theme(settings: Settings, state: dict[str, Any]) -> str:
    """The newest choice wins: the palette's pick, unless the config's theme was changed
    since it was picked."""
    picked = state.get("theme")
    if isinstance(picked, dict) and picked.get("over") == settings.theme and picked.get("name"):
        return str(picked["name"])
    return settings.theme


def remember_theme(settings: Settings, name: str) -> None:
    save_state(theme={"name": name, "over": settings.theme})


def last_place(state: dict[str, Any], workspace: Path) -> dict[str, str]:
    """The view and project last shown for ``workspace``."""
    places = state.get("places")
    found = places.get(str(workspace)) if isinstance(places, dict) else None
    return {k: v for k, v in (found or {}).items() if isinstance(v, str)}


def remember_place(workspace: Path, view: str, project: str | None) -> None:
    places = load_state().get("places")
    places = places if isinstance(places, dict) else {}
    places[str(workspace)] = {"view": view, **({"project": project} if project else {})}
    save_state(places=places)
