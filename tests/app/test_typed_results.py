"""The faces read deployment's results as typed values, never by string key.

Every verb of ``mlcycle.deploy`` that the CLI and the TUI call returns a frozen dataclass, and
an AST walk over ``app/`` finds no string-key subscript (``result["rows"]``), ``.get("…")`` or
``"…" in`` test on a value that came from a call into ``mlcycle.deploy``.

What the walk follows, within each function: names assigned from a call into a
``mlcycle.deploy`` module (imported as a module or a name, at the top or inside the
function), attributes, items and method calls of such values, ``for`` and comprehension
targets over them, local functions that return them (the TUI's ``work`` functions) and the
``job.result`` their ``done`` function reads, and names or parameters annotated with a type
of ``mlcycle.deploy``, and fields of the module's own classes so annotated (a view's data).
What it does not follow: a value passed through an object whose field or name is not
annotated with a deploy type (``Any``, ``dict``), or into another module; there the
annotations have to carry it.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import typing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import mlcycle.app

APP = Path(mlcycle.app.__file__).parent
DEPLOY = "mlcycle.deploy"
# Builtins whose result holds their argument's values (enumerate(runs), sorted(runs), ...).
PASSING = {"enumerate", "sorted", "reversed", "list", "tuple", "iter", "next", "zip"}


@dataclass
class Imports:
    """The names a module binds to ``mlcycle.deploy``: modules, and what they hold."""

    modules: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)  # functions and types
    # Fields of the module's own classes annotated with a deploy type (a view's data).
    fields: set[str] = field(default_factory=set)


def _is_module(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except ModuleNotFoundError:  # a name inside a module, not a module
        return False


def deploy_imports(tree: ast.AST) -> Imports:
    found = Imports()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                bound = alias.asname or alias.name
                dotted = f"{node.module}.{alias.name}"
                if dotted == DEPLOY or (dotted.startswith(f"{DEPLOY}.") and _is_module(dotted)):
                    found.modules.add(bound)
                elif node.module == DEPLOY or node.module.startswith(f"{DEPLOY}."):
                    found.names.add(bound)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(DEPLOY) and alias.asname:
                    found.modules.add(alias.asname)
    return found


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def _names_deploy_type(annotation: ast.expr | None, imports: Imports) -> bool:
    """Whether an annotation names a type of ``mlcycle.deploy`` (``X``, ``m.X``, ``X | None``,
    ``list[X]``, or the same as a string)."""
    if annotation is None:
        return False
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return False
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id in imports.names:
            return True
        if isinstance(node, ast.Attribute) and isinstance(_root(node), ast.Name) and \
                _root(node).id in imports.modules:  # type: ignore[union-attr]
            return True
    return False


class Reads(ast.NodeVisitor):
    """One function's values from ``mlcycle.deploy``, and the string keys read from them."""

    def __init__(self, imports: Imports, returning: set[str], job_results: set[str]) -> None:
        self.imports = imports
        self.returning = returning  # local functions returning a deploy result
        self.job_results = job_results  # parameters whose .result is a deploy result
        self.tainted: set[str] = set()
        self.found: list[tuple[int, str]] = []

    # -- what is a deploy value ------------------------------------------------------------

    def is_call(self, node: ast.expr) -> bool:
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        if isinstance(func, ast.Name):
            return func.id in self.imports.names or func.id in self.returning
        root = _root(func)
        return isinstance(func, ast.Attribute) and isinstance(root, ast.Name) and (
            root.id in self.imports.modules)

    def tainted_expr(self, node: ast.expr) -> bool:
        if self.is_call(node):
            return True
        if isinstance(node, ast.Name):
            return node.id in self.tainted
        if isinstance(node, ast.Attribute):
            if node.attr in self.imports.fields:
                return True
            if (node.attr == "result" and isinstance(node.value, ast.Name)
                    and node.value.id in self.job_results):
                return True
            return self.tainted_expr(node.value)
        if isinstance(node, ast.Subscript):
            return self.tainted_expr(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            return self.tainted_expr(node.func.value)  # result.to_dict(), rows.items()
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in PASSING:
            return any(self.tainted_expr(a) for a in node.args)
        if isinstance(node, ast.BoolOp):
            return any(self.tainted_expr(v) for v in node.values)
        if isinstance(node, ast.IfExp):
            return self.tainted_expr(node.body) or self.tainted_expr(node.orelse)
        return False

    def bind(self, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts):
                    self.bind(t, v)
            elif value is None or self.tainted_expr(value):
                for t in target.elts:
                    self.bind(t, None)
            return
        if isinstance(target, ast.Name) and (value is None or self.tainted_expr(value)):
            self.tainted.add(target.id)

    # -- where values are bound ------------------------------------------------------------

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        for target in node.targets:
            self.bind(target, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.generic_visit(node)
        if isinstance(node.target, ast.Name) and _names_deploy_type(node.annotation,
                                                                    self.imports):
            self.tainted.add(node.target.id)
        elif node.value is not None:
            self.bind(node.target, node.value)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.generic_visit(node)
        self.bind(node.target, node.value)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        if self.tainted_expr(node.iter):
            self.bind(node.target, None)
        for child in [*node.body, *node.orelse]:
            self.visit(child)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self.visit(node.iter)
        if self.tainted_expr(node.iter):
            self.bind(node.target, None)
        for cond in node.ifs:
            self.visit(cond)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp
                       | ast.DictComp) -> None:
        for gen in node.generators:  # the targets first, then what reads them
            self.visit_comprehension(gen)
        for child in ([node.key, node.value] if isinstance(node, ast.DictComp)
                      else [node.elt]):
            self.visit(child)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        """Nested functions are read on their own (:func:`string_key_reads`)."""

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    # -- what is a read by string key ------------------------------------------------------

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.generic_visit(node)
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and \
                self.tainted_expr(node.value):
            self.found.append((node.lineno, f"[{key.value!r}]"))

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr == "get" and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str) and self.tainted_expr(func.value)):
            self.found.append((node.lineno, f".get({node.args[0].value!r})"))

    def visit_Compare(self, node: ast.Compare) -> None:
        self.generic_visit(node)
        if (isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)
                and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
                and any(self.tainted_expr(c) for c in node.comparators)):
            self.found.append((node.lineno, f"{node.left.value!r} in"))


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(tree: ast.AST) -> list[Function]:
    return [n for n in ast.walk(tree) if isinstance(n, Function)]


