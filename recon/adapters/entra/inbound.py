"""Push approved ops into Entra ID through API-driven inbound provisioning, and verify them.

``push_inbound`` sends each approved create, update, enable and disable as a full SCIM record
in BulkRequests to ``POST {graph_url}/servicePrincipals/{id}/synchronization/jobs/{jobId}/
bulkUpload`` (``application/scim+json``, ≤ 50 operations each). The SDK has no method for this
endpoint, so it is a raw httpx request with a token from the same azure-identity credential.
Requests are paced at ``calls_per_second`` (default 8: the strictest documented limit is 40
calls in any 5 s) and a 429 waits its ``Retry-After``. Every attempt and every op's bulkId is
journaled; running the same plan again skips ops already accepted.

bulkUpload only *accepts* work (202); Entra applies it later, in a provisioning cycle.
``verify_inbound`` therefore reads ``/auditLogs/provisioning`` for the job since the push and
the users again, and reports each op as ``converged``, ``failed`` (with the log's reason) or
``pending``.

Ops bulkUpload cannot carry are reported ``skipped`` with the reason: ``link`` (matching is by
externalId ↔ employeeId, so writing the anchor needs a direct Graph PATCH of employeeId) and
``delete`` (the inbound API never deletes; send ``active: false``).
"""

from __future__ import annotations

import hashlib
import json
import time
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pandas as pd

from recon.adapters.entra.bulk import (
    INBOUND_ACTIONS,
    MAX_OPERATIONS,
    InboundOp,
    bulk_requests,
    inbound_ops,
)
from recon.adapters.entra.credentials import bearer_token, graph_credential, graph_endpoint
from recon.adapters.entra.graph import provisioning_logs, snapshot_entra
from recon.adapters.entra.journal import InboundJournal, JournaledOp, utc_now
from recon.adapters.entra.mapping import GRAPH_ATTRIBUTES, MANAGER_KEY
from recon.approve import Approval, check_approval
from recon.config import EntraInbound, EntraTarget, Policy
from recon.errors import ConfigError, PlanError, PushError
from recon.normalize import ENTERPRISE, get_path
from recon.plan import Plan

DEFAULT_CALLS_PER_SECOND = 8.0
MAX_ATTEMPTS = 8  # per request: 429s and transient failures
MAX_WAIT = 300.0  # seconds: a longer Retry-After stops the push (resume later)
SKIPPED_REASONS = {
    "link": "bulkUpload matches on externalId ↔ employeeId and cannot write the anchor of an "
            "existing account; set its employeeId in Entra, then reconcile again",
    "delete": "API-driven inbound provisioning does not delete; approve a disable instead",
    "no_hr": "no HR record to upload (an orphan account); bulkUpload carries HR records only",
}


def _skip_reason(action: str, hr_key: str) -> str:
    if action in ("link", "delete"):
        return SKIPPED_REASONS[action]
    if not hr_key:
        return SKIPPED_REASONS["no_hr"]
    return f"action {action!r} is not sent to bulkUpload"


def _inbound(target: EntraTarget) -> EntraInbound:
    if target.inbound is None:
        raise ConfigError("target.entra.inbound (service_principal_id, job_id) is needed to "
                          "push to Entra through API-driven inbound provisioning")
    return target.inbound


def _approved(plan: Plan, approval: Approval) -> pd.DataFrame:
    check_approval(plan, approval)
    return plan.ops[plan.ops["op_id"].isin(set(approval.op_ids))]


def _check_limits(ops: pd.DataFrame, policy: Policy, override: bool) -> None:
    disables = int((ops["action"] == "disable").sum())
    if disables > policy.max_disables and not override:
        raise PlanError(f"{disables} disables approved; the safety limit is "
                        f"{policy.max_disables} per push (policy.max_disables). Split the "
                        "approval or override explicitly")


