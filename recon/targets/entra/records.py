"""SCIM BulkRequests for Entra API-driven inbound provisioning (``bulkUpload``), built as data.

API-driven inbound provisioning is not a SCIM server: it takes only ``POST /Users`` operations
with the *whole* source record, matches it to an Entra user (default ``externalId`` ↔
``employeeId``) and decides itself whether that is a create, an update, a disable or an enable
(facts §5.1, §5.4). So every approved op — create, update, enable, disable — becomes one full
record of the worker as HR describes it, with ``active`` saying whether the account should be
enabled, and ``manager.value`` holding the *manager's HR key* (the service resolves it, but
only against records it has processed: ``manager_record`` restates a manager's account so the
job processes it first). Where the app "flows null values", an omitted attribute would be
cleared: ``keep_current`` fills it with what the account holds.

Pure: no network. ``recon.targets.entra.inbound`` sends what this module builds.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from recon.core.same import same
from recon.core.scim import (
    CORE_USER,
    ENTERPRISE,
    GRAPH_EXTENSION,
    bulk_request,
    get_path,
    is_schema,
    parse_path,
    set_path,
)
from recon.errors import PlanError
from recon.targets.entra.mapping import MANAGER, MANAGER_KEY, AppMappings, path_key

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
    _list_schemas(record)
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

    return sorted(ops, key=lambda op: -1 if op.action == MANAGER_RECORD
                  else depth_of(op.hr_key))


MANAGER_RECORD = "manager_record"
"""The action of a record that restates a manager's account, so the job processes it first."""


def manager_record_id(hr_key: str) -> str:
    """The journal's id of a manager record: a digest, not the HR key itself."""
    return "manager-record:" + hashlib.sha256(hr_key.encode("utf-8")).hexdigest()[:24]


def keep_current(record: dict[str, Any], account: dict[str, Any], mappings: AppMappings) -> None:
    """Fill, from the account (SCIM-shaped), what a "flow null values" mapping would clear.

    With "Flow null values" ticked, omitting an attribute clears it (learn.microsoft.com/entra/
    identity/app-provisioning/clear-attribute-values); recon never clears a value HR leaves
    empty, so it sends the account's own value instead.
    """
    for path in mappings.flow_null_paths():
        if get_path(record, path) not in (None, ""):
            continue
        current = get_path(account, MANAGER_KEY if path_key(path) == path_key(MANAGER)
                           else path)
        if current in (None, "") or path_key(path) == path_key("active"):
            continue
        set_path(record, path, current)
        _list_schemas(record)


def manager_record(hr_key: str, account: dict[str, Any], mappings: AppMappings
                   ) -> dict[str, Any] | None:
    """A record that restates a manager's account as it is (nothing changes), so the job
    processes the manager and can then resolve references to it (learn.microsoft.com/entra/
    identity/app-provisioning/hr-manager-update-issues: the manager record must have been
    processed first). None when the account cannot be restated exactly: a flow-null mapping
    recon does not read back would be cleared."""
    record: dict[str, Any] = {"schemas": [CORE_USER]}
    for mapping in mappings.mappings:
        if mapping.matching or mapping.generated or mapping.apply == "on_create":
            continue
        if path_key(mapping.source) == path_key("active"):
            continue
        if not mappings.reads_back(mapping):
            if mapping.flow_null:
                return None
            continue
        value = get_path(account, MANAGER_KEY if path_key(mapping.source) == path_key(MANAGER)
                         else mapping.source)
        if value not in (None, ""):
            set_path(record, mapping.source, value)
    set_path(record, mappings.matching.source, hr_key)
    record["active"] = get_path(account, "active") is not False
    _list_schemas(record)
    return record


def _list_schemas(record: dict[str, Any]) -> None:
    for key in record:
        if is_schema(key) and key not in record["schemas"]:
            record["schemas"].append(ENTERPRISE if key.lower() == ENTERPRISE.lower() else key)


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
            if not same(path, approved, get_path(op.record, path)):
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
