"""Entra-style attribute-mapping expressions, evaluated over whole pandas frames.

The language is the one Microsoft Entra provisioning uses for attribute mappings
(``Join(" ", [givenName], [surname])``, ``Switch([country], "Unknown", "US", "United States")``),
so a team can paste its existing mappings into recon's config. The grammar is parsed with lark,
checked once (function names, argument counts, constant arguments, regexes, date formats), and
cached by text. Evaluation works on whole columns at a time with pyarrow compute kernels; the
function implementations live in :mod:`recon.core.expression_functions`.

Public surface::

    compile_expression(text) -> Expression        # parse + check, cached
    check_columns(expr, columns)                    # unknown [column] -> ExpressionError
    evaluate(expr, frame, context) -> pd.Series     # one value per row, dtype "string"
    evaluate_predicate(expr, frame, context)        # bool Series for scope / exclude

Missing values (``<NA>``) propagate as Entra documents; see docs/expressions.md.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from recon.core.expression_functions import FUNCTIONS, UNSUPPORTED, Function
from recon.core.expression_functions.kinds import LIST, TEXT, Value, kind
from recon.core.expression_functions.logic import compare
from recon.core.expression_functions.values import (
    OMITTED,
    Arg,
    ArgInfo,
    ArgumentError,
    Env,
    broadcast,
    to_boolean,
    to_text,
)
from recon.errors import ConfigError

__all__ = [
    "EvalContext",
    "Expression",
    "ExpressionError",
    "check_columns",
    "compile_expression",
    "evaluate",
    "evaluate_predicate",
]


class ExpressionError(ConfigError):
    """An expression cannot be parsed or refers to something that does not exist."""


@dataclass(frozen=True)
class EvalContext:
    """What an expression may need beyond the row.

    ``now``: the as-of time for ``Now()`` (naive means UTC); None means the real UTC time.
    ``taken``: values already used in the target, keyed by the attribute they belong to
    (e.g. ``{"userName": frozenset({...})}``); ``SelectUniqueValue`` skips them.
    ``attribute``: the attribute being generated, i.e. which ``taken`` set applies. When it is
    None and ``taken`` has exactly one key, that one is used.
    """

    now: datetime | None = None
    taken: dict[str, frozenset[str]] = field(default_factory=dict)
    attribute: str | None = None


# ---------------------------------------------------------------------------------------------
# Grammar

_GRAMMAR = r"""
?start: expr
?expr: term
     | term COMPARE term      -> comparison
?term: NAME "(" arglist ")"   -> call
     | ATTRIBUTE               -> attribute
     | STRING                  -> string
     | NUMBER                  -> number
     | HEX                     -> hex
     | NAME                    -> name
arglist: [expr] ("," [expr])*

COMPARE: "<>" | "<=" | ">=" | "=" | "<" | ">"
ATTRIBUTE: /\[(?:[^\[\]]|\[[^\[\]]*\])+\]/
STRING: /"(?:[^"\\]|\\.)*"/s
NUMBER: /[-+]?[0-9]+(\.[0-9]+)?/
HEX: /&H[0-9A-Fa-f]+/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
%ignore /\s+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=True, propagate_positions=True)

_TOKEN_NAMES = {
    "RPAR": "')'",
    "LPAR": "'('",
    "COMMA": "','",
    "NAME": "a function name",
    "STRING": 'a "string"',
    "ATTRIBUTE": "an [attribute]",
    "NUMBER": "a number",
    "HEX": "a &H number",
    "COMPARE": "a comparison (=, <>, <, <=, >, >=)",
    "$END": "the end of the expression",
}

_BARE_NAMES = {"vbTextCompare": 1, "vbBinaryCompare": 0}


# ---------------------------------------------------------------------------------------------
# Compiled form


@dataclass(frozen=True)
class _Node:
    line: int
    column: int


@dataclass(frozen=True)
class _Literal(_Node):
    value: Any  # pa.Scalar


