"""Push approved ops into Entra ID through API-driven inbound provisioning.

``push_inbound``, in order (docs/entra.md, "Push"):

1. refuses a batch past the policy's safety limits, as every push does;
2. reads the job (``GET …/synchronization/jobs/{id}``): a paused or quarantined job answers
   bulkUpload with 202 and processes nothing, so only an Active job is pushed to; the job's
   schema is compared with the configured mappings (a warning per difference);
3. reads every account the ops name, and every user holding a record's matching value, again
   and judges each op (``recon.targets.entra.preconditions``): an account recon did not match
   on the app's matching attribute gets **link needed** — its record is never uploaded, since
   bulkUpload would miss the account (a leaver left enabled) or create a second one (a
   rehire); synced (hybrid) users are not sent to a cloud-only job; stale and
   already-applied ops are reported as such;
4. sends approved ``link`` ops as ``PATCH /users/{id}`` of the matching property (employeeId);
5. uploads the other records, managers before their reports — and, when a report's manager is
   not known to have been processed by the job, a record restating the manager's account
   first, in the same upload (the job resolves a manager only against records it processed);
   paced at ``calls_per_window`` calls in any 5 s, counting the daily quota in the journal: a
   push that would exceed it stops cleanly, the rest ``deferred`` until the next run.

bulkUpload only *accepts* work (202, journaled as ``succeeded``); Entra applies it later.
``recon.workflows.verify_entra`` reads the provisioning logs and the users to tell. Running the
same plan again sends only what was not accepted — after a link, the op that needed it.
``link_plan`` turns the "link needed" ops of a push into a plan of link ops to approve.
"""

from __future__ import annotations

import time
import warnings
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
from recon.core.plan import Plan, ops_frame, plan_digest
from recon.core.results import RESULT_COLUMNS, STATUSES, PushResult
from recon.core.scim import PATCH_OP, get_path
from recon.errors import PlanError, PushError
from recon.io.hr import read_hr
from recon.io.journal import Finished, Journal
from recon.targets.entra.credentials import bearer_token, graph_credential, graph_endpoint
from recon.targets.entra.graph import Accounts, read_accounts, snapshot_entra
from recon.targets.entra.inbound import (
    DailyQuota,
    Pacer,
    QuotaReached,
    Sender,
    bulk_upload_url,
    inbound_job,
)
from recon.targets.entra.jobs import check_schema, job_problem, link_accounts, read_job
from recon.targets.entra.mapping import MANAGER, AppMappings, app_mappings
from recon.targets.entra.preconditions import LINK, SEND, Verdict, json_of, judge, link_value
from recon.targets.entra.records import (
    INBOUND_ACTIONS,
    MANAGER_RECORD,
    MAX_OPERATIONS,
    InboundOp,
    bulk_requests,
    drifted_from_plan,
    inbound_ops,
    keep_current,
    manager_record,
    manager_record_id,
    managers_first,
)

#: PushResult's statuses, and two only bulkUpload has: ``link_needed`` (an approved link op
#: must come first) and ``deferred`` (the daily quota is spent; the next run sends it).
INBOUND_STATUSES = (*STATUSES, "link_needed", "deferred")
RESULT = [*RESULT_COLUMNS, "bulk_id", "request_no"]


@dataclass(frozen=True)
class InboundPushResult(PushResult):
    """``PushResult`` for bulkUpload, so the CLI and notebooks render both alike.

    ``results`` has the PushResult columns plus ``bulk_id`` and ``request_no``. For bulkUpload,
    ``succeeded`` means *accepted* (202): Entra applies the record later; verify tells.
    """

    requests: int = 0  # HTTP requests sent to bulkUpload, retries included
    manager_records: int = 0  # records restating a manager's account, sent first

    def counts(self) -> pd.Series:
        return self.results["status"].value_counts().reindex(list(INBOUND_STATUSES),
                                                              fill_value=0)


def desired_for(config: Config, plan: Plan) -> pd.DataFrame:
    """The desired frame a plan was computed from: the HR file through the config's mapping.

    For a push from ``plan.json`` (the CLI), where no Reconciliation is at hand. It depends on
    the HR file, the config and the plan's as-of date only — not on the target — so it is the
    same frame, as long as the HR file is the one the plan was made from.
    """
    hr = read_hr(config.source, config.base_dir)
    context = EvalContext(now=datetime.combine(plan.as_of, datetime.min.time()))
    return desired_frame(hr.frame, config, plan.as_of, context)


