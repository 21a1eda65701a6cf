"""Plan SCIM operations from a reconciliation: a reviewable, content-addressed batch.

Every op is data (method, path, payload, the ``before`` values it expects to replace); nothing
here talks to a target. An op's id is the sha256 of its canonical JSON, so an approval names
exactly what a person saw; the plan digest covers the ops and the snapshot they came from.

Payloads follow RFC 7643/7644 shapes (a User for POST, a PatchOp for PATCH); the tests check
every payload against scim2-models. build_plan writes each payload shape once and assembles the
ops' JSON column-wise (``recon.plan_columnar``), and read_plan reads its own layout column-wise
(``recon.plan_lines``); the general paths here, one dict per op, define the results and handle
every input the column-wise code does not expect.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.config import ENTERPRISE, Config
from recon.errors import InputError
from recon.normalize import CORE_USER, is_in, parse_path, set_path

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PLAN_FORMAT = "recon.plan/1"
OP_COLUMNS = [
    "op_id", "action", "method", "path", "target_id", "hr_key", "hr_row", "category",
    "payload", "before", "etag", "risk", "match",
]
JSON_COLUMNS = ("payload", "before", "match")
RISK = {"create": "low", "update": "low", "link": "medium", "enable": "medium",
        "disable": "high", "delete": "critical",
        "group_create": "low", "group_add": "low", "group_remove": "medium"}
IDENTIFYING = {"username", "externalid", "employeenumber"}
ACTION_ORDER = {"create": 0, "link": 1, "update": 2, "enable": 3, "disable": 4, "delete": 5}


@dataclass(frozen=True)
class Plan:
    ops: pd.DataFrame
    digest: str
    snapshot_digest: str
    as_of: date

    def __len__(self) -> int:
        return len(self.ops)

    def counts(self) -> pd.Series:
        return self.ops.groupby("action").size() if len(self.ops) else pd.Series(dtype="int64")


_ORJSON_CANONICAL = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                     | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS)


def canonical_bytes(value: Any) -> bytes:
    """``canonical(value)`` as UTF-8; orjson writes the same bytes 3× faster when it can."""
    try:
        return orjson.dumps(value, option=_ORJSON_CANONICAL)
    except TypeError:  # orjson.JSONEncodeError too: json decides (and words any error)
        return _canonical_json(value).encode("utf-8")


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(value: Any) -> str:
    return canonical_bytes(value).decode("utf-8")


def op_id(action: str, method: str, path: str, target_id: str, hr_key: str | None,
          payload: Any, before: Any) -> str:
    body = {"action": action, "method": method, "path": path, "target_id": target_id,
            "hr_key": hr_key, "payload": payload, "before": before}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


def plan_digest(snapshot_digest: str, op_ids: list[str] | pd.Series) -> str:
    digest = hashlib.sha256(f"{PLAN_FORMAT}\n{snapshot_digest}\n".encode())
    ids = _id_array(op_ids)
    if ids is None:
        for one in sorted(op_ids):
            digest.update(one.encode() + b"\n")
    elif len(ids):  # the same bytes: sorted by code point (UTF-8 byte order), one per line
        digest.update(_utf8_bytes(pc.binary_join_element_wise(
            ids.take(pc.sort_indices(ids)), "\n", "")).data)
    return digest.hexdigest()


def _id_array(op_ids: list[str] | pd.Series) -> pa.Array | None:
    """Op ids as a pyarrow string array without nulls (None: something else is in there)."""
    try:
        if isinstance(op_ids, pd.Series):
            ids = _strings(op_ids)
        else:
            ids = pa.array(op_ids, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return None if ids is None or ids.null_count else ids


def _patch_operation(path: str, value: Any, had_value: bool) -> dict[str, Any]:
    is_reference, filter_attr, filter_value, sub, attribute = _patch_shape(path)
    if is_reference:
        return {"op": "replace", "path": path, "value": {"value": value}}
    if filter_attr is not None and not had_value:
        # RFC 7644 §3.5.2.3: replace with a value filter that matches nothing is an error
        # (noTarget), so a missing work e-mail is added as a new multi-valued item.
        item = {filter_attr: filter_value, sub: value}
        return {"op": "add", "path": attribute, "value": [item]}
    return {"op": "replace", "path": path, "value": value}


def _user_payload(values: dict[str, Any]) -> dict[str, Any]:
    user: dict[str, Any] = {"schemas": [CORE_USER]}
    for path, value in values.items():
        set_path(user, path, value)
    if ENTERPRISE in user:
        user["schemas"].append(ENTERPRISE)
    user["active"] = True
    return user


def build_plan(
    identities: pd.DataFrame, diffs: pd.DataFrame, wanted: pd.DataFrame,
    current: pd.DataFrame, config: Config, snapshot_digest: str, as_of: date,
) -> Plan:
    """One op per account to change; ids, risk and digest computed from the op content.

    The ops are built column-wise (``_columnar_ops``): their JSON text assembled from templates
    with pyarrow and only the sha256 per op in Python. Inputs it does not expect (other column
    types, a config whose paths make value-dependent payloads, ...) take the general path,
    one dict per op, which defines the result.
    """
    from recon.plan_columnar import _columnar_ops, _ops_of_table

    table = _columnar_ops(identities, diffs, wanted, current, config)
    if table is None or not table.num_rows:  # (no ops: the general path types the empty frame)
        return _general_plan(identities, diffs, wanted, current, config, snapshot_digest, as_of)
    ops = _ops_of_table(table)
    return Plan(ops, plan_digest(snapshot_digest, ops["op_id"]), snapshot_digest, as_of)


def _general_plan(
    identities: pd.DataFrame, diffs: pd.DataFrame, wanted: pd.DataFrame,
    current: pd.DataFrame, config: Config, snapshot_digest: str, as_of: date,
) -> Plan:
    rows: list[dict[str, Any]] = []
    rows.extend(_creates(identities, wanted))
    rows.extend(_patches(identities, diffs, current))
    rows.extend(_policy_ops(identities, current, config))
    ops = ops_frame(rows)
    ops = ops.sort_values(
        ["action", "hr_row", "target_id"],
        key=lambda s: s.map(ACTION_ORDER) if s.name == "action" else s,
        kind="stable").reset_index(drop=True)
    return Plan(ops, plan_digest(snapshot_digest, ops["op_id"].tolist()), snapshot_digest, as_of)


def ops_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Op rows (dicts of the Plan columns but op_id) as the typed Plan frame, ids computed."""
    ops = pd.DataFrame(rows, columns=[c for c in OP_COLUMNS if c != "op_id"])
    # From the dicts, not the frame: pandas would turn a missing hr_key into NaN, and read_plan
    # recomputes every id with None there.
    ids = [op_id(r["action"], r["method"], r["path"], r["target_id"],
                 None if r["hr_key"] is None or pd.isna(r["hr_key"]) else r["hr_key"],
                 r["payload"], r["before"]) for r in rows]
    ops.insert(0, "op_id", ids)
    return _typed(ops)


