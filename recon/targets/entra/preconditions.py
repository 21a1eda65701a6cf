"""Before anything reaches Entra: what each approved op may do, judged on a fresh read.

bulkUpload finds an existing user **only** by the app's matching attribute (default SCIM
externalId ↔ Graph employeeId; learn.microsoft.com/entra/identity/app-provisioning/
inbound-provisioning-api-faqs). recon may have matched an account another way — by e-mail, say
— and then a record for it would miss it: a leaver's account would stay enabled while the
upload reports "accepted", a rehire would get a second account. So before a push every account
an op names is read again (``recon.targets.entra.graph.read_accounts``) and each op is judged:

- ``send``: its record will reach the account it was approved for (or create one);
- ``link``: a link op whose PATCH of the matching property may go ahead;
- ``link_needed``: the account does not carry the record's matching value; only an approved
  link op (``PATCH /users/{id}``) can make a record reach it;
- ``skipped``: the job cannot do it (a user synced from on-premises AD for a cloud-only job,
  a delete, an account without an HR record);
- ``stale``: the account changed since the snapshot (gone, another value, a new account with
  the worker's key), so what was approved no longer describes it;
- ``already_applied``: the account already holds what the op writes;
- ``failed``: the op cannot be sent as it is (employeeId longer than 16 characters…).

Pure: the accounts are handed in. Comparisons are ``recon.core.same``'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from recon.core.same import same
from recon.core.scim import get_path, set_path
from recon.targets.entra.graph import Accounts
from recon.targets.entra.mapping import AppMappings, graph_property, path_key

SEND, LINK = "send", "link"

SYNCED_REASON = ("the account is synced from on-premises AD (onPremisesSyncEnabled): a "
                 "cloud-only inbound job cannot change it; change it in AD, or through the "
                 "\"…to on-premises Active Directory\" app")


@dataclass(frozen=True)
class Verdict:
    """What may happen to one approved op, and why (shown to the person who approved it)."""

    status: str
    reason: str = ""
    link_value: str = ""  # the value a link op writes


def json_of(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return {}


def link_value(payload: dict[str, Any], mappings: AppMappings) -> str | None:
    """The matching value a link op writes: its PatchOp value for the matching attribute (or a
    path recon reads from the same Graph property, e.g. employeeNumber ↔ employeeId)."""
    matching = mappings.matching
    for operation in payload.get("Operations") or []:
        path = str(operation.get("path") or "")
        if not path or str(operation.get("op", "")).lower() not in ("replace", "add"):
            continue
        reads = graph_property(path) or ""
        if path_key(path) == path_key(matching.source) or \
                reads.lower() == matching.target.lower():
            value = operation.get("value")
            return None if value in (None, "") else str(value)
    return None


def _holder_problem(accounts: Accounts, value: str, account_id: str | None,
                    matching: str) -> str:
    others = [u["id"] for u in accounts.by_key.get(value, []) if u["id"] != account_id]
    if not others:
        return ""
    return (f"{matching} {value!r} already belongs to Entra user {others[0]}: the job would "
            "then see two accounts for one worker (DuplicateTargetEntries); resolve that first")


def judge_link(op: Any, account: dict[str, Any] | None, scim: dict[str, Any] | None,
               accounts: Accounts, mappings: AppMappings) -> Verdict:
    """A link op: PATCH the account's matching property (employeeId)."""
    matching = mappings.matching
    # The link writes the worker's matching value: the op's own value for it, else its HR key
    # (both covered by the op id, so approved).
    value = link_value(json_of(op.payload), mappings) or (
        None if op.hr_key is None or pd.isna(op.hr_key) else str(op.hr_key))
    if account is None or scim is None:
        return Verdict("stale", f"Entra user {op.target_id} no longer exists")
    if value is None:
        return Verdict("failed", f"the link op carries no value for {matching.source}")
    written: dict[str, Any] = {}
    set_path(written, matching.source, value)
    too_long = mappings.too_long(written)
    if too_long:
        return Verdict("failed", too_long[0])
    if account.get("onPremisesSyncEnabled"):
        return Verdict("skipped", f"{SYNCED_REASON}; Graph refuses to set {matching.target} "
                                  "on a synced user")
    current = account.get(matching.target)
    if same(matching.source, current, value):
        return Verdict("already_applied", f"{matching.target} is already {value!r}")
    duplicate = _holder_problem(accounts, value, account.get("id"), matching.target)
    if duplicate:
        return Verdict("failed", duplicate)
    before = json_of(op.before)
    if matching.source in before and not same(matching.source, current,
                                              before[matching.source]):
        return Verdict("stale", f"{matching.target} changed since the snapshot: approved over "
                                f"{before[matching.source]!r}, now {current!r}")
    return Verdict(LINK, link_value=value)


