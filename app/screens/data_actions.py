"""The data view's actions: add data, collect a source, set a column's role and description,
apply the recipe. Each mirrors its CLI command (``data add``, ``source add`` + ``collect``,
``data role``/``data describe``, ``prep``): the same core calls and checks, asked through
forms; the long ones run as jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlcycle.app.jobs import Job, Lead
from mlcycle.app.screens.form import CHECK, CHOICE, PATH, TEXT, Field, FormScreen, refusal
from mlcycle.app.words import plural, shape, tally

if TYPE_CHECKING:
    from mlcycle.app.screens.base import ViewScreen

# The roles a user may give (the target's is set on the project): what ``data role`` takes.
USER_ROLES = ("feature", "identifier", "ignored")


def add_data(view: ViewScreen, project: str, opened: Callable[[str], None]) -> None:
    """Ask for a file, folder or glob and store it as a version (``data add``), as a job;
    ``opened(version_id)`` shows the version once it is stored."""
    from mlcycle.data import datasets, sources

    def check(values: dict[str, Any]) -> str | None:
        # Only that something readable is there: reading it is the job's.
        return refusal(sources.resolve, values["path"])

    def start(values: dict[str, Any] | None) -> None:
        if values is None:
            return
        ws, path = view.app.workspace, values["path"]

        def work(job: Job) -> datasets.AddResult:
            return datasets.add(ws, project, path, progress=job.say, cancel=job.cancel)

        def done(job: Job) -> str:
            v = job.result.version
            opened(v.id)
            if not job.result.stored:
                return f"already stored as version {v.id}; nothing new written"
            return f"stored version {v.id}: {shape(v.n_rows, v.n_columns)}"

        view.start_job(f"add data: {project}", work, done=done,
                       lead=Lead("data", project, "open the data view"))

    fields = [Field("path", "File, folder or glob", PATH, required=True,
                    help="CSV, Parquet, JSON or NDJSON; a folder or glob is read as one table",
                    placeholder="data/*.csv")]
    view.app.push_screen(FormScreen(f"Add data to {project}", fields, submit="Add",
                                    check=check), start)


def collect_source(view: ViewScreen, project: str, sources: list[str],
                   opened: Callable[[str], None]) -> None:
    """Define a source (``source add``) when a URI is given, then collect it (``collect``)
    as a job whose rows are the changes found; ``opened(version_id)`` shows the version."""
    from mlcycle import collect

    fields = [
        Field("name", "Source", TEXT, required=True, default=sources[0] if sources else None,
              help=("stored: " + ", ".join(sources) if sources else "a new source's name")),
        Field("uri", "URI", TEXT, placeholder="sqlite:///path/shop.db",
              help="empty: collect the stored source; a path, sqlite://, duckdb://, "
                   "postgresql:// (password from PGPASSWORD or ~/.pgpass)"),
        Field("query", "Query", TEXT, placeholder="SELECT * FROM orders"),
        Field("incremental", "Incremental column", TEXT,
              help="collect only rows past the last value of this column"),
        Field("strict", "Strict", CHECK, help="write nothing if the source broke"),
    ]

    def check(values: dict[str, Any]) -> str | None:
        if values["uri"] is None and values["name"] not in sources:
            return f"no source {values['name']!r} is stored yet: give its URI"
        return None

    def start(values: dict[str, Any] | None) -> None:
        if values is None:
            return
        ws, name = view.app.workspace, values["name"]

        def work(job: Job) -> collect.CollectResult:
            if values["uri"] is not None:
                collect.add(ws, project, name, values["uri"], values["query"],
                            values["incremental"])
            try:
                result = collect.collect(ws, project, name, strict=values["strict"],
                                         progress=job.say, cancel=job.cancel)
            except collect.SourceBroke as exc:
                show_changes(job, exc.result)
                raise
            show_changes(job, result)
            return result

        def done(job: Job) -> str:
            result = job.result
            opened(result.version.id)
            state = "stored" if result.stored else "unchanged"
            broke = "; BREAKING changes (see the rows)" if result.breaking else ""
            return (f"source {name}: {plural(result.rows_read, 'row')} read → version "
                    f"{result.version.id} ({state}){broke}")

        view.start_job(f"collect: {project} {name}", work, done=done,
                       lead=Lead("data", project, "open the collected version"),
                       columns=("", "change", "what"))

    view.app.push_screen(FormScreen(f"Collect a source into {project}", fields,
                                    submit="Collect", check=check), start)


def show_changes(job: Job, result: Any) -> None:
    """Each change against the previous collection, as a row of the job's table (first,
    how the collection began when its last version was purged)."""
    if result.note:
        job.add_row("·", "purged", result.note)
    for change in result.changes:
        job.add_row("✗" if change.breaking else "·", change.kind, change.message)


def edit_column(view: ViewScreen, project: str, entry: dict[str, Any]) -> None:
    """A column's role and description (``data role``, ``data describe``), prefilled; what
    changed is saved in a worker."""
    from mlcycle.data import datasets

    name = entry["name"]
    is_target = entry["role"] == "target"
    fields = [] if is_target else [
        Field("role", "Role", CHOICE, required=True, choices=USER_ROLES,
              default=entry["role"] if entry["role"] in USER_ROLES else "feature",
              help="identifiers and ignored columns are not trained on"),
    ]
    fields.append(Field("description", "Description", TEXT, default=entry["description"],
                        help="the data dictionary keeps it across versions"))

    def save(values: dict[str, Any]) -> None:
        ws, said = view.app.workspace, []
        role = values.get("role")
        if role and role != entry["role"]:
            datasets.set_role(ws, project, name, role)
            said.append(f"{name} is now {role}")
        text = values["description"] or ""
        if text != (entry["description"] or ""):
            datasets.describe_column(ws, project, name, text)
            said.append(f"described {name}")
        view.app.call_from_thread(view.notify, "; ".join(said) or f"{name} unchanged",
                                  markup=False)
        view.app.call_from_thread(view.reload)

    def submitted(values: dict[str, Any] | None) -> None:
        if values is not None:
            # On the view: a refusal (personal data without an opt-in) is its notice.
            view.run_worker(lambda: save(values), thread=True, exit_on_error=False,
                            group="edit-column")

    title = f"Column {name} of {project}" + (" (the target)" if is_target else "")
    view.app.push_screen(FormScreen(title, fields, submit="Save"), submitted)


def apply_recipe(view: ViewScreen, project: str, versions: list[str],
                 stored_version: int | None, opened: Callable[[str], None]) -> None:
    """Apply the recipe (``prep``): the stored one (``stored_version``) or a file, to one of
    ``versions``, as a job whose rows are the expectations checked and whose outcome says how
    they fared; ``opened(version_id)`` shows the prepared version."""
    from mlcycle import prep

    fields = [
        Field("recipe", "Recipe file", PATH,
              help=(f"empty: the stored recipe v{stored_version}; a file is stored as "
                    "the newest" if stored_version else
                    "no recipe stored yet: name a file, or write one with r")),
        Field("data", "Dataset version", CHOICE, choices=versions,
              help="empty: the newest collected version"),
        Field("strict", "Strict", CHECK, help="write nothing if an expectation fails"),
    ]

    def start(values: dict[str, Any] | None) -> None:
        if values is None:
            return
        from mlcycle.app.commands.prep import read_recipe

        ws = view.app.workspace

        def work(job: Job) -> prep.PrepResult:
            recipe = read_recipe(values["recipe"]) if values["recipe"] else None
            try:
                result = prep.run(ws, project, recipe=recipe, recipe_source=values["recipe"],
                                  data=values["data"], strict=values["strict"],
                                  progress=job.say)
            except prep.ExpectationsFailed as exc:
                show_outcomes(job, exc.result)
                raise
            show_outcomes(job, result)
            return result

        def done(job: Job) -> str:
            result = job.result
            opened(result.output_id)
            made = (f"prepared version {result.output_id} from {result.input.id}: "
                    f"{result.rows_in:,} → {plural(result.rows_out, 'row')}" if result.stored else
                    f"already prepared as version {result.output_id}; nothing new written")
            return f"{made}; {expectations_summary(result.outcomes)}"

        view.start_job(f"apply recipe: {project}", work, done=done,
                       lead=Lead("data", project, "open the prepared version"),
                       columns=("", "side", "expectation", "found"))

    view.app.push_screen(FormScreen(f"Apply the recipe of {project}", fields, submit="Apply"),
                         start)


def show_outcomes(job: Job, result: Any) -> None:
    """Each expectation checked, as a row of the job's table."""
    for o in result.outcomes:
        job.add_row("✓" if o.ok else "✗", o.side, o.expectation.describe(), o.message)


def expectations_summary(outcomes: list[Any]) -> str:
    if not outcomes:
        return "no expectations declared"
    bad = sum(1 for o in outcomes if not o.ok)
    return tally(bad, len(outcomes), "expectation", "failed", "met")
