"""Plan SCIM operations from a reconciliation: a reviewable, content-addressed batch.

Every op is data (method, path, payload, the ``before`` values it expects to replace); nothing
here talks to a target. An op's id is the sha256 of its canonical JSON, so an approval names
exactly what a person saw; the plan digest covers the ops and the snapshot they came from.

Payloads follow RFC 7643/7644 shapes (a User for POST, a PatchOp for PATCH); the tests check
every payload against scim2-models. build_plan writes each payload shape once and assembles the
ops' JSON column-wise (see "the same ops, column-wise" below); the general path, one dict per op,
defines the result and handles every input the column-wise build does not expect.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
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


# ---- the same ops, column-wise ----------------------------------------------------------------
#
# An op's JSON is the canonical JSON of a dict whose shape depends only on which attributes it
# writes, not on their values. So each shape is written once with placeholder values by the same
# code as the general path (``_user_payload``, ``_patch_operation``, ``canonical``), split at the
# placeholders, and the ops' JSON assembled by pyarrow from those literal pieces and the values
# as JSON strings. Every key is sorted as ``canonical`` sorts it (code points, which is UTF-8 byte
# order); only the sha256 of each op's canonical body runs per op in Python.

_HOLE = "\ue000{}\ue000"  # a private-use character: JSON leaves it as it is
_HOLE_TOKEN = re.compile('"\ue000([0-9]+)\ue000"')
_ID_FIELDS = ("action", "method", "path", "target_id", "hr_key", "payload", "before")


@dataclass(frozen=True)
class _Template:
    """Canonical JSON split at its placeholders: ``parts[0] v0 parts[1] v1 … parts[-1]``."""
    parts: tuple[str, ...]
    holes: tuple[int, ...]  # which value goes into each gap, in order

    def fill(self, values: list[pa.Array], length: int) -> pa.Array:
        if not self.holes:
            return pa.repeat(self.parts[0], length)
        pieces: list[Any] = [self.parts[0]]
        for hole, part in zip(self.holes, self.parts[1:], strict=True):
            pieces += [values[hole], part]
        return pc.binary_join_element_wise(*pieces, "")


def _template(value: Any, holes: int, *, each_once: bool) -> _Template | None:
    """``canonical(value)`` split at placeholders 0..holes-1 (None: one is not there as a whole
    JSON string, or more than once, or — when ``each_once`` — not at all)."""
    text = canonical(value)
    found = list(_HOLE_TOKEN.finditer(text))
    numbers = [int(one[1]) for one in found]
    if len(set(numbers)) != len(numbers) or any(n >= holes for n in numbers):
        return None
    if each_once and len(numbers) != holes:
        return None
    parts, start = [], 0
    for one in found:
        parts.append(text[start:one.start()])
        start = one.end()
    parts.append(text[start:])
    return _Template(tuple(parts), tuple(numbers))


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


_OPS_SCHEMA = pa.schema([
    ("action", pa.string()), ("method", pa.string()), ("path", pa.string()),
    ("target_id", pa.string()), ("hr_key", pa.string()), ("hr_row", pa.int64()),
    ("category", pa.string()), ("payload", pa.string()), ("before", pa.string()),
    ("etag", pa.string()), ("risk", pa.string()), ("match", pa.string()),
])


def _table(length: int, **columns: Any) -> pa.Table:
    """The op columns; a str is that value on every row, None a null on every row."""
    arrays = []
    for field in _OPS_SCHEMA:
        value = columns[field.name]
        if value is None:
            value = pa.nulls(length, field.type)
        elif isinstance(value, str):
            value = pa.repeat(value, length)
        arrays.append(value.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=_OPS_SCHEMA)


def _columnar_ops(
    identities: pd.DataFrame, diffs: pd.DataFrame, wanted: pd.DataFrame,
    current: pd.DataFrame, config: Config,
) -> pa.Table | None:
    """The ops of ``_creates``, ``_patches`` and ``_policy_ops`` as one table, sorted as
    build_plan sorts them (None: an input this does not handle; the general path decides)."""
    for frame, columns in ((identities, ("category", "hr_key", "target_id")),
                           (diffs, ("target_id", "attribute", "before", "after")),
                           (current, ("target_id", "etag"))):
        if any(_strings(frame[c][:0]) is None for c in columns):
            return None
    if _integers(identities["hr_row"][:0]) is None:
        return None
    parts = [_columnar_creates(identities, wanted), _columnar_patches(identities, diffs),
             _columnar_policy(identities, current, config)]
    if any(part is None for part in parts):
        return None
    table = pa.concat_tables([part for part in parts if part is not None])
    rank = pc.index_in(table["action"], value_set=pa.array(list(ACTION_ORDER)))
    keys = pa.table({"rank": rank, "hr_row": table["hr_row"], "target_id": table["target_id"]})
    order = pc.sort_indices(
        keys, sort_keys=[(name, "ascending", "at_end") for name in keys.column_names])
    table = table.take(order).combine_chunks()
    return table.set_column(table.schema.get_field_index("etag"), "etag",
                            _etag_column(current, table))


def _etag_column(current: pd.DataFrame, table: pa.Table) -> pa.Array:
    """The ``etag`` of every op: the snapshot's meta.version of its account ("" when none, and
    for creates). Like ``_etags``, the last row of an id wins."""
    targets = table["target_id"].combine_chunks()
    wanted = pc.dictionary_encode(targets)
    accounts = _strings(current["target_id"])
    versions = _strings(current["etag"])
    assert accounts is not None and versions is not None
    # Probe the accounts against the ops' ids (hashing the smaller set).
    found = pc.index_in(accounts, value_set=wanted.dictionary)
    rows = np.flatnonzero(pc.is_valid(found).to_numpy(zero_copy_only=False))
    last = np.full(len(wanted.dictionary), -1, dtype=np.int64)
    np.maximum.at(last, pc.take(found, pa.array(rows)).to_numpy(zero_copy_only=False)
                  .astype(np.int64), rows)
    row_of = pa.array(last.take(np.asarray(wanted.indices, dtype=np.int64)), mask=None)
    etags = pc.fill_null(versions.take(pc.if_else(pc.less(row_of, 0), None, row_of)), "")
    return pc.if_else(pc.equal(table["action"], "create"), "", etags)


def _columnar_creates(identities: pd.DataFrame, wanted: pd.DataFrame) -> pa.Table | None:
    joiners = identities[identities["category"] == "joiner"]
    length = len(joiners)
    if not length:
        return _table(0, **dict.fromkeys(_OPS_SCHEMA.names, None))
    values = wanted.loc[joiners["hr_row"].to_numpy()]
    paths = list(values.columns)
    if len(set(paths)) != len(paths) or len(paths) > 62 or any(
            not isinstance(p, str) or _value_dependent(p) for p in paths):
        return None
    columns = [_strings(values[p]) for p in paths]
    if any(c is None for c in columns):
        return None
    quoted = [_json_strings(c) for c in columns if c is not None]
    present = values.notna().to_numpy(dtype=bool)
    shapes = present.astype(np.int64) @ (np.int64(1) << np.arange(len(paths), dtype=np.int64))
    payloads, matches, rows_of = [], [], []
    for shape in np.unique(shapes):
        rows = np.flatnonzero(shapes == shape)
        used = [i for i in range(len(paths)) if (int(shape) >> i) & 1]
        holes = {paths[i]: _HOLE.format(n) for n, i in enumerate(used)}
        try:
            user = _user_payload(holes)
        except (TypeError, AttributeError, ValueError):
            return None  # the general path raises it, for the first row of this shape
        match = {"userName": user.get("userName"), "externalId": user.get("externalId")}
        payload_template = _template(user, len(used), each_once=True)
        match_template = _template(match, len(used), each_once=False)
        if payload_template is None or match_template is None:
            return None
        taken = [quoted[i].take(pa.array(rows)) for i in used]
        payloads.append(payload_template.fill(taken, len(rows)))
        matches.append(match_template.fill(taken, len(rows)))
        rows_of.append(rows)
    back = np.empty(length, dtype=np.int64)
    back[np.concatenate(rows_of)] = np.arange(length)
    inverse = pa.array(back)
    hr_key, hr_row = _strings(joiners["hr_key"]), _integers(joiners["hr_row"])
    return _table(
        length, action="create", method="POST", path="/Users", target_id="", hr_key=hr_key,
        hr_row=hr_row, category="joiner",
        payload=pa.concat_arrays(payloads).take(inverse), before=canonical({}), etag="",
        risk=RISK["create"], match=pa.concat_arrays(matches).take(inverse))


@cache
def _value_dependent(path: str) -> bool:
    """``set_path`` finds a filtered item by the value of its filter attribute: a path that
    writes that attribute itself makes the payload's shape depend on the value."""
    parsed = parse_path(path)
    return parsed.filter_attr is not None and (parsed.sub or "value").lower() == (
        parsed.filter_attr.lower())


