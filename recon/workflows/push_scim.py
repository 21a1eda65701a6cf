"""Push an approved plan to a SCIM target, safely: preconditions, retries, journal, resume.

The rules, in the order they apply (DESIGN.md "Push"):

1. Refuse to start for an approval of another plan, for op ids the plan does not hold, and past
   the safety limits (disables/deletes per run, absolute and percent), all counted over the
   approved ops.
2. Skip what the journal says already succeeded (resume after a crash or a partial run).
3. Creates first (users, then groups), then updates/links/enables/disables and group
   memberships, then deletes. An op that names an earlier create by its bulkId (a joiner added
   to a group, members of a new group; see recon.core.groupplan) gets the created id substituted,
   or fails when that create did not succeed. Ops on one account run one
   after another; different accounts run concurrently (threads) or in Bulk requests when the
   target advertises Bulk (chunked to its maxOperations and maxPayloadSize).
4. Never overwrite a change made since the snapshot: the write carries ``If-Match`` with the
   snapshot's version, or, when that is unknown or refused, the account is re-read and the op's
   ``before`` values must still hold (otherwise: ``stale``). An account that already holds the
   op's desired values counts as ``already_applied`` — an earlier attempt may have landed while
   its reply was lost.
5. 429 (honouring Retry-After), 5xx and broken connections are retried with capped exponential
   back-off and jitter, a bounded number of times; then the op is ``failed`` and the push goes on.
   After any such uncertain outcome, a create is looked up (userName/externalId) before it is
   posted again, so a create never runs twice.
6. Every write attempt is in the SQLite journal before it is sent (see recon.io.journal).
7. The request is shaped for the target's profile at send time (recon.targets.scim_requests):
   a PatchOp with filtered paths becomes a value object, or the whole resource goes by PUT,
   from the account as just re-read. The op id, its approval, ``before`` and what verify checks
   stay the plan's. A target that throttles for longer than ``max_retry_after`` stops the push
   (the ops not yet sent fail with that reason; the journal resumes them on the next run).
"""

from __future__ import annotations

import random
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from recon.core.approve import Approval, approved_ops
from recon.core.config import Policy
from recon.core.limits import check_limits
from recon.core.ops import (
    Op,
    Verdict,
    before_holds,
    bulk_chunks,
    desired_holds,
    ops_from_frame,
    summarize,
)
from recon.core.plan import Plan
from recon.core.results import OK_STATUSES, RESULT_COLUMNS, PushResult
from recon.errors import PushError
from recon.io.journal import DONE, Attempt, Finished, Journal, OpState
from recon.targets.scim import ScimClient, ScimHttpError, ScimReply, ScimUnavailable
from recon.targets.scim_discovery import Discovery
from recon.targets.scim_requests import (
    needs_current,
    refusal_hint,
    sent_summary,
    shape,
    written_paths,
)
from recon.workflows.push_progress import ProgressBar

PHASES = (("create", "group_create"), ("update", "link", "enable", "disable"), ("delete",))


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: capped exponential back-off with jitter; Retry-After honoured (capped)."""

    max_tries: int = 6
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, tries: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return float(min(retry_after, self.max_retry_after))
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, tries - 1))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))  # "equal jitter"


@dataclass
class _Outcome:
    status: str
    target_id: str | None = None
    http_status: int | None = None
    error: str | None = None
    journaled: bool = False  # the final attempt already set the op's state in the journal


class _Transient(Exception):
    """A retryable failure: 429, 5xx or a broken connection."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None, uncertain: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.uncertain = uncertain


def _transient(reply: ScimReply, what: str) -> _Transient | None:
    if reply.throttled:
        return _Transient(f"{what}: {reply.status} {reply.detail}", status=reply.status,
                          retry_after=reply.retry_after, uncertain=False)
    if reply.status >= 500:
        return _Transient(f"{what}: {reply.status} {reply.detail}", status=reply.status,
                          retry_after=reply.retry_after)
    return None


# -- the engine -------------------------------------------------------------------------------