@dataclass(frozen=True)
class InboundPushResult:
    """What happened to every approved op; rendering is the caller's (CLI, notebook)."""

    results: pd.DataFrame  # op_id, action, hr_key, bulk_id, request_no, state, http_status, detail
    run_id: int
    journal_path: Path
    requests: int  # HTTP requests sent, retries included
    started_at: str
    finished_at: str

    def counts(self) -> pd.Series:
        return self.results["state"].value_counts()

    @property
    def ok(self) -> bool:
        """True when nothing failed (skipped ops are reported, not failures)."""
        return not (self.results["state"] == "failed").any()


class _Pacer:
    """Spaces request starts at least ``1 / rate`` seconds apart."""

    def __init__(self, rate: float, sleep: Callable[[float], None]) -> None:
        if rate <= 0:
            raise ConfigError("calls_per_second must be positive")
        self.interval = 1.0 / rate
        self.sleep = sleep
        self.next_start = 0.0

    def wait(self) -> None:
        delay = self.next_start - time.monotonic()
        if delay > 0:
            self.sleep(delay)
        self.next_start = time.monotonic() + self.interval


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, moment.timestamp() - time.time())


def _graph_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        return f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        return response.text[:200]


@dataclass
class _Sender:
    """Sends one BulkRequest with pacing, 429/5xx retries, and a journal line per attempt."""

    http: httpx.Client
    url: str
    token: Callable[[], str]
    journal: InboundJournal
    run_id: int
    pacer: _Pacer
    sleep: Callable[[float], None]
    requests: int = 0

    def send(self, request_no: int, body: dict[str, Any], op_count: int) -> tuple[str, int, str]:
        """(sent_at, HTTP status, detail) of the final attempt; raises PushError to stop."""
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        digest = hashlib.sha256(content).hexdigest()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self.pacer.wait()
            sent_at = utc_now()
            self.requests += 1
            try:
                response = self.http.post(self.url, content=content, headers={
                    "Authorization": f"Bearer {self.token()}",
                    "Content-Type": "application/scim+json"})
            except httpx.TransportError as error:
                self.journal.record_attempt(self.run_id, request_no, attempt, sent_at=sent_at,
                                            status=None, op_count=op_count, body_sha256=digest,
                                            error=f"{type(error).__name__}: {error}")
                if attempt == MAX_ATTEMPTS:
                    raise PushError(f"cannot reach {self.url}: {error}") from error
                self.sleep(min(60.0, 2.0 ** attempt))
                continue
            wait = _retry_after(response)
            detail = "" if response.is_success else _graph_message(response)
            self.journal.record_attempt(
                self.run_id, request_no, attempt, sent_at=sent_at, status=response.status_code,
                op_count=op_count, body_sha256=digest,
                retry_after=response.headers.get("Retry-After"),
                location=response.headers.get("Location"), error=detail or None)
            if response.status_code in (401, 403):
                raise PushError(f"Microsoft Graph answered {response.status_code} to bulkUpload"
                                f" ({detail}); the app needs SynchronizationData-User.Upload")
            retryable = response.status_code == 429 or response.status_code >= 500
            if not retryable:
                return sent_at, response.status_code, detail
            delay = wait if wait is not None else min(60.0, 2.0 ** attempt)
            if attempt == MAX_ATTEMPTS or delay > MAX_WAIT:
                raise PushError(f"bulkUpload still answers {response.status_code} after "
                                f"{attempt} attempts ({detail}); run the push again later — "
                                "accepted ops are skipped")
            self.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")


