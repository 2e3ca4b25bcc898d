"""A small, safe expression language for recipe filters and derived features.

Users write expressions such as ``tenure_months >= 3 and contract != 'two-year'`` or
``log(monthly_charges + 1)``. They are parsed here, checked against the columns and types of
the data, and compiled to polars expressions, so they run columnar and never as Python over
rows. Nothing else can run: there is no SQL text, no attribute access, no file-reading
function; only the operators and the functions in ``FUNCTIONS`` exist. Every mistake (an
unknown column, a type mismatch, a stray character) is one line naming the character position.

Grammar, loosest binding first::

    or:   and ('or' and)*
    and:  not ('and' not)*
    not:  'not' not | cmp
    cmp:  sum [('=='|'='|'!='|'<>'|'<'|'<='|'>'|'>=') sum
               | 'is' ['not'] 'null' | ['not'] 'in' '(' literal, ... ')']
    sum:  term (('+'|'-') term)*
    term: unary (('*'|'/'|'%') unary)*
    unary: '-' unary | number | 'string' | true | false | name | `any name` | f(args) | (or)

Division and remainder are safe: by zero (or null) they give null, not infinity, so a ratio
such as ``total_charges / tenure_months`` never poisons a model with inf. ``log`` and
``sqrt`` of values outside their domain give null too. Booleans count as 0/1 in arithmetic,
so ``monthly_charges * paperless_billing`` is an interaction term.

An expression nests at most ``MAX_DEPTH`` levels and holds at most ``MAX_TOKENS`` tokens: a
file or a received workspace cannot make checking one recurse without end or run for long.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from mlcycle.data.columns import by_name

if TYPE_CHECKING:
    import polars as pl

# The types expressions, recipes and expectations speak of.
TYPES = ("integer", "float", "string", "boolean", "date", "datetime")
NUMBER = ("integer", "float")

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<qname>`[^`]+`)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|<>|==|[=<>+\-*/%(),])
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false"}
# Parsing and compiling recurse once per level of nesting (parentheses, functions, 'not', a
# chain of arithmetic), so the nesting is bounded far below Python's recursion limit; a chain
# of 'and'/'or' is built as a balanced tree and does not nest. The size bound keeps checking
# and compiling an expression well under a second.
MAX_DEPTH = 50
MAX_TOKENS = 5000


class ExpressionError(Exception):
    """A mistake in an expression, at a character position (0-based)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


def type_of(dtype: Any) -> str:
    """A polars dtype reduced to one of ``TYPES`` (or ``other``)."""
    import polars as pl

    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_integer():
        return "integer"
    if dtype.is_float() or dtype.is_decimal():
        return "float"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "string"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    return "other"


def schema_types(schema: Any) -> dict[str, str]:
    """Column name -> type for a polars schema."""
    return {name: type_of(dtype) for name, dtype in schema.items()}