class _Engine:
    def __init__(self, client: ScimClient, journal: Journal, retry: RetryPolicy,
                 on_done: Callable[[], None]) -> None:
        self.client = client
        self.journal = journal
        self.retry = retry
        self.on_done = on_done
        self.discovery = _discover(client, retry)
        self.style = self.discovery.patch_style
        self._rng = random.Random()
        self._rng_lock = threading.Lock()
        self.halted: str | None = None  # set when the target throttles past our patience

    def _sleep(self, tries: int, retry_after: float | None) -> None:
        with self._rng_lock:
            pause = self.retry.delay(tries, retry_after, self._rng)
        time.sleep(pause)

    # reads used for preconditions and idempotency

    def _read(self, op: Op) -> tuple[dict[str, Any] | None, str | None]:
        """The account now (None when gone) and its version."""
        try:
            reply = self.client.get(op.target_id, op.endpoint)
        except ScimUnavailable as error:
            raise _Transient(str(error)) from error
        if reply.status == 404:
            return None, None
        if (problem := _transient(reply, f"GET {op.path}")) is not None:
            problem.uncertain = False
            raise problem
        if not reply.ok or reply.body is None:
            raise _Failed(reply.status, f"GET {op.path}: {reply.status} {reply.detail}")
        return reply.body, reply.etag

    def _lookup(self, op: Op, *, thorough: bool = False) -> dict[str, Any] | None:
        """The account a create made earlier, found by its match keys; None when there is none.

        ``thorough`` (after a 409) also compares the listing here when a filter finds nothing:
        a target whose ``eq`` is case-exact, or that refuses the filter, still finds it.
        """
        found: dict[str, dict[str, Any]] = {}
        for attribute, value in op.match.items():
            if value in (None, ""):
                continue
            try:
                for resource in self.client.find(attribute, str(value), op.endpoint,
                                                 thorough=thorough):
                    found[str(resource.get("id"))] = resource
            except ScimUnavailable as error:
                raise _Transient(str(error), uncertain=False) from error
            except PushError as error:
                raise _Transient(str(error), uncertain=False) from error
            if found:
                break
        if not found:
            return None
        if len(found) > 1:
            raise _Failed(409, f"{len(found)} accounts match {summarize(op.match)}; human decides")
        resource = next(iter(found.values()))
        keys = {k: v for k, v in op.match.items() if v not in (None, "")}
        if not desired_holds(resource, keys):
            raise _Failed(409, f"account {resource.get('id')} already holds this "
                               f"{summarize(keys)} but is another person; human decides")
        return resource

    # one op, single requests

    def run_one(self, op: Op, state: OpState | None) -> _Outcome:
        if self.halted:
            return _Outcome("failed", op.target_id or None, 429, f"not sent: {self.halted}")
        uncertain = bool(state and state.uncertain)
        use_etag = self.discovery.etag and bool(op.etag) and not uncertain
        tries = 0
        preconditions_failed = 0
        last: _Transient | None = None
        while tries < self.retry.max_tries and preconditions_failed <= self.retry.max_tries:
            try:
                if op.method == "POST":
                    return self._create(op, uncertain)
                outcome = self._write(op, use_etag)
                if outcome is None:  # 412: the version moved; re-read and decide
                    use_etag = False
                    preconditions_failed += 1
                    continue
                return outcome
            except _Transient as problem:
                last = problem
                uncertain = uncertain or problem.uncertain
                use_etag = False
                tries += 1
                if (problem.retry_after or 0) > self.retry.max_retry_after:
                    self.halted = (f"rate-limited for longer than this push waits: the target "
                                   f"asks to wait {problem.retry_after:.0f} s, more than "
                                   f"max_retry_after ({self.retry.max_retry_after:.0f} s); push "
                                   "again later (the journal resumes)")
                    return _Outcome("failed", op.target_id or None, problem.status,
                                    self.halted)
                if tries < self.retry.max_tries:
                    self._sleep(tries, problem.retry_after)
            except _Failed as failure:
                return _Outcome("failed", op.target_id or None, failure.status, failure.message)
        error = str(last) if last else "the account kept changing while we tried to write"
        return _Outcome("failed", op.target_id or None, last.status if last else 412,
                        f"gave up after {tries} tries: {error}")

    def _create(self, op: Op, uncertain: bool) -> _Outcome:
        if uncertain and (existing := self._lookup(op)) is not None:
            return _Outcome("already_applied", str(existing.get("id")))
        attempt = self._begin(op)
        reply = self._send(attempt, op, lambda: self.client.create(op.payload or {}, op.endpoint))
        if reply.ok:
            created = reply.resource_id
            if created is None and (found := self._lookup(op)) is not None:
                created = str(found.get("id"))  # 201 without a body or a Location header
            return self._finish(attempt, _Outcome("succeeded", created, reply.status))
        if reply.status == 409:  # uniqueness: an earlier attempt may have created it
            self.journal.finish(attempt, outcome="conflict", http_status=409, final=False,
                                error=reply.detail)
            existing = self._lookup(op, thorough=True)
            if existing is not None:
                return _Outcome("already_applied", str(existing.get("id")), 409)
            raise _Failed(409, f"POST {op.endpoint}: 409 {reply.detail}")
        return self._finish(attempt, _Outcome("failed", None, reply.status,
                                              f"POST {op.endpoint}: {reply.status} {reply.detail}"
                                              f"{refusal_hint(self.style, op, reply.status)}"))

    def _write(self, op: Op, use_etag: bool) -> _Outcome | None:
        """PATCH/PUT/DELETE with a precondition; None means "412, decide again"."""
        current: dict[str, Any] | None = None
        if use_etag and not needs_current(self.style, op.method, op.payload):
            if_match: str | None = op.etag
        else:
            current, version = self._read(op)
            verdict = self._judge(op, current)
            if verdict.status is not None:
                return _Outcome(verdict.status, op.target_id, None, verdict.reason)
            if_match = version if self.discovery.etag else None
        method, body = shape(self.style, op.method, op.payload, current)
        attempt = self._begin(op, method)
        reply = self._send(attempt, op, lambda: self.client.send(
            method, op.path, body=body, if_match=if_match))
        if reply.ok:
            return self._finish(attempt, _Outcome("succeeded", op.target_id, reply.status))
        if reply.status == 412:
            self.journal.finish(attempt, outcome="precondition_failed", http_status=412,
                                final=False, error=reply.detail)
            return None
        if reply.status == 404:
            status = "already_applied" if op.method == "DELETE" else "stale"
            return self._finish(attempt, _Outcome(status, op.target_id, 404,
                                                  None if status != "stale"
                                                  else "the account no longer exists"))
        return self._finish(attempt, _Outcome("failed", op.target_id, reply.status,
                                              f"{method} {op.path}: {reply.status} "
                                              f"{reply.detail}"
                                              f"{refusal_hint(self.style, op, reply.status)}"))



    def _judge(self, op: Op, current: dict[str, Any] | None) -> Verdict:
        """Decide from the account as it is now: already applied, stale, or go ahead."""
        if current is None:
            if op.method == "DELETE":
                return Verdict("already_applied")
            return Verdict("stale", "the account no longer exists")
        if op.method != "DELETE" and op.desired and desired_holds(current, op.desired):
            return Verdict("already_applied")
        if not before_holds(current, op.before):
            return Verdict("stale", "the account changed since the snapshot: "
                                    + ", ".join(op.changed_paths(current)))
        return Verdict(None)

    # journal plumbing

    def _begin(self, op: Op, method: str | None = None) -> Attempt:
        return self.journal.begin(op.op_id, action=op.action, method=method or op.method,
                                  path=op.path, summary=sent_summary(self.style, op))

    def _send(self, attempt: Attempt, op: Op, request: Callable[[], ScimReply]) -> ScimReply:
        try:
            reply = request()
        except ScimUnavailable as error:
            self.journal.finish(attempt, outcome="uncertain", error=str(error)[:300], final=False)
            raise _Transient(str(error)) from error
        if (problem := _transient(reply, f"{op.method} {op.path}")) is not None:
            self.journal.finish(attempt, outcome="throttled" if reply.status == 429
                                else "uncertain", http_status=reply.status,
                                error=str(problem), final=False)
            raise problem
        return reply

    def _finish(self, attempt: Attempt, outcome: _Outcome) -> _Outcome:
        self.journal.finish(attempt, outcome=outcome.status, http_status=outcome.http_status,
                            resource_id=outcome.target_id, error=outcome.error)
        outcome.journaled = True
        return outcome

    def settle(self, op: Op, outcome: _Outcome) -> _Outcome:
        """Record a final state reached without (or after) the last attempt."""
        if not outcome.journaled:
            self.journal.settle(op.op_id, action=op.action, status=outcome.status,
                                error=outcome.error, target_id=outcome.target_id)
        self.on_done()
        return outcome

    # Bulk

    def run_bulk(self, ops: list[Op], states: dict[str, OpState]) -> tuple[
            dict[str, _Outcome], list[Op]]:
        """Send what Bulk can carry safely; return outcomes and the ops left for single requests.

        Only certain ops go in Bulk: creates never attempted before, and writes whose snapshot
        version the target can check (``version`` → If-Match per operation) and that go as
        planned (no shaping for the profile, which needs a re-read). Anything uncertain,
        refused with 412/409/404, throttled or failed with 5xx goes to the single-request path,
        which re-reads or looks up before it writes again.
        """
        outcomes: dict[str, _Outcome] = {}
        bulkable = [op for op in ops if not (states.get(op.op_id) and states[op.op_id].uncertain)
                    and (op.method == "POST" or (self.discovery.etag and bool(op.etag) and not
                                                 needs_current(self.style, op.method,
                                                               op.payload)))]
        chosen = {op.op_id for op in bulkable}
        leftover = [op for op in ops if op.op_id not in chosen]
        for chunk in bulk_chunks(bulkable, self.discovery.bulk_max_operations or 1000,
                             self.discovery.bulk_max_payload or 1_048_576):
            done, retry = self._bulk_chunk(chunk)
            outcomes.update(done)
            leftover.extend(retry)
            for op in retry:  # its Bulk answer was lost or refused: re-read / look up first
                earlier = states.get(op.op_id)
                states[op.op_id] = OpState("pending", (earlier.attempts if earlier else 0) + 1,
                                           earlier.target_id if earlier else None, True)
        return outcomes, leftover

    def _created_id(self, op: Op) -> str | None:
        """The id of an account a Bulk create made, for an answer without its location."""
        try:
            found = self._lookup(op)
        except (_Transient, _Failed):
            return None
        return str(found.get("id")) if found else None

    def _bulk_chunk(self, chunk: list[Op]) -> tuple[dict[str, _Outcome], list[Op]]:
        attempts = self.journal.begin_many(
            (op.op_id, op.action, op.method, op.path, f"bulk; {op.summary}") for op in chunk)
        try:
            reply = self.client.bulk([op.bulk_operation() for op in chunk])
        except ScimUnavailable as error:
            self.journal.finish_many(Finished(attempt, "uncertain", error=str(error)[:300],
                                              final=False) for attempt in attempts)
            return {}, chunk
        if not reply.ok or reply.body is None:
            outcome = "throttled" if reply.throttled else "uncertain"
            problem = f"POST /Bulk: {reply.status} {reply.detail}"
            self.journal.finish_many(Finished(attempt, outcome, reply.status, error=problem,
                                              final=False) for attempt in attempts)
            return {}, chunk
        answers = {str(item.get("bulkId")): item for item in reply.body.get("Operations") or []
                   if isinstance(item, dict)}
        outcomes: dict[str, _Outcome] = {}
        retry: list[Op] = []
        records: list[Finished] = []
        for op, attempt in zip(chunk, attempts, strict=True):
            answer = answers.get(op.bulk_id)
            status = int(str((answer or {}).get("status", "0")).split()[0] or 0)
            if answer is not None and 200 <= status < 300:
                target = op.target_id or _id_of(answer.get("location")) or _id_of(
                    (answer.get("response") or {}).get("id"))
                if not target and op.method == "POST":  # created, but where? look it up
                    target = self._created_id(op)
                outcomes[op.op_id] = _Outcome("succeeded", target, status, journaled=True)
            elif status in {400, 403} or (status == 409 and op.method != "POST"):
                detail = ((answer or {}).get("response") or {}).get("detail") or ""
                outcomes[op.op_id] = _Outcome(
                    "failed", op.target_id or None, status, f"Bulk {op.method} {op.path}: "
                    f"{status} {' '.join(str(detail).split())[:200]}", journaled=True)
            else:  # 412, 404, 409 on create, 429, 5xx, or missing: decide one by one
                records.append(Finished(attempt, "deferred", status or None,
                                        error="left to a single request", final=False))
                retry.append(op)
                continue
            done = outcomes[op.op_id]
            records.append(Finished(attempt, done.status, done.http_status, done.target_id,
                                    done.error))
        self.journal.finish_many(records)
        for _ in outcomes:
            self.on_done()
        return outcomes, retry