class _Results:
    """The result rows, one per approved op."""

    def __init__(self, approved: pd.DataFrame) -> None:
        self.info = approved.set_index("op_id")[["category", "target_id"]].astype(
            "string").fillna("")
        self.rows: list[dict[str, Any]] = []

    def add(self, op_id: str, action: str, hr_key: str, status: str, *, attempts: int = 0,
            http_status: int | None = None, error: str = "", bulk_id: str = "",
            request_no: int | None = None) -> None:
        self.rows.append({"op_id": op_id, "action": action,
                          "category": self.info.at[op_id, "category"], "hr_key": hr_key,
                          "target_id": self.info.at[op_id, "target_id"], "status": status,
                          "attempts": attempts, "http_status": http_status, "error": error,
                          "bulk_id": bulk_id, "request_no": request_no})

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame.from_records(self.rows, columns=RESULT)
        frame["attempts"] = frame["attempts"].astype("int64")
        frame["http_status"] = frame["http_status"].astype("Int64")
        frame["request_no"] = frame["request_no"].astype("Int64")
        return frame


def _checked_ops(ops: pd.DataFrame, desired: pd.DataFrame) -> dict[str, InboundOp]:
    """The records of the HR ops, refused if they no longer carry what the plan approved."""
    carried = ops[ops["action"].isin(INBOUND_ACTIONS) & ops["hr_key"].notna()]
    built = inbound_ops(carried, desired)
    drifted = drifted_from_plan(carried, built)
    if drifted:
        more = f" ({len(drifted) - 1} more)" if len(drifted) > 1 else ""
        raise PlanError(f"{drifted[0]}{more}: the HR file changed since the plan; reconcile "
                        "again and approve the new plan")
    return {op.op_id: op for op in built}


def _manager_records(sending: list[InboundOp], accounts: Accounts, target: EntraTarget,
                     mappings: AppMappings, processed: set[str], done: set[str]
                     ) -> list[InboundOp]:
    """Records restating the accounts of managers the job is not known to have processed."""
    inbound = inbound_job(target)
    keys = {str(get_path(op.record, mappings.matching.source)) for op in sending}
    wanted = {str(get_path(op.record, MANAGER)) for op in sending} - {"None", ""}
    extra = []
    for key in sorted(wanted - keys - processed):
        if manager_record_id(key) in done:
            continue
        holders = accounts.by_key.get(key, [])
        if len(holders) != 1 or (holders[0].get("onPremisesSyncEnabled") and inbound.cloud_only):
            continue  # no account (or several): the job cannot resolve it; verify reports it
        record = manager_record(key, accounts.scim(holders[0], target), mappings)
        if record is not None:
            extra.append(InboundOp(manager_record_id(key), MANAGER_RECORD, key,
                                   manager_record_id(key), record))
    return extra


