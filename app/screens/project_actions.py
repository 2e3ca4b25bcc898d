"""The projects view's actions: create a project (with its first data), edit a card, delete a
project, build the demo workspace. Each mirrors its CLI command (``project create``,
``project edit``, ``project delete``, ``demo``):
the same core calls and checks, asked through forms and run as jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlcycle.app.jobs import Job, Lead
from mlcycle.app.screens.form import CHOICE, FLOAT, PATH, TEXT, Field, FormScreen, refusal
from mlcycle.app.words import shape
from mlcycle.store.cancel import Cancelled
from mlcycle.store.errors import InvalidInput, MlcycleError

if TYPE_CHECKING:
    from mlcycle.app.screens.base import ViewScreen
    from mlcycle.projects.card import Project

DATA_HELP = "optional: a CSV, Parquet, JSON or NDJSON file, folder or glob"


class NewProject:
    """Create a project in two forms. The first asks for its name, task and the data to start
    with; the data's columns are read (off the UI thread, by the reader ``data add`` uses)
    so the second offers them as the target, with the metrics that fit the task."""

    def __init__(self, view: ViewScreen) -> None:
        self.view = view
        self.app = view.app

    def start(self, typed: dict[str, Any] | None = None) -> None:
        typed = typed or {}
        fields = [
            Field("name", "Name", required=True, default=typed.get("name"),
                  help="letters, digits, '_', '-' or '.'", placeholder="churn"),
            Field("data", "Data to start with", PATH, default=typed.get("data"),
                  help=DATA_HELP, placeholder="sample_data/churn_reference.csv"),
            Field("task", "Task", CHOICE, required=True, choices=("classification", "regression"),
                  default=typed.get("task") or "classification"),
        ]
        self.app.push_screen(
            FormScreen("New project (1 of 2)", fields, submit="Next", check=self._check_first),
            self._first_done)

    @staticmethod
    def _check_first(values: dict[str, Any]) -> str | None:
        from mlcycle import projects
        from mlcycle.data import sources

        return refusal(projects.validate_name, values["name"]) or (
            refusal(sources.resolve, values["data"]) if values["data"] else None)

    def _first_done(self, values: dict[str, Any] | None) -> None:
        if values is not None:
            self.app.run_worker(lambda: self._read(values), thread=True, exit_on_error=False,
                                group="new-project")

    def _read(self, first: dict[str, Any]) -> None:
        """In a worker: refuse a name already taken, and read the data's column names."""
        from mlcycle import projects
        from mlcycle.data import sources

        try:
            if first["name"] in {p.name for p in projects.list_all(self.app.workspace)}:
                raise InvalidInput(f"project {first['name']!r} already exists")
            columns: list[str] = []
            if first["data"]:
                con, rel = sources.read_table(first["data"])
                try:
                    columns = list(rel.columns)
                finally:
                    con.close()
        except MlcycleError as exc:
            # Back to the first form, as typed, with the reason.
            self.app.call_from_thread(self.app.notify, str(exc), severity="error",
                                      markup=False)
            self.app.call_from_thread(self.start, first)
            return
        self.app.call_from_thread(self._second, first, columns)

    def _second(self, first: dict[str, Any], columns: list[str]) -> None:
        from mlcycle.projects import metrics

        task = first["task"]
        target = (Field("target", "Target: the column to predict", CHOICE, required=True,
                        choices=columns) if columns else
                  Field("target", "Target: the column to predict", required=True,
                        help="the data added later must have it"))
        fields = [
            target,
            Field("metric", "Metric", CHOICE, required=True, choices=metrics.for_task(task),
                  default=metrics.DEFAULT_METRIC[task],
                  help=f"how {task} success is measured"),
            Field("goal", "Goal", FLOAT, help="the metric's success threshold; optional"),
            Field("description", "Description", help="the problem statement"),
            Field("kpi", "KPI", help="the business figure this model should move"),
        ]

        def check(values: dict[str, Any]) -> str | None:
            from mlcycle.projects import card

            return refusal(card.check_goal, values["goal"], values["metric"])

        self.app.push_screen(
            FormScreen(f"New project (2 of 2): {first['name']}, {task}", fields,
                       submit="Create", check=check),
            lambda second: self._create({**first, **second}) if second is not None else None)

    def _create(self, spec: dict[str, Any]) -> None:
        from mlcycle import projects
        from mlcycle.data import datasets

        ws, name, path = self.app.workspace, spec["name"], spec["data"]

        def work(job: Job) -> str:
            steps = 2 if path else 1
            job.progress(0, steps, f"creating project {name}")
            card = projects.create(ws, name, target=spec["target"], task=spec["task"],
                                   metric=spec["metric"], goal=spec["goal"],
                                   description=spec["description"], kpi=spec["kpi"])
            said = (f"created {card.name}: predict {card.target} ({card.task}), "
                    f"judged by {card.metric}")
            if not path:
                return said
            job.progress(1, steps, "adding data")
            try:
                added = datasets.add(ws, name, path, progress=job.say, cancel=job.cancel)
            except MlcycleError as exc:
                # The card is made; say so, or the user would try to create it again.
                kind = Cancelled if isinstance(exc, Cancelled) else InvalidInput
                raise kind(f"created {name}, but its data was not added: {exc}") from None
            v = added.version
            return f"{said}; data version {v.id}: {shape(v.n_rows, v.n_columns)}"

        def done(job: Job) -> str:
            self.app.project = name
            self.view.reload()
            return job.result

        self.view.start_job(f"create: {name}", work, done=done,
                            lead=Lead("projects", name, "open the project"))


