"""Plan ops built by hand (for push tests and the push benchmark), per docs/architecture.md.

The real plans come from ``recon.plan``; these helpers build the same frame shape — one row per
op, ``payload``/``before``/``match`` as JSON text, ``op_id`` the sha256 of the op's canonical
JSON — without going through an HR file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from recon.adapters.snapshot import canonical_json

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OP_COLUMNS = ["op_id", "action", "method", "path", "target_id", "hr_key", "hr_row", "category",
              "payload", "before", "etag", "risk", "match"]
_CATEGORY = {"create": "joiner", "update": "drift", "link": "link", "enable": "rehire",
             "disable": "leaver", "delete": "orphan"}
_RISK = {"create": "low", "update": "low", "link": "medium", "enable": "medium",
         "disable": "high", "delete": "critical"}


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
    match: dict[str, Any] | None = None, hr_key: str = "", hr_row: int | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    """One Plan row; ``op_id`` as recon.plan computes it."""
    method = {"create": "POST", "delete": "DELETE"}.get(action, "PATCH")
    path = "/Users" if action == "create" else f"/Users/{target_id}"
    before = before or {}
    op_id = hashlib.sha256(canonical_json({
        "action": action, "method": method, "path": path, "target_id": target_id,
        "hr_key": hr_key, "payload": payload, "before": before,
    }).encode("utf-8")).hexdigest()
    return {
        "op_id": op_id, "action": action, "method": method, "path": path,
        "target_id": target_id, "hr_key": hr_key, "hr_row": hr_row,
        "category": category or _CATEGORY.get(action, action),
        "payload": json.dumps(payload, ensure_ascii=False) if payload is not None else "",
        "before": json.dumps(before, ensure_ascii=False),
        "etag": etag or "", "risk": _RISK.get(action, "medium"),
        "match": json.dumps(match or {}, ensure_ascii=False),
    }


def ops_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=OP_COLUMNS)
    for column in OP_COLUMNS:
        if column != "hr_row":
            frame[column] = frame[column].astype("string")
    frame["hr_row"] = frame["hr_row"].astype("Int64")
    return frame


@dataclass(frozen=True)
class HandPlan:
    """The Plan shape of recon.plan (ops, digest, snapshot_digest, as_of)."""

    ops: pd.DataFrame
    digest: str
    snapshot_digest: str = ""
    as_of: date = field(default_factory=date.today)

    @classmethod
    def of(cls, rows: list[dict[str, Any]], snapshot_digest: str = "") -> HandPlan:
        frame = ops_frame(rows)
        digest = hashlib.sha256(
            (snapshot_digest + "\n" + "\n".join(sorted(frame["op_id"]))).encode()).hexdigest()
        return cls(frame, digest, snapshot_digest)


@dataclass(frozen=True)
class HandApproval:
    """The Approval shape of recon.approve."""

    plan_digest: str
    op_ids: frozenset[str]
    approver: str = "tests"
    approved_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    note: str = ""
    source: str = "tests"

    @classmethod
    def all_of(cls, plan: HandPlan) -> HandApproval:
        return cls(plan.digest, frozenset(plan.ops["op_id"]))