def _own(scope: ast.AST) -> list[ast.AST]:
    """The nodes of a scope, not those of the functions nested in it."""
    out, todo = [], list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        out.append(node)
        if not isinstance(node, Function | ast.ClassDef):
            todo.extend(ast.iter_child_nodes(node))
    return out


def _returns_deploy(fn: Function, imports: Imports, returning: set[str]) -> bool:
    if _names_deploy_type(fn.returns, imports):
        return True
    reads = Reads(imports, returning, set())
    for stmt in fn.body:
        reads.visit(stmt)
    return any(isinstance(n, ast.Return) and n.value is not None and reads.tainted_expr(n.value)
               for n in _own(fn))


def _job_results(tree: ast.AST, returning: set[ast.AST]) -> dict[ast.AST, str]:
    """``done`` functions handed to ``start_job`` beside a ``work`` function (defined in the
    same scope) that returns a deploy result: done -> its parameter, whose ``.result`` is
    that result."""
    out: dict[ast.AST, str] = {}
    for scope in [tree, *_functions(tree)]:
        own = _own(scope)
        local = {n.name: n for n in own if isinstance(n, Function)}
        for call in own:
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "start_job"):
                continue
            works = [local.get(a.id) for a in call.args if isinstance(a, ast.Name)]
            done = next((local.get(k.value.id) for k in call.keywords
                         if k.arg == "done" and isinstance(k.value, ast.Name)), None)
            if done is not None and done.args.args and any(w in returning for w in works):
                out[done] = done.args.args[0].arg
    return out


def string_key_reads(source: str) -> list[tuple[int, str]]:
    """Each string-key read of a deploy result in ``source``: (line, what)."""
    tree = ast.parse(source)
    imports = deploy_imports(tree)
    if not imports.modules and not imports.names:
        return []
    imports.fields = {
        n.target.id for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for n in c.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
        and _names_deploy_type(n.annotation, imports)}
    functions = _functions(tree)
    returning: set[ast.AST] = set()
    for _ in range(2):  # a work function may return another local function's result
        names = {fn.name for fn in returning}  # type: ignore[attr-defined]
        returning |= {fn for fn in functions if _returns_deploy(fn, imports, names)}
    names = {fn.name for fn in returning}  # type: ignore[attr-defined]
    jobs = _job_results(tree, returning)
    found = []
    for scope in [tree, *functions]:
        reads = Reads(imports, names, {jobs[scope]} if scope in jobs else set())
        if isinstance(scope, Function):
            for arg in [*scope.args.posonlyargs, *scope.args.args, *scope.args.kwonlyargs]:
                if _names_deploy_type(arg.annotation, imports):
                    reads.tainted.add(arg.arg)
        for stmt in scope.body:  # type: ignore[attr-defined]
            reads.visit(stmt)
        found += reads.found
    return sorted(set(found))


