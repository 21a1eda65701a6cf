"""SCIM BulkRequests for Entra API-driven inbound provisioning (``bulkUpload``), built as data.

API-driven inbound provisioning is not a SCIM server: it takes only ``POST /Users`` operations
with the *whole* source record, matches it to an Entra user (default ``externalId`` ↔
``employeeId``) and decides itself whether that is a create, an update, a disable or an enable
(facts §5.1, §5.4). So every approved op — create, update, enable, disable — becomes one full
record of the worker as HR describes it, with ``active`` saying whether the account should be
enabled, and ``manager.value`` holding the *manager's HR key* (the service resolves it).
Sending the full record also keeps "flow null values" tenants safe, where an omitted attribute
would be cleared.

Pure: no network. ``recon.targets.entra.inbound`` sends what this module builds.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from recon.core.scim import (
    CORE_USER,
    ENTERPRISE,
    GRAPH_EXTENSION,
    bulk_request,
    case_insensitive,
    get_path,
    is_schema,
    parse_path,
    set_path,
)
from recon.errors import PlanError

MAX_OPERATIONS = 50  # per bulkUpload request (facts §5.2)
INBOUND_ACTIONS = ("create", "update", "enable", "disable")

_DESIRED_FIXED = {"hr_key", "worker_active", "hire_date", "termination_date", "in_scope",
                  "hr_row", "category"}
_MATCH_COLUMN = re.compile(r"^match_\d+$")


def attribute_columns(desired: pd.DataFrame) -> list[str]:
    """The SCIM paths among the desired frame's columns (architecture.md: one per attribute)."""
    return [
        column for column in desired.columns
        if isinstance(column, str) and column not in _DESIRED_FIXED
        and not _MATCH_COLUMN.match(column)
        and (parse_path(column).schema or "").lower() != GRAPH_EXTENSION
        and column.lower() != "id"
    ]


def inbound_record(row: Mapping[str, Any], paths: Iterable[str], *, active: bool,
                   hr_keys: Collection[str] | None = None) -> dict[str, Any]:
    """The SCIM User that bulkUpload expects for one desired row (a worker as HR has it).

    A manager key that is not in the HR file (``hr_keys``) is left out: an unresolvable
    reference is reported by reconcile, never written.
    """
    record: dict[str, Any] = {"schemas": [CORE_USER]}
    for path in paths:
        value = row.get(path)
        if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
            continue
        text = str(value).strip()
        if text == "":
            continue
        if hr_keys is not None and parse_path(path).is_reference and text not in hr_keys:
            continue
        set_path(record, path, text)
    record.setdefault("externalId", str(row["hr_key"]))
    record["active"] = active
    for key in record:
        if is_schema(key) and key not in record["schemas"]:
            record["schemas"].append(ENTERPRISE if key.lower() == ENTERPRISE.lower() else key)
    emails = record.get("emails")
    if isinstance(emails, list):
        for email in emails:
            email.setdefault("primary", email.get("type") == "work")
    return record


def record_active(action: str, worker_active: Any) -> bool:
    """``active`` of the record: disable → false; create, enable → true; else what HR says."""
    if action == "disable":
        return False
    if action in ("create", "enable"):
        return True
    if worker_active is None or worker_active is pd.NA:
        return True
    return bool(worker_active)


@dataclass(frozen=True)
class InboundOp:
    """One approved plan op as a bulkUpload operation."""

    op_id: str
    action: str
    hr_key: str
    bulk_id: str
    record: dict[str, Any]

    def operation(self) -> dict[str, Any]:
        return {"method": "POST", "bulkId": self.bulk_id, "path": "/Users", "data": self.record}


def managers_first(ops: list[InboundOp]) -> list[InboundOp]:
    """Order ops so that a manager's record travels no later than their reports' records.

    Entra resolves ``manager.value`` against users it already holds; a report uploaded in an
    earlier request than a new manager keeps an empty manager until the next full cycle. The
    order is by depth in the reporting chain among the ops sent (stable; cycles are cut).
    """
    manager_of = {op.hr_key: str(((op.record.get(ENTERPRISE) or {}).get("manager") or {})
                                 .get("value") or "") for op in ops}
    depth: dict[str, int] = {}

    def depth_of(key: str) -> int:
        chain: list[str] = []
        while key in manager_of and key not in depth and key not in chain:
            chain.append(key)
            key = manager_of[key]
        base = depth.get(key, -1) if key in manager_of else -1
        for number, member in enumerate(reversed(chain), start=1):
            depth[member] = base + number
        return depth.get(chain[0], 0) if chain else depth.get(key, 0)

    return sorted(ops, key=lambda op: depth_of(op.hr_key))