# -- parsing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    kind: str  # num, str, bool, null, col, call, bin, not, neg, isnull, in
    pos: int
    value: Any = None
    args: tuple[Node, ...] = ()
    depth: int = field(default=1, compare=False)  # levels of nodes down to the deepest leaf


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos] in "'\"`":
                raise ExpressionError("unterminated quote", pos)
            raise ExpressionError(f"unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            value = m.group()
            if kind == "name" and value.lower() in _KEYWORDS:
                kind, value = "kw", value.lower()
            out.append((kind, value, pos))
        pos = m.end()
        if len(out) > MAX_TOKENS:
            raise ExpressionError(f"longer than {MAX_TOKENS:,} names, values and operators; "
                                  "split it into smaller expressions", pos)
    out.append(("end", "", len(text)))
    return out


def _too_deep(pos: int) -> ExpressionError:
    return ExpressionError(f"nesting deeper than {MAX_DEPTH} levels", pos)


def _node(kind: str, pos: int, value: Any = None, args: tuple[Node, ...] = ()) -> Node:
    depth = 1 + max((a.depth for a in args), default=0)
    if depth > MAX_DEPTH:
        raise _too_deep(pos)
    return Node(kind, pos, value, args, depth)


def _balanced(op: str, operands: list[Node], positions: list[int]) -> Node:
    """``a op b op c …`` as a tree of depth log2(n): 'and' and 'or' are associative, so a
    long chain of them means the same and never nests deeper than a few levels.
    ``positions[i]`` is the position of the operator before ``operands[i]``."""
    if len(operands) == 1:
        return operands[0]
    mid = len(operands) // 2
    return _node("bin", positions[mid], op, (_balanced(op, operands[:mid], positions[:mid]),
                                             _balanced(op, operands[mid:], positions[mid:])))


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.level = 0  # parentheses, calls, 'not' and '-' open around the current token

    def nested(self, pos: int, parse: Any) -> Node:
        """``parse()`` one level deeper; refused past MAX_DEPTH before Python's own limit."""
        self.level += 1
        try:
            if self.level > MAX_DEPTH:
                raise _too_deep(pos)
            return parse()
        finally:
            self.level -= 1

    def peek(self, *values: str) -> bool:
        kind, value, _ = self.toks[self.i]
        return kind in ("op", "kw") and value in values

    def take(self) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, value: str) -> int:
        kind, got, pos = self.take()
        if got != value or kind not in ("op", "kw"):
            raise ExpressionError(f"expected {value!r} but found {got or 'the end'!r}", pos)
        return pos

    def parse(self) -> Node:
        node = self.or_()
        kind, value, pos = self.toks[self.i]
        if kind != "end":
            raise ExpressionError(f"unexpected {value!r}", pos)
        return node

    def or_(self) -> Node:
        return self.chain("or", self.and_)

    def and_(self) -> Node:
        return self.chain("and", self.not_)

    def chain(self, op: str, operand: Any) -> Node:
        operands, positions = [operand()], [-1]
        while self.peek(op):
            positions.append(self.take()[2])
            operands.append(operand())
        return _balanced(op, operands, positions)

    def not_(self) -> Node:
        if self.peek("not"):
            pos = self.take()[2]
            return _node("not", pos, None, (self.nested(pos, self.not_),))
        return self.cmp()

    def cmp(self) -> Node:
        left = self.sum()
        if self.peek("==", "=", "!=", "<>", "<", "<=", ">", ">="):
            _, op, pos = self.take()
            op = {"=": "==", "<>": "!="}.get(op, op)
            return _node("bin", pos, op, (left, self.sum()))
        if self.peek("is"):
            pos = self.take()[2]
            negate = False
            if self.peek("not"):
                self.take()
                negate = True
            self.expect("null")
            return _node("isnull", pos, negate, (left,))
        negate = False
        if self.peek("not") and self.toks[self.i + 1][1] == "in":
            self.take()
            negate = True
        if self.peek("in"):
            pos = self.take()[2]
            self.expect("(")
            items = [self.literal()]
            while self.peek(","):
                self.take()
                items.append(self.literal())
            self.expect(")")
            return _node("in", pos, negate, (left, *items))
        return left

    def literal(self) -> Node:
        node = self.unary()
        if node.kind not in ("num", "str", "bool"):
            raise ExpressionError("the list after 'in' may hold only numbers and strings", node.pos)
        return node

    def sum(self) -> Node:
        node = self.term()
        while self.peek("+", "-"):
            _, op, pos = self.take()
            node = _node("bin", pos, op, (node, self.term()))
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek("*", "/", "%"):
            _, op, pos = self.take()
            node = _node("bin", pos, op, (node, self.unary()))
        return node

    def unary(self) -> Node:
        kind, value, pos = self.take()
        if kind == "op" and value == "-":
            inner = self.nested(pos, self.unary)
            if inner.kind == "num":
                return _node("num", pos, -inner.value)
            return _node("neg", pos, None, (inner,))
        if kind == "num":
            number = float(value)
            is_int = number.is_integer() and not any(c in value for c in ".eE")
            return _node("num", pos, int(value) if is_int else number)
        if kind == "str":
            quote = value[0]
            return _node("str", pos, value[1:-1].replace(quote * 2, quote))
        if kind == "kw" and value in ("true", "false"):
            return _node("bool", pos, value == "true")
        if kind == "kw" and value == "null":
            return _node("null", pos)
        if kind == "qname":
            return _node("col", pos, value[1:-1])
        if kind == "name":
            if self.peek("("):
                self.take()
                args: list[Node] = []
                if not self.peek(")"):
                    args.append(self.nested(pos, self.or_))
                    while self.peek(","):
                        self.take()
                        args.append(self.nested(pos, self.or_))
                self.expect(")")
                return _node("call", pos, value.lower(), tuple(args))
            return _node("col", pos, value)
        if kind == "op" and value == "(":
            node = self.nested(pos, self.or_)
            self.expect(")")
            return node
        raise ExpressionError(f"expected a value but found {value or 'the end'!r}", pos)


def parse(text: str) -> Node:
    """The syntax tree of an expression; raises ExpressionError."""
    if not text.strip():
        raise ExpressionError("the expression is empty", 0)
    return _Parser(text).parse()


