"""The one TOML reader: Python 3.10's fallback to tomli, the nesting bound, and the UI's
config.toml read through it."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from mlcycle.store import tomlfile
from mlcycle.store.errors import InvalidInput
from tests.conftest import MLCYCLE, ROOT, run_cli

REAL = tomlfile.parser()  # tomllib here, tomli on Python 3.10


def _fake_tomli(calls: list[str]) -> ModuleType:
    """A module named tomli that records what it was asked to read (tomli's API is
    tomllib's)."""
    fake = ModuleType("tomli")

    def loads(text: str) -> dict:
        calls.append(text)
        return REAL.loads(text)

    fake.loads = loads  # type: ignore[attr-defined]
    fake.TOMLDecodeError = REAL.TOMLDecodeError  # type: ignore[attr-defined]
    return fake


def test_without_tomllib_the_reader_falls_back_to_tomli(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    calls: list[str] = []
    monkeypatch.setitem(sys.modules, "tomllib", None)  # as on Python 3.10: no such module
    monkeypatch.setitem(sys.modules, "tomli", _fake_tomli(calls))
    reloaded = importlib.reload(tomlfile)
    assert reloaded.parser().__name__ == "tomli"
    assert reloaded.loads('a = [1, { b = "x" }]\n', "t.toml") == {"a": [1, {"b": "x"}]}
    assert calls == ['a = [1, { b = "x" }]\n']
    with pytest.raises(InvalidInput, match=r"^t.toml: TOML syntax error: "):
        reloaded.loads("a = [\n", "t.toml")
    # Every settings file goes through it: the policy reader and the UI's config.toml.
    from mlcycle.app import settings
    from mlcycle.monitor import policy

    assert policy.parse('mode = "off"\n').mode == "off"
    assert calls[-1] == 'mode = "off"\n'
    config = tmp_path / "config.toml"
    config.write_text('theme = "nord"\n', encoding="utf-8")
    assert settings.load(config).theme == "nord" and calls[-1] == 'theme = "nord"\n'


def test_without_tomllib_or_tomli_the_refusal_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tomllib", None)
    monkeypatch.setitem(sys.modules, "tomli", None)
    with pytest.raises(InvalidInput, match="install tomli"):
        tomlfile.loads("a = 1\n", "t.toml")


def test_a_command_without_a_workspace_runs_where_only_tomli_exists(tmp_path: Path) -> None:
    """Python 3.10: no tomllib. The parser found first stands in as tomli."""
    script = ("import sys\ntry:\n    import tomllib as real\nexcept ImportError:\n"
              "    import tomli as real\nsys.modules['tomli'] = real\n"
              "sys.modules['tomllib'] = None\nsys.argv[0] = 'mlcycle'\n"
              "from mlcycle.app.cli import main; main()")
    config = tmp_path / "config" / "mlcycle" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('refresh_interval = 3\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "MLCYCLE_WORKSPACE"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    python = MLCYCLE[:-2]  # the interpreter and its flags, without '-m mlcycle'
    proc = subprocess.run([*python, "-c", script, "config", "show", "--json"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["refresh_interval"] == 3.0


@pytest.mark.parametrize(("text", "problem"), [
    ("refresh_interval = inf\n", "refresh_interval must be a number of seconds from 0.2 to 3600"),
    ("refresh_interval = nan\n", "refresh_interval must be a number of seconds from 0.2 to 3600"),
    ('workspace = "runs\\u0000x"\n', "workspace must be a non-empty string of printable"),
    ("[keys]\n" + ".".join(["a"] * 5000) + ' = "x"\n', "nesting deeper than 100 levels"),
    ("theme = " + "[" * 3000 + "]" * 3000 + "\n", "nesting deeper than 100 levels"),
])
def test_config_show_names_each_hostile_setting_and_keeps_its_default(
        tmp_path: Path, text: str, problem: str) -> None:
    config = tmp_path / "mlcycle" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(text, encoding="utf-8")
    proc = run_cli("config", "show", "--json", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["refresh_interval"] == 2.0 and found["workspace"] is None
    assert len(found["problems"]) == 1 and problem in found["problems"][0], found["problems"]
    assert "\n" not in found["problems"][0]


def test_brackets_in_strings_and_comments_are_not_nesting() -> None:
    text = ('a = "[[[[" # {{{{\nb = \'\'\'\n[[[[\n\'\'\'\nc = """\n{{{{\\"""\n"""\n'
            "[s . \"x.y\" . t]\nv = [1.5, [2]]\n")
    assert tomlfile.depth(text) == 3  # [s . "x.y" . t]: one bracket and two dots
    assert tomlfile.loads(text, "t")["s"]["x.y"]["t"]["v"] == [1.5, [2]]
