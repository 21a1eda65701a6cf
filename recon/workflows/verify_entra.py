"""Did Entra apply what bulkUpload accepted? Provisioning logs plus a fresh read of the users.

bulkUpload answers 202 and nothing per operation; the provisioning service applies the records
minutes later (facts §5.4: 5–10 min to the logs). ``verify_inbound`` reads
``/auditLogs/provisioning`` for the job since the push and ``/users`` again, and judges each
pushed op:

- ``converged``: the Entra user (matched by employeeId = HR key) holds what the record asked
  for, whatever the logs say (they lag);
- ``failed``: not converged and the latest log entry for the record is a failure — its error
  code and reason are the report; or the push itself failed;
- ``pending``: not converged and no failure logged yet (run verify again later);
- ``skipped``: never sent (links, deletes, orphans), with the push's reason.

The expected records are rebuilt from the desired frame, exactly as the push built them: the
journal keeps ids, statuses and a record digest, never personal data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from recon.core.approve import Approval, check_approval
from recon.core.config import Config, EntraTarget
from recon.core.plan import Plan
from recon.core.scim import ENTERPRISE, get_path
from recon.errors import ConfigError, PlanError
from recon.io.journal import Journal
from recon.targets.entra.credentials import graph_credential
from recon.targets.entra.graph import LogEntry, provisioning_logs, snapshot_entra
from recon.targets.entra.inbound import inbound_job
from recon.targets.entra.mapping import GRAPH_ATTRIBUTES, MANAGER_KEY
from recon.targets.entra.records import inbound_ops
from recon.workflows.push_entra import desired_for

VERIFY_STATES = ("converged", "failed", "pending", "skipped")
CLOCK_SKEW = timedelta(minutes=2)  # Entra's clock against ours, when matching log entries
_CASELESS = {"username", 'emails[type eq "work"].value'}
_MANAGER = f"{ENTERPRISE}:manager"
_BULK_ID = re.compile(r"\bbulkId=(\S+)")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _norm(value: Any, path: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if path == "active":
        return str(value).strip().lower()
    text = unicodedata.normalize("NFC", str(value)).strip()
    return text.lower() if path.lower() in _CASELESS else text


def differences(record: dict[str, Any], user: dict[str, Any],
                employee_ids: Collection[str] = ()) -> list[str]:
    """The SCIM paths where the Entra user does not (yet) hold what the record asked for.

    Only paths that inbound provisioning writes by default are compared. The manager compares
    by the manager's employeeId, which is what the record carries, and only when that manager
    has an Entra account (``employee_ids``): Entra cannot point at a manager it does not hold.
    """
    differing = []
    for attribute in GRAPH_ATTRIBUTES:
        if not attribute.inbound:
            continue
        path = attribute.scim_path
        expected = _norm(get_path(record, path), path)
        if expected is None or (path == _MANAGER and expected not in employee_ids):
            continue
        actual = get_path(user, MANAGER_KEY if path == _MANAGER else path)
        if path == "active" and actual is None:
            actual = True  # a missing active means active
        if _norm(actual, path) != expected:
            differing.append(path)
    return differing


@dataclass(frozen=True)
class InboundVerification:
    """Per pushed op: did Entra apply it? Rendering is the caller's."""

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


@dataclass(frozen=True)
class _Pushed:
    op_id: str
    bulk_id: str
    sent_at: datetime


def _judge(record: dict[str, Any], user: dict[str, Any] | None, entries: list[LogEntry],
           employee_ids: Collection[str]) -> tuple[str, str, str, str, str]:
    """(state, reason, target_id, log_action, log_status) of one accepted op."""
    latest = max(entries, key=lambda e: _instant(e.activity)) if entries else None
    log_action = latest.action if latest else ""
    log_status = latest.status if latest else ""
    target_id = str((user or {}).get("id") or (latest.target_id if latest else ""))
    differing = differences(record, user, employee_ids) if user is not None else [
        "(no account)"]
    if not differing:
        return "converged", "", target_id, log_action, log_status
    if latest is not None and latest.status == "failure":
        reason = f"{latest.error_code}: {latest.reason}".strip(": ") or "failure"
        return "failed", reason, target_id, log_action, log_status
    if latest is None:
        reason = "no provisioning log entry yet (Entra applies uploads within minutes)"
    elif user is None:
        reason = f"log says {latest.action}/{latest.status}, but no user has this employeeId"
    else:
        reason = (f"log says {latest.action}/{latest.status}, but Entra differs on "
                  f"{', '.join(differing)} (replication delay, or the app's mapping)")
    return "pending", reason, target_id, log_action, log_status


def _pushed(journal_path: Path, plan: Plan) -> tuple[pd.DataFrame, dict[str, _Pushed]]:
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
    pushed = {}
    for op_id, summary, started in zip(latest["op_id"], latest["request_summary"],
                                       latest["started_at"], strict=True):
        found = _BULK_ID.search(str(summary or ""))
        pushed[str(op_id)] = _Pushed(str(op_id), found.group(1) if found else str(op_id),
                                     _instant(str(started)))
    return ops, pushed


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
    ops, pushed = _pushed(Path(journal_path), plan)
    credential = credential if credential is not None else graph_credential(target)
    entries: list[LogEntry] = []
    if pushed:
        since = min(p.sent_at for p in pushed.values()) - CLOCK_SKEW
        entries = provisioning_logs(target, inbound.job_id, since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                    credential=credential)
    snapshot = snapshot_entra(target, progress=progress, credential=credential)
    by_key: dict[str, dict[str, Any]] = {}
    for user in snapshot.resources:
        if user.get("externalId"):
            by_key.setdefault(str(user["externalId"]), user)
    by_source: dict[str, list[LogEntry]] = {}
    for entry in entries:
        by_source.setdefault(entry.source_id, []).append(entry)
    records = {op.op_id: op for op in inbound_ops(
        plan.ops[plan.ops["op_id"].isin(list(pushed))], desired)}
    actions = dict(zip(plan.ops["op_id"], plan.ops["action"].astype(str), strict=True))
    hr_keys = dict(zip(plan.ops["op_id"], plan.ops["hr_key"].astype("string").fillna(""),
                       strict=True))
    rows = []
    for op_id, status, error in zip(ops["op_id"], ops["status"], ops["error"], strict=True):
        action, hr_key = actions[op_id], str(hr_keys[op_id])
        sent = pushed.get(str(op_id))
        if sent is None:  # never accepted: skipped by design, or refused by Graph
            state = "skipped" if status == "skipped" else "failed"
            rows.append((op_id, action, hr_key, state, str(error or status), "", "", ""))
            continue
        mine = [e for e in by_source.get(hr_key, []) + by_source.get(sent.bulk_id, [])
                if e.activity and _instant(e.activity) >= sent.sent_at - CLOCK_SKEW]
        rows.append((op_id, action, hr_key, *_judge(records[op_id].record, by_key.get(hr_key),
                                                    mine, by_key.keys())))
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
