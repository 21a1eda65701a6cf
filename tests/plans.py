"""Plan ops built by hand (for push tests and the push benchmark), per docs/architecture.md.

The real plans come from ``recon.core.plan.build_plan``; these helpers build the same ``Plan`` —
one row per op, ``payload``/``before``/``match`` as JSON text, ids and digest computed by
``recon.core.plan`` — without going through an HR file.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd

from recon.core.approve import Approval
from recon.core.canonical import canonical_json as canonical
from recon.core.plan import OP_COLUMNS, RISK, Plan, op_id, plan_digest
from recon.core.scim import PATCH_OP

_CATEGORY = {"create": "joiner", "update": "drift", "link": "link", "enable": "rehire",
             "disable": "leaver", "delete": "orphan"}


def patch_op(*operations: tuple[str, str | None, Any]) -> dict[str, Any]:
    """A PatchOp from ``(op, path, value)`` triples."""
    items = []
    for kind, path, value in operations:
        item: dict[str, Any] = {"op": kind}
        if path is not None:
            item["path"] = path
        if kind != "remove":
            item["value"] = value
        items.append(item)
    return {"schemas": [PATCH_OP], "Operations": items}


def op_row(
    action: str, *, target_id: str = "", payload: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None, etag: str | None = None,
    match: dict[str, Any] | None = None, hr_key: str | None = None, hr_row: int | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    """One Plan row; ``op_id`` as recon.core.plan computes it."""
    method = {"create": "POST", "delete": "DELETE"}.get(action, "PATCH")
    path = "/Users" if action == "create" else f"/Users/{target_id}"
    before = before or {}
    return {
        "op_id": op_id(action, method, path, target_id, hr_key, payload, before),
        "action": action, "method": method, "path": path,
        "target_id": target_id, "hr_key": hr_key, "hr_row": hr_row,
        "category": category or _CATEGORY.get(action, action),
        "payload": canonical(payload) if payload is not None else "",
        "before": canonical(before), "etag": etag or "", "risk": RISK.get(action, "medium"),
        "match": canonical(match) if match else "",
    }


def plan_of(rows: list[dict[str, Any]], snapshot_digest: str = "") -> Plan:
    """A Plan of hand-built rows (digest as recon.core.plan computes it)."""
    frame = pd.DataFrame.from_records(rows, columns=OP_COLUMNS)
    for column in OP_COLUMNS:
        if column != "hr_row":
            frame[column] = frame[column].astype("string")
    frame["hr_row"] = frame["hr_row"].astype("Int64")
    return Plan(frame, plan_digest(snapshot_digest, frame["op_id"].tolist()), snapshot_digest,
                date.today())


def approve_all(plan: Plan, approver: str = "tests") -> Approval:
    return Approval(plan.digest, tuple(plan.ops["op_id"]), approver, source="tests")


def approve_some(plan: Plan, op_ids: set[str] | frozenset[str], approver: str = "tests"
                 ) -> Approval:
    return Approval(plan.digest, tuple(op_ids), approver, source="tests")


def rows_to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False)