def _typed(ops: pd.DataFrame) -> pd.DataFrame:
    """The Plan frame's column types: JSON columns as canonical text, the rest as strings."""
    for column in JSON_COLUMNS:
        ops[column] = [canonical(v) if v is not None else "" for v in ops[column]]
    ops["hr_row"] = ops["hr_row"].astype("Int64")
    for column in ("op_id", "action", "method", "path", "target_id", "hr_key", "category",
                   "etag", "risk"):
        ops[column] = ops[column].astype("string")
    return ops


def extend_plan(plan: Plan, rows: list[dict[str, Any]]) -> Plan:
    """The plan with more ops appended (e.g. /Groups ops); the digest covers them all."""
    if not rows:
        return plan
    ops = pd.concat([plan.ops, ops_frame(rows)], ignore_index=True)
    return Plan(ops, plan_digest(plan.snapshot_digest, ops["op_id"].tolist()),
                plan.snapshot_digest, plan.as_of)


def _creates(identities: pd.DataFrame, wanted: pd.DataFrame) -> Iterator[dict[str, Any]]:
    joiners = identities[identities["category"] == "joiner"]
    if joiners.empty:
        return
    values = wanted.loc[joiners["hr_row"].to_numpy()]
    paths = list(values.columns)
    records = values.astype(object).where(values.notna(), None).to_numpy()
    for (hr_key, hr_row), record in zip(
        zip(joiners["hr_key"], joiners["hr_row"], strict=True), records, strict=True
    ):
        present = {p: v for p, v in zip(paths, record, strict=True) if v is not None}
        payload = _user_payload(present)
        yield {
            "action": "create", "method": "POST", "path": "/Users", "target_id": "",
            "hr_key": hr_key, "hr_row": hr_row, "category": "joiner", "payload": payload,
            "before": {}, "etag": "", "risk": RISK["create"],
            "match": {"userName": payload.get("userName"), "externalId": payload.get("externalId")},
        }


