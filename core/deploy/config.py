"""A project's deployment config (lifecycle stage 7): how ``mlcycle serve`` routes requests.

The config is TOML; every key is optional and takes the default below when left out::

    strategy = "shadow"        # shadow, canary or blue_green

    [canary]                   # the challenger answers a share of the rows
    key = ""                   # the request field whose value routes a row ("": the identifier)
    header = ""                # a request header that routes the whole request instead
    steps = [0.05, 0.1, 0.25, 0.5, 1.0]   # the shares 'mlcycle deploy step' raises it to
    min_requests = 100         # canary requests of a step before its limits are judged
    min_keys = 50              # ... and distinct routing keys (each key weighs once)
    max_error_rate = 0.02      # rolled back when its keys' mean share of failures passes this
    max_latency_p95 = 1.0      # ... when its 95th percentile latency passes this (seconds)
    max_psi = 0.25             # ... when its scores drift this far from the champion's (PSI)

    [blue_green]               # two slots, one live; 'mlcycle deploy switch' swaps them
    blue = "champion"          # a version number or an alias
    green = "challenger"

A row whose key is missing or null meets the champion. Every limit is judged over distinct
keys, each key counting once (mlcycle.deploy.canary_watch), so a few clients cannot roll the
canary back for everyone.

Stored configs are versioned like policies and recipes: 1, 2, … whenever the text changes.
A project without one follows the defaults (shadow), and says so.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.models import registry
from mlcycle.store import settings, versioned
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso

if TYPE_CHECKING:
    import duckdb

    from mlcycle.store.workspace import Workspace

SHADOW, CANARY, BLUE_GREEN = "shadow", "canary", "blue_green"
STRATEGIES = (SHADOW, CANARY, BLUE_GREEN)


@dataclass(frozen=True)
class Canary:
    key: str = ""
    header: str = ""
    steps: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)
    min_requests: int = 100
    min_keys: int = 50
    max_error_rate: float = 0.02
    max_latency_p95: float = 1.0
    max_psi: float = 0.25


@dataclass(frozen=True)
class BlueGreen:
    blue: str = "champion"
    green: str = "challenger"


@dataclass(frozen=True)
class Config:
    strategy: str = SHADOW
    canary: Canary = field(default_factory=Canary)
    blue_green: BlueGreen = field(default_factory=BlueGreen)
    explicit: frozenset[str] = frozenset()  # the keys the text set; the others are defaults
    version: int | None = None  # None: no config stored, the defaults
    text: str | None = None
    source: str | None = None
    created_at: datetime | None = None

    @property
    def is_default(self) -> bool:
        return self.version is None

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {"strategy": self.strategy}
        for section in _SECTIONS:
            part = getattr(self, section)
            out[section] = {f.name: (list(v) if isinstance(v := getattr(part, f.name), tuple)
                                     else v) for f in fields(part)}
        return out

    def to_dict(self) -> dict[str, Any]:
        keys = ["strategy", *(f"{s}.{f.name}" for s in _SECTIONS
                              for f in fields(getattr(self, s)))]
        return {"version": self.version, "default": self.is_default, "source": self.source,
                "created_at": iso(self.created_at) if self.created_at else None,
                "config": self.values(),
                "defaults": [k for k in keys if k not in self.explicit]}


DEFAULT = Config()
_SECTIONS = ("canary", "blue_green")


def _steps(value: Any) -> tuple[float, ...]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ValueError("must be a list of shares, e.g. [0.05, 0.25, 1.0]")
    if any(not 0 < v <= 1 for v in value) or any(b <= a for a, b in itertools.pairwise(value)):
        raise ValueError("must rise, each share above 0 and at most 1")
    return tuple(float(v) for v in value)


# A header name is an HTTP token (RFC 9110): a CR or LF in it would split the header.
_HEADER = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")
_VERSION = re.compile(r"v?[0-9]{1,9}")


def _key(value: Any) -> str:
    if (not isinstance(value, str) or len(value) > 256
            or any(not c.isprintable() for c in value)):
        raise ValueError("must be a column name of up to 256 printable characters, or \"\" "
                         f"for the identifier (got {settings.shown(value)})")
    return value


def _header(value: Any) -> str:
    if not isinstance(value, str) or (value and not _HEADER.fullmatch(value)):
        raise ValueError("must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~, "
                         f"up to 64) or \"\" for none (got {settings.shown(value)})")
    return value


def _ref(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 10**9:
        return str(value)
    if not isinstance(value, str) or not (_VERSION.fullmatch(value)
                                          or registry.ALIAS.fullmatch(value)):
        raise ValueError("must be a version number or an alias (lower-case letters, digits, "
                         f"_ and -, up to 32) (got {settings.shown(value)})")
    return value


_SPEC: settings.Spec = {
    "": {"strategy": settings.choice(STRATEGIES)},
    "canary": {"key": _key, "header": _header, "steps": _steps,
               "min_requests": settings.number(1, 10_000_000, integer=True),
               "min_keys": settings.number(1, 10_000_000, integer=True),
               "max_error_rate": settings.number(0, 1),
               "max_latency_p95": settings.number(0.001, 3600),
               "max_psi": settings.number(0, 10)},
    "blue_green": {"blue": _ref, "green": _ref},
}

_HELP = {
    "strategy": "shadow: the champion answers, the challenger is recorded; canary; blue_green",
    "canary.key": "request field whose value routes a row, sticky (\"\": the identifier)",
    "canary.header": "request header that routes the whole request instead (\"\": none)",
    "canary.steps": "the shares 'mlcycle deploy step' raises the canary to, in turn",
    "canary.min_requests": "canary requests of a step before its limits are judged",
    "canary.min_keys": "distinct routing keys of a step before its limits are judged",
    "canary.max_error_rate": "rolled back when its keys' mean share of failed requests "
                             "passes this (each key weighs once)",
    "canary.max_latency_p95": "rolled back when its 95th percentile latency passes this (s)",
    "canary.max_psi": "rolled back when its scores drift this far from the champion's (PSI)",
    "blue_green.blue": "the blue slot: a version number or an alias",
    "blue_green.green": "the green slot: a version number or an alias",
}


def parse(text: str, source: str = "deployment config") -> Config:
    """Read a config from TOML text; raises InvalidInput (one line naming the key and line)."""
    top, sections, explicit = settings.read(text, source, _SPEC, "a deployment config")
    return Config(strategy=top.get("strategy", DEFAULT.strategy),
                  canary=replace(DEFAULT.canary, **sections["canary"]),
                  blue_green=replace(DEFAULT.blue_green, **sections["blue_green"]),
                  explicit=explicit, text=text, source=source)


STORE_HINT = "Store an edited copy with 'mlcycle deploy set PROJECT FILE.toml'."


def render(config: Config, project: str, hint: str = STORE_HINT) -> str:
    """The config as TOML with every key, defaults marked: a file ``parse`` reads back."""
    head = (f"# Deployment config of {project}, version {config.version}" if config.version
            else f"# Deployment config of {project}: the defaults (no config stored)")
    lines = [head, f"# {hint}", ""]

    def line(key: str, name: str, value: Any) -> str:
        mark = "" if key in config.explicit else " (default)"
        span = settings.span_of(_SPEC, key)
        return f"{name} = {settings.toml_value(value)}  # {_HELP[key]}{span}{mark}"

    lines.append(line("strategy", "strategy", config.strategy))
    for section in _SECTIONS:
        part = getattr(config, section)
        lines += ["", f"[{section}]"]
        lines += [line(f"{section}.{f.name}", f.name, getattr(part, f.name))
                  for f in fields(part)]
    return "\n".join(lines) + "\n"


# -- stored versions ----------------------------------------------------------------------

VERSIONS = versioned.Versions("deploy_configs", "deployment config", "deploy.config_saved")


def _stored(row: tuple[Any, ...]) -> Config:
    version, text, source, created_at = row
    return replace(parse(text, f"deployment config v{version}"), version=int(version),
                   source=source, created_at=created_at)


def current_with(con: duckdb.DuckDBPyConnection, project: str) -> Config:
    """The newest stored config, else the defaults; on an open connection."""
    row = VERSIONS.newest(con, project)
    return _stored(row) if row else DEFAULT


def current(ws: Workspace, project: str) -> Config:
    projects.get(ws, project)
    with ws.read() as con:
        return current_with(con, project)


def get(ws: Workspace, project: str, ref: str = "latest") -> Config:
    """``latest`` (the defaults when none is stored) or a version number (``2``, ``v2``)."""
    if ref == "latest":
        return current(ws, project)
    return _stored(VERSIONS.find(ws, project, ref))


def check(ws: Workspace, project: str, config: Config) -> None:
    """Refuse a config naming what the project does not have: blue/green slots that are no
    registered version or alias, a canary key that is no column of the project's data.
    Checked when a config is stored, so that 'serve' and 'deploy switch' do not fail later."""
    where = config.source or "deployment config"
    bg = config.blue_green
    if config.strategy == BLUE_GREEN or config.explicit & {"blue_green.blue", "blue_green.green"}:
        for slot, ref in (("blue", bg.blue), ("green", bg.green)):
            try:
                registry.get(ws, project, ref)
            except NotFound as exc:
                raise InvalidInput(f"{where}: [blue_green] {slot} = {json.dumps(ref)}: {exc}; "
                                   "name a registered version or alias") from None
    key = config.canary.key
    if key:
        columns = datasets.project_columns(ws, project)
        if key not in columns:
            shown = ", ".join(map(json.dumps, columns[:12])) + (" …" if len(columns) > 12 else "")
            raise InvalidInput(f"{where}: [canary] key = {json.dumps(key)} is no column of "
                               f"project {project!r}'s data (columns: {shown or 'none yet'})")


def store(ws: Workspace, project: str, config: Config, source: str | None = None
          ) -> tuple[Config, bool]:
    """Store a parsed config as the newest version unless its text is already the newest;
    the stored config and whether it is new. A running server follows it within a second."""
    projects.get(ws, project)
    if config.text is None:
        raise InvalidInput("only a config read from text can be stored")
    check(ws, project, config)
    number, created = VERSIONS.store(ws, project, config.text, source, config.values())
    return get(ws, project, str(number)), created
