"""Verify: re-read the target, reconcile again, and report each approved op as converged or not.

An op has converged when the target now holds what the op wrote (a create: an account with the
op's userName carrying its attributes; a PATCH: every value of its operations; a DELETE: the
account is gone), "holds" meaning the same value by ``recon.core.same``, the rule classify
and push use. Group ops are checked against the fresh snapshot's groups: a group_create
converged when a group of that displayName exists; a membership PATCH when the group has every
member it adds and none it removes (ids of accounts and groups created in the same push are
found through their create ops: userName, displayName). The fresh reconciliation is kept too,
so the caller can show what is still planned after the push — approved work should leave
nothing behind.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from recon.core.approve import Approval, check_approval
from recon.core.config import Config
from recon.core.ops import desired_of_patch, members_hold, op_from_row
from recon.core.plan import Plan
from recon.core.results import Verification
from recon.core.same import normalized, same
from recon.core.scim import child_path, get_path
from recon.core.snapshot import Snapshot
from recon.workflows.reconcile import plan, reconcile


def _patch_holds(resource: dict[str, Any], payload: dict[str, Any]) -> str:
    for operation in payload.get("Operations", []):
        path, value = operation.get("path"), operation.get("value")
        if str(operation.get("op", "")).lower() == "add" and isinstance(value, list):
            item = value[0]
            filter_attr = next(k for k in item if k != "value")
            path = f'{operation["path"]}[{filter_attr} eq "{item[filter_attr]}"].value'
            value = item["value"]
        if path is None:
            continue
        have = get_path(resource, path)
        if not same(path, have, value):
            return f"{path} is {have!r}, expected {value!r}"
    return ""


def _create_holds(resource: dict[str, Any], payload: dict[str, Any]) -> str:
    wanted = {k: v for k, v in payload.items() if k not in {"schemas", "active"}}
    for key, value in wanted.items():
        if isinstance(value, dict):
            for sub, sub_value in value.items():
                path = child_path(key, sub)
                if not same(path, get_path(resource, path), sub_value):
                    return f"{path} is {get_path(resource, path)!r}, expected {sub_value!r}"
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and "type" in item:
                    path = f'{key}[type eq "{item["type"]}"].value'
                    if not same(path, get_path(resource, path), item.get("value")):
                        return f"{path} is {get_path(resource, path)!r}"
        elif not same(key, get_path(resource, key), value):
            return f"{key} is {get_path(resource, key)!r}, expected {value!r}"
    return ""


class _GroupCheck:
    """Group ops against the fresh groups; bulkId references resolved through their creates."""

    def __init__(self, the_plan: Plan, fresh: Snapshot) -> None:
        groups = fresh.groups or []
        self.by_id = {str(g.get("id")): g for g in groups}
        self.by_name = {str(g.get("displayName", "")).strip().casefold(): g for g in groups}
        users = {name: str(r.get("id")) for r in fresh.resources
                 if (name := normalized("userName", r.get("userName"))) is not None}
        self.created: dict[str, str] = {}
        creates = the_plan.ops[the_plan.ops["method"] == "POST"]
        for one, match in zip(creates["op_id"], creates["match"], strict=True):
            keys = json.loads(str(match)) if match else {}
            if keys.get("displayName") is not None:
                found = self.by_name.get(str(keys["displayName"]).strip().casefold())
                new_id = str(found.get("id")) if found else None
            else:
                new_id = users.get(normalized("userName", keys.get("userName")) or "")
            if new_id:
                self.created[str(one)[:32]] = new_id

    def detail(self, row: dict[str, Any]) -> str:
        op = op_from_row(row)
        if op.action == "group_create":
            name = str(op.match.get("displayName", "")).strip().casefold()
            return "" if name in self.by_name else "no group with this displayName"
        missing = [ref for ref in op.references if ref not in self.created]
        if missing:
            return f"its create op {missing[0][:12]} made nothing"
        op = op.resolved(self.created)
        group = self.by_id.get(op.target_id)
        if group is None:
            return "the group no longer exists"
        desired, _ = desired_of_patch(op.payload)
        expected = desired.get("members") or {}
        if not members_hold(group, expected):
            return (f"members differ: expected {len(expected.get('present') or [])} present, "
                    f"{len(expected.get('absent') or [])} absent")
        return ""


def verify(
    config: Config, the_plan: Plan, approval: Approval, fresh: Snapshot,
) -> Verification:
    """Check every approved op against a fresh snapshot of the target."""
    check_approval(the_plan, approval)
    approved = the_plan.ops[the_plan.ops["op_id"].isin(approval.op_ids)]
    by_id = {str(r.get("id")): r for r in fresh.resources}
    by_user = {name: r for r in fresh.resources
               if (name := normalized("userName", r.get("userName"))) is not None}
    groups = _GroupCheck(the_plan, fresh)
    # One check per approved op: each compares one JSON document with one resource.
    rows: list[dict[str, Any]] = []
    for op in approved.itertuples(index=False):
        payload = json.loads(str(op.payload)) if op.payload else {}
        detail = ""
        account = op.target_id
        if str(op.action).startswith("group_"):
            detail = groups.detail(dict(zip(approved.columns, op, strict=True)))
        elif op.action == "create":
            match = json.loads(str(op.match)) if op.match else {}
            resource = by_user.get(normalized("userName", match.get("userName")) or "")
            detail = "no account with this userName" if resource is None else _create_holds(
                resource, payload)
            account = None if resource is None else resource.get("id")
        elif op.action == "delete":
            detail = "the account still exists" if op.target_id in by_id else ""
        else:
            resource = by_id.get(str(op.target_id))
            detail = "the account no longer exists" if resource is None else _patch_holds(
                resource, payload)
        rows.append({"op_id": op.op_id, "action": op.action, "category": op.category,
                     "hr_key": op.hr_key, "target_id": op.target_id,
                     "converged": detail == "", "detail": detail,
                     "verified_at": fresh.taken_at, "account_id": account})
    results = pd.DataFrame(rows, columns=["op_id", "action", "category", "hr_key", "target_id",
                                          "converged", "detail", "verified_at", "account_id"])
    results["converged"] = results["converged"].astype(bool)
    again = reconcile(config, target=fresh, as_of=the_plan.as_of)
    return Verification(results, again, plan(again, config))
