"""Undo a push: a new plan of inverse ops, built from what the push journal says took effect.

An op took effect when the journal's last word on it is ``succeeded`` or ``already_applied``
(the target held what the op writes). Its inverse, per action:

- ``update``, ``link`` → ``update``: each attribute back to the op's ``before`` (removed where
  it was absent);
- ``enable`` → ``disable``: ``active`` false, and its attributes back;
- ``disable`` → ``enable``: ``active`` true;
- ``create`` → ``disable`` the account it made (``delete`` when ``delete_created``: only when
  the policy allows deletes);
- ``group_add`` → ``group_remove`` of the members it added; ``group_remove`` → ``group_add``
  of the members it removed;
- ``group_create`` and ``delete``: none, reported. The group stays (the undo of its adds
  empties it); a deleted account cannot be restored from a journal.

Each inverse op's ``before`` — its precondition — is what the push wrote: the attribute values
(a reference by its id), ``active``, the members.

The inverse ops are ordinary plan ops (the payload shapes of ``recon.core.plan`` and
``recon.core.groupplan``; op ids of their content), with no ETag: the push re-reads each account
and checks ``before``, so an account changed since the push is ``stale`` and left as it is,
never overwritten. Ids the push created (``bulkId:`` references) are replaced by the ids the
journal recorded. The undo plan's digest covers its ops and the journal (its sha256 stands
where a plan's snapshot digest stands: the journal is what it was computed from).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from recon.core.canonical import canonical_json
from recon.core.groupplan import reference
from recon.core.ops import REFERENCE, desired_of_patch
from recon.core.plan import RISK, Plan, identifying, ops_frame, patch_operation, plan_digest
from recon.core.scim import PATCH_OP
from recon.core.snapshot import Snapshot
from recon.core.waves import member_op_row

#: Journal statuses of an op that took effect.
TOOK_EFFECT = ("succeeded", "already_applied")
INVERSE = {"update": "update", "link": "update", "enable": "disable", "disable": "enable",
           "create": "disable", "group_add": "group_remove", "group_remove": "group_add"}
RECORD_COLUMNS = ["op_id", "action", "category", "hr_key", "account", "status", "undo_op_id",
                  "undo_action", "note"]
DIFF_COLUMNS = ["hr_key", "hr_row", "target_id", "category", "attribute", "before", "after"]
GROUP_LEFT = ("the group is left in place: the undo removes the members this push added to it "
              "(delete the group by hand if it should go)")
NOT_RESTORABLE = "cannot be undone: the account was deleted (restore it from a snapshot by hand)"


@dataclass(frozen=True)
class Undo:
    """The undo of one push: its plan, what became of each pushed op, what it changes."""

    plan: Plan
    record: pd.DataFrame  # RECORD_COLUMNS: one row per op of the undone plan
    diffs: pd.DataFrame  # DIFF_COLUMNS: per attribute an inverse op writes, pushed → restored

    def counts(self) -> dict[str, int]:
        """Undone ops per original action, and those not undone, for a summary line."""
        undone = self.record[self.record["undo_op_id"].fillna("") != ""]
        return {str(k): int(v) for k, v in undone["action"].value_counts().items()}


def undo_plan(plan: Plan, effect: pd.DataFrame, *, journal_digest: str,
              delete_created: bool = False) -> Undo:
    """The inverse ops of the ops of ``plan`` that took effect.

    ``effect``: the journal's ops (op_id, status, target_id — the created id for a create).
    ``delete_created``: accounts the push created are deleted rather than disabled (only when
    the policy allows deletes; the push's ``max_deletes`` still applies).
    """
    state = effect.drop_duplicates("op_id", keep="last").set_index("op_id")
    status = plan.ops["op_id"].map(state["status"]).astype("string")
    account = plan.ops["op_id"].map(state["target_id"]).astype("string")
    took = status.isin(list(TOOK_EFFECT)).fillna(False).astype(bool)
    creates = plan.ops["method"].eq("POST") & took
    created = {reference(str(one)): str(new) for one, new in zip(
        plan.ops.loc[creates, "op_id"], account[creates], strict=True) if pd.notna(new) and new}
    rows: list[dict[str, Any]] = []
    owners: list[dict[str, Any]] = []  # the record entry of each inverse op in ``rows``
    record: list[dict[str, Any]] = []
    diffs: list[dict[str, Any]] = []
    columns = list(plan.ops.columns)
    for position, values in enumerate(plan.ops.astype(object).to_numpy()):
        op = dict(zip(columns, values, strict=True))
        pushed, resolved = status.iloc[position], account.iloc[position]
        if op["method"] == "POST":
            touched = "" if pd.isna(resolved) else str(resolved)
        else:
            touched = _resolve(str(op["target_id"] or ""), created)
        entry = {"op_id": op["op_id"], "action": op["action"], "category": op["category"],
                 "hr_key": op["hr_key"], "account": touched,
                 "status": "" if pd.isna(pushed) else str(pushed), "undo_op_id": "",
                 "undo_action": "", "note": ""}
        record.append(entry)
        if not took.iloc[position]:
            entry["note"] = ("not undone: it was not pushed" if pd.isna(pushed) else
                             f"not undone: it did not take effect ({pushed})")
            continue
        inverse, entry["note"] = _inverse(op, created, delete_created, touched)
        if inverse is not None:
            rows.append(inverse)
            owners.append(entry)
            diffs += _diff_rows(op, inverse)
    ops = ops_frame(rows)
    for entry, one, action in zip(owners, ops["op_id"], ops["action"], strict=True):
        entry["undo_op_id"], entry["undo_action"] = str(one), str(action)
    undo = Plan(ops, plan_digest(journal_digest, ops["op_id"]), journal_digest, plan.as_of)
    return Undo(undo, pd.DataFrame(record, columns=RECORD_COLUMNS).astype("string"),
                pd.DataFrame(diffs, columns=DIFF_COLUMNS).astype("string"))


def _resolve(text: str, created: dict[str, str]) -> str:
    """``bulkId:`` references replaced by the ids the journal recorded for their creates."""
    return REFERENCE.sub(lambda found: created.get(f"bulkId:{found.group(1)}",
                                                   found.group(0)), text)


def _inverse(op: dict[str, Any], created: dict[str, str], delete_created: bool,
             account: str) -> tuple[dict[str, Any] | None, str]:
    """The inverse op row of one op that took effect (None, and why, when there is none)."""
    action = str(op["action"])
    if action == "group_create":
        return None, GROUP_LEFT
    if action == "delete":
        return None, NOT_RESTORABLE
    if action == "create":
        if not account:
            return None, "cannot be undone: the journal does not name the account it created"
        return _undo_create(op, account, delete_created), ""
    payload = json.loads(str(op["payload"])) if op["payload"] else {}
    if action in ("group_add", "group_remove"):
        return _undo_members(op, payload, created), ""
    if action not in INVERSE:
        return None, f"cannot be undone: recon has no inverse of {action!r}"
    before = json.loads(str(op["before"])) if op["before"] else {}
    return _undo_patch(op, payload, before), ""


def _base(op: dict[str, Any]) -> dict[str, Any]:
    return {"hr_key": None if op["hr_key"] is None or pd.isna(op["hr_key"]) else op["hr_key"],
            "hr_row": None if op["hr_row"] is None or pd.isna(op["hr_row"]) else op["hr_row"],
            "category": op["category"], "etag": "", "match": None}


def _undo_create(op: dict[str, Any], account: str, delete_created: bool) -> dict[str, Any]:
    path = f"/Users/{account}"
    if delete_created:
        return {**_base(op), "action": "delete", "method": "DELETE", "path": path,
                "target_id": account, "payload": None, "before": {"active": True},
                "risk": RISK["delete"]}
    return {**_base(op), "action": "disable", "method": "PATCH", "path": path,
            "target_id": account, "before": {"active": True}, "risk": RISK["disable"],
            "payload": {"schemas": [PATCH_OP],
                        "Operations": [{"op": "replace", "path": "active", "value": False}]}}


def _undo_members(op: dict[str, Any], payload: dict[str, Any], created: dict[str, str]
                  ) -> dict[str, Any]:
    action = INVERSE[str(op["action"])]
    members = [_resolve(member, created) for member in _member_ids(str(op["action"]), payload)]
    row = member_op_row(action, str(op["category"]), _resolve(str(op["target_id"]), created),
                        members, "", op["hr_key"], op["hr_row"])
    return {**row, "hr_row": _base(op)["hr_row"], "hr_key": _base(op)["hr_key"]}


def _member_ids(action: str, payload: dict[str, Any]) -> list[str]:
    written, _ = desired_of_patch(payload)
    members = written.get("members") or {}
    return [str(m) for m in (members.get("present") if action == "group_add"
                             else members.get("absent")) or []]


def _plain(value: Any) -> Any:
    """A reference written as ``{"value": id}`` kept as its id, as ``before`` keeps it."""
    if isinstance(value, dict) and set(value) == {"value"}:
        return value["value"]
    return value


def _removal(path: str) -> dict[str, Any]:
    """Remove what a path holds; a filtered item (``emails[type eq "work"].value``) as a whole,
    since the push added it as a whole."""
    if "[" in path:
        return {"op": "remove", "path": path[: path.index("]") + 1]}
    return {"op": "remove", "path": path}


def _undo_patch(op: dict[str, Any], payload: dict[str, Any], before: dict[str, Any]
                ) -> dict[str, Any]:
    written, _ = desired_of_patch(payload)
    operations: list[dict[str, Any]] = []
    expected: dict[str, Any] = {}
    for path, old in before.items():
        if path == "active":
            operations.append({"op": "replace", "path": "active", "value": bool(old)})
        elif old is None:
            operations.append(_removal(path))
        else:
            operations.append(patch_operation(path, old, True))
        expected[path] = _plain(written.get(path, not bool(old) if path == "active" else None))
    action = INVERSE[str(op["action"])]
    risky = action == "update" and any(identifying(path) for path in before)
    return {**_base(op), "action": action, "method": "PATCH", "path": str(op["path"]),
            "target_id": str(op["target_id"]), "before": expected,
            "risk": "medium" if risky else RISK[action],
            "payload": {"schemas": [PATCH_OP], "Operations": operations}}


def _diff_rows(op: dict[str, Any], inverse: dict[str, Any]) -> list[dict[str, Any]]:
    """Per attribute a user op's inverse writes: the value pushed, the value restored."""
    if str(inverse["action"]).startswith("group_"):
        return []
    restored = json.loads(str(op["before"])) if op["before"] and op["action"] != "create" \
        else {"active": False}
    return [{"hr_key": inverse["hr_key"], "hr_row": inverse["hr_row"],
             "target_id": inverse["target_id"], "category": inverse["category"],
             "attribute": path, "before": _text(pushed), "after": _text(restored.get(path))}
            for path, pushed in inverse["before"].items()]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# ---- is the target back? ---------------------------------------------------------------------

CHANGE_COLUMNS = ["kind", "id", "name", "attribute", "before", "after"]


def target_changes(before: Snapshot, after: Snapshot) -> pd.DataFrame:
    """What differs between two snapshots of a target, attribute by attribute (``meta`` aside;
    a group's members compared as a set of ids): one row per attribute of a user or group
    present in both, and one row (attribute ``created`` or ``deleted``) per resource in one
    only — a created user with its ``active`` state. Empty when the target is as it was."""
    rows: list[dict[str, Any]] = []
    for kind, old, new, name_of in (
            ("user", before.resources, after.resources, "userName"),
            ("group", before.groups or [], after.groups or [], "displayName")):
        was = {str(r.get("id")): r for r in old}
        now = {str(r.get("id")): r for r in new}
        for one in [*was, *(i for i in now if i not in was)]:
            first, second = was.get(one), now.get(one)
            name = str((second or first or {}).get(name_of, ""))
            if first is None or second is None:
                state = "" if kind == "group" else f"active {_shown(second.get('active', True))}" \
                    if second is not None else ""
                rows.append({"kind": kind, "id": one, "name": name,
                             "attribute": "created" if first is None else "deleted",
                             "before": "", "after": state})
                continue
            for key in sorted((set(first) | set(second)) - {"meta"}):
                a, b = _comparable(key, first.get(key)), _comparable(key, second.get(key))
                if a != b:
                    rows.append({"kind": kind, "id": one, "name": name, "attribute": key,
                                 "before": _shown(first.get(key)),
                                 "after": _shown(second.get(key))})
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS).astype("string")


def _comparable(key: str, value: Any) -> Any:
    if key == "members" and isinstance(value, list):
        return sorted(str(m.get("value")) for m in value if isinstance(m, dict))
    return canonical_json(value) if value is not None else None


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
