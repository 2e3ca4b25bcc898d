"""The demo workspace: the customer-churn problem of ``sample_data/``, defined and collected."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from mlcycle import projects
from mlcycle.data import datasets
from mlcycle.models import registry, training
from mlcycle.monitor import monitoring
from mlcycle.monitor import policy as policies
from mlcycle.store.errors import NotFound
from mlcycle.store.workspace import Workspace

PROJECT = "churn"


def sample_dir() -> Path:
    """The sample data shipped inside the package (``sample_data/`` of a checkout).

    Read through importlib.resources, so the demo works from a wheel installed anywhere;
    a wheel is always unpacked on disk, so the traversable is a real folder.
    """
    return Path(str(resources.files("mlcycle.sample_data")))


def build(ws: Workspace, data_dir: Path | None = None, train: bool = False,
          progress: Callable[[str], None] | None = None) -> str:
    """Define the churn project and add its reference data; safe to run again.

    With ``train``, the first run also trains two quick models, makes the better one the
    champion, sets a quarterly retraining policy and checks the first three monthly batches
    with their labels (scored, and tested for drift: March's price rise shows; the third
    batch leaves a retraining decision pending), so every view has something to show.
    """
    say = progress or (lambda _msg: None)
    data_dir = data_dir or sample_dir()
    reference = data_dir / "churn_reference.csv"
    if not reference.exists():
        raise NotFound(f"{reference} is missing; run 'python sample_data/generate.py'")
    if PROJECT not in {p.name for p in projects.list_all(ws)}:
        projects.create(
            ws,
            PROJECT,
            target="churned",
            task="classification",
            metric="roc_auc",
            goal=0.80,
            description="Predict which subscribers cancel within the next month",
            kpi="Monthly churn rate, via retention offers to the customers most at risk",
        )
    datasets.add(ws, PROJECT, reference)
    if train and not registry.versions(ws, PROJECT):
        say("training a first model (first run only)")
        result = training.train(ws, training.TrainConfig(
            PROJECT, models=["logistic", "hist_gradient_boosting"], trials=2, cv=3))
        if result.registered_version:
            registry.promote(ws, PROJECT, str(result.registered_version),
                             reason="demo: best of the first training")
            # March's drift costs the model nothing measurable, so no alert asks to retrain;
            # a quarterly schedule does, as many teams' policies do: the loop has a decision
            # to show, raised for the reason it says.
            policies.store(ws, PROJECT, policies.parse("[retrain]\nevery_batches = 3\n"),
                           source="demo: retrain every quarter")
            for month in ("2026-01", "2026-02", "2026-03"):
                say(f"checking the {month} batch")
                monitoring.check(ws, PROJECT, data_dir / "batches" / f"{month}.csv",
                                 labels=data_dir / "labels" / f"{month}.csv")
    return PROJECT