def _patches(
    identities: pd.DataFrame, diffs: pd.DataFrame, current: pd.DataFrame,
) -> Iterator[dict[str, Any]]:
    kinds = {"drift": "update", "link": "link", "rehire": "enable", "leaver": "disable"}
    people = identities[is_in(identities["category"], list(kinds))]
    if people.empty:
        return
    etags = _etags(current)
    # One pass over the diff rows, grouped by account (diffs are sorted by hr_row, attribute).
    changes_of: dict[Any, list[tuple[Any, Any, Any]]] = {}
    for target, attribute, old, new in zip(
        *(diffs[c].tolist() for c in ("target_id", "attribute", "before", "after")), strict=True
    ):
        changes_of.setdefault(target, []).append((attribute, old, new))
    for target_id, hr_key, hr_row, category in zip(
        *(people[c].tolist() for c in ("target_id", "hr_key", "hr_row", "category")), strict=True
    ):
        action = kinds[str(category)]
        if action == "disable":
            continue  # leavers follow the leaver policy, see _policy_ops
        operations: list[dict[str, Any]] = []
        before: dict[str, Any] = {}
        for attribute, old, new in changes_of.get(target_id, ()):
            if attribute == "active":
                continue
            had = bool(pd.notna(old))
            before[str(attribute)] = str(old) if had else None
            operations.append(_patch_operation(str(attribute), str(new), had))
        if action == "enable":
            operations.insert(0, {"op": "replace", "path": "active", "value": True})
            before["active"] = False
        risky = any(_identifying(p) for p in before)
        yield {
            "action": action, "method": "PATCH", "path": f"/Users/{target_id}",
            "target_id": target_id, "hr_key": hr_key, "hr_row": hr_row, "category": category,
            "payload": {"schemas": [PATCH_OP], "Operations": operations}, "before": before,
            "etag": etags.get(target_id, ""),
            "risk": "medium" if risky and action == "update" else RISK[action], "match": None,
        }


@cache
def _identifying(path: str) -> bool:
    return parse_path(path).attribute.lower() in IDENTIFYING


@cache
def _patch_shape(path: str) -> tuple[bool, str | None, str | None, str, str]:
    parsed = parse_path(path)
    return (parsed.is_reference, parsed.filter_attr, parsed.filter_value,
            parsed.sub or "value", parsed.attribute)


def _etags(current: pd.DataFrame) -> dict[Any, str]:
    """target_id -> the snapshot's meta.version ("" when it has none)."""
    return {
        target: "" if etag is None or pd.isna(etag) else str(etag)
        for target, etag in zip(current["target_id"].tolist(), current["etag"].tolist(),
                                strict=True)
    }


def _policy_rows(
    identities: pd.DataFrame, current: pd.DataFrame, config: Config,
) -> list[tuple[pd.DataFrame, str]]:
    """(the leaver or orphan rows to act on, the action) for each category the policy acts on;
    orphans to disable only where the account is still active."""
    active = current.set_index("target_id")["active"]
    chosen: list[tuple[pd.DataFrame, str]] = []
    if config.policy.leavers != "none":
        chosen.append((identities[identities["category"] == "leaver"], config.policy.leavers))
    if config.policy.orphans != "report":
        orphans = identities[identities["category"] == "orphan"]
        if config.policy.orphans == "disable":
            orphans = orphans[orphans["target_id"].map(active).fillna(False).astype(bool)]
        chosen.append((orphans, config.policy.orphans))
    return chosen


def _policy_ops(
    identities: pd.DataFrame, current: pd.DataFrame, config: Config,
) -> Iterator[dict[str, Any]]:
    """Leavers and orphans, as the policy says: disable, delete, or leave alone."""
    etags = _etags(current)
    chosen = _policy_rows(identities, current, config)
    for frame, action in chosen:
        for target_id, hr_key, hr_row, category in zip(
            frame["target_id"], frame["hr_key"], frame["hr_row"], frame["category"], strict=True
        ):
            key = None if pd.isna(hr_key) else hr_key
            row = None if pd.isna(hr_row) else hr_row
            if action == "disable":
                payload: Any = {"schemas": [PATCH_OP],
                                "Operations": [{"op": "replace", "path": "active", "value": False}]}
                method = "PATCH"
            else:
                payload, method = None, "DELETE"
            yield {
                "action": action, "method": method, "path": f"/Users/{target_id}",
                "target_id": target_id, "hr_key": key, "hr_row": row, "category": category,
                "payload": payload, "before": {"active": True}, "etag": etags.get(target_id, ""),
                "risk": RISK[action], "match": None,
            }


