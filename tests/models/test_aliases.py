"""One alias per version: promoting moves an alias, 'alias clear' removes one, all audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcycle.models import registry
from mlcycle.store.workspace import Workspace
from tests.conftest import run_cli, run_json
from tests.deploy_fixtures import classification_workspace


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Project ``clf`` with three registered versions; version 1 is champion."""
    ws = classification_workspace(tmp_path_factory.mktemp("aliases"),
                                  ["logistic", "random_forest", "knn"], rows=200)
    registry.promote(ws, "clf", "1", reason="first")
    return ws


def _error(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert "unexpected" not in proc.stderr
    return proc.stderr.strip()


def _aliases(ws: Workspace) -> dict[int, list[str]]:
    return {v.version: v.aliases for v in registry.versions(ws, "clf")}


def test_promoting_the_challenger_to_champion_moves_its_alias(three: Workspace) -> None:
    root = three.root
    run_cli("promote", "clf", "2", "--alias", "challenger", "--reason", "try it",
            workspace=root, check=True)
    run_cli("promote", "clf", "2", "--reason", "it won", workspace=root, check=True)
    aliases = _aliases(three)
    assert aliases[2] == ["champion"] and aliases[1] == []
    trail = run_json("models", "clf", "--history", workspace=root)
    cleared, promoted = trail[-2], trail[-1]
    assert cleared["alias"] == "challenger" and cleared["action"] == "clear"
    assert cleared["version"] is None and cleared["previous"] == 2
    assert cleared["reason"] == "version 2 became champion: it won"
    assert promoted["alias"] == "champion" and promoted["version"] == 2
    assert "no model of project 'clf' has the alias 'challenger'" in _error(
        run_cli("rollback", "clf", "--alias", "challenger", workspace=root))
    # The champion can still go back to the version before it.
    run_cli("rollback", "clf", "--reason", "undo", workspace=root, check=True)
    assert _aliases(three)[1] == ["champion"] and _aliases(three)[2] == []


def test_the_champion_is_refused_a_second_alias(three: Workspace) -> None:
    champion = registry.get(three, "clf").version
    line = _error(run_cli("promote", "clf", str(champion), "--alias", "challenger",
                          "--reason", "both", workspace=three.root))
    assert line == (f"error: version {champion} is champion; a version holds one alias, and "
                    "the champion keeps it until another version is promoted to champion")
    assert _aliases(three)[champion] == ["champion"]


def test_alias_clear_takes_an_alias_off_its_version_and_records_why(three: Workspace) -> None:
    root = three.root
    run_cli("promote", "clf", "3", "--alias", "challenger", "--reason", "shadow it",
            workspace=root, check=True)
    out = run_json("alias", "clear", "clf", "challenger", "--reason", "enough shadowing",
                   workspace=root)
    assert out == {"project": "clf", "alias": "challenger", "cleared_from": 3}
    assert _aliases(three)[3] == []
    last = registry.history(three, "clf")[-1]
    assert (last["alias"], last["action"], last["version"], last["previous"], last["reason"]) == (
        "challenger", "clear", None, 3, "enough shadowing")
    shown = run_cli("models", "clf", "--history", workspace=root, check=True).stdout
    assert "clear" in shown and "enough shadowing" in shown

    assert "no model of project 'clf' has the alias 'challenger'" in _error(
        run_cli("alias", "clear", "clf", "challenger", "--reason", "again", workspace=root))
    assert "--reason" in _error(run_cli("alias", "clear", "clf", "champion", workspace=root))
    assert "not valid" in _error(run_cli("alias", "clear", "clf", "Bad Alias", "--reason", "x",
                                         workspace=root))


def test_alias_is_a_listed_command(tmp_path: Path) -> None:
    listed = run_cli("--help", check=True).stdout
    assert "alias " in listed and "Clear a model alias" in listed
    helped = run_cli("promote", "--help", check=True).stdout
    assert "one alias per version" in " ".join(helped.split())
