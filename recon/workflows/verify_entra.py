"""Did Entra apply what was pushed? Provisioning logs plus a fresh read of the users.

bulkUpload answers 202 and nothing per operation; the provisioning service applies the records
later and logs them 5–10 minutes after (learn.microsoft.com/entra/identity/app-provisioning/
inbound-provisioning-api-issues). ``verify_inbound`` reads ``/auditLogs/provisioning`` for the
job since the push and ``/users`` again, and judges each approved op:

- ``converged``: the Entra user holds what the record asked for — on the attributes the app
  writes (``AppMappings.compared``: create-only ones for a create, generated ones never), by
  ``recon.core.same``'s rule — whatever the logs say (they lag); a link op, when the account
  carries the matching value;
- ``failed``: not converged and the log says why — a failure, or a step skipped with a reason
  (a manager the job could not resolve), in plain words with the code; or the push did not send
  it (stale, refused);
- ``pending``: not converged and nothing logged that explains it yet (run verify again later);
- ``skipped``, ``link_needed``, ``not_sent`` (the daily quota): never sent, with the push's reason.

The expected records are rebuilt from the desired frame, exactly as the push built them: the
journal keeps ids, statuses and a record digest, never personal data.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from recon.core.approve import Approval, check_approval
from recon.core.config import Config, EntraTarget
from recon.core.plan import Plan
from recon.core.same import same
from recon.core.scim import GRAPH_EXTENSION, get_path, parse_path
from recon.errors import ConfigError, PlanError
from recon.io.journal import Journal
from recon.targets.entra.credentials import graph_credential
from recon.targets.entra.graph import snapshot_entra
from recon.targets.entra.inbound import inbound_job
from recon.targets.entra.logs import LogEntry, provisioning_logs
from recon.targets.entra.mapping import MANAGER, MANAGER_KEY, AppMappings, app_mappings, path_key
from recon.targets.entra.preconditions import json_of, link_value
from recon.targets.entra.records import inbound_ops
from recon.workflows.push_entra import desired_for

VERIFY_STATES = ("converged", "failed", "pending", "skipped", "link_needed", "not_sent")
CLOCK_SKEW = timedelta(minutes=2)  # Entra's clock against ours, when matching log entries
_BULK_ID = re.compile(r"\bbulkId=(\S+)")
_NOT_SENT = {"skipped": "skipped", "link_needed": "link_needed", "deferred": "not_sent"}


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def compared_paths(mappings: AppMappings, *, create: bool) -> list[str]:
    """The SCIM paths verify compares: those the app writes (on create, also create-only)."""
    paths = [a.scim_path for a in mappings.read_table()
             if (parse_path(a.scim_path).schema or "").lower() != GRAPH_EXTENSION
             and a.scim_path != "id"]
    return [p for p in dict.fromkeys(paths) if mappings.compared(p, create=create)]


def differences(record: dict[str, Any], user: dict[str, Any], mappings: AppMappings, *,
                create: bool = False, employee_ids: Collection[str] = ()) -> list[str]:
    """The SCIM paths where the Entra user does not (yet) hold what the record asked for.

    The manager compares by the manager's employeeId, which is what the record carries, and
    only when that manager has an Entra account (``employee_ids``): Entra cannot point at a
    manager it does not hold.
    """
    differing = []
    for path in compared_paths(mappings, create=create):
        expected = get_path(record, path)
        if isinstance(expected, dict):
            expected = expected.get("value")
        if expected is None or (isinstance(expected, str) and not expected.strip()):
            continue
        manager = path_key(path) == path_key(MANAGER)
        if manager and str(expected) not in employee_ids:
            continue
        actual = get_path(user, MANAGER_KEY if manager else path)
        if not same(path, expected, actual):
            differing.append(path)
    return differing


@dataclass(frozen=True)
class InboundVerification:
    """Per approved op: did Entra apply it? Rendering is the caller's."""

    results: pd.DataFrame  # op_id, action, hr_key, state, reason, target_id, log_action, log_status
    logs_read: int
    users_read: int

    def counts(self) -> pd.Series:
        return self.results["state"].value_counts()

    @property
    def converged(self) -> bool:
        """True when every op that was sent is applied (skipped ops are reported apart)."""
        sent = self.results[self.results["state"] != "skipped"]
        return bool((sent["state"] == "converged").all())

    def summary(self) -> str:
        counts = ", ".join(f"{n} {state}" for state, n in self.counts().items())
        return (f"Entra: {counts or 'nothing pushed'} "
                f"({self.logs_read} provisioning log entries, {self.users_read} users read)")


def _judge(differing: list[str], entries: list[LogEntry], target_id: str
           ) -> tuple[str, str, str, str, str]:
    """(state, reason, target_id, log_action, log_status) of one accepted op."""
    latest = max(entries, key=lambda e: _instant(e.activity)) if entries else None
    log_action = latest.action if latest else ""
    log_status = latest.status if latest else ""
    if not differing:
        return "converged", "", target_id, log_action, log_status
    explained = [e for e in entries if e.status == "failure" or e.skip_reasons]
    if explained:
        why = max(explained, key=lambda e: _instant(e.activity))
        return "failed", why.explained() or why.status, target_id, log_action, log_status
    if latest is None:
        reason = "no provisioning log entry yet (Entra logs uploads 5 to 10 minutes later)"
        return "pending", reason, target_id, log_action, log_status
    if differing == ["(no account)"]:
        return ("pending", f"log says {latest.action}/{latest.status}, but no user has this "
                "matching value yet", target_id, log_action, log_status)
    if latest.status == "skipped" and latest.action == "other":
        return ("failed", f"the job found nothing to change, but Entra differs on "
                f"{', '.join(differing)}: the app's mapping of these attributes differs from "
                "target.entra.inbound.mappings", target_id, log_action, log_status)
    return ("pending", f"log says {latest.action}/{latest.status}, but Entra differs on "
            f"{', '.join(differing)} (replication delay)", target_id, log_action, log_status)