def _discover(client: ScimClient, retry: RetryPolicy) -> Discovery:
    """Discovery with the same bounded patience as writes: a 503 at start is not the end."""
    rng = random.Random()
    for tries in range(1, retry.max_tries + 1):
        try:
            return client.discover()
        except ScimUnavailable:
            if tries == retry.max_tries:
                raise
            time.sleep(retry.delay(tries, None, rng))
        except ScimHttpError as error:
            if (error.status != 429 and error.status < 500) or tries == retry.max_tries:
                raise
            time.sleep(retry.delay(tries, None, rng))
    raise AssertionError("unreachable")  # pragma: no cover


class _Failed(Exception):
    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _id_of(location: Any) -> str | None:
    if not location:
        return None
    return str(location).rstrip("/").rsplit("/", 1)[-1] or None


def _by_account(ops: list[Op]) -> list[list[Op]]:
    """Ops of one account in plan order, so that they never race each other."""
    groups: dict[str, list[Op]] = {}
    for op in ops:
        groups.setdefault(op.target_id or op.op_id, []).append(op)
    return list(groups.values())


# -- the SCIM push ----------------------------------------------------------------------------


def push_scim(
    plan: Plan, approval: Approval, client: ScimClient, journal_path: str | Path, *,
    policy: Policy | None = None, concurrency: int = 4, dry_run: bool = False,
    use_bulk: bool | None = None, progress: bool = True, retry: RetryPolicy | None = None,
) -> PushResult:
    """Push the approved ops of ``plan`` to the target behind ``client``; see the module doc.

    ``use_bulk``: None uses Bulk when the target advertises it; False never; True requires it.
    ``policy`` gives the safety limits (default: ``Policy()``, 50 disables, 0 deletes).
    """
    frame = approved_ops(plan, approval)
    check_limits(frame, policy or Policy(), client.count)
    ops = ops_from_frame(frame)
    _warn_ignored(client, ops)
    journal_file = Path(journal_path)
    if dry_run:
        done: set[str] = set()
        if journal_file.exists():
            with Journal(journal_file) as journal:
                done = journal.done()
        outcomes = {op.op_id: _Outcome("skipped" if op.op_id in done else "dry_run",
                                       op.target_id or None) for op in ops}
        return PushResult(_results(ops, outcomes, {}), plan.digest, str(journal_file), True)

    with Journal(journal_file, exclusive=True) as journal:
        journal.start_run(plan.digest, note=f"{len(ops)} approved ops",
                          target=str(client.http.base_url))
        states = journal.states(op.op_id for op in ops)
        skipped = {op.op_id: _Outcome("skipped", states[op.op_id].target_id)
                   for op in ops if op.op_id in states and states[op.op_id].status in DONE}
        todo = [op for op in ops if op.op_id not in skipped]
        with ProgressBar(progress, len(todo)) as meter:
            engine = _Engine(client, journal, retry or RetryPolicy(), meter.advance)
            bulk = engine.discovery.bulk if use_bulk is None else use_bulk
            if bulk and not engine.discovery.bulk:
                raise PushError("the target does not advertise Bulk (use_bulk=True)")
            outcomes = dict(skipped)
            for phase in PHASES:
                batch = [op for op in todo if op.action in phase]
                if phase == PHASES[1]:
                    batch += [op for op in todo if not any(op.action in p for p in PHASES)]
                batch = _resolve(engine, batch, outcomes)
                if not batch:
                    continue
                if bulk:
                    done_in_bulk, batch = engine.run_bulk(batch, states)
                    outcomes.update(done_in_bulk)
                outcomes.update(_run_singles(engine, batch, states, concurrency))
        journal.end_run()
        states = journal.states(op.op_id for op in ops)
    attempts = {op_id: state.attempts for op_id, state in states.items()}
    return PushResult(_results(ops, outcomes, attempts), plan.digest, str(journal_file))


