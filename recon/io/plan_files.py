"""plan.json and approval.json: the portable forms of a plan and of its approval.

plan.json is streamed one op per line (a million-op plan never becomes one giant string) and
read back with every op id and the digest checked against the content; a file laid out as
``write_plan`` writes it is read column-wise (``recon.io.plan_lines``), anything else the general
way, which defines the result and words every error.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.approve import APPROVAL_FORMAT, APPROVAL_FORMATS, Approval, Decision, Reviewed
from recon.core.arrow import int64_array, json_strings, string_array, utf8_bytes
from recon.core.plan import (
    JSON_COLUMNS,
    OP_COLUMNS,
    PLAN_FORMAT,
    Plan,
    op_id,
    plan_digest,
    typed_ops,
)
from recon.errors import InputError
from recon.io.plan_lines import read_lines


def write_plan(plan: Plan, path: Path) -> None:
    """Stream plan.json one op per line, so a million-op plan never becomes one giant string."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = {"format": PLAN_FORMAT, "digest": plan.digest, "snapshot_digest": plan.snapshot_digest,
            "as_of": plan.as_of.isoformat(), "count": len(plan.ops)}
    columns = list(plan.ops.columns)
    keys = [json.dumps(column) + ": " for column in columns]
    arrays = _line_columns(plan.ops)
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "ops": [\n')
        if arrays is not None:
            out.flush()
            _write_lines(out.buffer, keys, arrays, len(plan.ops))
        else:
            _write_records(out, plan.ops, keys)
        out.write("]}\n")


def _write_records(out: Any, ops: pd.DataFrame, keys: list[str]) -> None:
    """One line per op, value by value (any column types)."""
    columns = list(ops.columns)
    values = ops.astype(object).where(ops.notna(), None).to_numpy()
    for number, record in enumerate(values):
        # payload, before and match are JSON text already: spliced in, not re-parsed
        fields = [
            key + (value or "null" if column in JSON_COLUMNS
                   else str(int(value)) if column == "hr_row" and value is not None
                   else orjson.dumps(value).decode("utf-8"))
            for key, column, value in zip(keys, columns, record, strict=True)
        ]
        out.write(("," if number else "") + "{" + ", ".join(fields) + "}\n")


_LINES_PER_WRITE = 1 << 16


def _line_columns(ops: pd.DataFrame) -> list[pa.Array] | None:
    """Each column as the JSON text ``_write_records`` writes for its values (None: a column
    type it does not handle here: strings, and integers in hr_row)."""
    arrays = []
    for column in ops.columns:
        if column == "hr_row" and int64_array(ops[column][:0]) is not None:
            numbers = int64_array(ops[column])
            arrays.append(pc.fill_null(pc.cast(numbers, pa.string()), "null"))
            continue
        text = string_array(ops[column]) if isinstance(column, str) else None
        if text is None or column == "hr_row":
            return None
        if column in JSON_COLUMNS:  # JSON text already ("" or missing: null)
            text = pc.fill_null(text, "")
            arrays.append(pc.if_else(pc.equal(text, ""), "null", text))
        else:
            arrays.append(pc.fill_null(json_strings(text), "null"))
    return arrays


def _write_lines(out: Any, keys: list[str], arrays: list[pa.Array], count: int) -> None:
    """``_write_records``' lines, assembled by pyarrow a batch at a time."""
    for start in range(0, count, _LINES_PER_WRITE):
        pieces: list[Any] = []
        for number, (key, array) in enumerate(zip(keys, arrays, strict=True)):
            pieces += [(",{" if number == 0 else ", ") + key, array.slice(start, _LINES_PER_WRITE)]
        pieces.append("}\n")
        lines = utf8_bytes(pc.binary_join_element_wise(*pieces, ""))
        out.write(lines[1:] if start == 0 else lines)  # no comma before the first op


def read_plan(path: str | Path) -> Plan:
    """plan.json as a Plan, every op id and the digest checked against the content.

    A file laid out as ``write_plan`` writes it is read column-wise (``read_lines``); anything
    else, and any file that fails a check there, is read by ``_read_general``, which defines
    the result and words every error.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read plan ({error.strerror})", file=str(file)) from error
    plan = read_lines(raw)
    return plan if plan is not None else _read_general(file)


def _read_general(file: Path) -> Plan:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot read plan ({error.strerror})", file=str(file)) from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError("not a recon plan (invalid JSON)", file=str(file)) from error
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise InputError(f"not a recon plan (expected format {PLAN_FORMAT})", file=str(file))
    ops = typed_ops(pd.DataFrame(data.get("ops") or [], columns=OP_COLUMNS))
    plan = Plan(ops, str(data.get("digest")), str(data.get("snapshot_digest")),
                date.fromisoformat(str(data.get("as_of"))))
    recomputed = plan_digest(plan.snapshot_digest, ops["op_id"].tolist())
    if recomputed != plan.digest:
        raise InputError("plan digest does not match its ops (the file was edited)",
                         file=str(file))
    bad = [
        one for one, a, m, p, t, k, pl, b in zip(
            ops["op_id"], ops["action"], ops["method"], ops["path"],
            ops["target_id"].fillna(""), ops["hr_key"], ops["payload"], ops["before"],
            strict=True)
        if one != op_id(a, m, p, t, None if pd.isna(k) else str(k),
                        json.loads(pl) if pl else None, json.loads(b) if b else None)
    ]
    if bad:
        raise InputError(f"op {bad[0][:12]} does not match its content (the file was edited)",
                         file=str(file))
    return plan


# ---- approval.json ----------------------------------------------------------------------------

def write_approval(approval: Approval, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(approval.to_json(), indent=1), encoding="utf-8")


def read_approval(path: str | Path) -> Approval:
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot read approval ({error.strerror})", file=str(file)) from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError("not a recon approval (invalid JSON)", file=str(file)) from error
    if not isinstance(data, dict) or data.get("format") not in APPROVAL_FORMATS:
        raise InputError(f"not a recon approval (expected format {APPROVAL_FORMAT})",
                         file=str(file))
    try:
        decisions = tuple(Decision(**{k: str(v) for k, v in one.items()})
                          for one in data.get("decisions") or [])
        reviewed = tuple(Reviewed(**{k: str(v) for k, v in one.items()})
                         for one in data.get("reviewed") or [])
        return Approval(
            plan_digest=str(data["plan_digest"]), op_ids=tuple(str(i) for i in data["op_ids"]),
            approver=str(data.get("approver", "")), approved_at=str(data.get("approved_at", "")),
            note=str(data.get("note", "")), source=str(data.get("source", "")),
            decisions=decisions, reviewed=reviewed)
    except (KeyError, TypeError, AttributeError) as error:
        raise InputError(f"not a recon approval ({error})", file=str(file)) from error

