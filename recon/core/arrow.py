"""pyarrow string helpers shared by the column-wise builders, readers, writers and comparisons."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]


def json_strings(values: pa.Array) -> pa.Array:
    """Each string as canonical JSON writes it (quoted and escaped); nulls stay null."""
    text = values
    data = utf8_bytes(values)
    if np.any((data == ord('"')) | (data == ord("\\"))):
        text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
    text = pc.binary_join_element_wise('"', text, '"', "")
    if np.any(data < 0x20):  # \n, \t, \u0001…: rare, and written by orjson itself
        controls = pc.fill_null(pc.match_substring_regex(values, r"[\x00-\x1f]"), False)
        escaped = [orjson.dumps(one).decode("utf-8")
                   for one in pc.filter(values, controls).to_pylist()]
        text = pc.replace_with_mask(text, controls, pa.array(escaped, pa.string()))
    return text


def utf8_bytes(values: pa.Array) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The UTF-8 bytes of all the strings of a string array, as one numpy view."""
    if not len(values):
        return np.empty(0, dtype=np.uint8)
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=len(values) + 1,
                            offset=values.offset * 4)
    if data_buffer is None:
        return np.empty(0, dtype=np.uint8)
    return np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]:offsets[-1]]


def string_array(column: pd.Series) -> pa.Array | None:
    """A string column as one pyarrow string array (None: not a string column)."""
    if not isinstance(column.dtype, pd.StringDtype):
        return None
    array = pa.array(column.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.string())


def int64_array(column: pd.Series) -> pa.Array | None:
    if not (isinstance(column.dtype, pd.Int64Dtype) or column.dtype == "int64"):
        return None
    array = pa.array(column.array if isinstance(column.dtype, pd.Int64Dtype)
                     else column.to_numpy(), type=pa.int64())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array



def arrow_text(values: pd.Series) -> Any:
    """The pyarrow array under a string Series (one chunk, large_string)."""
    array = pa.array(values.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.large_string()) if not pa.types.is_large_string(array.type) else array


def is_in(values: pd.Series | pd.Index, candidates: Any) -> np.ndarray:
    """``values.isin(candidates)`` as a bool array, through pyarrow for pyarrow-backed strings.

    pandas 3 gives the same answer for those about 25× slower (it converts the result through
    Python objects); anything pyarrow will not compare takes the pandas path.
    """
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        try:
            found = pc.is_in(pa.array(values.array),
                             value_set=pa.array(getattr(candidates, "array", candidates),
                                                from_pandas=True))
            return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass
    return np.asarray(values.isin(candidates), dtype=bool)


def text_in(values: pd.Series | pd.Index, lookup: pd.Series | pd.Index) -> Any:
    """``values.isin(lookup)`` for text columns, as a numpy bool array, in one pyarrow kernel.

    pandas' ``isin`` on Arrow-backed strings turns every looked-up value into a Python scalar
    first: seconds for a million ids. A missing value is in nothing (as ``isin`` answers when
    ``lookup`` holds no missing value)."""
    def arrow(column: pd.Series | pd.Index) -> Any:
        array = pa.array(column.astype("string").array)
        array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
        return array.cast(pa.large_string())

    found = pc.is_in(arrow(values), value_set=arrow(lookup).drop_null(), skip_nulls=True)
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)
