"""``DataFrame.to_csv`` byte for byte, rendered by pyarrow instead of Python's csv writer.

pandas writes a CSV row by row through Python objects; at a million rows that is seconds. For
frames of pyarrow-backed strings and integers, every cell is rendered here with pyarrow
compute (quoted as Python's csv module quotes under QUOTE_MINIMAL, missing values empty) and
the rows are joined into one buffer that is written at once. Anything else (other dtypes, a
single column, names that are not strings, a csv module that quotes differently) is left to
``to_csv`` itself, so the files never differ.
"""

from __future__ import annotations

import csv
import io
import os
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

ROWS_PER_BATCH = 1 << 18
QUOTE = '"'
DELIMITER = ","


def write_csv(frame: pd.DataFrame, path: Path, *, index: bool) -> None:
    """``frame.to_csv(path, index=index)`` (pandas' defaults otherwise), the same bytes."""
    columns = _render_columns(frame, index)
    if columns is None:
        frame.to_csv(path, index=index)
        return
    names = ([frame.index.name if frame.index.name is not None else ""] if index else []) + [
        str(name) for name in frame.columns]
    header = io.StringIO()
    csv.writer(header, lineterminator=os.linesep).writerow(names)
    with path.open("wb") as out:
        out.write(header.getvalue().encode("utf-8"))
        for start in range(0, len(frame), ROWS_PER_BATCH):
            cells = [column.slice(start, ROWS_PER_BATCH) for column in columns]
            out.write(_joined_bytes(pc.binary_join_element_wise(*cells, _text(DELIMITER))))


def _joined_bytes(lines: pa.Array) -> memoryview:
    """The UTF-8 bytes of all strings of ``lines`` back to back (a view of its data buffer)."""
    if len(lines) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    begin, end = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    return memoryview(lines.buffers()[2])[begin:end]


def _render_columns(frame: pd.DataFrame, index: bool) -> list[pa.Array] | None:
    """Each column (the index first if written) as non-null large strings, as CSV cells.

    The last column's cells end with the end-of-line. None when some column or the csv
    module is not one this module renders exactly.
    """
    if _quote_characters() is None or os.linesep not in {"\n", "\r\n"}:
        return None
    if isinstance(frame.index, pd.MultiIndex) or isinstance(frame.columns, pd.MultiIndex):
        return None
    if not all(isinstance(name, str) for name in frame.columns):
        return None
    if index and not (frame.index.name is None or isinstance(frame.index.name, str)):
        return None
    series = ([pd.Series(frame.index, index=frame.index)] if index else []) + [
        frame.iloc[:, position] for position in range(frame.shape[1])]
    if len(series) < 2:  # the csv module quotes an empty cell that is a row's only cell
        return None
    rendered = []
    for column in series:
        cells = _render(column)
        if cells is None:
            return None
        rendered.append(cells)
    # Each row's end-of-line rides on its last cell: joining with the delimiter then gives
    # whole lines.
    rendered[-1] = pc.binary_join_element_wise(rendered[-1], _text(os.linesep), _text(""))
    return rendered


def _render(column: pd.Series) -> pa.Array | None:
    """One column as CSV cells (large strings, no nulls), or None for a dtype left to pandas."""
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        cells = _single_chunk(pa.array(column.array))
        if not pa.types.is_large_string(cells.type):
            cells = cells.cast(pa.large_string())
        cells = _quoted(cells)
    elif isinstance(dtype, pd.Int64Dtype) or (
            isinstance(dtype, np.dtype) and dtype.kind in "iu"):
        cells = _single_chunk(pa.array(column.array)).cast(pa.large_string())
    else:
        return None
    return pc.fill_null(cells, _text(""))


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _single_chunk(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    return values


def _quoted(cells: pa.Array) -> pa.Array:
    """Cells holding a character the csv module quotes for, quoted (their quotes doubled)."""
    special = _quote_characters()
    assert special is not None
    data = cells.buffers()[2]
    if data is None:
        return cells
    raw = np.frombuffer(data, dtype=np.uint8)
    if not any((raw == ord(char)).any() for char in special):
        return cells
    pattern = "[" + "".join(f"\\x{ord(char):02x}" for char in special) + "]"
    needs = pc.fill_null(pc.match_substring_regex(cells, pattern), False)
    doubled = pc.replace_substring(cells, QUOTE, QUOTE * 2)
    enclosed = pc.binary_join_element_wise(_text(QUOTE), doubled, _text(QUOTE), _text(""))
    return pc.if_else(needs, enclosed, cells)


@cache
def _quote_characters() -> tuple[str, ...] | None:
    """The characters that make this Python's csv module quote a cell (as pandas calls it).

    Probed once, so a csv module that quotes by another rule (None) sends every frame to
    ``to_csv``: the rule rendered here is "quote a cell that holds one of these characters".
    """
    def written(cell: str) -> str:
        text = io.StringIO()
        csv.writer(text, lineterminator=os.linesep).writerow([cell, "x"])
        return text.getvalue()

    candidates = [DELIMITER, QUOTE, "\n", "\r"]
    special = tuple(char for char in candidates if written(f"a{char}b").startswith(QUOTE))
    if DELIMITER not in special or QUOTE not in special or "\n" not in special:
        return None
    for cell in ["", " ", " a ", "\t", "a\tb", "\u2028", "\x0b", "#", "a;b", "\x00", "é", "a\x85b"]:
        expected = (f'"{cell}"' if any(c in cell for c in special) else cell) + ",x" + os.linesep
        if written(cell) != expected:
            return None
    return special