def inbound_ops(ops: pd.DataFrame, desired: pd.DataFrame) -> list[InboundOp]:
    """The approved plan ops as full SCIM records, managers before their reports.

    ``ops`` are the approved rows of ``Plan.ops`` whose action bulkUpload can carry; every
    ``hr_key`` must have a desired row, else the plan does not belong to this reconciliation.
    """
    paths = attribute_columns(desired)
    hr_keys = set(desired["hr_key"].dropna().astype(str))
    unique = desired.drop_duplicates("hr_key", keep=False)
    rows: list[dict[str, Any]] = unique.to_dict("records")  # type: ignore[assignment]
    by_key = dict(zip(unique["hr_key"].astype(str), rows, strict=True))
    built = []
    for op in ops.itertuples(index=False):
        hr_key = str(op.hr_key)
        row = by_key.get(hr_key)
        if row is None:
            raise PlanError(f"op {str(op.op_id)[:12]} ({op.action}) names HR key {hr_key!r}, "
                            "which has no single row in the reconciliation's desired frame")
        record = inbound_record(row, paths, hr_keys=hr_keys,
                                active=record_active(str(op.action), row.get("worker_active")))
        # bulkId: the op id itself — unique in a request, and it maps back without a lookup.
        built.append(InboundOp(str(op.op_id), str(op.action), hr_key, str(op.op_id), record))
    return managers_first(built)


def _payload(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return {}


def _same(left: Any, right: Any, path: str) -> bool:
    def norm(value: Any) -> str | None:
        if value is None:
            return None
        text = unicodedata.normalize("NFC", str(value)).strip()
        return text.lower() if case_insensitive(path) else text

    return norm(left) == norm(right)


def drifted_from_plan(ops: pd.DataFrame, built: list[InboundOp]) -> list[str]:
    """Where a record no longer carries what the plan op (and so the approver) said.

    Records come from the desired frame; if that was rebuilt from an HR file that changed since
    the plan, a record could carry values nobody approved. Checked: a create's userName and
    externalId, and every value an update's PatchOp writes (references and ``active`` aside:
    the record carries the manager's HR key, and ``active`` follows the action).
    """
    payloads = dict(zip(ops["op_id"].astype(str), ops.get("payload", pd.Series(
        [None] * len(ops), index=ops.index)), strict=True))
    problems = []
    for op in built:
        payload = _payload(payloads.get(op.op_id))
        if op.action == "create":
            checks = [(p, get_path(payload, p)) for p in ("userName", "externalId")]
        else:
            checks = [(str(o.get("path")), o.get("value")) for o in payload.get("Operations", [])
                      if str(o.get("op", "")).lower() == "replace" and o.get("path")]
        for path, approved in checks:
            if approved is None or path.lower() == "active" or parse_path(path).is_reference:
                continue
            if not _same(approved, get_path(op.record, path), path):
                problems.append(f"op {op.op_id[:12]} ({op.action} {op.hr_key}) approved {path} "
                                f"= {approved!r}, the HR file now gives "
                                f"{get_path(op.record, path)!r}")
    return problems


def bulk_requests(ops: list[InboundOp], size: int = MAX_OPERATIONS) -> Iterator[
        tuple[list[InboundOp], dict[str, Any]]]:
    """Chunks of at most ``size`` (≤ 50) ops, each with its BulkRequest body."""
    if not 1 <= size <= MAX_OPERATIONS:
        raise PlanError(f"bulkUpload takes 1 to {MAX_OPERATIONS} operations per request, "
                        f"not {size}")
    for start in range(0, len(ops), size):
        chunk = ops[start:start + size]
        # failOnErrors null, as in Microsoft's samples (facts §5.2): the job goes on past errors.
        yield chunk, {**bulk_request([op.operation() for op in chunk]), "failOnErrors": None}