def _columnar_patches(identities: pd.DataFrame, diffs: pd.DataFrame) -> pa.Table | None:
    kinds = {"drift": "update", "link": "link", "rehire": "enable"}
    people = identities[is_in(identities["category"], list(kinds))]
    length = len(people)
    if not length:
        return _table(0, **dict.fromkeys(_OPS_SCHEMA.names, None))
    targets, categories = _strings(people["target_id"]), _strings(people["category"])
    assert targets is not None and categories is not None
    if targets.null_count or pc.count_distinct(targets).as_py() != length:
        return None  # one account, several people: the general path
    actions = pc.take(pa.array(list(kinds.values())),
                      pc.index_in(categories, value_set=pa.array(list(kinds))))
    # The diff rows of each person's account, as (person, position) -> operation and before.
    person = pc.index_in(_strings(diffs["target_id"]), value_set=targets)
    attributes = _strings(diffs["attribute"])
    assert attributes is not None
    ours = pc.is_valid(person)
    if pc.any(pc.and_(ours, pc.is_null(attributes))).as_py():
        return None
    ours = pc.and_(ours, pc.not_equal(attributes, "active"))
    positions = np.flatnonzero(ours.to_numpy(zero_copy_only=False))
    picked = pa.array(positions)
    attributes = attributes.take(picked)
    olds = _strings(diffs["before"]).take(picked)  # type: ignore[union-attr]
    news = pc.fill_null(_strings(diffs["after"]).take(picked), str(pd.NA))  # type: ignore[union-attr]
    had = pc.is_valid(olds)
    names = pc.dictionary_encode(attributes)
    vocabulary = names.dictionary.to_pylist()
    shape = np.asarray(names.indices, dtype=np.int64) * 2 + had.to_numpy(zero_copy_only=False)
    prefixes, suffixes = [""] * (2 * len(vocabulary)), [""] * (2 * len(vocabulary))
    for code in np.unique(shape):
        name, has = vocabulary[int(code) // 2], bool(code % 2)
        template = _template(_patch_operation(name, _HOLE.format(0), has), 1, each_once=True)
        if template is None:
            return None
        prefixes[int(code)], suffixes[int(code)] = template.parts
    shapes = pa.array(shape)
    operations = pc.binary_join_element_wise(
        pa.array(prefixes).take(shapes), _json_strings(news), pa.array(suffixes).take(shapes), "")
    befores = pc.binary_join_element_wise(
        _json_strings(attributes), ":", pc.fill_null(_json_strings(olds), "null"), "")
    owner = person.take(picked).to_numpy(zero_copy_only=False).astype(np.int64)
    identifying = np.array([_identifying(str(one)) for one in vocabulary], dtype=bool)
    risky = np.bincount(owner, weights=identifying[np.asarray(names.indices, dtype=np.int64)],
                        minlength=length) > 0
    # A rehire's account is enabled first; its before holds "active": false.
    enabling = np.flatnonzero(pc.equal(actions, "enable").to_numpy(zero_copy_only=False))
    active_op = canonical({"op": "replace", "path": "active", "value": True})
    active_before = canonical({"active": False})[1:-1]
    owner = np.concatenate([owner, enabling])
    position = np.concatenate([positions, np.full(len(enabling), -1, dtype=np.int64)])
    attributes = pa.concat_arrays([attributes, pa.repeat("active", len(enabling))])
    operations = pa.concat_arrays([operations, pa.repeat(active_op, len(enabling))])
    befores = pa.concat_arrays([befores, pa.repeat(active_before, len(enabling))])
    offsets = pa.array(np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=length))]),
                       pa.int32())
    by_position = pa.array(np.lexsort((position, owner)))
    by_name = pc.sort_indices(pa.table({"owner": owner, "name": attributes}),
                              sort_keys=[("owner", "ascending"), ("name", "ascending")])
    names_sorted = attributes.take(by_name).to_numpy(zero_copy_only=False)
    owners_sorted = owner[np.asarray(by_name)]
    if np.any((owners_sorted[1:] == owners_sorted[:-1]) & (names_sorted[1:] == names_sorted[:-1])):
        return None  # an attribute twice for one account: one key in before, two operations
    joined_operations = pc.binary_join(
        pa.ListArray.from_arrays(offsets, operations.take(by_position)), ",")
    joined_befores = pc.binary_join(pa.ListArray.from_arrays(offsets, befores.take(by_name)), ",")
    payload = _template({"schemas": [PATCH_OP], "Operations": [_HOLE.format(0)]}, 1,
                        each_once=True)
    assert payload is not None
    risk = pc.if_else(pc.and_(pa.array(risky), pc.equal(actions, "update")), "medium",
                      pc.take(pa.array([RISK[a] for a in kinds.values()]),
                              pc.index_in(actions, value_set=pa.array(list(kinds.values())))))
    return _table(
        length, action=actions, method="PATCH",
        path=pc.binary_join_element_wise("/Users/", targets, ""), target_id=targets,
        hr_key=_strings(people["hr_key"]), hr_row=_integers(people["hr_row"]),
        category=categories,
        payload=payload.fill([joined_operations], length),
        before=pc.binary_join_element_wise("{", joined_befores, "}", ""),
        etag=None, risk=risk, match="")


