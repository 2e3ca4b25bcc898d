"""A dataset version with its personal data hashed, generalised or dropped, as a new version.

Each column the privacy scan flagged gets a default (identifiers hashed, dates of birth cut to
the year, IP addresses to their network, free text dropped); ``--hash``, ``--generalise`` and
``--drop`` choose per column, flagged or not. The new version's lineage records what was done
to each column and the id of the key used, never the key.

Hashing is salted with a per-workspace secret key kept *outside* the workspace: emails, phone
numbers and card numbers are few enough to be guessed and hashed one by one, so a hash only
protects them from someone who does not hold the key. A copy of the workspace, or of a
dataset file, carries no key. The key file is ``$MLCYCLE_KEY_FILE`` when set (the way to
share one key between machines, or to keep it on another disk), else
``$XDG_CONFIG_HOME/mlcycle/keys/<workspace>.key`` (``~/.config`` by default), one per
workspace path, created on first use with owner-only permissions. The same key gives the
same hashes, so redacted versions still join on a hashed column.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcycle.data import columns, datasets, privacy
from mlcycle.store import events, safety
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.masking import LABELS
from mlcycle.store.schema import utcnow
from mlcycle.store.sql import ident, memory_connection
from mlcycle.store.workspace import Workspace

ACTIONS = ("hash", "generalise", "drop")
DEFAULTS = {"email": "hash", "phone": "hash", "card_number": "hash", "iban": "hash",
            "national_id": "hash", "person_name": "hash", "ip_address": "generalise",
            "date_of_birth": "generalise", "free_text": "drop"}
HASH_CHARS = 32  # 128 bits of SHA-256: no collision in any table that fits on a disk
# What generalising keeps of a value, by kind.
GENERALISED = {"date_of_birth": "the year", "ip_address": "the network (/24, IPv6 /48)",
               "email": "the domain"}
KEY_ENV = "MLCYCLE_KEY_FILE"


@dataclass
class RedactResult:
    version: datasets.DatasetVersion
    input_id: str
    columns: dict[str, dict[str, Any]]
    stored: bool
    key_file: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version.to_dict(), "input": self.input_id,
                "columns": self.columns, "stored": self.stored, "key_file": self.key_file}


def key_path(ws: Workspace) -> Path:
    """Where the workspace's hashing key lives (see the module's docstring)."""
    given = os.environ.get(KEY_ENV)
    if given:
        path = Path(given).expanduser().resolve()
    else:
        config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        name = hashlib.sha256(str(ws.root.resolve()).encode()).hexdigest()[:16]
        path = (config / "mlcycle" / "keys" / f"{name}.key").resolve()
    if path.is_relative_to(ws.root.resolve()):
        raise InvalidInput(f"{KEY_ENV} {path} is inside the workspace; the key must be kept "
                           "apart from the data it protects")
    return path


def _key(ws: Workspace) -> tuple[str, Path]:
    """The workspace's key, created on first use (owner-only file, owner-only folder)."""
    path = key_path(ws)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_name(safety.temp_name(suffix=".key"))
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temp, path)  # never replaces a key another process just made
        finally:
            temp.unlink(missing_ok=True)
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise InvalidInput(f"cannot read the hashing key {path}: {exc.strerror}") from None
    if len(key) < 32:
        raise InvalidInput(f"the hashing key {path} is too short; restore it, or point "
                           f"{KEY_ENV} at the right file")
    return key, path


