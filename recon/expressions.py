"""Entra-style attribute-mapping expressions, evaluated over whole pandas frames.

Placeholder until the full engine lands: bare ``[Column]`` references and ``"string"`` literals.
The public entry points (``compile_expression``, ``evaluate``, ``evaluate_predicate``) are the
ones the full engine keeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from recon.errors import ConfigError


class ExpressionError(ConfigError):
    """An expression cannot be parsed or refers to something that does not exist."""


@dataclass(frozen=True)
class EvalContext:
    """What an expression may need beyond the row: the as-of time, values already taken."""

    now: datetime | None = None
    taken: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Expression:
    text: str
    column: str | None
    literal: str | None

    @property
    def columns(self) -> frozenset[str]:
        return frozenset([self.column]) if self.column is not None else frozenset()


_REFERENCE = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_LITERAL = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"\s*$')


def compile_expression(text: str) -> Expression:
    if match := _REFERENCE.match(text):
        return Expression(text, match.group(1), None)
    if match := _LITERAL.match(text):
        return Expression(text, None, re.sub(r"\\(.)", r"\1", match.group(1)))
    raise ExpressionError(f"expression {text!r}: only [Column] and \"literal\" are supported yet")


def evaluate(
    expression: str | Expression, frame: pd.DataFrame, context: EvalContext | None = None
) -> pd.Series:
    compiled = compile_expression(expression) if isinstance(expression, str) else expression
    if compiled.column is not None:
        if compiled.column not in frame.columns:
            raise ExpressionError(
                f"expression {compiled.text!r}: unknown column {compiled.column!r}")
        return frame[compiled.column].astype("string")
    return pd.Series(compiled.literal, index=frame.index, dtype="string")


def evaluate_predicate(
    expression: str | Expression, frame: pd.DataFrame, context: EvalContext | None = None
) -> pd.Series:
    values = evaluate(expression, frame, context)
    return values.str.lower().eq("true").fillna(False).astype(bool)
