"""A small Microsoft Graph on 127.0.0.1 that speaks the documented wire format.

It is the stand-in for a tenant in the tests: the real msgraph-sdk and recon's httpx calls talk
to it over loopback HTTP, so paging, throttling and payload checks are exercised end to end.
It implements only what recon uses, as the Graph docs describe it:

- ``GET /v1.0/users`` with ``$select``, ``$top`` (1..999), a minimal ``$filter``
  (``employeeId eq '…'``, ``userType eq '…'``, ``accountEnabled eq true|false``, joined by
  ``and``), ``$expand=manager($select=…)`` and ``@odata.nextLink`` paging with ``$skiptoken``;
  chosen pages answer ``429`` with ``Retry-After`` once (``throttle_pages``);
- ``GET /v1.0/users/{id}``;
- ``GET /v1.0/auditLogs/provisioning`` (``provisioningObjectSummary`` entries) with ``$filter``
  on ``jobId``, ``cycleId``, ``changeId`` (``eq``) and ``activityDateTime`` (``ge gt le lt``),
  ``$top`` and paging;
- ``POST /v1.0/servicePrincipals/{id}/synchronization/jobs/{jobId}/bulkUpload``: checks the
  content type (``application/scim+json``), the BulkRequest schema, at most 50 operations,
  POST to ``/Users`` only, unique bulkIds, core User schema and externalId; then applies each
  operation like API-driven inbound provisioning with its default mapping (match
  ``externalId`` ↔ ``employeeId``; create or update; ``active`` → ``accountEnabled``; manager
  by the manager's externalId) and writes one provisioning log entry per operation. It answers
  ``202 Accepted`` with an empty body and a ``Location`` to the provisioning logs. With
  ``defer=True`` the operations wait until ``process_pending()``, as the real service applies
  them asynchronously.

Every request needs ``Authorization: Bearer <token>``. The server runs in a daemon thread and
shuts itself down after ``lifetime`` seconds if a test forgets to stop it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from recon.core.scim import BULK_REQUEST, CORE_USER, ENTERPRISE, is_schema

MAX_BULK_OPERATIONS = 50
MAX_PAGE = 999
DEFAULT_PROPERTIES = (
    "businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName",
)
_FILTER_CLAUSE = re.compile(
    r"^\s*(?P<prop>\w+)\s+(?P<op>eq|ge|gt|le|lt)\s+(?P<value>'(?:[^']|'')*'|[\w:.+-]+)\s*$",
    re.IGNORECASE,
)


class GraphError(Exception):
    """An error answer in Graph's shape: ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse_filter(text: str | None) -> list[tuple[str, str, str]]:
    """``a eq 'x' and b ge 2026-01-01T00:00:00Z`` → [(a, eq, x), (b, ge, 2026-…)]."""
    if not text:
        return []
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _FILTER_CLAUSE.match(part)
        if not match:
            raise GraphError(400, "Request_UnsupportedQuery", f"Unsupported query: {part!r}")
        value = match["value"]
        if value.startswith("'"):
            value = value[1:-1].replace("''", "'")
        clauses.append((match["prop"], match["op"].lower(), value))
    return clauses


