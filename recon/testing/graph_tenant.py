"""What the loopback Graph holds: users, provisioning jobs, provisioning logs, limits.

``GraphState`` is the tenant the tests (and notebook 4) set up and look at; the HTTP layer
(``recon.testing.graph_server``) reads and changes it, and the inbound provisioning engine
(``recon.testing.graph_provisioning``) applies bulkUpload records to it. Every behaviour names
the Microsoft page it follows; where Microsoft does not document one, the comment says what it
is modelled on instead.

Short names of the pages cited here and in the two other modules:

- BULK: learn.microsoft.com/graph/api/synchronization-synchronizationjob-post-bulkupload
- CON: learn.microsoft.com/entra/identity/app-provisioning/inbound-provisioning-api-concepts
- FAQ: …/app-provisioning/inbound-provisioning-api-faqs
- ISS: …/app-provisioning/inbound-provisioning-api-issues
- GEX: …/app-provisioning/inbound-provisioning-api-graph-explorer
- CUS: …/app-provisioning/customize-application-attributes
- NUL: …/app-provisioning/clear-attribute-values ("flow null values")
- MGR: …/app-provisioning/hr-manager-update-issues
- LOGA: learn.microsoft.com/entra/identity/monitoring-health/howto-analyze-provisioning-logs
- POS, PSTEP, PLIST: learn.microsoft.com/graph/api/resources/provisioningobjectsummary,
  …/resources/provisioningstep, …/api/provisioningobjectsummary-list
- JOB, JSTAT, SCH, AM: learn.microsoft.com/graph/api/synchronization-synchronizationjob-get,
  …/resources/synchronization-synchronizationstatus,
  …/api/synchronization-synchronizationschema-get, …/resources/synchronization-attributemapping
- USER, UPD, LIST, DELTA: learn.microsoft.com/graph/api/resources/user, …/api/user-update,
  …/api/user-list, …/api/user-delta (and learn.microsoft.com/graph/delta-query-overview)
- THR: learn.microsoft.com/graph/throttling; KNOWN: learn.microsoft.com/graph/known-issues
- LOGSAMPLE: a real API2AAD provisioning-log export Microsoft published in
  github.com/AzureAD/entra-id-inbound-provisioning (Samples/InboundAPI_logSample.txt, 2023)
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recon.core.config import EntraMapping
from recon.testing.graph_provisioning import (
    DEFAULT_DOMAIN,
    SERVER_MAPPINGS,
    Job,
    now_iso,
    process_upload,
)

DEFAULT_SP_ID = "a1b2c3d4-0000-0000-0000-00000000e1a0"
DEFAULT_JOB_ID = "API2AAD.0d1e2f3a4b5c6d7e8f9.a1b2c3d4-0000-0000-0000-00000000e1a0"
JOB_STATUS_CODES = ("NotConfigured", "NotRun", "Active", "Paused", "Quarantine")  # JSTAT

class GraphError(Exception):
    """An error answer in Graph's shape: ``{"error": {"code", "message", "innerError"}}``."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class SlidingWindow:
    """At most ``limit`` calls in any ``window`` seconds; what a refused call should wait."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.calls: deque[float] = deque()

    def admit(self, at: float) -> float:
        """0 when the call at ``at`` is admitted (and counted), else the seconds to wait."""
        while self.calls and self.calls[0] <= at - self.window:
            self.calls.popleft()
        if len(self.calls) >= self.limit:
            return self.calls[0] + self.window - at
        self.calls.append(at)
        return 0.0


@dataclass
class GraphState:
    """What the tenant holds, and what the tests can look at afterwards."""

    token: str
    tenant_id: str = "00000000-0000-0000-0000-00000000feed"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    throttle_pages: set[int] = field(default_factory=set)  # /users pages (0-based) that 429 once
    retry_after: int = 1
    throttle_bulk_calls: set[int] = field(default_factory=set)  # bulkUpload calls that 429
    bulk_calls: int = 0
    # CON, ISS: "40 calls in any 5-second window" per tenant, else 429 (BULK says 40 per second;
    # the stricter figure is modelled).
    bulk_rate: tuple[int, float] = (40, 5.0)
    # CON: 2,000 calls in 24 h with Entra ID P1/P2 (6,000 with ID Governance), else 429.
    daily_quota: int = 2000
    defer: bool = False  # uploads wait for process_pending(), as the service applies them later
    # ISS: "Expect a 5-minute to 10-minute delay between processing the request and writing to
    # the provisioning logs". Seconds here; 0 in most tests.
    log_delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    bulk_payloads: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    clock: Callable[[], float] = time.time
    version: int = 0  # bumped on every change; users/delta hands out versions as tokens
    versions: dict[str, int] = field(default_factory=dict)
    removed: dict[str, tuple[int, str]] = field(default_factory=dict)  # id → (version, reason)
    _throttled: set[tuple[str, int]] = field(default_factory=set)
    _bulk_window: SlidingWindow | None = None
    _day: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if not self.jobs:
            self.add_job(DEFAULT_SP_ID, DEFAULT_JOB_ID)
        self._bulk_window = SlidingWindow(*self.bulk_rate)

    # -- set-up ------------------------------------------------------------------------------

    def add_job(self, sp_id: str, job_id: str, *, status: str = "Active",
                mappings: tuple[EntraMapping, ...] | list[EntraMapping] | None = None,
                domain: str = DEFAULT_DOMAIN) -> Job:
        if status not in JOB_STATUS_CODES:
            raise ValueError(f"job status is one of {JOB_STATUS_CODES}")
        job = Job(sp_id, job_id, status, tuple(mappings or SERVER_MAPPINGS), domain)
        with self.lock:
            self.jobs[job_id] = job
        return job

    def job(self, job_id: str = DEFAULT_JOB_ID) -> Job:
        return self.jobs[job_id]

    def add_user(self, **properties: Any) -> dict[str, Any]:
        """Add a user by Graph property names; ``manager`` is the manager's object id.

        ``processed=True`` marks the user's employeeId as already processed by the default job
        (a worker it provisioned in an earlier cycle), so the job can resolve it as a manager.
        """
        processed = bool(properties.pop("processed", False))
        user = {"id": properties.pop("id", None) or str(uuid.uuid4()), "accountEnabled": True,
                "userType": "Member", "createdDateTime": now_iso(), **properties}
        with self.lock:
            self.users[user["id"]] = user
            self.touch(user["id"])
            if processed and user.get("employeeId"):
                self.job().processed.add(str(user["employeeId"]))
        return user

    def delete_user(self, user_id: str, *, permanently: bool = False) -> None:
        """Remove a user; users/delta reports it ``@removed`` ("changed": soft-deleted and
        restorable, "deleted": gone), as the delta-query overview describes."""
        with self.lock:
            self.users.pop(user_id)
            self.version += 1
            self.removed[user_id] = (self.version, "deleted" if permanently else "changed")

    def touch(self, user_id: str) -> None:
        """Note a change to a user (for users/delta)."""
        self.version += 1
        self.versions[user_id] = self.version
        self.removed.pop(user_id, None)

    def by_employee_id(self, employee_id: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values() if u.get("employeeId") == employee_id), None)

    def by_property(self, name: str, value: Any) -> list[dict[str, Any]]:
        return [u for u in self.users.values() if value is not None and u.get(name) == value]

    # -- jobs: start, pause, the staged uploads ------------------------------------------------

    def pause_job(self, job_id: str = DEFAULT_JOB_ID) -> None:
        """ISS: uploads to a paused app are accepted (202) and nothing reaches the logs."""
        with self.lock:
            self.jobs[job_id].status = "Paused"

    def start_job(self, job_id: str = DEFAULT_JOB_ID) -> int:
        """APP ("Start provisioning": listen mode): staged uploads are processed now."""
        with self.lock:
            self.jobs[job_id].status = "Active"
        return self.process_pending(job_id)

    def process_pending(self, job_id: str | None = None) -> int:
        """Process the staged uploads of active jobs, one provisioning cycle per upload."""
        done = 0
        with self.lock:
            for job in self.jobs.values():
                if (job_id is not None and job.job_id != job_id) or job.status != "Active":
                    continue
                staged, job.staged = job.staged, []
                for operations in staged:
                    process_upload(self, job, operations)
                    done += len(operations)
        return done

    # -- limits --------------------------------------------------------------------------------

    def admit_bulk_call(self) -> float:
        """0 when a bulkUpload call may proceed, else the Retry-After seconds (CON, ISS, THR)."""
        at = self.clock()
        with self.lock:
            while self._day and self._day[0] <= at - 86_400:
                self._day.popleft()
            if len(self._day) >= self.daily_quota:
                return float(self._day[0] + 86_400 - at)
            assert self._bulk_window is not None
            wait = self._bulk_window.admit(at)
            if wait == 0.0:
                self._day.append(at)
            return wait

    # -- logs ----------------------------------------------------------------------------------

    def add_log(self, entry: dict[str, Any]) -> None:
        with self.lock:
            entry["_visible_at"] = self.clock() + self.log_delay
            self.logs.append(entry)

    def visible_logs(self) -> list[dict[str, Any]]:
        """The entries a reader sees now (ISS: logs lag the processing by minutes)."""
        at = self.clock()
        with self.lock:
            return [{k: v for k, v in e.items() if not k.startswith("_")}
                    for e in self.logs if e["_visible_at"] <= at]
