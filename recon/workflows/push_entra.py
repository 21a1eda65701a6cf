"""Push approved ops into Entra ID through API-driven inbound provisioning.

``push_inbound`` sends each approved create, update, enable and disable as a full SCIM record
(``recon.targets.entra.records``) to the job's bulkUpload endpoint
(``recon.targets.entra.inbound``), paced at ``calls_per_second`` (default 8: the strictest
documented limit is 40 calls in any 5 s). Every attempt is journaled, and running the same
plan again skips ops already accepted.

bulkUpload only *accepts* work (202, journaled as ``succeeded``); Entra applies it later, in a
provisioning cycle. ``recon.workflows.verify_entra`` reads the provisioning logs to tell.

Ops bulkUpload cannot carry are reported ``skipped`` with the reason: ``link`` (matching is by
externalId ↔ employeeId, so writing the anchor needs a direct Graph PATCH of employeeId) and
``delete`` (the inbound API never deletes; send ``active: false``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from recon.core.approve import Approval, approved_ops
from recon.core.config import Config, EntraTarget, Policy
from recon.core.expressions import EvalContext
from recon.core.limits import check_limits
from recon.core.mapping import desired_frame
from recon.core.plan import Plan
from recon.core.results import RESULT_COLUMNS, PushResult
from recon.errors import PlanError
from recon.io.hr import read_hr
from recon.io.journal import Journal
from recon.targets.entra.credentials import bearer_token, graph_credential, graph_endpoint
from recon.targets.entra.graph import snapshot_entra
from recon.targets.entra.inbound import (
    DEFAULT_CALLS_PER_SECOND,
    Pacer,
    Sender,
    bulk_upload_url,
)
from recon.targets.entra.records import (
    INBOUND_ACTIONS,
    MAX_OPERATIONS,
    InboundOp,
    bulk_requests,
    drifted_from_plan,
    inbound_ops,
)

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


@dataclass(frozen=True)
class InboundPushResult(PushResult):
    """``PushResult`` for bulkUpload, so the CLI and notebooks render both alike.

    ``results`` has the PushResult columns plus ``bulk_id`` and ``request_no``. For bulkUpload,
    ``succeeded`` means *accepted* (202): Entra applies the record later; verify tells.
    """

    requests: int = 0  # HTTP requests sent, retries included


def desired_for(config: Config, plan: Plan) -> pd.DataFrame:
    """The desired frame a plan was computed from: the HR file through the config's mapping.

    For a push from ``plan.json`` (the CLI), where no Reconciliation is at hand. It depends on
    the HR file, the config and the plan's as-of date only — not on the target — so it is the
    same frame, as long as the HR file is the one the plan was made from.
    """
    hr = read_hr(config.source, config.base_dir)
    context = EvalContext(now=datetime.combine(plan.as_of, datetime.min.time()))
    return desired_frame(hr.frame, config, plan.as_of, context)


def push_inbound(
    plan: Plan,
    approval: Approval,
    target: EntraTarget,
    journal_path: str | Path,
    *,
    desired: pd.DataFrame,
    policy: Policy | None = None,
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
    approved = approved_ops(plan, approval)
    check_limits(approved, policy or Policy(),
                 lambda: snapshot_entra(target, progress=False, credential=credential).count)
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
            sender = Sender(http, url, lambda: bearer_token(credential, endpoint), journal,
                             Pacer(calls_per_second, sleep), sleep)
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

