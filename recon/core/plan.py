"""Plan SCIM operations from a reconciliation: a reviewable, content-addressed batch.

Every op is data (method, path, payload, the ``before`` values it expects to replace); nothing
here talks to a target. An op's id is the sha256 of its canonical JSON, so an approval names
exactly what a person saw; the plan digest covers the ops and the snapshot they came from.

Here: the Plan, its columns, op ids and digest, and each payload shape, written once (a User
for POST, a PatchOp for PATCH; RFC 7643/7644 shapes, checked against scim2-models by the tests).
``recon.core.plan_build`` builds a plan from a reconciliation; ``recon.io.plan_files`` reads and
writes plan.json.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.arrow import string_array, utf8_bytes
from recon.core.canonical import canonical_bytes, canonical_json
from recon.core.categories import EVERY_CATEGORY
from recon.core.config import Config
from recon.core.scim import CORE_USER, ENTERPRISE, parse_path, set_path
from recon.core.scim import bulk_request as scim_bulk_request
from recon.core.summary import ordered_counts, summary_html

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

    def __repr__(self) -> str:
        return f"Plan({len(self.ops):,} ops, as of {self.as_of}, digest {self.digest[:16]})"

    def _repr_html_(self) -> str:
        """What a notebook shows for a plan on its own: ops per action and category, digests."""
        actions = {str(k): int(v) for k, v in self.counts().items()}
        categories = ({str(k): int(v) for k, v in self.ops["category"].value_counts().items()}
                      if len(self.ops) else {})
        return summary_html(
            "Plan", {"as-of date": self.as_of, "plan digest": self.digest[:16] + "…",
                     "snapshot digest": self.snapshot_digest[:16] + "…"},
            [("operations per action", ordered_counts(actions, tuple(ACTION_ORDER))),
             ("per category", ordered_counts(categories, EVERY_CATEGORY))])


def op_id(action: str, method: str, path: str, target_id: str, hr_key: str | None,
          payload: Any, before: Any) -> str:
    body = {"action": action, "method": method, "path": path, "target_id": target_id,
            "hr_key": hr_key, "payload": payload, "before": before}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


def plan_digest(snapshot_digest: str, op_ids: list[str] | pd.Series) -> str:
    digest = hashlib.sha256(f"{PLAN_FORMAT}\n{snapshot_digest}\n".encode())
    ids = id_array(op_ids)
    if ids is None:
        for one in sorted(op_ids):
            digest.update(one.encode() + b"\n")
    elif len(ids):  # the same bytes: sorted by code point (UTF-8 byte order), one per line
        digest.update(utf8_bytes(pc.binary_join_element_wise(
            ids.take(pc.sort_indices(ids)), "\n", "")).data)
    return digest.hexdigest()


def id_array(op_ids: list[str] | pd.Series) -> pa.Array | None:
    """Op ids as a pyarrow string array without nulls (None: something else is in there)."""
    try:
        if isinstance(op_ids, pd.Series):
            ids = string_array(op_ids)
        else:
            ids = pa.array(op_ids, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return None if ids is None or ids.null_count else ids


def patch_operation(path: str, value: Any, had_value: bool) -> dict[str, Any]:
    is_reference, filter_attr, filter_value, sub, attribute = patch_shape(path)
    if is_reference:
        return {"op": "replace", "path": path, "value": {"value": value}}
    if filter_attr is not None and not had_value:
        # RFC 7644 §3.5.2.3: replace with a value filter that matches nothing is an error
        # (noTarget), so a missing work e-mail is added as a new multi-valued item.
        item = {filter_attr: filter_value, sub: value}
        return {"op": "add", "path": attribute, "value": [item]}
    return {"op": "replace", "path": path, "value": value}


def user_payload(values: dict[str, Any]) -> dict[str, Any]:
    user: dict[str, Any] = {"schemas": [CORE_USER]}
    for path, value in values.items():
        set_path(user, path, value)
    if ENTERPRISE in user:
        user["schemas"].append(ENTERPRISE)
    user["active"] = True
    return user


def ops_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Op rows (dicts of the Plan columns but op_id) as the typed Plan frame, ids computed."""
    ops = pd.DataFrame(rows, columns=[c for c in OP_COLUMNS if c != "op_id"])
    # From the dicts, not the frame: pandas would turn a missing hr_key into NaN, and read_plan
    # recomputes every id with None there.
    ids = [op_id(r["action"], r["method"], r["path"], r["target_id"],
                 None if r["hr_key"] is None or pd.isna(r["hr_key"]) else r["hr_key"],
                 r["payload"], r["before"]) for r in rows]
    ops.insert(0, "op_id", ids)
    return typed_ops(ops)


def typed_ops(ops: pd.DataFrame) -> pd.DataFrame:
    """The Plan frame's column types: JSON columns as canonical JSON text, the rest as strings."""
    for column in JSON_COLUMNS:
        ops[column] = [canonical_json(v) if v is not None else "" for v in ops[column]]
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


@cache
def identifying(path: str) -> bool:
    return parse_path(path).attribute.lower() in IDENTIFYING


@cache
def patch_shape(path: str) -> tuple[bool, str | None, str | None, str, str]:
    parsed = parse_path(path)
    return (parsed.is_reference, parsed.filter_attr, parsed.filter_value,
            parsed.sub or "value", parsed.attribute)


def etags_by_account(current: pd.DataFrame) -> dict[Any, str]:
    """target_id -> the snapshot's meta.version ("" when it has none)."""
    return {
        target: "" if etag is None or pd.isna(etag) else str(etag)
        for target, etag in zip(current["target_id"].tolist(), current["etag"].tolist(),
                                strict=True)
    }


def policy_rows(
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


# ---- plan.json --------------------------------------------------------------------------------


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
    return scim_bulk_request(operations)
