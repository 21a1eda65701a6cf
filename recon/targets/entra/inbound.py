"""Sending to API-driven inbound provisioning: ``POST …/synchronization/jobs/{jobId}/bulkUpload``.

Each BulkRequest (``application/scim+json``, ≤ 50 operations) is one raw httpx request with a
token from the azure-identity credential: the SDK has no POST for this endpoint. Every attempt
is journaled per op, with the bulkId and request number in the attempt's summary, never the
values. ``recon.workflows.push_entra`` decides what is sent.

Limits (learn.microsoft.com/entra/identity/app-provisioning/inbound-provisioning-api-concepts):
at most 40 calls in any 5-second window, else 429 — ``Pacer`` keeps a sliding window of
``calls_per_window`` (35 by default: a margin for clocks and other clients); a 429 waits its
``Retry-After``. At most 2,000 calls in 24 hours with Entra ID P1/P2 (6,000 with Entra ID
Governance) — ``DailyQuota`` counts the calls this journal holds and stops the push before the
quota is spent (``QuotaReached``); a Retry-After longer than ``MAX_WAIT`` stops it the same way.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from recon.core.config import EntraInbound, EntraTarget
from recon.errors import ConfigError, PushError
from recon.io.journal import Attempt, Journal
from recon.targets.entra.credentials import graph_endpoint
from recon.targets.entra.records import (
    InboundOp,
)

WINDOW = 5.0  # seconds: "40 calls in any 5-second window"
MAX_ATTEMPTS = 8  # per request: 429s and transient failures
MAX_WAIT = 300.0  # seconds: a longer Retry-After stops the push (resume later)
DAY = timedelta(hours=24)


def inbound_job(target: EntraTarget) -> EntraInbound:
    if target.inbound is None:
        raise ConfigError("target.entra.inbound (service_principal_id, job_id) is needed to "
                          "push to Entra through API-driven inbound provisioning")
    return target.inbound


class Pacer:
    """At most ``limit`` request starts in any ``window`` seconds (a sliding window).

    ``clock`` and ``sleep`` are injectable: the start times it keeps are the ones it decided,
    so a test's sleep that does not really wait still yields the same schedule.
    """

    def __init__(self, limit: int, sleep: Callable[[float], None], *, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ConfigError("calls_per_window must be at least 1")
        self.limit, self.window, self.sleep, self.clock = limit, window, sleep, clock
        self.starts: deque[float] = deque()

    def wait(self) -> None:
        now = self.clock()
        start = now
        if len(self.starts) >= self.limit:
            start = max(now, self.starts[-self.limit] + self.window)
        if start - now > 1e-6:
            self.sleep(start - now)
        self.starts.append(start)
        while len(self.starts) > self.limit:
            self.starts.popleft()


class QuotaReached(Exception):
    """The daily bulkUpload quota would be exceeded: stop, resume after ``resume_at``."""

    def __init__(self, message: str, resume_at: datetime | None = None) -> None:
        super().__init__(message)
        self.resume_at = resume_at


@dataclass
class DailyQuota:
    """bulkUpload calls in the last 24 h: those this journal holds, then each one sent.

    Other clients of the same tenant are not seen; set ``daily_quota`` lower to leave them room.
    """

    limit: int
    calls: list[datetime] = field(default_factory=list)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def from_journal(cls, journal: Journal, limit: int) -> DailyQuota:
        attempts = journal.attempts_frame()
        if attempts.empty:
            return cls(limit)
        sent = attempts[attempts["request_summary"].fillna("").str.startswith("bulkUpload ")]
        # One request's attempts share their start time (Journal.begin_many): one call each.
        starts = sorted({datetime.fromisoformat(str(t)) for t in sent["started_at"]})
        return cls(limit, starts)

    def take(self) -> None:
        """Count one call, or raise QuotaReached when the 24-hour quota is spent."""
        now = self.now()
        self.calls = [t for t in self.calls if t > now - DAY]
        if len(self.calls) >= self.limit:
            resume = min(self.calls) + DAY
            raise QuotaReached(f"the daily bulkUpload quota of {self.limit} calls in 24 hours "
                               f"is spent; run the push again after "
                               f"{resume.strftime('%Y-%m-%d %H:%M UTC')} (accepted ops are "
                               "not sent again)", resume)
        self.calls.append(now)


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
class Sender:
    """Sends one BulkRequest with pacing and 429/5xx retries; every attempt journaled per op."""

    http: httpx.Client
    url: str
    token: Callable[[], str]
    journal: Journal
    pacer: Pacer
    sleep: Callable[[float], None]
    quota: DailyQuota
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
            self.quota.take()
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
            if status == 429 and delay > MAX_WAIT:  # the daily quota, most likely: stop cleanly
                self._finish(begun, "throttled", status,
                             detail or f"Retry-After {response.headers.get('Retry-After')}", False)
                resume = datetime.now(UTC) + timedelta(seconds=delay)
                raise QuotaReached(f"bulkUpload answers 429 with Retry-After {delay:.0f} s (the "
                                   "daily quota, most likely); run the push again after "
                                   f"{resume.strftime('%Y-%m-%d %H:%M UTC')}", resume)
            last = attempt == MAX_ATTEMPTS or delay > MAX_WAIT
            self._finish(begun, "throttled" if status == 429 else "failed", status,
                         detail or f"Retry-After {response.headers.get('Retry-After')}", last)
            if last:
                raise PushError(f"bulkUpload still answers {status} after {attempt} attempts "
                                f"({detail}); run the push again later — accepted ops are "
                                "skipped")
            self.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")


def bulk_upload_url(target: EntraTarget) -> str:
    inbound = inbound_job(target)
    base = graph_endpoint(target).base_url
    return (f"{base}/servicePrincipals/{quote(inbound.service_principal_id, safe='')}"
            f"/synchronization/jobs/{quote(inbound.job_id, safe='')}/bulkUpload")