@dataclass(frozen=True)
class _Attribute(_Node):
    name: str


@dataclass(frozen=True)
class _Name(_Node):
    name: str


@dataclass(frozen=True)
class _Call(_Node):
    function: Function
    args: tuple[_Node | None, ...]
    prepared: Any = None
    distinct_column: str | None = None  # see _evaluate_node


@dataclass(frozen=True)
class _Comparison(_Node):
    operator: str
    left: _Node
    right: _Node
    distinct_column: str | None = None


@dataclass(frozen=True, eq=False)
class Expression:
    """A parsed and checked expression; ``columns`` are the [column] names it reads."""

    text: str
    root: _Node = field(repr=False)
    columns: frozenset[str] = frozenset()
    positions: tuple[tuple[str, int, int], ...] = field(default=(), repr=False)

    def __str__(self) -> str:
        return self.text


def _where(text: str, line: int, column: int) -> str:
    return f"line {line}, column {column}" if "\n" in text.strip() else f"column {column}"


def _error(text: str, message: str, line: int | None = None, column: int | None = None) -> str:
    where = f" at {_where(text, line, column)}" if line is not None and column is not None else ""
    return f"expression {text.strip()!r}: {message}{where}"


def _unescape(raw: str) -> str:
    """A string literal's value: \\\\ is a backslash, \\" a quote; other backslashes stay."""
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in '\\"':
            out.append(body[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _suggest(name: str, choices: Iterable[str]) -> str:
    options = list(choices)
    folded = {c.casefold(): c for c in options}
    if name.casefold() in folded:
        return f"; did you mean {folded[name.casefold()]!r}?"
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in options}
        close = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=1)]
    return f"; did you mean {close[0]!r}?" if close else ""