def push_inbound(
    plan: Plan,
    approval: Approval,
    target: EntraTarget,
    journal_path: str | Path,
    *,
    desired: pd.DataFrame,
    policy: Policy | None = None,
    override_limits: bool = False,
    calls_per_second: float = DEFAULT_CALLS_PER_SECOND,
    batch_size: int = MAX_OPERATIONS,
    progress: bool = True,
    credential: Any | None = None,
    http_client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> InboundPushResult:
    """Send the approved ops of ``plan`` to Entra's bulkUpload; journal everything.

    ``desired`` is the reconciliation's desired frame (``Reconciliation.desired``): bulkUpload
    takes whole records, and the plan holds only what changes.
    """
    inbound = _inbound(target)
    endpoint = graph_endpoint(target)
    approved = _approved(plan, approval)
    _check_limits(approved, policy or Policy(), override_limits)
    credential = credential if credential is not None else graph_credential(target)
    url = (f"{endpoint.base_url}/servicePrincipals/{quote(inbound.service_principal_id, safe='')}"
           f"/synchronization/jobs/{quote(inbound.job_id, safe='')}/bulkUpload")
    journal = InboundJournal(Path(journal_path))
    owns_http = http_client is None
    http = http_client or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
    rows: list[dict[str, Any]] = []
    try:
        earlier = journal.latest_ops(plan.digest, inbound.job_id)
        run_id = journal.start_run(plan.digest, inbound.job_id, url)
        started_at = utc_now()
        sendable = approved["action"].isin(INBOUND_ACTIONS) & approved["hr_key"].notna()
        carried = approved[sendable]
        skipped = approved[~sendable]
        for op_id, action, key in zip(skipped["op_id"].astype(str), skipped["action"].astype(str),
                                      skipped["hr_key"].astype("string").fillna(""), strict=True):
            reason = _skip_reason(action, str(key))
            rows.append(_row(op_id, action, str(key), "", None, "skipped", None, reason))
            journal.record_ops(run_id, [(op_id, "", str(key), action, None)],
                               request_no=None, state="skipped", detail=reason)
        done = {op_id for op_id, entry in earlier.items() if entry.state == "accepted"}
        for op in carried[carried["op_id"].isin(done)].itertuples(index=False):
            entry = earlier[str(op.op_id)]
            rows.append(_row(op.op_id, op.action, op.hr_key, entry.bulk_id, None,
                             "already_accepted", None, f"accepted in run {entry.run_id}"))
        to_send = inbound_ops(carried[~carried["op_id"].isin(done)], desired)
        sender = _Sender(http, url, lambda: bearer_token(credential, endpoint), journal, run_id,
                         _Pacer(calls_per_second, sleep), sleep)
        with _bar(progress, len(to_send)) as (bar, task):
            for request_no, (chunk, body) in enumerate(bulk_requests(to_send, batch_size), 1):
                sent_at, status, detail = sender.send(request_no, body, len(chunk))
                state = "accepted" if 200 <= status < 300 else "failed"
                journal.record_ops(run_id, [_journal_row(op) for op in chunk],
                                   request_no=request_no, state=state, detail=detail,
                                   sent_at=sent_at)
                rows.extend(_row(op.op_id, op.action, op.hr_key, op.bulk_id, request_no, state,
                                 status, detail) for op in chunk)
                bar.update(task, advance=len(chunk))
        finished_at = journal.finish_run(run_id)
    finally:
        journal.close()
        if owns_http:
            http.close()
    return InboundPushResult(pd.DataFrame(rows, columns=list(_RESULT_COLUMNS)), run_id,
                             Path(journal_path), sender.requests, started_at, finished_at)


_RESULT_COLUMNS = ("op_id", "action", "hr_key", "bulk_id", "request_no", "state", "http_status",
                   "detail")


def _row(*values: Any) -> dict[str, Any]:
    return dict(zip(_RESULT_COLUMNS, values, strict=True))


def _journal_row(op: InboundOp) -> tuple[str, str, str, str, dict[str, Any]]:
    return op.op_id, op.bulk_id, op.hr_key, op.action, op.record


class _bar:
    """A rich progress bar over ops sent (to stderr; silent when disabled)."""

    def __init__(self, enabled: bool, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(TextColumn("bulkUpload"), BarColumn(), MofNCompleteColumn(),
                                 console=Console(stderr=True), disable=not enabled)
        self.total = total

    def __enter__(self) -> tuple[Any, Any]:
        self.progress.__enter__()
        return self.progress, self.progress.add_task("ops", total=self.total)

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)


# -- verify ------------------------------------------------------------------------------------

VERIFY_STATES = ("converged", "failed", "pending", "skipped")
CLOCK_SKEW = timedelta(minutes=2)  # Entra's clock against ours, when matching log entries


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
_CASELESS = {"userName", 'emails[type eq "work"].value'}


def _norm(value: Any, path: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if path == "active":
        return str(value).strip().lower()
    text = unicodedata.normalize("NFC", str(value)).strip()
    return text.lower() if path in _CASELESS else text


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
        if expected is None:
            continue
        if path == f"{ENTERPRISE}:manager" and expected not in employee_ids:
            continue
        actual_raw = get_path(user, MANAGER_KEY if path == f"{ENTERPRISE}:manager" else path)
        if path == "active" and actual_raw is None:
            actual_raw = True
        if _norm(actual_raw, path) != expected:
            differing.append(path)
    return differing


@dataclass(frozen=True)
class InboundVerification:
    """Per pushed op: did Entra apply it? (``converged``, ``failed``, ``pending``)."""

    results: pd.DataFrame  # op_id, action, hr_key, state, reason, target_id, log_action, log_status
    logs_read: int
    users_read: int

    def counts(self) -> pd.Series:
        return self.results["state"].value_counts()

    @property
    def converged(self) -> bool:
        carried = self.results[self.results["state"] != "skipped"]
        return bool((carried["state"] == "converged").all())


def _judge(op: JournaledOp, user: dict[str, Any] | None, entries: list[Any],
           employee_ids: Collection[str]) -> tuple[str, str, str, str, str]:
    """(state, reason, target_id, log_action, log_status) of one accepted op."""
    latest = max(entries, key=lambda e: _instant(e.activity)) if entries else None
    log_action = latest.action if latest else ""
    log_status = latest.status if latest else ""
    target_id = str((user or {}).get("id") or (latest.target_id if latest else ""))
    differing = differences(op.record, user, employee_ids) if user is not None else [
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


def verify_inbound(
    plan: Plan,
    target: EntraTarget,
    journal_path: str | Path,
    *,
    progress: bool = True,
    credential: Any | None = None,
) -> InboundVerification:
    """Read the job's provisioning logs since the push and the users, and judge every op."""
    inbound = _inbound(target)
    with InboundJournal(Path(journal_path)) as journal:
        pushed = journal.latest_ops(plan.digest, inbound.job_id)
    if not pushed:
        raise PlanError(f"{journal_path}: no bulkUpload of plan {plan.digest[:12]} to job "
                        f"{inbound.job_id} is journaled; push first")
    credential = credential if credential is not None else graph_credential(target)
    sent = [op.sent_at for op in pushed.values() if op.state == "accepted" and op.sent_at]
    since = (min(_instant(s) for s in sent) - CLOCK_SKEW) if sent else None
    entries = provisioning_logs(target, inbound.job_id, since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                credential=credential) if since else []
    snapshot = snapshot_entra(target, progress=progress, credential=credential)
    by_key: dict[str, dict[str, Any]] = {}
    for user in snapshot.resources:
        key = user.get("externalId")
        if key:
            by_key.setdefault(str(key), user)
    by_source: dict[str, list[Any]] = {}
    for entry in entries:
        by_source.setdefault(entry.source_id, []).append(entry)
    rows = []
    for op in pushed.values():
        if op.state != "accepted":
            rows.append((op.op_id, op.action, op.hr_key, op.state if op.state == "skipped"
                         else "failed", op.detail, "", "", ""))
            continue
        mine = [e for e in by_source.get(op.hr_key, []) + by_source.get(op.bulk_id, [])
                if e.activity and _instant(e.activity) >= _instant(op.sent_at) - CLOCK_SKEW]
        state, reason, target_id, log_action, log_status = _judge(
            op, by_key.get(op.hr_key), mine, by_key.keys())
        rows.append((op.op_id, op.action, op.hr_key, state, reason, target_id, log_action,
                     log_status))
    frame = pd.DataFrame(rows, columns=["op_id", "action", "hr_key", "state", "reason",
                                        "target_id", "log_action", "log_status"])
    return InboundVerification(frame, len(entries), len(snapshot.resources))
