"""Plan ops on /Groups from a group reconciliation, in the Plan frame of recon.core.plan.

- ``group_create``: ``POST /Groups`` with the displayName only; members follow by PATCH, as
  Entra does (groups are created empty).
- ``group_add``: ``PATCH /Groups/{id}`` with one ``add`` of up to ``groups.chunk_size`` members;
  ``before`` is ``{"members": {"absent": [ids]}}``, what the op expects not to be there yet.
- ``group_remove``: ``PATCH /Groups/{id}`` with one ``remove`` per member, each by the RFC 7644
  path ``members[value eq "…"]``, up to ``chunk_size`` per op; ``before`` is
  ``{"members": {"present": [ids]}}``.

Ordering (users are created before they are added to groups): a member or a group that does not
exist yet is written as ``bulkId:<first 32 hex of its create op id>`` — RFC 7644 §3.7.2's
temporary identifier, the same bulkId ``recon.core.plan.bulk_request`` gives that create. The push
runs creates first and substitutes the new ids before it sends the dependent op, so a joiner
joins their groups in the same push; if the create was not approved or failed, the dependent op
fails with that reason and the next run plans it again with the real id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from recon.core.config import Groups
from recon.core.groups import GroupReconciliation
from recon.core.plan import op_id
from recon.core.scim import CORE_GROUP, PATCH_OP

GROUP_RISK = {"group_create": "low", "group_add": "low", "group_remove": "medium"}


def reference(one_op_id: str) -> str:
    """How a later op names the resource an earlier create makes (an RFC 7644 bulkId)."""
    return f"bulkId:{one_op_id[:32]}"


def group_op_rows(
    result: GroupReconciliation, user_ops: pd.DataFrame, settings: Groups,
) -> list[dict[str, Any]]:
    """Rows for the Plan frame: creates, then adds, then removes; by group name."""
    rows: list[dict[str, Any]] = []
    new_groups: dict[str, str] = {}
    missing = result.groups[result.groups["category"] == "group_missing"]
    for name in missing["group"]:
        row = _row("group_create", "POST", "/Groups", "", None, None, "group_missing",
                   {"schemas": [CORE_GROUP], "displayName": str(name)}, {}, "",
                   {"displayName": str(name)})
        rows.append(row)
        new_groups[str(name)] = reference(_id_of(row))
    creates = user_ops[user_ops["action"] == "create"]
    created = pd.Series(creates["op_id"].map(reference).to_numpy(),
                        index=creates["hr_row"].astype("Int64").to_numpy())
    etags = result.groups.dropna(subset=["target_id"]).drop_duplicates("target_id").set_index(
        "target_id")["etag"]
    changes = result.changes().copy()
    pending = changes["member_id"].isna() & changes["hr_row"].notna()
    changes["member"] = changes["member_id"].mask(
        pending, changes["hr_row"].map(created).astype("string"))
    changes = changes.dropna(subset=["member"])
    for category, action in (("member_missing", "group_add"), ("member_extra", "group_remove")):
        chosen = changes[changes["category"] == category].sort_values(["group", "member"])
        for (group, group_id), members in chosen.groupby(["group", "group_id"], dropna=False,
                                                          sort=True):
            known = isinstance(group_id, str)
            target = str(group_id) if known else new_groups.get(str(group))
            if target is None:
                continue  # a group neither present nor planned: nothing to write to
            etag = etags.get(group_id) if known else None
            rows.extend(_member_ops(action, category, target, members, settings.chunk_size,
                                    "" if etag is None or pd.isna(etag) else str(etag)))
    return rows


def _member_ops(action: str, category: str, target: str, members: pd.DataFrame, size: int,
                etag: str) -> Iterator[dict[str, Any]]:
    values = members["member"].astype(str).tolist()
    keys = members["hr_key"].tolist()
    hr_rows = members["hr_row"].tolist()
    for start in range(0, len(values), size):
        chunk = values[start:start + size]
        if action == "group_add":
            operations = [{"op": "add", "path": "members",
                           "value": [{"value": value} for value in chunk]}]
            before = {"members": {"absent": chunk}}
        else:
            operations = [{"op": "remove", "path": f'members[value eq "{value}"]'}
                          for value in chunk]
            before = {"members": {"present": chunk}}
        single = len(chunk) == 1
        hr_key = keys[start] if single and pd.notna(keys[start]) else None
        hr_row = hr_rows[start] if single and pd.notna(hr_rows[start]) else None
        yield _row(action, "PATCH", f"/Groups/{target}", target, hr_key, hr_row, category,
                   {"schemas": [PATCH_OP], "Operations": operations}, before, etag, None)


def _row(action: str, method: str, path: str, target_id: str, hr_key: Any, hr_row: Any,
         category: str, payload: Any, before: Any, etag: str, match: Any) -> dict[str, Any]:
    return {"action": action, "method": method, "path": path, "target_id": target_id,
            "hr_key": None if hr_key is None else str(hr_key), "hr_row": hr_row,
            "category": category, "payload": payload, "before": before, "etag": etag,
            "risk": GROUP_RISK[action], "match": match}


def _id_of(row: dict[str, Any]) -> str:
    return op_id(row["action"], row["method"], row["path"], row["target_id"], row["hr_key"],
                 row["payload"], row["before"])