class _Compiler:
    def __init__(self, text: str) -> None:
        self.text = text
        self.positions: list[tuple[str, int, int]] = []

    def fail(self, message: str, node: Any = None) -> ExpressionError:
        if node is None:
            return ExpressionError(_error(self.text, message))
        return ExpressionError(_error(self.text, message, node.line, node.column))

    def build(self, tree: Tree[Token] | Token, top: bool = True) -> _Node:
        if isinstance(tree, Token):  # pragma: no cover - every token is wrapped in a rule
            raise self.fail(f"unexpected {tree!s}")
        meta = tree.meta
        line, column = getattr(meta, "line", 1), getattr(meta, "column", 1)
        if tree.data == "attribute":
            name = str(tree.children[0])[1:-1].strip()
            self.positions.append((name, line, column))
            return _Attribute(line, column, name)
        if tree.data == "string":
            return _Literal(line, column, pa.scalar(_unescape(str(tree.children[0])), TEXT))
        if tree.data == "number":
            raw = str(tree.children[0])
            number: int | float = float(raw) if "." in raw else int(raw)
            scalar = pa.scalar(number, pa.float64() if isinstance(number, float) else pa.int64())
            return _Literal(line, column, scalar)
        if tree.data == "hex":
            return _Literal(line, column, pa.scalar(int(str(tree.children[0])[2:], 16)))
        if tree.data == "name":
            name = str(tree.children[0])
            if name not in _BARE_NAMES:
                hint = _suggest(name, [*FUNCTIONS, *_BARE_NAMES])
                raise self.fail(
                    f"unknown name {name!r} (functions need parentheses, attributes "
                    f"[brackets], strings \"quotes\"){hint}",
                    meta,
                )
            return _Name(line, column, name)
        if tree.data == "comparison":
            left, op, right = tree.children
            assert isinstance(left, Tree | Token) and isinstance(right, Tree | Token)
            left_node, right_node = self.build(left, False), self.build(right, False)
            node = _Comparison(line, column, str(op), left_node, right_node)
            return _Comparison(line, column, str(op), left_node, right_node, _distinct(node))
        if tree.data == "call":
            return self.build_call(tree, top)
        raise self.fail(f"unexpected {tree.data}", meta)  # pragma: no cover

    def build_call(self, tree: Tree[Token], top: bool) -> _Node:
        meta = tree.meta
        name_token, arglist = tree.children
        name = str(name_token)
        if name in UNSUPPORTED:
            raise self.fail(f"{name} is not supported: {UNSUPPORTED[name]}", meta)
        function = FUNCTIONS.get(name)
        if function is None:
            raise self.fail(f"unknown function {name!r}{_suggest(name, FUNCTIONS)}", meta)
        assert isinstance(arglist, Tree)
        raw_args = list(arglist.children)
        if len(raw_args) == 1 and raw_args[0] is None:
            raw_args = []  # Name() has no arguments, not one empty one
        count = len(raw_args)
        if count < function.min_args or (
            function.max_args is not None and count > function.max_args
        ):
            raise self.fail(f"{name} takes {function.arity_text()}, got {count}", meta)
        if function.top_level_only and not top:
            raise self.fail(f"{name} must be the whole expression, not nested", meta)
        args: list[_Node | None] = []
        for raw in raw_args:
            args.append(None if raw is None else self.build(raw, False))
        infos = [self.info(arg) for arg in args]
        for position in function.required_positions(count):
            if infos[position].omitted:
                raise self.fail(f"{name}: argument {position + 1} may not be empty", meta)
        try:
            prepared = function.prepare(infos) if function.prepare else None
        except ArgumentError as problem:
            where: Any = meta
            if problem.position is not None and args[problem.position] is not None:
                where = args[problem.position]
            raise self.fail(f"{name}: {problem}", where) from None
        node = _Call(meta.line, meta.column, function, tuple(args), prepared)
        return _Call(meta.line, meta.column, function, tuple(args), prepared, _distinct(node))

    def info(self, node: _Node | None) -> ArgInfo:
        if node is None:
            return ArgInfo(omitted=True, constant=False)
        columns = frozenset(_columns_of(node))
        if isinstance(node, _Literal):
            return ArgInfo(False, True, node.value.as_py(), columns)
        if isinstance(node, _Name):
            return ArgInfo(False, True, node.name, columns, is_name=True)
        if isinstance(node, _Call):
            return ArgInfo(False, False, None, columns, is_call=node.function.name)
        return ArgInfo(False, False, None, columns)


def _columns_of(node: _Node | None) -> list[str]:
    if node is None:
        return []
    if isinstance(node, _Attribute):
        return [node.name]
    if isinstance(node, _Call):
        return [c for arg in node.args for c in _columns_of(arg)]
    if isinstance(node, _Comparison):
        return [*_columns_of(node.left), *_columns_of(node.right)]
    return []


def _per_row(node: _Node | None) -> bool:
    if isinstance(node, _Call):
        return node.function.per_row or any(_per_row(a) for a in node.args)
    if isinstance(node, _Comparison):
        return _per_row(node.left) or _per_row(node.right)
    return False


def _costly(node: _Node | None) -> bool:
    if isinstance(node, _Call):
        return node.function.costly or any(_costly(a) for a in node.args)
    if isinstance(node, _Comparison):
        return _costly(node.left) or _costly(node.right)
    return False


def _distinct(node: _Node) -> str | None:
    """The one column a subtree reads, when computing it per distinct value of that column may
    pay off: exactly one column, a costly function inside, no per-row function."""
    columns = set(_columns_of(node))
    if len(columns) != 1 or _per_row(node) or not _costly(node):
        return None
    return columns.pop()