def test_app_reads_no_deploy_result_by_string_key() -> None:
    offenders = {}
    for path in sorted(APP.rglob("*.py")):
        reads = string_key_reads(path.read_text(encoding="utf-8"))
        if reads:
            offenders[str(path.relative_to(APP))] = reads
    assert offenders == {}


BAD = '''
from mlcycle import deploy
from mlcycle.deploy import comparison, runs
from mlcycle.deploy.scoring import predict_file
from mlcycle.deploy.results import ABLook, ScoringRun


def direct(ws):
    return deploy.export(ws, "p", "1", "out")["out"]


def named(ws):
    result = predict_file(ws, "p", "f.csv")
    summary = result.summary
    return summary.to_dict()["rows"], result.to_dict().get("seconds")


def looped(ws):
    return [r["source"] for r in runs.recent_runs(ws, "p")]


def asked(ws):
    if "verdict" in comparison.last_comparison(ws, "p").to_dict():
        pass


def annotated(look: ABLook):
    return look.to_dict()["verdict"]


@dataclass
class View:
    runs: list[ScoringRun]


def held(view: View):
    return [run["rows"] for _, run in enumerate(view.runs)]


def job(screen, ws):
    def work(job):
        return comparison.compare(ws, "p", "labels.csv")

    def done(job):
        return job.result["verdict"]

    screen.start_job("compare", work, done=done)
'''

GOOD = '''
from mlcycle import deploy
from mlcycle.deploy import comparison


def shown(ws, values):
    result = comparison.compare(ws, "p", values["labels"])
    for key, value in result.champion.metrics.items():
        other = result.challenger.metrics.get(key)
    return result.verdict, values.get("promote"), deploy.export(ws, "p", "1", "o").out
'''


def test_the_walk_finds_each_kind_of_string_key_read_it_follows() -> None:
    found = string_key_reads(BAD)
    assert [what for _, what in found] == [
        "['out']", ".get('seconds')", "['rows']", "['source']", "'verdict' in",
        "['verdict']", "['rows']", "['verdict']"]
    assert string_key_reads(GOOD) == []  # attributes, and keys of the form's own values


def _returned(fn: typing.Callable[..., object]) -> type:
    """The type a function says it returns, without its ``| None`` (read from its own
    annotation: its parameters' types are imported only for type checkers)."""
    import sys

    from mlcycle.deploy import results

    names = {**vars(sys.modules[fn.__module__]), **vars(results)}
    hint = eval(fn.__annotations__["return"], names)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is list:
        return args[0]
    return args[0] if args else hint


def _verbs() -> list[typing.Callable[..., object]]:
    from mlcycle import deploy
    from mlcycle.deploy import abtest, comparison, runs, scoring, strategies

    return [deploy.export, deploy.verify, scoring.predict_file, comparison.compare,
            comparison.last_comparison, runs.recent_runs, strategies.overview,
            strategies.step, strategies.switch, abtest.report, abtest.last]


@pytest.mark.parametrize("verb", _verbs(), ids=lambda v: f"{v.__module__}.{v.__name__}")
def test_each_deploy_verb_the_faces_call_says_it_returns_a_frozen_dataclass(verb) -> None:
    kind = _returned(verb)
    assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen


def test_the_verbs_return_dataclasses_whose_json_keeps_its_shape(clf_champion,
                                                                  tmp_path: Path) -> None:
    from mlcycle import deploy
    from mlcycle.deploy import runs, scoring, strategies
    from tests.training_data import classification_frame

    exported = deploy.export(clf_champion, "clf", "champion", tmp_path / "bundle")
    checked = deploy.verify(tmp_path / "bundle", server=False)
    classification_frame(30, seed=2).write_csv(tmp_path / "rows.csv")
    scored = scoring.predict_file(clf_champion, "clf", tmp_path / "rows.csv", shadow=False)
    logged = runs.recent_runs(clf_champion, "clf")
    view = strategies.overview(clf_champion, "clf")
    for result in (exported, checked, scored, logged[0], view):
        assert dataclasses.is_dataclass(result)
    assert list(scored.to_dict()) == [
        "run", "project", "version", "shadow_version", "rows", "seconds", "rows_per_second",
        "summary", "shadow_summary", "unseen_categories", "out", "preview"]
    assert scored.to_dict()["summary"] == {
        "rows": 30, "class_shares": scored.summary.class_shares,
        "mean_probability": scored.summary.mean_probability}
    assert logged[0].summary == scored.summary and logged[0].id == scored.run
    assert set(exported.to_dict()) >= {"out", "files", "kserve", "parity", "size_bytes"}
    assert checked.to_dict()["hashes"] == "ok" and checked.server is None
    assert view.to_dict() == {"project": "clf", "strategy": "shadow", "config_version": None,
                              "revision": 0, "updated_at": None, "champion": 1,
                              "challenger": None}
