"""Push approved ops into Entra ID through API-driven inbound provisioning, and verify them.

``push_inbound`` sends each approved create, update, enable and disable as a full SCIM record
in BulkRequests to ``POST {graph_url}/servicePrincipals/{id}/synchronization/jobs/{jobId}/
bulkUpload`` (``application/scim+json``, ≤ 50 operations each). The SDK has no method for this
endpoint, so it is a raw httpx request with a token from the same azure-identity credential.
Requests are paced at ``calls_per_second`` (default 8: the strictest documented limit is 40
calls in any 5 s) and a 429 waits its ``Retry-After``. Every attempt and every op's bulkId is
journaled in the push journal (``recon.adapters.journal``) — per op, per attempt, with the
bulkId and the request number in the attempt's summary, never the values — and running the
same plan again skips ops already accepted.

bulkUpload only *accepts* work (202, journaled as ``succeeded``); Entra applies it later, in a
provisioning cycle. ``recon.adapters.entra.verify`` reads the provisioning logs to tell.

Ops bulkUpload cannot carry are reported ``skipped`` with the reason: ``link`` (matching is by
externalId ↔ employeeId, so writing the anchor needs a direct Graph PATCH of employeeId) and
``delete`` (the inbound API never deletes; send ``active: false``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
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
    drifted_from_plan,
    inbound_ops,
)
from recon.adapters.entra.credentials import bearer_token, graph_credential, graph_endpoint
from recon.adapters.journal import Attempt, Journal
from recon.approve import Approval, check_approval
from recon.config import Config, EntraInbound, EntraTarget, Policy
from recon.errors import ConfigError, PlanError, PushError
from recon.plan import Plan
from recon.push import RESULT_COLUMNS, PushResult

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


def inbound_job(target: EntraTarget) -> EntraInbound:
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
class InboundPushResult(PushResult):
    """``recon.push.PushResult`` for bulkUpload, so the CLI and notebooks render both alike.

    ``results`` has the PushResult columns plus ``bulk_id`` and ``request_no``. For bulkUpload,
    ``succeeded`` means *accepted* (202): Entra applies the record later; verify tells.
    """

    requests: int = 0  # HTTP requests sent, retries included


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


def summary_of(op: InboundOp, request_no: int) -> str:
    """The journal's request summary: bulkId, request, record digest and paths, no values."""
    digest = hashlib.sha256(json.dumps(op.record, sort_keys=True).encode()).hexdigest()[:16]
    return (f"bulkUpload request={request_no} bulkId={op.bulk_id} record_sha256={digest} "
            f"attributes={','.join(sorted(k for k in op.record if k != 'schemas'))}")


@dataclass
class _Sender:
    """Sends one BulkRequest with pacing and 429/5xx retries; every attempt journaled per op."""

    http: httpx.Client
    url: str
    token: Callable[[], str]
    journal: Journal
    pacer: _Pacer
    sleep: Callable[[float], None]
    requests: int = 0

    def _finish(self, attempts: list[Attempt], outcome: str, status: int | None, error: str,
                final: bool) -> None:
        for attempt in attempts:
            self.journal.finish(attempt, outcome=outcome, http_status=status,
                                error=error or None, final=final)

    def send(self, request_no: int, chunk: list[InboundOp], body: dict[str, Any]
             ) -> tuple[int, str, int]:
        """(HTTP status, detail, attempts) of the final attempt; PushError stops the push."""
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self.pacer.wait()
            begun = self.journal.begin_many(
                (op.op_id, op.action, "POST", "/Users", summary_of(op, request_no))
                for op in chunk)
            self.requests += 1
            try:
                response = self.http.post(self.url, content=content, headers={
                    "Authorization": f"Bearer {self.token()}",
                    "Content-Type": "application/scim+json"})
            except httpx.TransportError as error:
                last = attempt == MAX_ATTEMPTS
                self._finish(begun, "failed", None, f"{type(error).__name__}: {error}", last)
                if last:
                    raise PushError(f"cannot reach {self.url}: {error}") from error
                self.sleep(min(60.0, 2.0 ** attempt))
                continue
            status = response.status_code
            detail = "" if response.is_success else _graph_message(response)
            if status in (401, 403):
                self._finish(begun, "failed", status, detail, True)
                raise PushError(f"Microsoft Graph answered {status} to bulkUpload ({detail}); "
                                "the app needs SynchronizationData-User.Upload")
            if status != 429 and status < 500:
                self._finish(begun, "succeeded" if response.is_success else "failed", status,
                             detail, True)
                return status, detail, attempt
            wait = _retry_after(response)
            delay = wait if wait is not None else min(60.0, 2.0 ** attempt)
            last = attempt == MAX_ATTEMPTS or delay > MAX_WAIT
            self._finish(begun, "throttled" if status == 429 else "failed", status,
                         detail or f"Retry-After {response.headers.get('Retry-After')}", last)
            if last:
                raise PushError(f"bulkUpload still answers {status} after {attempt} attempts "
                                f"({detail}); run the push again later — accepted ops are "
                                "skipped")
            self.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")


def desired_for(config: Config, plan: Plan) -> pd.DataFrame:
    """The desired frame a plan was computed from: the HR file through the config's mapping.

    For a push from ``plan.json`` (the CLI), where no Reconciliation is at hand. It depends on
    the HR file, the config and the plan's as-of date only — not on the target — so it is the
    same frame, as long as the HR file is the one the plan was made from.
    """
    from recon.adapters.hr import read_hr
    from recon.expressions import EvalContext
    from recon.mapping import desired_frame

    hr = read_hr(config.source, config.base_dir)
    context = EvalContext(now=datetime.combine(plan.as_of, datetime.min.time()))
    return desired_frame(hr.frame, config, plan.as_of, context)