def _split_top_level(text: str) -> list[str]:
    """Split ``a,manager($select=id,employeeId)`` on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    if current:
        parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def _compare(actual: Any, op: str, expected: str) -> bool:
    if isinstance(actual, bool):
        return op == "eq" and str(actual).lower() == expected.lower()
    if actual is None:
        return op == "eq" and expected == "null"
    text = str(actual)
    if op == "eq":
        return text == expected
    left, right = (datetime.fromisoformat(v.replace("Z", "+00:00")) for v in (text, expected))
    return {"ge": left >= right, "gt": left > right, "le": left <= right, "lt": left < right}[op]


@dataclass
class GraphState:
    """What the tenant holds, and what the tests can look at afterwards."""

    token: str
    tenant_id: str = "00000000-0000-0000-0000-00000000feed"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)
    throttle_pages: set[int] = field(default_factory=set)  # page numbers (0-based) that 429 once
    retry_after: int = 1
    throttle_bulk_calls: set[int] = field(default_factory=set)  # bulkUpload calls that 429
    bulk_calls: int = 0
    defer: bool = False
    pending: list[tuple[str, str, list[dict[str, Any]]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    bulk_payloads: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _throttled: set[tuple[str, int]] = field(default_factory=set)

    def add_user(self, **properties: Any) -> dict[str, Any]:
        """Add a user by Graph property names; ``manager`` is the manager's object id."""
        user = {"id": properties.pop("id", None) or str(uuid.uuid4()), "accountEnabled": True,
                "userType": "Member", **properties}
        with self.lock:
            self.users[user["id"]] = user
        return user

    def by_employee_id(self, employee_id: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values() if u.get("employeeId") == employee_id), None)

    def process_pending(self) -> int:
        """Apply deferred bulkUpload operations, as the provisioning service's next cycle would."""
        with self.lock:
            pending, self.pending = self.pending, []
        for job_id, sp_id, operations in pending:
            self._apply(job_id, sp_id, operations)
        return sum(len(ops) for _, _, ops in pending)

    # -- bulkUpload semantics --------------------------------------------------------------

    def _apply(self, job_id: str, sp_id: str, operations: list[dict[str, Any]]) -> None:
        cycle_id = str(uuid.uuid4())
        with self.lock:
            touched = [(op, *self._apply_one(op["data"])) for op in operations]
            # References resolve after the whole batch, so a manager created later in the
            # same request is found (Entra's reference-resolution step).
            for number, (op, user, action, _, error) in enumerate(touched):
                manager = ((op["data"].get(ENTERPRISE) or {}).get("manager") or {})
                manager_key = manager.get("value") if isinstance(manager, dict) else None
                boss = self.by_employee_id(str(manager_key)) if manager_key else None
                if user is None or boss is None or user.get("manager") == boss["id"]:
                    continue
                user["manager"] = boss["id"]
                if action == "other":
                    touched[number] = (op, user, "update", "success", error)
            for op, user, action, status, error in touched:
                self.logs.append(self._log_entry(job_id, sp_id, cycle_id, op, user, action,
                                                 status, error))

    def _apply_one(
        self, data: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, str, str, tuple[str, str] | None]:
        mapped = _inbound_mapping(data)
        external_id = str(data["externalId"])
        user = self.by_employee_id(external_id)
        if user is None:
            upn = mapped.get("userPrincipalName")
            if not upn:
                return None, "create", "failure", (
                    "MandatoryFieldsMissing", "userName is required to create a user")
            clash = next((u for u in self.users.values()
                          if str(u.get("userPrincipalName", "")).lower() == upn.lower()), None)
            if clash is not None:
                return None, "create", "failure", (
                    "EntryConflict",
                    f"Another object with the userPrincipalName {upn} already exists")
            user = self.add_user(employeeId=external_id, **mapped)
            return user, "create", "success", None
        changed = {key: value for key, value in mapped.items() if user.get(key) != value}
        if not changed:
            return user, "other", "skipped", None
        action = "disable" if changed.get("accountEnabled") is False else "update"
        user.update(changed)
        return user, action, "success", None

    def _log_entry(
        self, job_id: str, sp_id: str, cycle_id: str, op: dict[str, Any],
        user: dict[str, Any] | None, action: str, status: str, error: tuple[str, str] | None,
    ) -> dict[str, Any]:
        data = op["data"]
        return {
            "id": str(uuid.uuid4()),
            "activityDateTime": _now(),
            "tenantId": self.tenant_id,
            "jobId": job_id,
            "cycleId": cycle_id,
            "changeId": str(uuid.uuid4()),
            "provisioningAction": action,
            "durationInMilliseconds": 12,
            "initiatedBy": {"id": "", "displayName": "Azure AD Provisioning Service",
                            "initiatorType": "system"},
            "servicePrincipal": {"id": sp_id, "displayName": "API-driven provisioning"},
            "sourceSystem": {"id": "", "displayName": "API", "details": {}},
            "targetSystem": {"id": "", "displayName": "Entra ID", "details": {}},
            "sourceIdentity": {"id": str(data.get("externalId")),
                               "displayName": data.get("displayName") or "",
                               "identityType": "User", "details": {}},
            "targetIdentity": {"id": user["id"] if user else "",
                               "displayName": (user or {}).get("displayName") or "",
                               "identityType": "User", "details": {}},
            "provisioningStatusInfo": {
                "status": status,
                "errorInformation": None if error is None else {
                    "errorCode": error[0], "reason": error[1], "additionalDetails": None,
                    "errorCategory": "nonServiceFailure", "recommendedAction": None},
            },
            "provisioningSteps": [],
            "modifiedProperties": [],
        }


