"""Multi-valued values and joining: Join, Split, Item, Count, RemoveDuplicates.

HR columns are single-valued; a single string counts as a list of one. Lists come from Split.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.expression_functions.kinds import LIST, TEXT, Value, kind, null_text, text_scalar
from recon.core.expression_functions.values import (
    OMITTED,
    Arg,
    ArgInfo,
    ArgumentError,
    Env,
    call,
    empty_to_null,
    if_else,
    to_integer,
    to_list,
    to_text,
)


def _list_array(value: Value) -> tuple[pa.Array, bool]:
    lists = to_list(value)
    if isinstance(lists, pa.Scalar):
        return pa.array([lists.as_py()], LIST), True
    return lists, False


def _rebuild(lists: pa.Array, items: pa.Array, keep: np.ndarray) -> pa.Array:
    """The same lists with only the items where ``keep`` is true (offsets start at 0)."""
    lengths = np.diff(lists.offsets.to_numpy())
    owner = np.repeat(np.arange(len(lists)), lengths)
    counts = np.bincount(owner[keep], minlength=len(lists))
    new_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = items.filter(pa.array(keep))
    return pa.ListArray.from_arrays(
        pa.array(new_offsets), values, mask=pc.is_null(lists)
    ).cast(LIST)


def _flat(lists: pa.Array) -> pa.Array:
    """Normalize a sliced list array so offsets start at 0 and values line up."""
    if lists.offset == 0 and lists.offsets[0].as_py() == 0:
        return lists
    return pa.concat_arrays([lists])


def _drop_empty(value: Value) -> tuple[pa.Array, bool]:
    lists, lifted = _list_array(value)
    lists = _flat(lists)
    start, end = lists.offsets[0].as_py(), lists.offsets[-1].as_py()
    items = lists.values.slice(start, end - start)
    keep = pc.fill_null(pc.not_equal(items, text_scalar("")), False).to_numpy(zero_copy_only=False)
    return _rebuild(lists, items, keep), lifted


def join(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Join(separator, source1, ...): missing and empty values are skipped (Entra's
    ``Join(", ", "", [surname], [givenName])`` gives "Doe, John"); lists are flattened.
    Nothing left to join gives a missing value."""
    separator = text_scalar("") if args[0] is OMITTED else to_text(args[0])
    pieces: list[Value] = []
    for arg in args[1:]:
        if arg is OMITTED:
            continue
        if kind(arg) == "list":
            lists, lifted = _drop_empty(arg)
            joined = pc.binary_join(lists, separator)
            joined = empty_to_null(joined)
            pieces.append(joined[0] if lifted else joined)
        else:
            pieces.append(empty_to_null(to_text(arg)))
    if not pieces:
        return null_text()
    # Not null_handling="skip": pyarrow 26 drops rows whose inputs are all null with it.
    result = pieces[0]
    for piece in pieces[1:]:
        both = call(pc.binary_join_element_wise, result, piece, separator)
        if _has_nulls(result) or _has_nulls(piece):
            both = call(pc.coalesce, both, result, piece)
        result = both
    return result


def _has_nulls(value: Value) -> bool:
    if isinstance(value, pa.Array):
        return bool(value.null_count)
    return not value.is_valid


def prepare_split(infos: list[ArgInfo]) -> None:
    if infos[1].omitted or not infos[1].constant:
        raise ArgumentError("delimiter must be a constant string", 1)
    if str(infos[1].value) == "":
        raise ArgumentError("delimiter may not be empty", 1)


def split(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Split(source, delimiter): a multi-valued value; items are trimmed, as Entra's example
    ("PermissionSetOne, PermissionSetTwo" split on "," gives two clean names) shows."""
    source = to_text(args[0])
    delimiter = str(to_text(args[1]).as_py())
    parts = call(pc.split_pattern, source, pattern=delimiter)
    array, lifted = (pa.array([parts.as_py()], parts.type), True) if isinstance(
        parts, pa.Scalar) else (parts, False)
    array = _flat(array)
    trimmed = pc.utf8_trim_whitespace(array.values)
    result = pa.ListArray.from_arrays(
        array.offsets, trimmed, mask=pc.is_null(array)
    ).cast(LIST)
    return result[0] if lifted else result


def count(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Count(attribute): number of values; a single value counts 1, a missing one 0."""
    value: Value = args[0]
    if kind(value) == "list":
        length = call(pc.list_value_length, value)
        return call(pc.fill_null, call(pc.cast, length, pa.int64()), pa.scalar(0))
    return if_else(call(pc.is_valid, value), pa.scalar(1), pa.scalar(0))


def item(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Item(attribute, index): the index-th value, counting from 1; out of range is missing."""
    value: Value = args[0]
    index = to_integer(args[1])
    if kind(value) != "list":
        one = call(pc.equal, index, pa.scalar(1))
        return if_else(one, to_text(value), null_text())
    lists, lifted = _list_array(value)
    lists = _flat(lists)
    n = len(lists)
    wanted = (index.to_numpy(zero_copy_only=False) if isinstance(index, pa.Array)
              else np.full(n, index.as_py() if index.as_py() is not None else 0))
    wanted = np.nan_to_num(np.asarray(wanted, dtype=np.float64)).astype(np.int64)
    offsets = lists.offsets.to_numpy()
    lengths = np.diff(offsets)
    ok = (wanted >= 1) & (wanted <= lengths) & pc.is_valid(lists).to_numpy(zero_copy_only=False)
    positions = np.where(ok, offsets[:-1] + wanted - 1, 0)
    values = lists.values
    if len(values) == 0:
        result = pa.nulls(n, TEXT)
    else:
        result = values.take(pa.array(positions, pa.int64(), mask=~ok)).cast(TEXT)
    return result[0] if lifted else result


def remove_duplicates(env: Env, args: list[Arg], prepared: Any) -> Value:
    """RemoveDuplicates(attribute): each value once, first occurrence kept.

    Per row in Python: pyarrow has no per-list distinct that keeps order.
    """
    value: Value = args[0]
    if kind(value) != "list":
        return value
    lists, lifted = _list_array(value)
    out = [None if items is None else list(dict.fromkeys(items)) for items in lists.to_pylist()]
    result = pa.array(out, LIST)
    return result[0] if lifted else result