def judge(op: Any, record: dict[str, Any] | None, accounts: Accounts, mappings: AppMappings,
          *, cloud_only: bool, scim_of: Any) -> Verdict:
    """The verdict for one approved op. ``op`` has the Plan columns; ``record`` is the worker's
    bulkUpload record (None for ops without an HR row); ``scim_of`` turns a Graph user into
    the SCIM shape (``Accounts.scim``)."""
    action = str(op.action)
    target_id = str(op.target_id or "")
    account = accounts.by_id.get(target_id) if target_id else None
    scim = scim_of(account) if account is not None else None
    if action == "link":
        return judge_link(op, account, scim, accounts, mappings)
    if action == "delete":
        return Verdict("skipped", "API-driven inbound provisioning does not delete; approve a "
                                  "disable instead")
    if record is None:
        return Verdict("skipped", "no HR record to upload (an orphan account); bulkUpload "
                                  "carries HR records only")
    if action not in ("create", "update", "enable", "disable"):
        return Verdict("skipped", f"action {action!r} is not sent to bulkUpload")
    matching = mappings.matching
    key = get_path(record, matching.source)
    key = None if key in (None, "") else str(key)
    too_long = mappings.too_long(record)
    if too_long:
        return Verdict("failed", too_long[0])
    if key is None:
        return Verdict("failed", f"the record has no {matching.source}, the app's matching "
                                 "attribute; the job would skip it (ImportSkipped)")
    if action == "create":
        holders = accounts.by_key.get(key, [])
        if holders:
            return Verdict("stale", f"an Entra user with {matching.target} {key!r} exists since "
                                    f"the snapshot ({holders[0]['id']}): the upload would "
                                    "update it, not create; reconcile again")
        return Verdict(SEND)
    if account is None or scim is None:
        return Verdict("stale", f"Entra user {target_id} no longer exists")
    if account.get("onPremisesSyncEnabled") and cloud_only:
        return Verdict("skipped", SYNCED_REASON)
    current_key = account.get(matching.target)
    if not same(matching.source, current_key, key):
        held = f"{current_key!r}" if current_key not in (None, "") else "empty"
        return Verdict("link_needed", (
            f"link needed: recon matched this account without {matching.target} (it is {held}, "
            f"the record's {matching.source} is {key!r}); bulkUpload matches on "
            f"{matching.target} only, so the record would miss the account"
            f"{' and create a second one' if record.get('active') else ''}. Approve the link "
            "op (recon.workflows.push_entra.link_plan), push it, then push this plan again"))
    duplicate = _holder_problem(accounts, key, target_id, matching.target)
    if duplicate:
        return Verdict("failed", duplicate)
    return _stale_or_applied(op, scim)


def _stale_or_applied(op: Any, scim: dict[str, Any]) -> Verdict:
    """Against the approved ``before`` values: changed since (stale), already there, or send."""
    before = json_of(op.before)
    after = {str(o.get("path")): o.get("value")
             for o in json_of(op.payload).get("Operations") or [] if o.get("path")}
    applied = True
    for path, old in before.items():
        current = get_path(scim, path)
        wanted = after.get(path)
        if same(path, current, wanted) and wanted is not None:
            continue
        applied = False
        if not same(path, current, old):
            return Verdict("stale", f"{path} changed since the snapshot: approved over "
                                    f"{old!r}, Entra now holds {current!r}")
    if applied and before:
        return Verdict("already_applied", "Entra already holds what the op writes")
    return Verdict(SEND)
