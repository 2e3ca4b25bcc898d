"""The deployment view's forms: export, verify, score a file, serve, compare in shadow, A/B
test.

Each form checks what it can before the job starts (an output path inside the workspace or
over an input, a folder that is not a bundle) with the engine's own guard, so a mistake is
one line under the fields and nothing runs; the engine checks again when the job runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlcycle.app.screens.form import CHECK, FLOAT, INT, PATH, TEXT, Field, FormScreen, refusal

MODEL_HELP = "a version number or an alias (champion, challenger)"


def _guarded(path: str, what: str, workspace: Path, inputs: list[str] | None = None
             ) -> str | None:
    """What is wrong with an output path, by the guard every output goes through."""
    from mlcycle.store import safety

    return refusal(lambda: safety.output_path(path, what, workspace=workspace,
                                              inputs=inputs or []))


def export_form(project: str, workspace: Path, ref: str = "champion") -> FormScreen:
    def check(values: dict[str, Any]) -> str | None:
        out = Path(values["out"])
        problem = _guarded(values["out"], "bundle folder", workspace)
        if problem:
            return problem
        if out.exists() and not out.is_dir():
            return f"{values['out']} is a file; give a folder for the bundle"
        if out.is_dir() and any(out.iterdir()) and not values["force"]:
            return f"{values['out']} is not empty; tick 'replace' to replace a bundle there"
        return None

    return FormScreen(f"Export {project} as a parity-checked ONNX bundle", [
        Field("ref", "Version", TEXT, default=ref, required=True, help=MODEL_HELP),
        Field("out", "Bundle folder", PATH, default=f"{project}-bundle", required=True,
              help="a new or empty folder, outside the workspace"),
        Field("force", "replace the bundle already in that folder", CHECK, default=False),
    ], submit="Export", check=check)


def verify_form(default: str = "") -> FormScreen:
    return FormScreen("Verify a bundle: its hashes, its smoke rows, its own server", [
        Field("folder", "Bundle folder", PATH, default=default, required=True),
        Field("server", "start its server.py too, with only numpy and onnxruntime", CHECK,
              default=True, help="its environment is installed once from the package index"),
    ], submit="Verify")


def score_form(project: str, workspace: Path) -> FormScreen:
    def check(values: dict[str, Any]) -> str | None:
        if not values["out"].lower().endswith((".csv", ".parquet")):
            return "the output must end in .csv or .parquet"
        return _guarded(values["out"], "output", workspace, [values["file"]])

    return FormScreen(f"Score a file with {project}", [
        Field("file", "File to score", PATH, required=True,
              help="CSV, Parquet, JSON or Excel, with the model's input columns"),
        Field("out", "Predictions file", PATH, required=True,
              help="where the predictions go: .csv or .parquet, outside the workspace"),
        Field("ref", "Model", TEXT, default="champion", required=True, help=MODEL_HELP),
        Field("shadow", "score the challenger alongside (shadow)", CHECK, default=True),
    ], submit="Score", check=check)


def serve_form(project: str) -> FormScreen:
    def check(values: dict[str, Any]) -> str | None:
        if not 0 <= values["port"] <= 65535:
            return "the port must be between 0 and 65535 (0: any free port)"
        return None

    return FormScreen(f"Serve {project} on this machine (loopback only)", [
        Field("ref", "Model", TEXT, default="champion", required=True,
              help="a version number, or an alias: the server follows its moves"),
        Field("port", "Port", INT, default=8080, required=True, help="0: any free port"),
        Field("shadow", "score the challenger alongside (shadow)", CHECK, default=True),
    ], submit="Serve", check=check)


def compare_form(project: str) -> FormScreen:
    return FormScreen(f"Champion against challenger on {project}'s shadowed rows", [
        Field("labels", "Labels file", PATH, required=True,
              help="the identifier and the target of rows scored in shadow"),
        Field("promote", "promote the challenger if it wins", CHECK, default=False),
    ], submit="Compare")


def abtest_form(project: str) -> FormScreen:
    return FormScreen(f"A/B test of {project}'s canary against its champion", [
        Field("labels", "Labels file", PATH, required=True,
              help="the identifier and the target of rows the canary's arms answered"),
        Field("mde", "Minimum detectable effect", FLOAT,
              help="needed once, when the test starts: the smallest difference in the "
                   "project metric worth detecting; it fixes the rows per arm"),
    ], submit="Test")