def bulk_upload_url(target: EntraTarget) -> str:
    inbound = inbound_job(target)
    base = graph_endpoint(target).base_url
    return (f"{base}/servicePrincipals/{quote(inbound.service_principal_id, safe='')}"
            f"/synchronization/jobs/{quote(inbound.job_id, safe='')}/bulkUpload")


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
    dry_run: bool = False,
) -> InboundPushResult:
    """Send the approved ops of ``plan`` to Entra's bulkUpload; journal every attempt.

    ``desired`` is the reconciliation's desired frame (``Reconciliation.desired``, or
    ``desired_for(config, plan)``): bulkUpload takes whole records, the plan only changes.
    """
    url = bulk_upload_url(target)
    endpoint = graph_endpoint(target)
    approved = _approved(plan, approval)
    _check_limits(approved, policy or Policy(), override_limits)
    info = approved.set_index("op_id")[["category", "target_id"]].astype("string").fillna("")
    rows: list[dict[str, Any]] = []

    def row(op_id: str, action: str, hr_key: str, status: str, *, attempts: int = 0,
            http_status: int | None = None, error: str = "", bulk_id: str = "",
            request_no: int | None = None) -> None:
        rows.append({"op_id": op_id, "action": action, "category": info.at[op_id, "category"],
                     "hr_key": hr_key, "target_id": info.at[op_id, "target_id"],
                     "status": status, "attempts": attempts, "http_status": http_status,
                     "error": error, "bulk_id": bulk_id, "request_no": request_no})

    sendable = approved["action"].isin(INBOUND_ACTIONS) & approved["hr_key"].notna()
    skipped, carried = approved[~sendable], approved[sendable]
    skips = [(op_id, action, str(key), _skip_reason(action, str(key))) for op_id, action, key
             in zip(skipped["op_id"].astype(str), skipped["action"].astype(str),
                    skipped["hr_key"].astype("string").fillna(""), strict=True)]
    for op_id, action, key, reason in skips:
        row(op_id, action, key, "skipped", error=reason)
    requests = 0
    if dry_run:
        chunks = bulk_requests(_checked_ops(carried, desired), batch_size)
        for number, (chunk, _) in enumerate(chunks, 1):
            for op in chunk:
                row(op.op_id, op.action, op.hr_key, "dry_run", bulk_id=op.bulk_id,
                    request_no=number)
        return _result(rows, plan, journal_path, requests, dry_run=True)
    credential = credential if credential is not None else graph_credential(target)
    owns_http = http_client is None
    http = http_client or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
    try:
        with Journal(Path(journal_path)) as journal:
            done = journal.done()
            pending = carried[~carried["op_id"].isin(done)]
            to_send = _checked_ops(pending, desired)
            journal.start_run(plan.digest, note=f"entra bulkUpload {url}")
            for op_id, action, _, reason in skips:
                journal.settle(op_id, action=action, status="skipped", error=reason)
            earlier = carried[carried["op_id"].isin(done)]
            for op_id, action, key in zip(earlier["op_id"].astype(str),
                                          earlier["action"].astype(str),
                                          earlier["hr_key"].astype(str), strict=True):
                row(op_id, action, key, "already_applied", bulk_id=op_id,
                    error="accepted by an earlier run")
            sender = _Sender(http, url, lambda: bearer_token(credential, endpoint), journal,
                             _Pacer(calls_per_second, sleep), sleep)
            try:
                with _bar(progress, len(to_send)) as (bar, task):
                    chunks = bulk_requests(to_send, batch_size)
                    for number, (chunk, body) in enumerate(chunks, 1):
                        status, detail, tries = sender.send(number, chunk, body)
                        outcome = "succeeded" if 200 <= status < 300 else "failed"
                        for op in chunk:
                            row(op.op_id, op.action, op.hr_key, outcome, attempts=tries,
                                http_status=status, error=detail, bulk_id=op.bulk_id,
                                request_no=number)
                        bar.update(task, advance=len(chunk))
            finally:
                requests = sender.requests
                journal.end_run()
    finally:
        if owns_http:
            http.close()
    return _result(rows, plan, journal_path, requests, dry_run=False)


def _checked_ops(ops: pd.DataFrame, desired: pd.DataFrame) -> list[InboundOp]:
    """The records to send, refused if they no longer carry what the plan approved."""
    built = inbound_ops(ops, desired)
    drifted = drifted_from_plan(ops, built)
    if drifted:
        more = f" ({len(drifted) - 1} more)" if len(drifted) > 1 else ""
        raise PlanError(f"{drifted[0]}{more}: the HR file changed since the plan; reconcile "
                        "again and approve the new plan")
    return built


def _result(rows: list[dict[str, Any]], plan: Plan, journal_path: str | Path, requests: int,
            *, dry_run: bool) -> InboundPushResult:
    frame = pd.DataFrame.from_records(rows, columns=[*RESULT_COLUMNS, "bulk_id", "request_no"])
    frame["attempts"] = frame["attempts"].astype("int64")
    frame["http_status"] = frame["http_status"].astype("Int64")
    frame["request_no"] = frame["request_no"].astype("Int64")
    return InboundPushResult(frame, plan.digest, str(journal_path), dry_run, requests)


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