def _warn_ignored(client: ScimClient, ops: list[Op]) -> None:
    """Name the attributes these ops write that the provider ignores or rejects (its profile)."""
    if ignored := client.profile.ignored(written_paths(ops)):
        warnings.warn(f"target.scim.profile {client.profile.name}: the provider ignores or "
                      f"rejects {', '.join(ignored)} (docs/providers.md); those values will "
                      "not converge", stacklevel=3)


def _resolve(engine: _Engine, ops: list[Op], outcomes: dict[str, _Outcome]) -> list[Op]:
    """Ops with the ids of the creates they refer to; those whose create failed are settled."""
    created = {op_id[:32]: outcome.target_id for op_id, outcome in outcomes.items()
               if outcome.target_id and outcome.status in OK_STATUSES}
    ready: list[Op] = []
    for op in ops:
        missing = [ref for ref in op.references if ref not in created]
        if missing:
            outcomes[op.op_id] = engine.settle(op, _Outcome(
                "failed", op.target_id or None, None,
                f"waits for create op {missing[0][:12]}, which did not succeed in this push"))
        else:
            ready.append(op.resolved(created))
    return ready


def _run_singles(engine: _Engine, ops: list[Op], states: dict[str, OpState], concurrency: int
                 ) -> dict[str, _Outcome]:
    outcomes: dict[str, _Outcome] = {}
    lock = threading.Lock()

    def run_account(account_ops: list[Op]) -> None:
        for op in account_ops:
            outcome = engine.run_one(op, states.get(op.op_id))
            engine.settle(op, outcome)
            with lock:
                outcomes[op.op_id] = outcome

    groups = _by_account(ops)
    if concurrency <= 1 or len(groups) <= 1:
        for group in groups:
            run_account(group)
        return outcomes
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="recon-push") as pool:
        for future in [pool.submit(run_account, group) for group in groups]:
            future.result()
    return outcomes


def _results(ops: list[Op], outcomes: dict[str, _Outcome], attempts: dict[str, int]
             ) -> pd.DataFrame:
    rows = []
    for op in ops:
        outcome = outcomes.get(op.op_id) or _Outcome("failed", None, None, "not attempted")
        rows.append({
            "op_id": op.op_id, "action": op.action, "category": op.category,
            "hr_key": op.hr_key, "target_id": outcome.target_id or op.target_id or "",
            "status": outcome.status, "attempts": attempts.get(op.op_id, 0),
            "http_status": outcome.http_status, "error": outcome.error,
        })
    frame = pd.DataFrame.from_records(rows, columns=RESULT_COLUMNS)
    for column in ["op_id", "action", "category", "hr_key", "target_id", "status", "error"]:
        frame[column] = frame[column].astype("string")
    frame["attempts"] = frame["attempts"].astype("int64")
    frame["http_status"] = frame["http_status"].astype("Int64")
    return frame