def _columnar_policy(identities: pd.DataFrame, current: pd.DataFrame, config: Config,
                     ) -> pa.Table | None:
    chosen = _policy_rows(identities, current, config)
    tables = []
    for frame, action in chosen:
        targets = _strings(frame["target_id"])
        if targets is None or targets.null_count:
            return None
        if action == "disable":
            payload = canonical({"schemas": [PATCH_OP],
                                 "Operations": [{"op": "replace", "path": "active",
                                                 "value": False}]})
            method = "PATCH"
        else:
            payload, method = "", "DELETE"
        tables.append(_table(
            len(frame), action=action, method=method,
            path=pc.binary_join_element_wise("/Users/", targets, ""), target_id=targets,
            hr_key=_strings(frame["hr_key"]), hr_row=_integers(frame["hr_row"]),
            category=_strings(frame["category"]), payload=payload,
            before=canonical({"active": True}), etag=None, risk=RISK[action],
            match=""))
    return pa.concat_tables(tables) if tables else _table(0, **dict.fromkeys(_OPS_SCHEMA.names))


def _ops_of_table(table: pa.Table) -> pd.DataFrame:
    """The typed Plan frame (as ``ops_frame`` types it) of an op table, ids computed."""
    columns: dict[str, pd.Series] = {
        "op_id": pd.Series(pa.array(_op_ids(table), pa.string()), dtype="string")}
    for name in OP_COLUMNS[1:]:
        dtype = "Int64" if name == "hr_row" else "str" if name in JSON_COLUMNS else "string"
        columns[name] = pd.Series(table[name].combine_chunks(), dtype=dtype)
    return pd.DataFrame(columns)


