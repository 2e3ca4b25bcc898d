"""One page of a project's runs, sorted and filtered in DuckDB.

A project may hold 100,000 runs: the Experiments view, ``mlcycle runs`` and
``mlcycle.search_runs`` never load them all. Sorting, filtering, counting and marking the
best run of each training session happen in one SQL query over the runs table and each
run's latest metrics (``run_latest_metrics``); only the page's rows come back, and only
they get their params, metrics and tags filled in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlcycle import projects
from mlcycle.models.tracking import RunRecord, fill, refresh
from mlcycle.store.errors import InvalidInput
from mlcycle.store.workspace import Workspace

OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
ATTRIBUTES = {"status": "status", "kind": "kind", "name": "name", "group": "group_id",
              "id": "id"}
# A parameter as text, as Python's str() spells what it holds: JSON strings unquoted,
# booleans True/False; runs logged before parameters were JSON hold plain text.
_PARAM_TEXT = (
    "CASE WHEN NOT json_valid(p.value) THEN p.value "
    "WHEN json_type(p.value) = 'VARCHAR' THEN p.value ->> '$' "
    "WHEN json_type(p.value) = 'BOOLEAN' THEN CASE p.value WHEN 'true' THEN 'True' "
    "ELSE 'False' END ELSE p.value END"
)


@dataclass(frozen=True)
class Clause:
    """``scope.key op value``: scope is metrics, params, tags or attributes."""

    scope: str
    key: str
    op: str
    value: float | str


@dataclass
class RunPage:
    """Rows ``offset`` to ``offset + len(records)`` of ``total`` matching runs."""

    records: list[RunRecord]
    total: int
    offset: int
    best_of_session: set[str] = field(default_factory=set)

    @property
    def end(self) -> int:
        return self.offset + len(self.records)


def _clause_sql(clause: Clause) -> tuple[str, list[Any]]:
    if clause.op not in OPERATORS:
        raise InvalidInput(f"operator {clause.op!r} is not one of: {' '.join(OPERATORS)}")
    number = isinstance(clause.value, (int, float))
    if clause.scope == "metrics":
        if not number:
            raise InvalidInput(f"metric {clause.key!r} compares with a number, not "
                               f"{clause.value!r}")
        return (f"(SELECT m.value FROM run_latest_metrics m WHERE m.run_id = id "  # noqa: S608
                f"AND m.key = ?) {clause.op} ?", [clause.key, clause.value])
    if clause.scope == "params":
        text = f"(SELECT {_PARAM_TEXT} FROM run_params p WHERE p.run_id = id AND p.key = ?)"  # noqa: S608
    elif clause.scope == "tags":
        text = "(SELECT t.value FROM run_tags t WHERE t.run_id = id AND t.key = ?)"
    elif clause.scope == "attributes" and clause.key in ATTRIBUTES:
        text = ATTRIBUTES[clause.key] + "::VARCHAR"
        return ((f"TRY_CAST({text} AS DOUBLE)" if number else text) + f" {clause.op} ?",
                [clause.value])
    else:
        raise InvalidInput(f"cannot filter on {clause.scope}.{clause.key}: use metrics., "
                           f"params., tags. or one of {', '.join(ATTRIBUTES)}")
    return ((f"TRY_CAST({text} AS DOUBLE)" if number else text) + f" {clause.op} ?",
            [clause.key, clause.value])


def page(
    ws: Workspace,
    project: str,
    *,
    sort: str | None = None,
    descending: bool = True,
    limit: int | None = 200,
    offset: int = 0,
    text: str | None = None,
    where: tuple[Clause, ...] | list[Clause] = (),
    group: str | None = None,
    best_by: str | None = None,
    greater_is_better: bool = True,
    by_session: bool = False,
) -> RunPage:
    """Runs of ``project``, newest first or by the latest value of metric ``sort``.

    ``text`` keeps runs whose name, kind, status, id or session contains it (any case);
    ``where`` adds clauses; ``best_by`` names the metric that picks each training session's
    best run (baselines excluded), reported in ``best_of_session``; ``by_session`` keeps each
    session's runs together, newest session first, its best run first.
    """
    if limit is not None and limit < 1:
        raise InvalidInput(f"limit must be a positive whole number, not {limit!r}")
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more, not {offset!r}")
    projects.get(ws, project)
    refresh(ws)
    pick = "arg_max" if greater_is_better else "arg_min"
    filters, binds = ["(? IS NULL OR group_id = ?)"], [group, group]
    if text:
        filters.append("contains(lower(concat_ws(' ', name, kind, status, id, group_id)), ?)")
        binds.append(text.strip().lower())
    for clause in where:
        sql, values = _clause_sql(clause)
        filters.append(sql)
        binds.extend(values)
    direction = "DESC" if descending else "ASC"
    best_direction = "DESC" if greater_is_better else "ASC"
    order = "started_at DESC, id"
    if sort:
        order = f"sort_value {direction} NULLS LAST, {order}"
    if by_session:
        order = (f"session_start DESC, session, best DESC, best_value {best_direction} "
                 f"NULLS LAST, {order}")
    # Operators, orders and expressions come from the fixed sets above; values are bound.
    matching = (
        "WITH scored AS (SELECT r.id, r.project, r.name, r.kind, r.status, r.group_id, "  # noqa: S608
        "r.started_at, r.ended_at, s.value AS sort_value, "
        "CASE WHEN r.kind <> 'baseline' THEN b.value END AS best_value, "
        "coalesce(r.group_id, r.id) AS session FROM runs r "
        "LEFT JOIN run_latest_metrics s ON s.run_id = r.id AND s.key = ? "
        "LEFT JOIN run_latest_metrics b ON b.run_id = r.id AND b.key = ? "
        "WHERE r.project = ?), "
        f"marked AS (SELECT *, coalesce(id = {pick}(id, best_value) OVER w, false) AS best, "
        "min(started_at) OVER w AS session_start FROM scored WINDOW w AS (PARTITION BY session)) "
        f"SELECT * FROM marked WHERE {' AND '.join(filters)}"
    )
    params = [sort, best_by, project, *binds]
    query = (
        "SELECT id, project, name, kind, status, group_id, started_at, ended_at, best, "  # noqa: S608
        f"count(*) OVER () FROM ({matching}) ORDER BY {order}"
        + (" LIMIT ?" if limit else "") + " OFFSET ?"
    )
    with ws.read() as con:
        rows = con.execute(query, params + ([limit] if limit else []) + [offset]).fetchall()
        records = [RunRecord(*row[:8]) for row in rows]
        fill(con, records)
        if rows:
            total = rows[0][9]
        else:  # an empty page still says how many runs match
            total = con.execute(f"SELECT count(*) FROM ({matching})", params).fetchall()[0][0]  # noqa: S608
    return RunPage(records, int(total), offset, {row[0] for row in rows if row[8]})