def _json_strings(values: pa.Array) -> pa.Array:
    """Each string as canonical JSON writes it (quoted and escaped); nulls stay null."""
    text = values
    data = _utf8_bytes(values)
    if np.any((data == ord('"')) | (data == ord("\\"))):
        text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
    text = pc.binary_join_element_wise('"', text, '"', "")
    if np.any(data < 0x20):  # \n, \t, \u0001…: rare, and written by orjson itself
        controls = pc.fill_null(pc.match_substring_regex(values, r"[\x00-\x1f]"), False)
        escaped = [orjson.dumps(one).decode("utf-8")
                   for one in pc.filter(values, controls).to_pylist()]
        text = pc.replace_with_mask(text, controls, pa.array(escaped, pa.string()))
    return text


def _utf8_bytes(values: pa.Array) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The UTF-8 bytes of all the strings of a string array, as one numpy view."""
    if not len(values):
        return np.empty(0, dtype=np.uint8)
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=len(values) + 1,
                            offset=values.offset * 4)
    if data_buffer is None:
        return np.empty(0, dtype=np.uint8)
    return np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]:offsets[-1]]


def _strings(column: pd.Series) -> pa.Array | None:
    """A string column as one pyarrow string array (None: not a string column)."""
    if not isinstance(column.dtype, pd.StringDtype):
        return None
    array = pa.array(column.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.string())


def _integers(column: pd.Series) -> pa.Array | None:
    if not (isinstance(column.dtype, pd.Int64Dtype) or column.dtype == "int64"):
        return None
    array = pa.array(column.array if isinstance(column.dtype, pd.Int64Dtype)
                     else column.to_numpy(), type=pa.int64())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array



# ---- plan.json --------------------------------------------------------------------------------

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
        if column == "hr_row" and _integers(ops[column][:0]) is not None:
            numbers = _integers(ops[column])
            arrays.append(pc.fill_null(pc.cast(numbers, pa.string()), "null"))
            continue
        text = _strings(ops[column]) if isinstance(column, str) else None
        if text is None or column == "hr_row":
            return None
        if column in JSON_COLUMNS:  # JSON text already ("" or missing: null)
            text = pc.fill_null(text, "")
            arrays.append(pc.if_else(pc.equal(text, ""), "null", text))
        else:
            arrays.append(pc.fill_null(_json_strings(text), "null"))
    return arrays


def _write_lines(out: Any, keys: list[str], arrays: list[pa.Array], count: int) -> None:
    """``_write_records``' lines, assembled by pyarrow a batch at a time."""
    for start in range(0, count, _LINES_PER_WRITE):
        pieces: list[Any] = []
        for number, (key, array) in enumerate(zip(keys, arrays, strict=True)):
            pieces += [(",{" if number == 0 else ", ") + key, array.slice(start, _LINES_PER_WRITE)]
        pieces.append("}\n")
        lines = _utf8_bytes(pc.binary_join_element_wise(*pieces, ""))
        out.write(lines[1:] if start == 0 else lines)  # no comma before the first op


def read_plan(path: str | Path) -> Plan:
    """plan.json as a Plan, every op id and the digest checked against the content.

    A file laid out as ``write_plan`` writes it is read column-wise (``_read_lines``); anything
    else, and any file that fails a check there, is read by ``_read_general``, which defines
    the result and words every error.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read plan ({error.strerror})", file=str(file)) from error
    from recon.plan_lines import _read_lines

    plan = _read_lines(raw)
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
    ops = _typed(pd.DataFrame(data.get("ops") or [], columns=OP_COLUMNS))
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


def bulk_request(plan: Plan, op_ids: set[str] | None = None) -> dict[str, Any]:
    """The plan (or the chosen ops) as one SCIM BulkRequest (RFC 7644 §3.7)."""
    chosen = plan.ops if op_ids is None else plan.ops[plan.ops["op_id"].isin(op_ids)]
    operations = []
    for one, method, path, payload, etag in zip(
        chosen["op_id"], chosen["method"], chosen["path"], chosen["payload"], chosen["etag"],
        strict=True,
    ):
        operation: dict[str, Any] = {"method": method, "path": path, "bulkId": one[:32]}
        if payload:
            operation["data"] = json.loads(payload)
        if etag and not pd.isna(etag):
            operation["version"] = etag
        operations.append(operation)
    return {"schemas": [BULK_REQUEST], "Operations": operations}