@dataclass(frozen=True)
class _Sent:
    bulk_id: str
    sent_at: datetime


def _journaled(journal_path: Path, plan: Plan) -> tuple[pd.DataFrame, dict[str, _Sent]]:
    """The journal's state of the plan's ops, and when/how each accepted op was sent."""
    if not journal_path.exists():
        raise PlanError(f"{journal_path}: no push journal; push first")
    with Journal(journal_path) as journal:
        ops = journal.ops_frame()
        attempts = journal.attempts_frame()
    ops = ops[ops["op_id"].isin(plan.ops["op_id"])]
    if ops.empty:
        raise PlanError(f"{journal_path}: no op of plan {plan.digest[:12]} is journaled; "
                        "push first")
    accepted = attempts[(attempts["outcome"] == "succeeded")
                        & attempts["op_id"].isin(ops["op_id"])]
    latest = accepted.sort_values("started_at").drop_duplicates("op_id", keep="last")
    sent = {}
    for op_id, summary, started in zip(latest["op_id"], latest["request_summary"],
                                       latest["started_at"], strict=True):
        found = _BULK_ID.search(str(summary or ""))
        sent[str(op_id)] = _Sent(found.group(1) if found else str(op_id), _instant(str(started)))
    return ops, sent


def verify_inbound(
    plan: Plan,
    target: EntraTarget,
    journal_path: str | Path,
    *,
    desired: pd.DataFrame,
    progress: bool = True,
    credential: Any | None = None,
) -> InboundVerification:
    """Read the job's provisioning logs since the push and the users, and judge every op.

    ``desired`` is the same desired frame the push used (records are rebuilt from it).
    """
    inbound = inbound_job(target)
    mappings = app_mappings(inbound)
    ops, sent = _journaled(Path(journal_path), plan)
    credential = credential if credential is not None else graph_credential(target)
    entries: list[LogEntry] = []
    if sent:
        since = min(s.sent_at for s in sent.values()) - CLOCK_SKEW
        entries = provisioning_logs(target, inbound.job_id, since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                    credential=credential)
    snapshot = snapshot_entra(target, progress=progress, credential=credential)
    by_id = {str(u["id"]): u for u in snapshot.resources if u.get("id")}
    by_key: dict[str, dict[str, Any]] = {}
    for resource in snapshot.resources:
        held = get_path(resource, mappings.matching.source)
        if held not in (None, ""):
            by_key.setdefault(str(held), resource)
    by_source: dict[str, list[LogEntry]] = {}
    for entry in entries:
        by_source.setdefault(entry.source_id, []).append(entry)
    plan_ops = plan.ops.set_index("op_id")
    judged = [str(o) for o, s in zip(ops["op_id"], ops["status"], strict=True)
              if str(o) in sent or s == "already_applied"]
    records_of = plan.ops[plan.ops["op_id"].isin(judged)
                          & plan.ops["action"].isin(["create", "update", "enable", "disable"])]
    records = {op.op_id: op.record for op in inbound_ops(records_of, desired)}
    now = datetime.now(UTC)
    rows = []
    for op_id, status, error in zip(ops["op_id"], ops["status"], ops["error"], strict=True):
        op = plan_ops.loc[op_id]
        action, target_id = str(op["action"]), str(op["target_id"] or "")
        hr_key = "" if pd.isna(op["hr_key"]) else str(op["hr_key"])
        if op_id not in judged:  # never accepted: by design, or refused before sending
            state = _NOT_SENT.get(str(status), "failed")
            rows.append((op_id, action, hr_key, state, str(error or status), target_id, "", ""))
            continue
        when = sent[op_id].sent_at if op_id in sent else now
        if action == "link":
            value = link_value(json_of(op["payload"]), mappings) or hr_key
            account = by_id.get(target_id) or {}
            ok = same(mappings.matching.source, get_path(account, mappings.matching.source),
                      value)
            rows.append((op_id, action, hr_key, "converged" if ok else "pending",
                         "" if ok else f"{mappings.matching.target} is not {value!r} yet",
                         target_id, "", ""))
            continue
        record = records[op_id]
        key = str(get_path(record, mappings.matching.source) or hr_key)
        user = by_key.get(key)
        mine = [e for e in by_source.get(key, [])
                if e.activity and _instant(e.activity) >= when - CLOCK_SKEW]
        differing = (differences(record, user, mappings, create=action == "create",
                                 employee_ids=by_key.keys())
                     if user is not None else ["(no account)"])
        found_id = str((user or {}).get("id") or target_id)
        rows.append((op_id, action, hr_key, *_judge(differing, mine, found_id)))
    frame = pd.DataFrame(rows, columns=["op_id", "action", "hr_key", "state", "reason",
                                        "target_id", "log_action", "log_status"])
    return InboundVerification(frame, len(entries), len(snapshot.resources))


def verify_configured(
    config: Config, plan: Plan, approval: Approval, journal: str | Path, *,
    progress: bool = True,
) -> InboundVerification:
    """``verify_inbound`` for the approved ops, with the config's Entra target and HR file."""
    check_approval(plan, approval)
    if config.target.entra is None:
        raise ConfigError(f"{config.name}: this config has no target.entra")
    return verify_inbound(plan, config.target.entra, journal,
                          desired=desired_for(config, plan), progress=progress)
