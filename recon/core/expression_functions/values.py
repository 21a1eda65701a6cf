"""Values as the expression engine sees them: pyarrow arrays (one item per row) or scalars.

A scalar is a constant that has not been broadcast yet (a literal, or a function of literals only);
pyarrow's compute functions broadcast it for free. Every array has one item per row of the frame.

Kinds follow the pyarrow type: text (large_string), number (int64/float64), boolean, date
(timestamp[us, UTC]) and multi-valued (list<large_string>). Entra itself only knows strings (a
boolean is the string "True"/"False", a date is "M/d/yyyy h:mm:ss tt"); the engine keeps richer
types between functions and renders them as Entra would at the end or when a string is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.expression_functions.calendar import format_entra_datetime
from recon.core.expression_functions.kinds import (
    LIST,
    TEXT,
    Value,
    kind,
    null_text,
    text_scalar,
)


class ArgumentError(Exception):
    """A function's arguments are wrong; ``position`` is the 0-based argument index, if known."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class Omitted:
    """Marks an argument slot written as empty (``Switch([x], , "a", "b")``)."""

    _instance: Omitted | None = None

    def __new__(cls) -> Omitted:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OMITTED"


OMITTED = Omitted()
Arg: TypeAlias = "pa.Array | pa.Scalar | Omitted"


@dataclass(frozen=True)
class ArgInfo:
    """What the compiler knows about one argument before any row is seen."""

    omitted: bool
    constant: bool  # a literal (string, number, hex, bare name) — its value is known
    value: Any = None  # the literal's Python value when constant
    columns: frozenset[str] = frozenset()  # [columns] referenced anywhere inside
    is_name: bool = False  # a bare name such as vbTextCompare
    is_call: str | None = None  # the function name when the argument is a call


@dataclass
class Env:
    """One evaluation: the number of rows, the context, and a way to read columns."""

    n: int
    now: datetime
    taken: dict[str, frozenset[str]]
    attribute: str | None
    column: Callable[[str], pa.Array]
    # (distinct values, row -> index) of a column, or None when it has too few repeats
    distinct: Callable[[str], tuple[pa.Array, pa.Array] | None] | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def missing_mask(self, columns: frozenset[str]) -> pa.Array | None:
        """True where any of the columns is null or empty; None when there are no columns."""
        mask: pa.Array | None = None
        for name in sorted(columns):
            values = self.column(name)
            this = pc.fill_null(pc.equal(values, pa.scalar("", TEXT)), True)
            mask = this if mask is None else pc.or_(mask, this)
        return mask


def call(function: Callable[..., Any], *args: Any, **options: Any) -> Value:
    """Call a pyarrow compute function; when every argument is a scalar, fold to a scalar.

    Several kernels refuse all-scalar input, so the first scalar is lifted to a one-item array
    and the single result taken back out.
    """
    if any(isinstance(a, pa.Array) for a in args):
        return function(*args, **options)
    lifted = list(args)
    for i, a in enumerate(lifted):
        if isinstance(a, pa.Scalar):
            lifted[i] = pa.array([a.as_py()], a.type)
            break
    result = function(*lifted, **options)
    return result[0] if isinstance(result, pa.Array) else result


def broadcast(value: Value, n: int) -> pa.Array:
    if isinstance(value, pa.Array):
        return value
    if not value.is_valid:
        return pa.nulls(n, value.type)
    return pa.repeat(value, n)


def if_else(condition: Value, when_true: Value, when_false: Value) -> Value:
    return call(pc.if_else, condition, when_true, when_false)


def map_distinct(
    value: Value, function: Callable[[Any], Any], out_type: pa.DataType
) -> Value:
    """Apply a Python function once per distinct non-null value, then spread it back.

    Used by functions that pyarrow cannot express (UTF-16 base64, .NET title casing, regex
    callbacks...). HR columns repeat a lot (names, dates, titles), so the Python loop runs over
    far fewer items than there are rows.
    """
    if isinstance(value, pa.Scalar):
        py = value.as_py()
        return pa.scalar(None if py is None else function(py), out_type)
    if len(value) == 0:
        return pa.array([], out_type)
    encoded = pc.dictionary_encode(value)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    mapped = pa.array([function(v) for v in encoded.dictionary.to_pylist()], out_type)
    return mapped.take(encoded.indices)


def scatter(base: pa.Array, mask: pa.Array, replacement: pa.Array) -> pa.Array:
    """``base`` with the rows where ``mask`` is true replaced, in order, by ``replacement``."""
    positions = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    if len(positions) == 0:
        return base
    out_type = replacement.type
    indices = np.arange(len(base), dtype=np.int64)
    indices[positions] = len(base) + np.arange(len(positions), dtype=np.int64)
    combined = pa.concat_arrays([base.cast(out_type), replacement])
    return combined.take(pa.array(indices))


