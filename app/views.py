"""The views of the terminal UI, in lifecycle order.

A new stage's screen is one entry here and one module under ``app/screens``: the app builds its
modes, key bindings, help text and command-palette entries from this list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class View:
    name: str  # mode name, also typed after ':' in the palette
    key: str  # the binding that switches to it
    title: str
    screen: str  # "module:Class", imported when first shown
    about: str


VIEWS: list[View] = [
    View(
        "projects",
        "1",
        "Projects",
        "mlcycle.app.screens.projects:ProjectsScreen",
        "each project's card and the lifecycle stages it has reached",
    ),
    View(
        "data",
        "2",
        "Data",
        "mlcycle.app.screens.data:DataScreen",
        "dataset versions, the data dictionary, quality report and column charts",
    ),
    View(
        "experiments",
        "3",
        "Experiments",
        "mlcycle.app.screens.experiments:ExperimentsScreen",
        "tracked runs: sort, filter, compare two, metric charts",
    ),
    View(
        "models",
        "4",
        "Models",
        "mlcycle.app.screens.models:ModelsScreen",
        "registered versions, aliases, model cards; promote and roll back",
    ),
    View(
        "deploy",
        "5",
        "Deploy",
        "mlcycle.app.screens.deploy:DeployScreen",
        "ONNX exports with parity, what serves, shadow comparison, scoring runs",
    ),
    View(
        "monitor",
        "6",
        "Monitor",
        "mlcycle.app.screens.monitor:MonitorScreen",
        "checks of new batches: drift, performance, alerts; retraining",
    ),
]
