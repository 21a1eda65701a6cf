"""build_plan: the ops of a reconciliation, column-wise where it can, one dict per op where not.

The column-wise builder (``recon.core.plan_columnar``) assembles the ops' JSON from templates
with pyarrow; the general path here, one dict per op, defines the result and handles every input
the column-wise code does not expect.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pandas as pd

from recon.core.arrow import is_in
from recon.core.config import Config
from recon.core.plan import (
    ACTION_ORDER,
    RISK,
    Plan,
    etags_by_account,
    identifying,
    ops_frame,
    patch_operation,
    plan_digest,
    policy_rows,
    user_payload,
)
from recon.core.plan_columnar import columnar_ops, ops_of_table
from recon.core.scim import PATCH_OP


def build_plan(
    identities: pd.DataFrame, diffs: pd.DataFrame, wanted: pd.DataFrame,
    current: pd.DataFrame, config: Config, snapshot_digest: str, as_of: date,
) -> Plan:
    """One op per account to change; ids, risk and digest computed from the op content.

    The ops are built column-wise (``columnar_ops``): their JSON text assembled from templates
    with pyarrow and only the sha256 per op in Python. Inputs it does not expect (other column
    types, a config whose paths make value-dependent payloads, ...) take the general path,
    one dict per op, which defines the result.
    """
    table = columnar_ops(identities, diffs, wanted, current, config)
    if table is None or not table.num_rows:  # (no ops: the general path types the empty frame)
        return _general_plan(identities, diffs, wanted, current, config, snapshot_digest, as_of)
    ops = ops_of_table(table)
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
        payload = user_payload(present)
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
    etags = etags_by_account(current)
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
            operations.append(patch_operation(str(attribute), str(new), had))
        if action == "enable":
            operations.insert(0, {"op": "replace", "path": "active", "value": True})
            before["active"] = False
        risky = any(identifying(p) for p in before)
        yield {
            "action": action, "method": "PATCH", "path": f"/Users/{target_id}",
            "target_id": target_id, "hr_key": hr_key, "hr_row": hr_row, "category": category,
            "payload": {"schemas": [PATCH_OP], "Operations": operations}, "before": before,
            "etag": etags.get(target_id, ""),
            "risk": "medium" if risky and action == "update" else RISK[action], "match": None,
        }


def _policy_ops(
    identities: pd.DataFrame, current: pd.DataFrame, config: Config,
) -> Iterator[dict[str, Any]]:
    """Leavers and orphans, as the policy says: disable, delete, or leave alone."""
    etags = etags_by_account(current)
    chosen = policy_rows(identities, current, config)
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