def _parse_error(text: str, error: UnexpectedInput) -> ExpressionError:
    line = getattr(error, "line", None)
    column = getattr(error, "column", None)
    if isinstance(error, UnexpectedCharacters):
        char = text.splitlines()[line - 1][column - 1] if line and column else "?"
        if char == '"':
            message = "string is not closed (a quote inside a string is written \\\")"
        elif char == "[":
            message = "attribute name is not closed with ']'"
        else:
            message = f"unexpected character {char!r}"
        return ExpressionError(_error(text, message, line, column))
    if isinstance(error, UnexpectedToken | UnexpectedEOF):
        expected = set(getattr(error, "expected", set()) or set())
        token = getattr(error, "token", None)
        at_end = token is None or getattr(token, "type", "") == "$END"
        if at_end:
            lines = text.rstrip().splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
            found = "end of expression"
        else:
            found = repr(str(token))
        if "RPAR" in expected:
            wanted = _TOKEN_NAMES["RPAR"]
        else:
            names = [_TOKEN_NAMES.get(e, e) for e in sorted(expected) if e != "COMPARE"]
            if not names and "COMPARE" in expected:
                names = [_TOKEN_NAMES["COMPARE"]]
            wanted = " or ".join(names[:4]) or "something else"
        return ExpressionError(_error(text, f"expected {wanted}, found {found}", line, column))
    return ExpressionError(_error(text, str(error).splitlines()[0]))  # pragma: no cover


@functools.lru_cache(maxsize=4096)
def _compile_cached(text: str) -> Expression:
    if not text.strip():
        raise ExpressionError("expression is empty")
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as error:
        raise _parse_error(text, error) from None
    compiler = _Compiler(text)
    root = compiler.build(tree, top=True)
    return Expression(
        text=text,
        root=root,
        columns=frozenset(_columns_of(root)),
        positions=tuple(compiler.positions),
    )


def compile_expression(text: str) -> Expression:
    """Parse and check an expression (cached by its text); raise ExpressionError if invalid."""
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be text, got {type(text).__name__}")
    return _compile_cached(text)


def _compiled(expression: str | Expression) -> Expression:
    return expression if isinstance(expression, Expression) else compile_expression(expression)


def check_columns(expression: str | Expression, columns: Iterable[str]) -> None:
    """Raise ExpressionError naming the first [column] that is not among ``columns``."""
    compiled = _compiled(expression)
    known = list(columns)
    known_set = set(known)
    for name, line, column in compiled.positions:
        if name not in known_set:
            hint = _suggest(name, known)
            raise ExpressionError(
                _error(compiled.text, f"unknown column {name!r}{hint}", line, column)
            )


# ---------------------------------------------------------------------------------------------
# Evaluation


def _column_reader(frame: pd.DataFrame) -> Any:
    cache: dict[str, pa.Array] = {}

    def read(name: str) -> pa.Array:
        if name not in cache:
            series = frame[name]
            if not isinstance(series.dtype, pd.StringDtype):
                series = series.astype("string")
            array = series.array.__arrow_array__()
            if isinstance(array, pa.ChunkedArray):
                array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
            cache[name] = array if array.type == TEXT else array.cast(TEXT)
        return cache[name]

    return read


def _same(value: Value) -> Value:
    return value


def _evaluate_node(node: _Node, env: Env, finish: Callable[[Value], Value] = _same) -> Value:
    """Evaluate a subtree; ``finish`` (e.g. rendering as text) is applied before spreading a
    per-distinct-value result back to the rows, so it too runs once per distinct value."""
    column = getattr(node, "distinct_column", None)
    if column is not None and env.distinct is not None:
        encoded = env.distinct(column)
        if encoded is not None:
            # A costly subtree over one column is computed once per distinct value of that
            # column and spread back: HR columns (dates, titles, first names) repeat a lot.
            values, indices = encoded
            reader = {column: values}.__getitem__
            inner = Env(len(values), env.now, env.taken, env.attribute, reader, None)
            result = finish(_evaluate_plain(node, inner))
            return result.take(indices) if isinstance(result, pa.Array) else result
    return finish(_evaluate_plain(node, env))


