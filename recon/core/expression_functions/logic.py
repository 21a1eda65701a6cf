"""Conditions and null handling: IIF, Switch, Coalesce, comparisons, Is*, CBool, Not, BitAnd."""

from __future__ import annotations

from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.expression_functions.kinds import TEXT, Value, kind, null_text, text_scalar
from recon.core.expression_functions.values import (
    OMITTED,
    Arg,
    ArgInfo,
    ArgumentError,
    Env,
    call,
    if_else,
    to_boolean,
    to_integer,
    to_number,
    to_text,
)

_ORDER = {"<": pc.less, "<=": pc.less_equal, ">": pc.greater, ">=": pc.greater_equal}


def compare(operator: str, left: Value, right: Value) -> Value:
    """``a = b`` and friends, as IIF conditions and predicates use them.

    Text compares case-sensitively (like Switch keys). When either side is a number the other is
    read as a number; when either side is a date the other is parsed as one. For ``<``/``>`` on
    two texts, rows where both read as numbers compare numerically, others ordinally. A missing
    side makes the comparison missing.
    """
    kinds = {kind(left), kind(right)}
    if "null" in kinds:
        return pa.scalar(None, pa.bool_())
    if "date" in kinds:
        from recon.core.expression_functions.dates import to_date

        left, right = to_date(left), to_date(right)
        return _apply(operator, left, right)
    if "number" in kinds:
        return _apply(operator, to_number(left), to_number(right))
    left_text, right_text = to_text(left), to_text(right)
    if operator in ("=", "<>"):
        return _apply(operator, left_text, right_text)
    left_number, right_number = to_number(left_text), to_number(right_text)
    both_numeric = call(pc.and_, call(pc.is_valid, left_number), call(pc.is_valid, right_number))
    return if_else(
        both_numeric,
        _apply(operator, left_number, right_number),
        _apply(operator, left_text, right_text),
    )


def _apply(operator: str, left: Value, right: Value) -> Value:
    if operator == "=":
        return call(pc.equal, left, right)
    if operator == "<>":
        return call(pc.not_equal, left, right)
    return call(_ORDER[operator], left, right)


def _same_kind(*values: Value) -> list[Value]:
    """Branches of IIF/Switch/Coalesce: keep a shared kind, otherwise fall back to text."""
    kinds = {kind(v) for v in values} - {"null"}
    if len(kinds) == 1:
        (only,) = kinds
        if only in ("number", "boolean", "date", "list"):
            target = next(v.type for v in values if kind(v) == only)
            return [v.cast(target) if kind(v) == "null" or v.type != target else v
                    for v in values]
    return [to_text(v) for v in values]


def _present(args: list[Arg]) -> list[Value]:
    return [a for a in args if a is not OMITTED]


# --- IIF -------------------------------------------------------------------------------------


def prepare_iif(infos: list[ArgInfo]) -> frozenset[str]:
    if infos[0].omitted:
        raise ArgumentError("the condition may not be empty", 0)
    return infos[0].columns


def iif(env: Env, args: list[Arg], condition_columns: frozenset[str]) -> Value:
    """IIF(condition, valueIfTrue, valueIfFalse).

    Entra: "If the source attribute used within the IIF function is empty or null, the
    condition check fails" — so rows where any [attribute] of the condition is missing or empty
    give a missing result (use Switch to test for empty values, as Entra recommends).
    """
    condition = to_boolean(args[0])
    when_true = null_text() if args[1] is OMITTED else args[1]
    when_false = null_text() if args[2] is OMITTED else args[2]
    when_true, when_false = _same_kind(when_true, when_false)
    result = if_else(condition, when_true, when_false)
    mask = env.missing_mask(condition_columns)
    if mask is not None:
        result = if_else(mask, pa.scalar(None, result.type), result)
    return result


# --- Switch ----------------------------------------------------------------------------------