def plan(dictionary: list[dict[str, Any]], target: str, hash_: tuple[str, ...] = (),
         generalise: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> dict[str, dict]:
    """Column -> {action, kind}: the flagged columns' defaults, overridden by the choices."""
    known = {c["name"]: c for c in dictionary}
    chosen: dict[str, str] = {}
    for action, names in (("hash", hash_), ("generalise", generalise), ("drop", drop)):
        for name in names:
            if name not in known:
                raise NotFound(f"no column {name!r} in this version")
            if name in chosen and chosen[name] != action:
                raise InvalidInput(f"{name!r} is both --{chosen[name]} and --{action}; "
                                   "choose one")
            if name == target:
                raise InvalidInput(f"{name!r} is the project's target; it cannot be redacted")
            chosen[name] = action
    out = {}
    for name, col in known.items():
        kind = col["sensitive"]
        action = chosen.get(name) or (DEFAULTS[kind] if kind and name != target else None)
        if action is None:
            continue
        if action == "generalise":
            _generalise_sql(kind, col["dtype"], name)  # refuses what has no generalisation
        out[name] = {"action": action, "kind": kind}
    if not out:
        raise InvalidInput("this version holds no column found to hold personal data; name "
                           "columns with --hash, --generalise or --drop")
    return out


def _generalise_sql(kind: str | None, dtype: str, name: str) -> str:
    col = ident(name)
    if kind == "date_of_birth" or (kind is None and columns.storage_type(dtype) == "datetime"):
        return f"year({privacy.as_timestamp(f'{col}::VARCHAR')})::INTEGER"
    if kind == "ip_address":
        v = f"lower(trim({col}::VARCHAR))"
        return (f"CASE WHEN contains({v}, ':') THEN array_to_string(string_split("
                f"split_part({v}, '::', 1), ':')[1:3], ':') || '::/48' "
                f"ELSE regexp_replace({v}, '\\.[0-9]+$', '') || '.0/24' END")
    if kind == "email":
        return f"'@' || lower(split_part(trim({col}::VARCHAR), '@', 2))"
    what = LABELS.get(kind or "", "this column")
    raise InvalidInput(f"{name!r} ({what}) has no generalisation; use --hash or --drop "
                       "(dates of birth, IP addresses and emails can be generalised)")


def _hash_sql(kind: str | None, name: str) -> str:
    value = f"trim({ident(name)}::VARCHAR)"
    if kind == "email":  # one address, however it was typed
        value = f"lower({value})"
    return f"sha256(concat($key, {value}))[1:{HASH_CHARS}]"


def redact(ws: Workspace, project: str, ref: str = "latest", *, hash_: tuple[str, ...] = (),
           generalise: tuple[str, ...] = (), drop: tuple[str, ...] = (),
           progress: datasets.Progress | None = None) -> RedactResult:
    """Store the redacted copy of version ``ref`` as a new version (or find it stored)."""
    from mlcycle import projects

    say = progress or (lambda _msg: None)
    proj = projects.get(ws, project)
    source = datasets.get(ws, project, ref)
    dictionary = datasets.dictionary(ws, project, source.id)
    chosen = plan(dictionary, proj.target, hash_, generalise, drop)
    hashing = any(p["action"] == "hash" for p in chosen.values())
    key, path = _key(ws) if hashing else ("", None)
    key_id = hashlib.sha256(f"mlcycle-key-id\0{key}".encode()).hexdigest()[:12] if key else None
    for p in chosen.values():
        p["how"] = ("salted SHA-256" if p["action"] == "hash" else "column removed"
                    if p["action"] == "drop" else
                    f"kept {GENERALISED.get(p['kind'] or '', 'the year')}")
    blob = json.dumps({"input": source.id, "plan": chosen, "key": key_id}, sort_keys=True)
    out_id = hashlib.blake2b(f"mlcycle-redact\0{blob}".encode(),
                             digest_size=20).hexdigest()[:datasets.ID_LENGTH]
    result_cols = {n: dict(p) for n, p in chosen.items()}
    try:
        existing = datasets.get(ws, project, out_id)
        return RedactResult(existing, source.id, result_cols, False, str(path) if path else None)
    except NotFound:
        pass

    selects = []
    for col in dictionary:
        name, p = col["name"], chosen.get(col["name"])
        if p is None:
            selects.append(ident(name))
        elif p["action"] == "hash":
            selects.append(f"CASE WHEN {ident(name)} IS NULL THEN NULL ELSE "
                           f"{_hash_sql(p['kind'], name)} END AS {ident(name)}")
        elif p["action"] == "generalise":
            selects.append(f"{_generalise_sql(p['kind'], col['dtype'], name)} AS {ident(name)}")
    if not selects:
        raise InvalidInput("dropping every column leaves nothing to store")
    detail = {"columns": result_cols, "key_id": key_id}

    def register(con: Any) -> None:
        con.execute("INSERT INTO dataset_lineage VALUES (?, 'redact', ?, NULL, ?, ?) "
                    "ON CONFLICT DO NOTHING", [out_id, source.id, json.dumps(detail), utcnow()])
        events.record(con, "data.redacted", project=project, subject=out_id,
                      detail={"input": source.id, "columns": {n: p["action"]
                                                              for n, p in chosen.items()}})

    temp = ws.temp_path(".parquet")
    try:
        say("redacting")
        with memory_connection() as mem:
            data = str(datasets.data_path(ws, source))
            mem.sql(
                f"SELECT {', '.join(selects)} FROM read_parquet($data)",  # noqa: S608
                params={"data": data, **({"key": key} if hashing else {})},
            ).to_parquet(str(temp), compression="zstd")
        version = datasets.register_parquet(
            ws, project, temp, version_id=out_id, digest=out_id, source_format="redact",
            source_label=f"{source.id} redacted", progress=say, in_transaction=register)
    finally:
        temp.unlink(missing_ok=True)
    return RedactResult(version, source.id, result_cols, True, str(path) if path else None)
