"""The monitoring view's forms: check a batch, watch a folder, retrain on new batches."""

from __future__ import annotations

from typing import Any

from mlcycle.app.screens.form import CHECK, INT, PATH, TEXT, Field, FormScreen
from mlcycle.app.words import plural

MODEL_HELP = "a version number or an alias (champion, challenger)"


def check_form(project: str) -> FormScreen:
    return FormScreen(f"Check a new batch for {project}: drift, scores, performance", [
        Field("file", "Batch file", PATH, required=True,
              help="new rows, with the model's input columns"),
        Field("labels", "Labels file", PATH,
              help="optional: the identifier and the target, to check performance too"),
        Field("ref", "Model", TEXT, default="champion", required=True, help=MODEL_HELP),
        Field("again", "check again a content checked before", CHECK, default=False),
    ], submit="Check")


def watch_form(project: str) -> FormScreen:
    return FormScreen(f"Watch a folder: check every batch that lands in it for {project}", [
        Field("folder", "Folder to watch", PATH, required=True,
              help="files that cannot be checked move to its rejected/ folder"),
        Field("labels", "Labels folder", PATH,
              help="optional: label files named like the batches they label"),
        Field("again", "check again contents checked before", CHECK, default=False),
    ], submit="Watch")


def split_paths(text: str | None) -> list[str]:
    """Several files in one field, separated by commas."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def retrain_form(project: str, batch: str = "", labels: str = "") -> FormScreen:
    def check(values: dict[str, Any]) -> str | None:
        batches, label_files = split_paths(values["batches"]), split_paths(values["labels"])
        if label_files and len(label_files) != len(batches):
            return (f"{plural(len(batches), 'batch')} but "
                    f"{plural(len(label_files), 'label file')}; give one labels file per "
                    "batch, in the same order, or none")
        if values["trials"] < 1:
            return "trials must be at least 1"
        return None

    return FormScreen(f"Retrain {project}'s champion on its data plus new labelled batches", [
        Field("batches", "Batches", PATH, default=batch, required=True,
              help="new rows; several: separate them with commas"),
        Field("labels", "Labels", PATH, default=labels,
              help="one per batch, in order; none when the batches hold the target"),
        Field("trials", "Trials", INT, default=10, required=True,
              help="parameter settings to try for the champion's model"),
        Field("promote", "make it champion if it beats the champion (else challenger)", CHECK,
              default=False),
    ], submit="Retrain", check=check)
