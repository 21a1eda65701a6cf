"""JSON objects one per line, read by pyarrow into one struct array: no Python object per line.

The columnar half of the snapshot readers (``recon.io.snapshots`` for JSON lines,
``recon.io.snapshot_documents`` for documents and pages, whose users it is handed as lines).
pyarrow's JSON reader accepts more than one object per line, objects across lines and blank
lines; the general readers read line by line. So a buffer is taken only when each line is exactly
one object: it starts with "{", every line break sits between "}" and "{" (the only place they
can meet outside a string is between two top-level objects, and pyarrow refuses raw line breaks
in strings), and pyarrow finds as many rows as there are lines. It also checks UTF-8 (pyarrow
does not). On any doubt: None, and the caller reads the general way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.json as pa_json  # type: ignore[import-untyped, unused-ignore]

BOM = b"\xef\xbb\xbf"
BLOCK_SIZE = 4 << 20  # bytes per pyarrow block: the unit of its threads, and the longest line
SAMPLE_SIZE = 1 << 20  # the first lines, whose types are given to pyarrow for the whole file
_SLICE = 1 << 22  # bytes searched for line breaks at a time
_LF, _CR, _OPEN, _CLOSE = b"\n"[0], b"\r"[0], b"{"[0], b"}"[0]


def object_lines_table(raw: bytes, *, sample_size: int | None = None,
                       check_utf8: bool = True, objects: int | None = None) -> Any:
    """A pyarrow Table with one row per line of ``raw`` (one JSON object each), or None.

    None when the buffer is not exactly one object per line (at least two lines), is not UTF-8,
    or pyarrow cannot read it.

    ``objects``: the caller knows the buffer is that many JSON objects, each valid JSON on its
    own, joined by one line break each, but an object may itself span lines (the users of a
    pretty-printed document, cut out by a JSON decoder). pyarrow then reads values across
    lines, and must find exactly that many. Between two such objects "}\n{" is the only place
    "}" meets "{" across one line break: inside a valid value a comma or white space would
    stand between them, and strings hold no raw line break.
    """
    start = len(BOM) if raw.startswith(BOM) else 0
    if raw[start:start + 1] != b"{":
        return None
    lines = object_lines(raw) if objects is None else objects
    if lines < 2:
        return None  # one object may be a whole document: the general path decides
    buffer = pa.py_buffer(raw).slice(start)
    size = SAMPLE_SIZE if sample_size is None else sample_size
    if objects is None:
        sample = raw.find(b"\n", start + size) + 1 or len(raw)
    else:
        boundary = raw.find(b"}\n{", start + size)
        sample = len(raw) if boundary < 0 else boundary + 2
    spread = objects is not None
    try:
        if check_utf8:
            offsets = pa.array([0, len(buffer)], pa.int64()).buffers()[1]
            pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, buffer]).cast(
                pa.large_string())
        first = pa_json.read_json(pa.BufferReader(buffer.slice(0, sample - start)),
                                  read_options=pa_json.ReadOptions(use_threads=False),
                                  parse_options=pa_json.ParseOptions(newlines_in_values=spread))
        table = pa_json.read_json(
            pa.BufferReader(buffer), read_options=pa_json.ReadOptions(block_size=BLOCK_SIZE),
            parse_options=pa_json.ParseOptions(explicit_schema=pinned(first.schema),
                                               newlines_in_values=spread))
    except (pa.ArrowException, ValueError):
        return None
    return table if table.num_rows == lines else None


def object_lines(raw: bytes) -> int:
    """How many lines the buffer has, if each line break sits between "}" and "{" (CR allowed
    before it), else 0. In slices, so that the temporary arrays stay small."""
    data = np.frombuffer(raw, dtype=np.uint8)
    end = len(data) - 1 if raw.endswith(b"\n") else len(data)  # a final break ends a line
    breaks = 0
    for offset in range(0, end, _SLICE):
        at = np.flatnonzero(data[offset:min(offset + _SLICE, end)] == _LF) + offset
        before = data[at - 1]
        crlf = before == _CR
        if not (np.all(data[at + 1] == _OPEN)
                and np.all(np.where(crlf, data[np.maximum(at - 2, 0)], before) == _CLOSE)):
            return 0
        breaks += len(at)
    return breaks + 1


def pinned(schema: Any) -> Any:
    """The schema inferred from the first lines, as an explicit schema for the whole file: the
    types it is sure of (strings, booleans, objects, lists of them), with timestamp-looking
    strings kept as strings, so that such a column is read columnar rather than per resource.
    Numbers and nulls are left to inference (an integer column may still meet a fraction);
    fields first seen later are inferred. pyarrow refuses nothing with it that inference would
    have accepted, and skips some inference work."""
    fields = [pa.field(field.name, kind) for field in schema
              if (kind := _pinned_type(field.type)) is not None]
    return pa.schema(fields)


def _pinned_type(kind: Any) -> Any:
    if pa.types.is_string(kind) or pa.types.is_timestamp(kind):
        return pa.string()
    if pa.types.is_boolean(kind):
        return kind
    if pa.types.is_struct(kind):
        fields = [pa.field(field.name, inner) for field in kind
                  if (inner := _pinned_type(field.type)) is not None]
        return pa.struct(fields) if fields else None
    if pa.types.is_list(kind):
        item = _pinned_type(kind.value_type)
        return pa.list_(item) if item is not None else None
    return None