def _inbound_mapping(data: dict[str, Any]) -> dict[str, Any]:
    """The default attribute mapping of the API-driven inbound app, SCIM → Graph properties."""
    enterprise = data.get(ENTERPRISE) or {}
    name = data.get("name") or {}
    work_mail = next((e.get("value") for e in data.get("emails") or []
                      if isinstance(e, dict) and e.get("type") == "work"), None)
    active = data.get("active", True)
    mapped: dict[str, Any] = {
        "userPrincipalName": data.get("userName"),
        "displayName": data.get("displayName"),
        "givenName": name.get("givenName"),
        "surname": name.get("familyName"),
        "jobTitle": data.get("title"),
        "mail": work_mail,
        "employeeType": data.get("userType"),
        "department": enterprise.get("department"),
        "companyName": enterprise.get("organization"),
        # SCIM active may arrive as a boolean or as the string "False" (facts §10.2).
        "accountEnabled": str(active).lower() != "false",
    }
    return {key: value for key, value in mapped.items() if value is not None}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``state.requests`` instead."""

    # -- plumbing ----------------------------------------------------------------------------

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; odata.metadata=minimal")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, error: GraphError, headers: dict[str, str] | None = None) -> None:
        self._send(error.status, {"error": {"code": error.code, "message": error.message,
                                            "innerError": {"date": _now()}}}, headers)

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with state.lock:
            state.requests.append({"method": method, "path": parts.path, "query": query,
                                   "headers": dict(self.headers.items()), "size": len(body)})
        try:
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                raise GraphError(401, "InvalidAuthenticationToken",
                                 "Access token is empty or invalid.")
            self._route(method, parts.path, query, body)
        except GraphError as error:
            self._error(error)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        segments = [s for s in path.split("/") if s]
        if not segments or segments[0] != "v1.0":
            raise GraphError(404, "BadRequest", f"Resource not found for the segment {path!r}.")
        rest = segments[1:]
        if method == "GET" and rest == ["users"]:
            return self._list_users(query)
        if method == "GET" and len(rest) == 2 and rest[0] == "users":
            return self._get_user(rest[1], query)
        if method == "GET" and rest == ["auditLogs", "provisioning"]:
            return self._list_logs(query)
        if (len(rest) == 6 and rest[0] == "servicePrincipals" and rest[2:4] == [
                "synchronization", "jobs"] and rest[5] == "bulkUpload"):
            if method != "POST":
                raise GraphError(405, "MethodNotAllowed", "Only POST is supported.")
            return self._bulk_upload(rest[1], rest[4], body)
        raise GraphError(404, "BadRequest", f"Resource not found for the segment {path!r}.")

    # -- users ---------------------------------------------------------------------------------

    def _shape_user(self, user: dict[str, Any], select: list[str], expand: list[str]) -> dict[str,
                                                                                              Any]:
        state = self.server.state
        shaped = {name: user.get(name) for name in select if name != "manager"}
        for item in expand:
            name, _, inner = item.partition("(")
            if name.strip() != "manager":
                raise GraphError(400, "Request_UnsupportedQuery", f"Cannot expand {name!r}.")
            manager = state.users.get(user.get("manager") or "")
            if manager is None:
                continue  # Graph leaves the navigation property out when there is none
            inner_select = re.search(r"\$select=([^;)]*)", inner)
            fields = inner_select.group(1).split(",") if inner_select else list(
                DEFAULT_PROPERTIES)
            shaped["manager"] = {"@odata.type": "#microsoft.graph.user",
                                 **{f: manager.get(f) for f in fields}}
        return shaped

    def _list_users(self, query: dict[str, str]) -> None:
        state = self.server.state
        top = int(query.get("$top", "100"))
        if not 1 <= top <= MAX_PAGE:
            raise GraphError(400, "Request_UnsupportedQuery",
                             f"Invalid page size specified: '{top}'. Must be between 1 and 999"
                             " inclusive.")
        select = query["$select"].split(",") if "$select" in query else list(DEFAULT_PROPERTIES)
        expand = _split_top_level(query.get("$expand", ""))
        clauses = _parse_filter(query.get("$filter"))
        for prop, op, _ in clauses:
            if prop not in {"employeeId", "userType", "accountEnabled"} or op != "eq":
                raise GraphError(400, "Request_UnsupportedQuery",
                                 f"Unsupported or invalid query filter clause on {prop!r}.")
        offset = 0
        if "$skiptoken" in query:
            offset = int(base64.urlsafe_b64decode(query["$skiptoken"].encode()).decode())
        page_number = offset // top
        with state.lock:
            key = (json.dumps(sorted(query.items())), page_number)
            if page_number in state.throttle_pages and key not in state._throttled:
                state._throttled.add(key)
                raise_throttled = True
            else:
                raise_throttled = False
            users = [u for u in sorted(state.users.values(), key=lambda u: u["id"])
                     if all(_compare(u.get(p), op, v) for p, op, v in clauses)]
            page = [self._shape_user(u, select, expand) for u in users[offset:offset + top]]
        if raise_throttled:
            self._error(GraphError(429, "TooManyRequests", "Too many requests."),
                        {"Retry-After": str(state.retry_after)})
            return
        body: dict[str, Any] = {"@odata.context": f"{self._base()}/$metadata#users",
                                "value": page}
        if offset + top < len(users):
            next_query = {k: v for k, v in query.items() if k != "$skiptoken"}
            next_query["$skiptoken"] = base64.urlsafe_b64encode(
                str(offset + top).encode()).decode()
            body["@odata.nextLink"] = f"{self._base()}/users?" + "&".join(
                f"{k}={quote(v, safe='$(),=')}" for k, v in next_query.items())
        self._send(200, body)

    def _get_user(self, user_id: str, query: dict[str, str]) -> None:
        user = self.server.state.users.get(user_id)
        if user is None:
            raise GraphError(404, "Request_ResourceNotFound",
                             f"Resource '{user_id}' does not exist.")
        select = query["$select"].split(",") if "$select" in query else list(DEFAULT_PROPERTIES)
        self._send(200, self._shape_user(user, select, _split_top_level(query.get("$expand",
                                                                                   ""))))

    def _base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v1.0"

    # -- provisioning logs ---------------------------------------------------------------------

    def _list_logs(self, query: dict[str, str]) -> None:
        state = self.server.state
        top = int(query.get("$top", "100"))
        clauses = _parse_filter(query.get("$filter"))
        fields = {"jobid": "jobId", "cycleid": "cycleId", "changeid": "changeId",
                  "activitydatetime": "activityDateTime"}
        for prop, _, _ in clauses:
            if prop.lower() not in fields:
                raise GraphError(400, "BadRequest", f"Invalid filter clause on {prop!r}.")
        offset = int(query.get("$skiptoken", "0"))
        with state.lock:
            entries = [e for e in state.logs
                       if all(_compare(e.get(fields[p.lower()]), op, v) for p, op, v in clauses)]
        entries.sort(key=lambda e: e["activityDateTime"], reverse=True)
        body: dict[str, Any] = {
            "@odata.context": f"{self._base()}/$metadata#auditLogs/provisioning",
            "value": entries[offset:offset + top]}
        if offset + top < len(entries):
            next_query = {k: v for k, v in query.items() if k != "$skiptoken"}
            next_query["$skiptoken"] = str(offset + top)
            body["@odata.nextLink"] = f"{self._base()}/auditLogs/provisioning?" + "&".join(
                f"{k}={quote(v, safe='$')}" for k, v in next_query.items())
        self._send(200, body)

    # -- bulkUpload ----------------------------------------------------------------------------

    def _bulk_upload(self, sp_id: str, job_id: str, body: bytes) -> None:
        state = self.server.state
        with state.lock:
            call_number, state.bulk_calls = state.bulk_calls, state.bulk_calls + 1
        if call_number in state.throttle_bulk_calls:
            self._error(GraphError(429, "TooManyRequests", "Too many requests."),
                        {"Retry-After": str(state.retry_after)})
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/scim+json":
            raise GraphError(400, "BadRequest", "Invalid Data Format: the Content-Type must be "
                                                "application/scim+json.")
        try:
            request = json.loads(body)
        except ValueError as error:
            raise GraphError(400, "BadRequest", f"Invalid Data Format: {error}") from error
        operations = _validate_bulk(request)
        with state.lock:
            state.bulk_payloads.append(request)
            if state.defer:
                state.pending.append((job_id, sp_id, operations))
        if not state.defer:
            state._apply(job_id, sp_id, operations)
        self._send(202, None, {
            "Location": f"{self._base()}/auditLogs/provisioning/?$filter=jobid eq '{job_id}'"})


def _validate_bulk(request: Any) -> list[dict[str, Any]]:
    def bad(message: str) -> GraphError:
        return GraphError(400, "BadRequest", message)

    if not isinstance(request, dict) or BULK_REQUEST not in request.get("schemas", []):
        raise bad(f"The request must be a SCIM BulkRequest ({BULK_REQUEST}).")
    operations = request.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise bad("The BulkRequest has no Operations.")
    if len(operations) > MAX_BULK_OPERATIONS:
        raise bad(f"The BulkRequest has {len(operations)} operations; at most "
                  f"{MAX_BULK_OPERATIONS} are allowed.")
    seen: set[str] = set()
    for number, op in enumerate(operations, start=1):
        if not isinstance(op, dict):
            raise bad(f"Operation {number} is not an object.")
        if op.get("method") != "POST" or op.get("path") != "/Users":
            raise bad(f"Operation {number}: only POST to /Users is supported.")
        bulk_id = op.get("bulkId")
        if not isinstance(bulk_id, str) or not bulk_id:
            raise bad(f"Operation {number}: bulkId is required.")
        if bulk_id in seen:
            raise bad(f"Operation {number}: bulkId {bulk_id!r} is not unique.")
        seen.add(bulk_id)
        data = op.get("data")
        if not isinstance(data, dict) or CORE_USER not in data.get("schemas", []):
            raise bad(f"Operation {number}: data must be a SCIM User ({CORE_USER}).")
        for key, value in data.items():
            if is_schema(key) and isinstance(value, dict) and key not in data["schemas"]:
                raise bad(f"Operation {number}: namespace {key!r} is not listed in schemas.")
        if not data.get("externalId"):
            raise bad(f"Operation {number}: externalId is required.")
    return operations


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: GraphState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@dataclass
class RunningGraph:
    state: GraphState
    url: str  # the graph_url for recon's config: http://127.0.0.1:PORT/v1.0


@contextmanager
def running_graph(token: str = "loopback-test-token", *, lifetime: float = 600.0,
                  **options: Any) -> Iterator[RunningGraph]:
    """Serve a fresh tenant on a free loopback port until the block ends (or ``lifetime``)."""
    state = GraphState(token=token, **options)
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    stopper = threading.Timer(lifetime, server.shutdown)
    stopper.daemon = True
    stopper.start()
    try:
        host, port = server.server_address[:2]
        yield RunningGraph(state, f"http://{host!s}:{port}/v1.0")
    finally:
        stopper.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