def columns_of(node: Node) -> set[str]:
    """The column names an expression reads."""
    found = {node.value} if node.kind == "col" else set()
    for arg in node.args:
        found |= columns_of(arg)
    return found


# -- checking and compiling ---------------------------------------------------------------

@dataclass(frozen=True)
class Compiled:
    expr: pl.Expr
    type: str  # one of TYPES


def compile_expr(text: str, schema: dict[str, str]) -> Compiled:
    """Check ``text`` against ``schema`` (column -> type) and build its polars expression."""
    return _Compiler(schema).build(parse(text))


def check(text: str, schema: dict[str, str]) -> str:
    """The type ``text`` evaluates to over ``schema``; raises ExpressionError."""
    return compile_expr(text, schema).type


def explain(text: str, exc: ExpressionError) -> str:
    """The mistake, the character it is at and the expression (its start, when long), in
    one line."""
    shown = text if len(text) <= 200 else text[:200] + "…"
    return f"{exc} at character {exc.position + 1} of {shown!r}"


def _number(t: str) -> bool:
    return t in NUMBER or t == "boolean"


class _Compiler:
    def __init__(self, schema: dict[str, str]) -> None:
        self.schema = schema

    def build(self, node: Node) -> Compiled:
        import polars as pl

        kind = node.kind
        if kind == "num":
            return Compiled(pl.lit(node.value), "integer" if isinstance(node.value, int)
                            else "float")
        if kind == "str":
            return Compiled(pl.lit(node.value), "string")
        if kind == "bool":
            return Compiled(pl.lit(node.value), "boolean")
        if kind == "null":
            raise ExpressionError("null can only be tested with 'is null' or 'is not null'",
                                  node.pos)
        if kind == "col":
            return self.column(node)
        if kind == "neg":
            inner = self.build(node.args[0])
            self.need(inner, _number, node.args[0], "a number")
            return Compiled(-self.numeric(inner),
                            "integer" if inner.type == "boolean" else inner.type)
        if kind == "not":
            inner = self.build(node.args[0])
            self.need(inner, lambda t: t == "boolean", node.args[0], "true or false")
            return Compiled(~inner.expr, "boolean")
        if kind == "isnull":
            inner = self.build(node.args[0])
            test = inner.expr.is_not_null() if node.value else inner.expr.is_null()
            return Compiled(test, "boolean")
        if kind == "in":
            return self.membership(node)
        if kind == "bin":
            return self.binary(node)
        if kind == "call":
            return self.call(node)
        raise ExpressionError(f"cannot use {kind} here", node.pos)  # pragma: no cover

    def column(self, node: Node) -> Compiled:
        import polars as pl

        name = node.value
        if name not in self.schema:
            close = difflib.get_close_matches(name, list(self.schema), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ExpressionError(f"unknown column {name!r}{hint}", node.pos)
        kind = self.schema[name]
        if kind == "other":
            raise ExpressionError(f"column {name!r} has a type expressions cannot use", node.pos)
        expr = by_name(name)
        if kind == "string":
            # Categorical columns compare and measure as text.
            expr = expr.cast(pl.String)
        return Compiled(expr, kind)

    def need(self, c: Compiled, ok: Any, node: Node, what: str) -> None:
        if not ok(c.type):
            raise ExpressionError(f"expected {what} but {_show(node)} is {c.type}", node.pos)

    def numeric(self, c: Compiled) -> pl.Expr:
        import polars as pl

        return c.expr.cast(pl.Int8) if c.type == "boolean" else c.expr

    def binary(self, node: Node) -> Compiled:
        import polars as pl

        op = node.value
        lnode, rnode = node.args
        if op in ("and", "or"):
            left, right = self.build(lnode), self.build(rnode)
            self.need(left, lambda t: t == "boolean", lnode, "true or false")
            self.need(right, lambda t: t == "boolean", rnode, "true or false")
            return Compiled(left.expr & right.expr if op == "and" else left.expr | right.expr,
                            "boolean")
        if op in ("==", "!=", "<", "<=", ">", ">="):
            left, right = self.comparable(lnode, rnode)
            fn = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}[op]
            return Compiled(getattr(left, fn)(right), "boolean")
        left, right = self.build(lnode), self.build(rnode)
        self.need(left, _number, lnode, "a number")
        self.need(right, _number, rnode, "a number")
        a, b = self.numeric(left), self.numeric(right)
        if op in ("/", "%"):
            # Safe division: by zero or null gives null rather than inf or an error.
            result = a.cast(pl.Float64) / b if op == "/" else a % b
            kind = "float" if op == "/" else _wider(left.type, right.type)
            return Compiled(pl.when(b != 0).then(result).otherwise(None), kind)
        result = {"+": a + b, "-": a - b, "*": a * b}[op]
        return Compiled(result, _wider(left.type, right.type))

    def comparable(self, lnode: Node, rnode: Node) -> tuple[pl.Expr, pl.Expr]:
        import polars as pl

        left, right = self.build(lnode), self.build(rnode)
        for a, bnode in ((left, rnode), (right, lnode)):
            if a.type in ("date", "datetime") and bnode.kind == "str":
                when = _parse_when(bnode, a.type)
                lit = pl.lit(when)
                return (a.expr, lit) if a is left else (lit, a.expr)
        families = {_family(left.type), _family(right.type)}
        if len(families) != 1:
            raise ExpressionError(
                f"cannot compare {_show(lnode)} ({left.type}) with {_show(rnode)} "
                f"({right.type})",
                rnode.pos,
            )
        if "number" in families:
            return self.numeric(left), self.numeric(right)
        return left.expr, right.expr

    def membership(self, node: Node) -> Compiled:
        subject = self.build(node.args[0])
        values = [item.value for item in node.args[1:]]
        family = _family(subject.type)
        for item in node.args[1:]:
            item_family = "number" if item.kind == "num" else (
                "boolean" if item.kind == "bool" else "string")
            if item_family != family:
                raise ExpressionError(
                    f"{_show(node.args[0])} is {subject.type} but {_show(item)} is not",
                    item.pos,
                )
        test = subject.expr.is_in(values)
        return Compiled(~test if node.value else test, "boolean")

    def call(self, node: Node) -> Compiled:
        name = node.value
        spec = FUNCTIONS.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ExpressionError(
                f"unknown function {name!r}{hint}; known: {', '.join(sorted(FUNCTIONS))}",
                node.pos,
            )
        return spec(self, node)


