"""read_plan's fast path: plan.json as write_plan lays it out, read column-wise."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.arrow import utf8_bytes
from recon.core.plan import JSON_COLUMNS, OP_COLUMNS, PLAN_FORMAT, Plan, plan_digest
from recon.core.plan_columnar import ID_FIELDS, op_ids_of_table

# ---- plan.json as write_plan lays it out, read column-wise -------------------------------------
#
# write_plan writes a header line, one line per op (``{"op_id": …, "action": …, …}`` with the
# columns in OP_COLUMNS order, ", " between them, a comma before every op but the first) and
# "]}". Canonical JSON never holds ``, "`` (no whitespace outside strings; inside one a quote is
# escaped), and neither does a JSON string, so such a line splits at ``, "`` into exactly its 13
# fields. Each string field must be a JSON string escaped as canonical JSON escapes it (only \"
# and \\ taken here) or null, hr_row an integer or null, and each JSON field must be canonical
# JSON already (orjson's round trip of it gives the same bytes): then the file parses to exactly
# these values, and the op ids are checked over the same canonical bodies build_plan hashes.
# Anything else returns None, and so does any failed check: the general reader decides.

_LINE_STRING = r'^(?:"(?:[^"\\\x00-\x1f]|\\["\\])*"|null)$'
_LINE_INTEGER = r"^(?:-?(?:0|[1-9][0-9]{0,17})|null)$"
_HEAD_KEYS = ["format", "digest", "snapshot_digest", "as_of", "count", "ops"]


def read_lines(raw: bytes) -> Plan | None:
    lines = _lines_of(raw)
    if lines is None or len(lines) < 3 or lines[-1].as_py() != "]}\n":
        return None
    head = _head(lines[0].as_py()[:-1])
    if head is None:
        return None
    try:
        as_of = date.fromisoformat(str(head["as_of"]))
    except ValueError:
        return None
    columns = _line_fields(lines.slice(1, len(lines) - 2))
    if columns is None:
        return None
    ops = pd.DataFrame({
        name: pd.Series(columns[name], dtype="Int64" if name == "hr_row"
                        else "str" if name in JSON_COLUMNS else "string")
        for name in OP_COLUMNS})
    plan = Plan(ops, str(head["digest"]), str(head["snapshot_digest"]), as_of)
    if plan_digest(plan.snapshot_digest, ops["op_id"]) != plan.digest:
        return None
    hashed = pa.table({name: columns[name] for name in ID_FIELDS})
    hashed = hashed.set_column(hashed.schema.get_field_index("target_id"), "target_id",
                               pc.fill_null(columns["target_id"], ""))
    ids = pa.array(op_ids_of_table(hashed), pa.string())
    if not pc.all(pc.equal(ids, columns["op_id"])).as_py():
        return None
    return plan


def _lines_of(raw: bytes) -> pa.Array | None:
    """The file's lines, each with its "\\n", as a string array (None: not UTF-8, too large for
    one array, or the file does not end with a line break)."""
    if not raw.endswith(b"\n") or len(raw) >= 1 << 31:
        return None
    breaks = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == ord("\n"))
    offsets = np.concatenate([[0], breaks + 1]).astype(np.int32)
    lines = pa.StringArray.from_buffers(len(breaks), pa.py_buffer(offsets), pa.py_buffer(raw))
    try:
        lines.validate(full=True)  # UTF-8
    except pa.ArrowInvalid:
        return None
    return lines


def _head(line: str) -> dict[str, Any] | None:
    """The header line's values, when it is exactly the line write_plan writes for them."""
    try:
        head = json.loads(line + "]}")
    except json.JSONDecodeError:
        return None
    if not isinstance(head, dict) or list(head) != _HEAD_KEYS or head["ops"] != [] or (
            head["format"] != PLAN_FORMAT):
        return None
    values = {key: head[key] for key in _HEAD_KEYS[:-1]}
    if json.dumps(values, ensure_ascii=False)[:-1] + ', "ops": [' != line:
        return None
    return values