def push_inbound(
    plan: Plan,
    approval: Approval,
    target: EntraTarget,
    journal_path: str | Path,
    *,
    desired: pd.DataFrame,
    policy: Policy | None = None,
    batch_size: int = MAX_OPERATIONS,
    progress: bool = True,
    credential: Any | None = None,
    http_client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    dry_run: bool = False,
) -> InboundPushResult:
    """Send the approved ops of ``plan`` to Entra (links by PATCH, the rest by bulkUpload);
    journal every attempt.

    ``desired`` is the reconciliation's desired frame (``Reconciliation.desired``, or
    ``desired_for(config, plan)``): bulkUpload takes whole records, the plan only changes.
    """
    url = bulk_upload_url(target)
    inbound = inbound_job(target)
    mappings = app_mappings(inbound)
    endpoint = graph_endpoint(target)
    approved = approved_ops(plan, approval)
    check_limits(approved, policy or Policy(),
                 lambda: snapshot_entra(target, progress=False, credential=credential).count)
    records = _checked_ops(approved, desired)
    credential = credential if credential is not None else graph_credential(target)
    job, schema = read_job(target, schema=inbound.check_schema, credential=credential)
    problem = job_problem(job)
    if problem is not None:
        raise PushError(problem)
    for difference in check_schema(target, schema) if schema is not None else []:
        warnings.warn(f"Entra job {inbound.job_id}: {difference}", stacklevel=2)
    results = _Results(approved)
    if dry_run:
        verdicts = _judge_all(approved, records, target, mappings, credential)
        sendable = [records[str(op.op_id)] for op, v in verdicts if v.status == SEND]
        numbers = {op.op_id: number for number, (chunk, _) in enumerate(
            bulk_requests(managers_first(sendable), batch_size), 1) for op in chunk}
        for op, verdict in verdicts:
            status = "dry_run" if verdict.status in (SEND, LINK) else verdict.status
            results.add(str(op.op_id), str(op.action), _key(op), status, error=verdict.reason,
                        request_no=numbers.get(str(op.op_id)))
        return InboundPushResult(results.frame(), plan.digest, str(journal_path), True)
    owns_http = http_client is None
    http = http_client or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
    requests = extra = 0
    try:
        with Journal(Path(journal_path)) as journal:
            done = journal.done()
            journal.start_run(plan.digest, note=f"entra bulkUpload {url}")
            try:
                earlier = approved[approved["op_id"].isin(done)]
                for op in earlier.itertuples(index=False):
                    results.add(str(op.op_id), str(op.action), _key(op), "already_applied",
                                error="accepted by an earlier run", bulk_id=str(op.op_id))
                pending = approved[~approved["op_id"].isin(done)]
                processed = {str(k) for k in plan.ops.loc[plan.ops["op_id"].isin(done) & plan.ops[
                    "action"].isin(INBOUND_ACTIONS), "hr_key"].dropna()}
                verdicts = _judge_all(pending, records, target, mappings, credential)
                accounts = verdicts.accounts
                to_send: list[InboundOp] = []
                links: list[tuple[Any, Verdict]] = []
                for op, verdict in verdicts:
                    if verdict.status == SEND:
                        record = records[str(op.op_id)]
                        if str(op.target_id or "") in accounts.by_id:
                            keep_current(record.record, accounts.scim(
                                accounts.by_id[str(op.target_id)], target), mappings)
                        to_send.append(record)
                    elif verdict.status == LINK:
                        links.append((op, verdict))
                    else:
                        results.add(str(op.op_id), str(op.action), _key(op), verdict.status,
                                    error=verdict.reason)
                        journal.settle(str(op.op_id), action=str(op.action),
                                       status=verdict.status, error=verdict.reason)
                _send_links(links, target, journal, results, credential)
                managers = _manager_records(to_send, accounts, target, mappings, processed,
                                            done)
                extra = len(managers)
                sender = Sender(http, url, lambda: bearer_token(credential, endpoint), journal,
                                Pacer(inbound.calls_per_window, sleep, clock=clock), sleep,
                                DailyQuota.from_journal(journal, inbound.daily_quota))
                try:
                    _upload(managers_first([*managers, *to_send]), sender, batch_size, results,
                            journal, progress)
                finally:
                    requests = sender.requests
            finally:
                journal.end_run()
    finally:
        if owns_http:
            http.close()
    return InboundPushResult(results.frame(), plan.digest, str(journal_path), False, requests,
                             extra)


def _key(op: Any) -> str:
    return "" if op.hr_key is None or pd.isna(op.hr_key) else str(op.hr_key)


class _Verdicts(list[tuple[Any, Verdict]]):
    accounts: Accounts


def _judge_all(ops: pd.DataFrame, records: dict[str, InboundOp], target: EntraTarget,
               mappings: AppMappings, credential: Any) -> _Verdicts:
    """Re-read the accounts and users the ops depend on, and judge every op."""
    ids = [str(t) for t in ops["target_id"].dropna() if str(t)]
    keys = set()
    for record in records.values():
        for path in (mappings.matching.source, MANAGER):
            value = get_path(record.record, path)
            if value not in (None, ""):
                keys.add(str(value))
    for op in ops[ops["action"] == "link"].itertuples(index=False):
        value = link_value(json_of(op.payload), mappings) or _key(op)
        if value:
            keys.add(value)  # who holds it already (one worker, one account)
    accounts = read_accounts(target, ids, sorted(keys), credential=credential)
    inbound = inbound_job(target)
    verdicts = _Verdicts()
    verdicts.accounts = accounts
    for op in ops.itertuples(index=False):
        found = records.get(str(op.op_id))
        verdicts.append((op, judge(op, found.record if found else None, accounts, mappings,
                                   cloud_only=inbound.cloud_only,
                                   scim_of=lambda user: accounts.scim(user, target))))
    return verdicts