def edit_card(view: ViewScreen, card: Project) -> None:
    """The card's editable fields (``project edit``), prefilled, with the target while it may
    still change; what the form offers is read, and the card saved, in workers."""
    from mlcycle import projects
    from mlcycle.data import datasets

    ws = view.app.workspace

    def read() -> None:
        fixed = projects.target_fixed(ws, card)
        columns = [] if fixed else datasets.project_columns(ws, card.name)
        view.app.call_from_thread(_edit_form, view, card, fixed, columns)

    view.app.run_worker(read, thread=True, exit_on_error=False, group="edit-card")


def _edit_form(view: ViewScreen, card: Project, fixed: str | None, columns: list[str]) -> None:
    from mlcycle import projects
    from mlcycle.projects import metrics

    stays = f"the target {card.target} and task {card.task} stay" if fixed else \
        f"the task {card.task} stays"
    fields = []
    if not fixed:
        fields.append(
            Field("target", "Target: the column to predict", CHOICE, required=True,
                  choices=columns, default=card.target) if card.target in columns else
            Field("target", "Target: the column to predict", required=True, default=card.target,
                  help=("columns: " + ", ".join(columns)) if columns else
                  "the data added later must have it"))
    fields += [
        Field("metric", "Metric", CHOICE, required=True, choices=metrics.for_task(card.task),
              default=card.metric, help=stays),
        Field("goal", "Goal", FLOAT, default=None if card.goal is None else f"{card.goal:g}",
              help="empty: no goal"),
        Field("description", "Description", TEXT, default=card.description),
        Field("kpi", "KPI", TEXT, default=card.kpi),
    ]

    def check(values: dict[str, Any]) -> str | None:
        from mlcycle.projects import card as cards

        return refusal(cards.check_goal, values["goal"], values["metric"])

    def save(values: dict[str, Any]) -> None:
        try:
            updated = projects.update(view.app.workspace, card.name, **values)
        except MlcycleError as exc:
            view.app.call_from_thread(view.notify, str(exc), severity="error", markup=False)
            return
        changed = [f for f in projects.EDITABLE if getattr(updated, f) != getattr(card, f)]
        said = f"updated {card.name}: {', '.join(changed)}" if changed else "card unchanged"
        view.app.call_from_thread(view.notify, said, markup=False)
        view.app.call_from_thread(view.reload)

    def submitted(values: dict[str, Any] | None) -> None:
        if values is not None:
            view.app.run_worker(lambda: save(values), thread=True, exit_on_error=False,
                                group="edit-card")

    view.app.push_screen(FormScreen(f"Edit the card of {card.name}", fields, submit="Save",
                                    check=check), submitted)


def delete_project(view: ViewScreen, card: Project) -> None:
    """``project delete``: what goes is read first and named in the confirmation; a project
    with registered model versions is deleted with them only once that is said too."""
    from mlcycle.projects import removal

    ws = view.app.workspace

    def read() -> None:
        try:
            what = removal.plan(ws, card.name)
        except MlcycleError as exc:
            view.app.call_from_thread(view.notify, str(exc), severity="error", markup=False)
            return
        view.app.call_from_thread(ask, what)

    def ask(what: removal.Removal) -> None:
        from mlcycle.app.screens.confirm import ConfirmScreen
        from mlcycle.app.words import removal_summary

        question = f"Delete project {card.name}: {removal_summary(what)}?"
        if what.model_versions:
            question += " Its registered model versions go too: nothing can serve them after."
        view.app.push_screen(ConfirmScreen(question, ask_reason=False),
                             lambda answer: answered(answer, what))

    def answered(answer: str | None, what: removal.Removal) -> None:
        if answer is None:
            return

        def work(job: Job) -> str:
            from mlcycle.app.words import removal_summary

            job.say(f"deleting project {card.name}")
            done = removal.delete(ws, card.name, force=bool(what.model_versions))
            return f"deleted project {card.name}: {removal_summary(done)}"

        def done(job: Job) -> str:
            view.reload()
            return job.result

        view.start_job(f"delete: {card.name}", work, done=done)

    view.app.run_worker(read, thread=True, exit_on_error=False, group="delete-project")


def build_demo(view: ViewScreen) -> None:
    """The demo workspace (``mlcycle demo``): the churn project and its reference data."""
    from mlcycle import demo

    ws = view.app.workspace

    def work(job: Job) -> str:
        job.say("defining the churn project and adding its reference data")
        return demo.build(ws, progress=job.say)

    def done(job: Job) -> str:
        view.app.project = job.result
        view.reload()
        return f"demo workspace ready: project {job.result} with its reference data"

    view.start_job("build: demo", work, done=done,
                   lead=Lead("projects", demo.PROJECT, "open the demo project"))