def _line_fields(lines: pa.Array) -> dict[str, pa.Array] | None:
    """The op columns of the op lines, typed as the Plan frame holds them (JSON columns: "" for
    null), or None when a line is not as write_plan writes it."""
    count, width = len(lines), len(OP_COLUMNS)
    fields = pc.split_pattern(lines, ', "')
    if not pc.all(pc.equal(pc.list_value_length(fields), width)).as_py():
        return None
    # The pieces, one after the other: '{"op_id": V', 'action": V', …, 'match": V}\n', then
    # ',{"op_id": V', … Between two values (and before the first, after the last) is a "gap":
    # '{"op_id": ' first, '}\n,{"op_id": ' between lines, 'action": ' … within one, '}\n' last.
    pieces = fields.flatten()
    size = count * width
    offsets = np.frombuffer(pieces.buffers()[1], dtype=np.int32, count=size + 1,
                            offset=pieces.offset * 4).astype(np.int64)
    gaps = ["}\n,{" + f'"{OP_COLUMNS[0]}": '] + [f'{name}": ' for name in OP_COLUMNS[1:]]
    first, last = gaps[0][3:], "}\n"
    prefix = np.array([len(gaps[0]) - 2] + [len(gap) for gap in gaps[1:]], dtype=np.int64)
    starts = offsets[:-1] + np.tile(prefix, count)
    starts[0] -= 1
    ends = offsets[1:].copy()
    ends[width - 1::width] -= len(last)
    bounds = np.empty(2 * size + 2, dtype=np.int64)
    bounds[0], bounds[-1] = offsets[0], offsets[-1]
    bounds[1:-1:2], bounds[2:-1:2] = starts, ends
    if np.any(np.diff(bounds) < 0) or bounds[-1] >= 1 << 31:
        return None
    spans = pa.StringArray.from_buffers(len(bounds) - 1, pa.py_buffer(bounds.astype(np.int32)),
                                        pieces.buffers()[2])
    between = spans.take(pa.array(np.arange(0, len(bounds) - 1, 2)))
    expected = first + "".join(gaps[1:]) + "".join(gaps) * (count - 1) + last
    lengths = np.concatenate([[len(first)], prefix[1:],
                              np.tile([len(gap) for gap in gaps], count - 1), [len(last)]])
    if not (np.array_equal(np.diff(np.frombuffer(between.buffers()[1], dtype=np.int32,
                                                 count=len(between) + 1)), lengths)
            and utf8_bytes(between).tobytes() == expected.encode()):
        return None
    # The values, column after column.
    order = 2 * (np.arange(count)[None, :] * width + np.arange(width)[:, None]) + 1
    values = spans.take(pa.array(order.ravel()))
    columns: dict[str, pa.Array] = {}
    for number, name in enumerate(OP_COLUMNS):
        typed = _line_value(name, values.slice(number * count, count))
        if typed is None:
            return None
        columns[name] = typed
    for name in ("op_id", "action", "method", "path"):
        if columns[name].null_count:
            return None
    return columns


def _line_value(name: str, text: pa.Array) -> pa.Array | None:
    """One field's JSON text on every line as the Plan frame's value (None: not taken here)."""
    null = pc.equal(text, "null")
    if name in JSON_COLUMNS:
        chosen = pc.unique(text).cast(pa.binary()).to_pylist()
        loads, dumps = orjson.loads, orjson.dumps
        try:
            if not all(dumps(loads(one), option=orjson.OPT_SORT_KEYS) == one for one in chosen):
                return None
        except (orjson.JSONDecodeError, TypeError):
            return None
        return pc.if_else(null, "", text)
    if name == "hr_row":
        if not pc.all(pc.match_substring_regex(text, _LINE_INTEGER)).as_py():
            return None
        return pc.cast(pc.if_else(null, None, text), pa.int64())
    if not pc.all(pc.match_substring_regex(text, _LINE_STRING)).as_py():
        return None
    inner = pc.utf8_slice_codeunits(text, 1, -1)
    if pc.any(pc.match_substring(inner, "\\")).as_py():
        inner = pc.replace_substring_regex(inner, r'\\(["\\])', r"\1")
    return pc.if_else(null, pa.scalar(None, pa.string()), inner)