def _wider(a: str, b: str) -> str:
    return "float" if "float" in (a, b) else "integer"


def _family(t: str) -> str:
    if t in NUMBER:
        return "number"
    if t in ("date", "datetime"):
        return "date"
    return t


def _show(node: Node) -> str:
    if node.kind == "col":
        return f"column {node.value!r}"
    if node.kind == "str":
        return f"{node.value!r}"
    if node.kind == "num":
        return str(node.value)
    return "the expression"


def _parse_when(node: Node, kind: str) -> date | datetime:
    try:
        if kind == "date":
            return date.fromisoformat(node.value)
        return datetime.fromisoformat(node.value)
    except ValueError:
        raise ExpressionError(
            f"{node.value!r} is not a {kind} (write it as YYYY-MM-DD)", node.pos
        ) from None


# -- functions ----------------------------------------------------------------------------

def _args(c: _Compiler, node: Node, lo: int, hi: int | None = None) -> list[Compiled]:
    hi = lo if hi is None else hi
    if not lo <= len(node.args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise ExpressionError(
            f"{node.value}() takes {want} argument{'s' if hi != 1 else ''}, "
            f"not {len(node.args)}",
            node.pos,
        )
    return [c.build(a) for a in node.args]


def _math(kind: str):
    def build(c: _Compiler, node: Node) -> Compiled:
        import polars as pl

        (x,) = _args(c, node, 1)
        c.need(x, _number, node.args[0], "a number")
        v = c.numeric(x).cast(pl.Float64)
        # Outside the domain: null, so a model never sees nan or -inf.
        expr = {
            "log": pl.when(v > 0).then(v.log()),
            "log1p": pl.when(v > -1).then(v.log1p()),
            "sqrt": pl.when(v >= 0).then(v.sqrt()),
            "exp": v.exp(),
            "abs": v.abs(),
        }[kind]
        return Compiled(expr, "float")

    return build


def _date_part(part: str):
    def build(c: _Compiler, node: Node) -> Compiled:
        (x,) = _args(c, node, 1)
        c.need(x, lambda t: t in ("date", "datetime"), node.args[0], "a date")
        if part == "hour" and x.type == "date":
            raise ExpressionError("hour() needs a datetime, not a date", node.pos)
        return Compiled(getattr(x.expr.dt, part)().cast(_int()), "integer")

    return build


def _epoch_days(c: _Compiler, node: Node) -> Compiled:
    """Whole days since 1970-01-01: a date as one number, so a model sees time's trend."""
    import polars as pl

    (x,) = _args(c, node, 1)
    c.need(x, lambda t: t in ("date", "datetime"), node.args[0], "a date")
    return Compiled(x.expr.cast(pl.Date).cast(_int()), "integer")


def _int():
    import polars as pl

    return pl.Int64


def _length(c: _Compiler, node: Node) -> Compiled:
    (x,) = _args(c, node, 1)
    c.need(x, lambda t: t == "string", node.args[0], "text")
    return Compiled(x.expr.str.len_chars().cast(_int()), "integer")


def _case(kind: str):
    def build(c: _Compiler, node: Node) -> Compiled:
        (x,) = _args(c, node, 1)
        c.need(x, lambda t: t == "string", node.args[0], "text")
        return Compiled(getattr(x.expr.str, f"to_{kind}case")(), "string")

    return build


def _round(c: _Compiler, node: Node) -> Compiled:
    args = _args(c, node, 1, 2)
    c.need(args[0], _number, node.args[0], "a number")
    digits = 0
    if len(args) == 2:
        if node.args[1].kind != "num" or not isinstance(node.args[1].value, int):
            raise ExpressionError("round()'s second argument must be a whole number",
                                  node.args[1].pos)
        digits = node.args[1].value
    return Compiled(c.numeric(args[0]).round(digits), args[0].type if digits else "float")


def _bin(c: _Compiler, node: Node) -> Compiled:
    """bin(x, e1, e2, ...): 0 below e1, 1 from e1 to below e2, …, k from the last edge on."""
    import polars as pl

    if len(node.args) < 2:
        raise ExpressionError("bin() takes a value and at least one edge: bin(x, 10, 20)",
                              node.pos)
    x = c.build(node.args[0])
    c.need(x, _number, node.args[0], "a number")
    edges = []
    for edge in node.args[1:]:
        if edge.kind != "num":
            raise ExpressionError("bin() edges must be numbers", edge.pos)
        if edges and edge.value <= edges[-1]:
            raise ExpressionError("bin() edges must increase", edge.pos)
        edges.append(edge.value)
    v = c.numeric(x)
    count = pl.sum_horizontal([(v >= e).cast(pl.Int64) for e in edges])
    return Compiled(pl.when(v.is_not_null()).then(count), "integer")


def _same_type(c: _Compiler, node: Node, args: list[Compiled]) -> str:
    families = {_family(a.type) for a in args}
    if len(families) > 1:
        raise ExpressionError(f"{node.value}() needs arguments of one type, not "
                              f"{', '.join(a.type for a in args)}", node.pos)
    types = {a.type for a in args}
    if types <= set(NUMBER):
        return "float" if "float" in types else "integer"
    return args[0].type


def _coalesce(c: _Compiler, node: Node) -> Compiled:
    import polars as pl

    args = _args(c, node, 2, 16)
    return Compiled(pl.coalesce([a.expr for a in args]), _same_type(c, node, args))


def _extreme(kind: str):
    def build(c: _Compiler, node: Node) -> Compiled:
        import polars as pl

        args = _args(c, node, 2, 16)
        for a, n in zip(args, node.args):
            c.need(a, _number, n, "a number")
        fn = pl.min_horizontal if kind == "min" else pl.max_horizontal
        return Compiled(fn([c.numeric(a) for a in args]), _same_type(c, node, args))

    return build


def _if(c: _Compiler, node: Node) -> Compiled:
    import polars as pl

    cond, a, b = _args(c, node, 3)
    c.need(cond, lambda t: t == "boolean", node.args[0], "true or false")
    kind = _same_type(c, node, [a, b])
    return Compiled(pl.when(cond.expr).then(a.expr).otherwise(b.expr), kind)


FUNCTIONS: dict[str, Any] = {
    "log": _math("log"),
    "log1p": _math("log1p"),
    "sqrt": _math("sqrt"),
    "exp": _math("exp"),
    "abs": _math("abs"),
    "round": _round,
    "year": _date_part("year"),
    "month": _date_part("month"),
    "day": _date_part("day"),
    "weekday": _date_part("weekday"),
    "dayofyear": _date_part("ordinal_day"),
    "epoch_days": _epoch_days,
    "quarter": _date_part("quarter"),
    "hour": _date_part("hour"),
    "length": _length,
    "len": _length,
    "lower": _case("lower"),
    "upper": _case("upper"),
    "bin": _bin,
    "coalesce": _coalesce,
    "min": _extreme("min"),
    "max": _extreme("max"),
    "if": _if,
}