def prepare_switch(infos: list[ArgInfo]) -> None:
    if infos[0].omitted:
        raise ArgumentError("the source may not be empty", 0)
    if (len(infos) - 2) % 2:
        raise ArgumentError(
            "keys and values must come in pairs: Switch(source, default, key1, value1, ...)",
            len(infos) - 1,
        )
    for i in range(2, len(infos), 2):
        if infos[i].omitted:
            raise ArgumentError(f"key {(i - 2) // 2 + 1} may not be empty", i)


def switch(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Switch(source, default, key1, value1, ...): case-sensitive keys; a missing source
    matches the key "" (Entra's advice for testing empty values)."""
    source = call(pc.fill_null, to_text(args[0]), text_scalar(""))
    default = null_text() if args[1] is OMITTED else args[1]
    keys = [to_text(k) for k in args[2::2]]
    values = [null_text() if v is OMITTED else v for v in args[3::2]]
    default, *values = _same_kind(default, *values)
    if all(isinstance(v, pa.Scalar) for v in [*keys, *values, default]):
        # Constant keys and values: one hash lookup instead of one pass per key.
        first: dict[Any, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key.as_py(), i)
        key_list = [k for k in first if k is not None]
        choices = pa.array(
            [values[first[k]].as_py() for k in key_list] + [default.as_py()], default.type
        )
        lookup = pa.array(key_list, TEXT)
        index = call(pc.index_in, source, value_set=lookup)
        index = call(pc.fill_null, index, pa.scalar(len(key_list), pa.int32()))
        if isinstance(index, pa.Scalar):
            return choices[index.as_py()]
        return choices.take(index)
    result = default
    for key, value in reversed(list(zip(keys, values, strict=True))):
        matches = call(pc.fill_null, call(pc.equal, source, key), pa.scalar(False))
        result = if_else(matches, value, result)
    return result


# --- Coalesce and null tests ----------------------------------------------------------------


def coalesce(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Coalesce(source1, ..., default): the first value that is not missing."""
    values = _same_kind(*_present(args))
    if not values:
        return null_text()
    if len(values) == 1:
        return values[0]
    return call(pc.coalesce, *values)


def is_null(env: Env, args: list[Arg], prepared: Any) -> Value:
    return call(pc.is_null, args[0])


def _null_or_empty(value: Value) -> Value:
    k = kind(value)
    if k == "list":
        length = call(pc.list_value_length, value)
        return call(pc.fill_null, call(pc.equal, length, pa.scalar(0, length.type)), True)
    if k == "text":
        return call(pc.fill_null, call(pc.equal, value, text_scalar("")), True)
    return call(pc.is_null, value)


def is_null_or_empty(env: Env, args: list[Arg], prepared: Any) -> Value:
    return _null_or_empty(args[0])


def is_present(env: Env, args: list[Arg], prepared: Any) -> Value:
    return call(pc.invert, _null_or_empty(args[0]))


def is_string(env: Env, args: list[Arg], prepared: Any) -> Value:
    value: Value = args[0]
    if kind(value) != "text":
        return pa.scalar(False)
    return call(pc.is_valid, value)


def ignore_flow_if_null_or_empty(env: Env, args: list[Arg], prepared: Any) -> Value:
    """recon has no "drop from the flow": a null or empty value becomes missing."""
    value: Value = args[0]
    if kind(value) == "text":
        return if_else(_null_or_empty(value), null_text(), value)
    return value


# --- conversions ------------------------------------------------------------------------------


def cbool(env: Env, args: list[Arg], prepared: Any) -> Value:
    return to_boolean(args[0])


def not_(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Not(source): "True" becomes False, any other present value True; missing stays."""
    value: Value = args[0]
    if kind(value) == "boolean":
        return call(pc.invert, value)
    lowered = call(pc.utf8_lower, call(pc.utf8_trim_whitespace, to_text(value)))
    return call(pc.not_equal, lowered, text_scalar("true"))


def cstr(env: Env, args: list[Arg], prepared: Any) -> Value:
    return to_text(args[0])


def redact(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Redact only hides the value from Entra's logs; the value itself flows unchanged."""
    return args[0]


def bit_and(env: Env, args: list[Arg], prepared: Any) -> Value:
    left = to_integer(args[0])
    right = to_integer(args[1])
    return call(pc.bit_wise_and, left, right)
