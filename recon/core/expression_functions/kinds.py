"""The kinds of values the expression engine passes between functions, and their pyarrow types.

Text (large_string), number (int64/float64), boolean, date (timestamp[us, UTC]) and multi-valued
(list<large_string>); a value is a pyarrow array (one item per row) or a scalar (a constant).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

Value: TypeAlias = "pa.Array | pa.Scalar"


Kind = Literal["text", "number", "boolean", "date", "list", "null"]


TEXT = pa.large_string()


DATE = pa.timestamp("us", tz="UTC")


LIST = pa.list_(TEXT)


def kind(value: Value) -> Kind:
    t = value.type
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_large_string(t) or pa.types.is_string(t):
        return "text"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "number"
    if pa.types.is_timestamp(t):
        return "date"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "list"
    raise TypeError(f"unexpected value type {t}")


def null_text() -> pa.Scalar:
    return pa.scalar(None, TEXT)


def text_scalar(value: str | None) -> pa.Scalar:
    return pa.scalar(value, TEXT)