def _op_ids(table: pa.Table) -> list[str]:
    """``op_id`` of every op of the table: its canonical body assembled, then its sha256."""
    body = _template({field: _HOLE.format(n) for n, field in enumerate(_ID_FIELDS)},
                     len(_ID_FIELDS), each_once=True)
    assert body is not None

    def value(field: str) -> pa.Array:
        column = table[field].combine_chunks()
        if field in JSON_COLUMNS:  # "" in the frame stands for None
            return pc.if_else(pc.equal(column, ""), "null", column)
        return pc.fill_null(_json_strings(column), "null")
    return _sha256_hex(body.fill([value(field) for field in _ID_FIELDS], table.num_rows))


def _sha256_hex(texts: pa.Array) -> list[str]:
    """sha256 hex digest of each string's UTF-8 bytes, straight from the arrow buffers."""
    texts = texts.cast(pa.string())
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not len(texts):
        return []
    _, offsets_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=len(texts) + 1,
                            offset=texts.offset * 4).tolist()
    data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
    sha256 = hashlib.sha256
    return [sha256(data[start:end]).hexdigest()
            for start, end in itertools.pairwise(offsets)]


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


def _read_lines(raw: bytes) -> Plan | None:
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
    hashed = pa.table({name: columns[name] for name in _ID_FIELDS})
    hashed = hashed.set_column(hashed.schema.get_field_index("target_id"), "target_id",
                               pc.fill_null(columns["target_id"], ""))
    ids = pa.array(_op_ids(hashed), pa.string())
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
            and _utf8_bytes(between).tobytes() == expected.encode()):
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