def _send_links(links: list[tuple[Any, Verdict]], target: EntraTarget, journal: Journal,
                results: _Results, credential: Any) -> None:
    """Approved link ops as ``PATCH /users/{id}`` of the matching property, journaled."""
    if not links:
        return
    prop = app_mappings(target.inbound).matching.target
    begun = journal.begin_many(
        (str(op.op_id), "link", "PATCH", f"/users/{op.target_id}", f"graph PATCH {prop}")
        for op, _ in links)
    answers = link_accounts(target, [(str(op.target_id), v.link_value) for op, v in links],
                            credential=credential)
    finished = []
    for (op, _), attempt, (status, detail) in zip(links, begun, answers, strict=True):
        outcome = "succeeded" if status == 204 else "failed"
        finished.append(Finished(attempt, outcome, status, str(op.target_id), detail or None))
        results.add(str(op.op_id), "link", _key(op), outcome, attempts=1, http_status=status,
                    error=detail)
    journal.finish_many(finished)


def _upload(ops: list[InboundOp], sender: Sender, batch_size: int, results: _Results,
            journal: Journal, progress: bool) -> None:
    """The records in BulkRequests of ≤ 50; a spent daily quota defers the rest."""
    chunks = list(bulk_requests(ops, batch_size))
    with _bar(progress, len(ops)) as (bar, task):
        for number, (chunk, body) in enumerate(chunks, 1):
            try:
                status, detail, tries = sender.send(number, chunk, body)
            except QuotaReached as stop:
                for rest, _ in chunks[number - 1:]:
                    for op in rest:
                        if op.action != MANAGER_RECORD:
                            results.add(op.op_id, op.action, op.hr_key, "deferred",
                                        error=str(stop), bulk_id=op.bulk_id)
                        journal.settle(op.op_id, action=op.action, status="deferred",
                                       error=str(stop))
                return
            outcome = "succeeded" if 200 <= status < 300 else "failed"
            for op in chunk:
                if op.action != MANAGER_RECORD:
                    results.add(op.op_id, op.action, op.hr_key, outcome, attempts=tries,
                                http_status=status, error=detail, bulk_id=op.bulk_id,
                                request_no=number)
            bar.update(task, advance=len(chunk))


def link_plan(plan: Plan, result: PushResult, target: EntraTarget, *,
              desired: pd.DataFrame | None = None, credential: Any | None = None) -> Plan:
    """A plan of link ops for the ops a push reported ``link_needed``, to approve and push.

    Each op writes the worker's matching value — what the worker's record carries for the
    app's matching attribute (from ``desired``), else the HR key — into the account's matching
    property (``PATCH /users/{id}`` of employeeId), over the value the account holds now
    (``before``, re-read here, so a change since is caught as stale).
    """
    mappings = app_mappings(inbound_job(target))
    path = mappings.matching.source
    needed = result.results[result.results["status"] == "link_needed"]
    ops = plan.ops[plan.ops["op_id"].isin(needed["op_id"])]
    values = {str(k): str(k) for k in ops["hr_key"].dropna()}
    if desired is not None and len(ops):
        for built in inbound_ops(ops[ops["action"].isin(INBOUND_ACTIONS)], desired):
            value = get_path(built.record, path)
            if value not in (None, ""):
                values[built.hr_key] = str(value)
    ids = [str(t) for t in ops["target_id"] if str(t)]
    accounts = read_accounts(target, ids, [], credential=credential)
    rows = []
    for op in ops.itertuples(index=False):
        account = accounts.by_id.get(str(op.target_id)) or {}
        current = account.get(mappings.matching.target)
        payload = {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": path, "value": values[str(op.hr_key)]}]}
        rows.append({"action": "link", "method": "PATCH", "path": f"/Users/{op.target_id}",
                     "target_id": str(op.target_id), "hr_key": str(op.hr_key),
                     "hr_row": op.hr_row, "category": "link", "payload": payload,
                     "before": {path: None if current in (None, "") else str(current)},
                     "etag": "", "risk": "medium", "match": None})
    frame = ops_frame(rows)
    return Plan(frame, plan_digest(plan.snapshot_digest, frame["op_id"].tolist()),
                plan.snapshot_digest, plan.as_of)


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