def _evaluate_plain(node: _Node, env: Env) -> Value:
    if isinstance(node, _Literal):
        return node.value
    if isinstance(node, _Attribute):
        return env.column(node.name)
    if isinstance(node, _Name):
        return pa.scalar(node.name, TEXT)
    if isinstance(node, _Comparison):
        return compare(
            node.operator, _evaluate_node(node.left, env), _evaluate_node(node.right, env)
        )
    assert isinstance(node, _Call)
    args: list[Arg] = [OMITTED if a is None else _evaluate_node(a, env) for a in node.args]
    return node.function.run(env, args, node.prepared)


def _distinct_reader(read: Any, n: int) -> Any:
    cache: dict[str, tuple[pa.Array, pa.Array] | None] = {}

    def distinct(name: str) -> tuple[pa.Array, pa.Array] | None:
        if name not in cache:
            cache[name] = None
            values = read(name)
            if n >= _DISTINCT_MIN_ROWS and _repeats(values):
                encoded = pc.dictionary_encode(values)
                if len(encoded.dictionary) * 2 <= n:
                    # The missing value gets its own slot: functions may map it to a value.
                    values = pa.concat_arrays([encoded.dictionary, pa.nulls(1, TEXT)])
                    indices = pc.fill_null(encoded.indices, len(encoded.dictionary))
                    cache[name] = (values, indices)
        return cache[name]

    return distinct


_DISTINCT_MIN_ROWS = 64
_SAMPLE = 16_384


def _repeats(values: pa.Array) -> bool:
    """A cheap look at an evenly spaced sample: skip hashing columns that are nearly unique."""
    step = max(1, len(values) // _SAMPLE)
    sample = values.take(pa.array(range(0, len(values), step)))
    return bool(pc.count_distinct(sample, mode="all").as_py() <= 0.9 * len(sample))


def _env(frame: pd.DataFrame, context: EvalContext | None) -> Env:
    context = context or EvalContext()
    now = context.now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    read = _column_reader(frame)
    return Env(
        n=len(frame),
        now=now.astimezone(UTC),
        taken=dict(context.taken),
        attribute=context.attribute,
        column=read,
        distinct=_distinct_reader(read, len(frame)),
    )


def _render(value: Value) -> Value:
    return value if kind(value) == "list" else to_text(value)


def _run(
    expression: str | Expression, frame: pd.DataFrame, context: EvalContext | None,
    finish: Callable[[Value], Value],
) -> Value:
    compiled = _compiled(expression)
    check_columns(compiled, frame.columns)
    env = _env(frame, context)
    try:
        return _evaluate_node(compiled.root, env, finish)
    except ArgumentError as problem:
        raise ExpressionError(_error(compiled.text, str(problem))) from None


def evaluate(
    expression: str | Expression, frame: pd.DataFrame, context: EvalContext | None = None
) -> pd.Series:
    """One value per row of ``frame`` (same index), as pandas "string"; missing stays <NA>.

    A multi-valued result (``Split``, ``RemoveDuplicates``) comes back as an object Series of
    lists instead.
    """
    value = _run(expression, frame, context, _render)
    n = len(frame)
    if kind(value) == "list":
        items = broadcast(value.cast(LIST), n).to_pylist()
        return pd.Series(
            [pd.NA if v is None else v for v in items], index=frame.index, dtype=object
        )
    text = broadcast(value, n)
    return pd.Series(pd.arrays.ArrowStringArray(text), index=frame.index, copy=False)


def evaluate_predicate(
    expression: str | Expression, frame: pd.DataFrame, context: EvalContext | None = None
) -> pd.Series:
    """True/False per row for ``scope`` and ``exclude``; a missing result counts as False.

    The expression may yield booleans or "True"/"False" strings, e.g.
    ``IIF([Worker Type]="Employee", "True", "False")`` or the bare comparison
    ``Left([userName], 4) = "svc-"``.
    """
    value = _run(expression, frame, context, to_boolean)
    flags = broadcast(value, len(frame))
    result = pc.fill_null(flags, False).to_numpy(zero_copy_only=False)
    return pd.Series(result.astype(bool), index=frame.index)