def map_masked(
    value: pa.Array, mask: pa.Array, function: Callable[[Any], Any], out_type: pa.DataType,
    fast: pa.Array,
) -> pa.Array:
    """Use ``fast`` everywhere except where ``mask`` is true, there use ``function`` per value."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return fast
    slow = map_distinct(value.filter(mask), function, out_type)
    return scatter(fast, mask, slow)


# ---------------------------------------------------------------------------------------------
# Conversions between kinds (how Entra renders a value as a string, and back)


def format_number(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_text(value: Value) -> Value:
    """The value as Entra would show it: a string (missing stays missing)."""
    k = kind(value)
    if k == "text":
        return value if value.type == TEXT else value.cast(TEXT)
    if k == "null":
        return value.cast(TEXT)
    if k == "boolean":
        return if_else(value, text_scalar("True"), text_scalar("False"))
    if k == "number":
        if pa.types.is_integer(value.type):
            return call(pc.cast, value, TEXT)
        return map_distinct(value, format_number, TEXT)
    if k == "date":
        return format_entra_datetime(value)
    if k == "list":
        # A multi-valued value used where one string is wanted: its items joined by ",".
        return call(pc.binary_join, value, text_scalar(","))
    raise TypeError(k)


_NUMBER_PATTERN = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"


def to_number(value: Value) -> Value:
    """Numbers stay numbers; numeric text becomes float64; anything else is missing."""
    k = kind(value)
    if k == "number":
        return value
    if k == "boolean":
        return call(pc.cast, value, pa.int64())
    if k == "null":
        return value.cast(pa.float64())
    text = to_text(value)
    numeric = call(pc.match_substring_regex, text, pattern=_NUMBER_PATTERN)
    cleaned = call(pc.utf8_trim_whitespace, if_else(numeric, text, null_text()))
    return call(pc.cast, cleaned, pa.float64())


def to_integer(value: Value) -> Value:
    number = to_number(value)
    if pa.types.is_integer(number.type):
        return number
    return call(pc.cast, call(pc.trunc, number), pa.int64())


def to_boolean(value: Value) -> Value:
    """True/False from booleans, "True"/"False" strings (any case) or numbers (non-zero)."""
    k = kind(value)
    if k == "boolean":
        return value
    if k == "null":
        return value.cast(pa.bool_())
    if k == "number":
        return call(pc.not_equal, value, pa.scalar(0, value.type))
    text = call(pc.utf8_lower, call(pc.utf8_trim_whitespace, to_text(value)))
    is_true = call(pc.equal, text, text_scalar("true"))
    is_false = call(pc.equal, text, text_scalar("false"))
    number = to_number(text)
    from_number = call(pc.not_equal, number, pa.scalar(0.0))
    return if_else(is_true, pa.scalar(True), if_else(is_false, pa.scalar(False), from_number))


def to_list(value: Value) -> Value:
    """A multi-valued value; a single string is a list of one, missing is missing."""
    k = kind(value)
    if k == "list":
        return value if value.type == LIST else value.cast(LIST)
    text = to_text(value)
    if isinstance(text, pa.Scalar):
        return pa.scalar(None if not text.is_valid else [text.as_py()], LIST)
    offsets = pa.array(np.arange(len(text) + 1, dtype=np.int32))
    lists = pa.ListArray.from_arrays(offsets, text.cast(pa.string())).cast(LIST)
    valid = pc.is_valid(text)
    return pc.if_else(valid, lists, pa.scalar(None, LIST))


def constant(value: Value) -> Any:
    """The Python value of a scalar (None for null)."""
    assert isinstance(value, pa.Scalar)
    return value.as_py()


def empty_to_null(value: Value) -> Value:
    """Empty strings become missing (for functions where Entra treats both alike)."""
    empty = call(pc.equal, value, text_scalar(""))
    if isinstance(empty, pa.Array) and not pc.any(empty).as_py():
        return value  # the common case for HR columns, whose empty cells are already missing
    return if_else(empty, null_text(), value)


def delete_bytes(values: pa.Array, delete: np.ndarray) -> pa.Array:
    """Drop every byte whose value is marked in the 256-entry table ``delete`` (numpy).

    Only valid when the table deletes whole characters: ASCII bytes, or all bytes >= 0x80.
    """
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
        values.offset : values.offset + len(values) + 1
    ]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    keep = ~delete[data]
    counter = np.int32 if len(data) < 2**31 else np.int64
    kept_before = np.zeros(len(data) + 1, dtype=np.int64)
    kept_before[1:] = np.cumsum(keep, dtype=counter)
    result = pa.LargeStringArray.from_buffers(
        len(values), pa.py_buffer(kept_before[offsets]), pa.py_buffer(data[keep])
    )
    if values.null_count:
        result = pc.if_else(pc.is_valid(values), result, pa.scalar(None, TEXT))
    return result


