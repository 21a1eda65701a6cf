"""A small Microsoft Graph on 127.0.0.1 that behaves as Microsoft documents it.

It is the stand-in for a tenant in the tests and in notebook 4: the real msgraph-sdk and
recon's httpx calls talk to it over loopback HTTP. It implements what recon uses, each answer
after a Microsoft page (short names and URLs in ``recon.testing.graph_tenant``):

- ``GET /v1.0/users``: ``$select`` checked against the user properties (unknown → 400,
  single-user-only → 501), ``$top`` 1..999, ``$filter`` with ``eq`` and ``in`` (≤ 15 values,
  KNOWN) on the properties recon filters, ``$expand=manager($select=…)``, ``@odata.nextLink``
  paging with ``$skiptoken``; chosen pages answer 429 with Retry-After once (THR) — LIST, USER;
- ``GET /v1.0/users/delta``: a round of pages ending in ``@odata.deltaLink``; later rounds
  return the changed users (all selected properties) and removed ones as ``@removed``;
  ``manager`` selectable as ``manager@delta``; ``$expand``, ``$top``, ``$orderby`` refused —
  DELTA and the delta-query overview;
- ``GET /v1.0/users/{id}``; ``PATCH /v1.0/users/{id}`` → 204, employeeId longer than 16 → 400,
  a user synced from on-premises AD → 400 (UPD; the message is the one Graph is reported to give);
- ``GET /v1.0/auditLogs/provisioning``: ``$filter`` with ``eq``, ``contains``, ``gt``, ``lt``
  only (``ge``/``le`` → 400), ``$top``, newest first, ``$skiptoken`` paging; an entry is
  visible only ``log_delay`` seconds after processing — PLIST, ISS;
- ``GET …/synchronization/jobs/{jobId}`` (status code Active, Paused, Quarantine…) and
  ``…/schema`` (the job's attribute mappings); ``POST …/start`` and ``…/pause`` — JOB, JSTAT,
  SCH, AM;
- ``POST …/synchronization/jobs/{jobId}/bulkUpload``: at most 40 calls in any 5 s and a daily
  quota, else 429 with Retry-After (CON, ISS); ``application/scim+json`` only, a SCIM
  BulkRequest of at most 50 operations, else 400 "Invalid Data Format" (BULK, ISS); non-POST
  operations are ignored and not logged (Microsoft Q&A 2028268); duplicate bulkIds are
  accepted (GEX sends two); 202, empty body, ``Location`` to the job's logs (BULK). A paused
  job accepts and logs nothing until started (ISS); with ``defer`` uploads wait for
  ``process_pending()``. Processing is ``recon.testing.graph_provisioning``.

Every request needs ``Authorization: Bearer <token>`` (401 InvalidAuthenticationToken, ISS).
The server runs in a daemon thread and shuts itself down after ``lifetime`` seconds.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from recon.core.scim import BULK_REQUEST, CORE_USER, ENTERPRISE, is_schema
from recon.testing.graph_provisioning import GENERATED_UPN_EXPRESSION, Job, now_iso
from recon.testing.graph_queries import (
    field_of,
    log_clauses,
    matches,
    selected,
    split_top_level,
    user_clauses,
)
from recon.testing.graph_tenant import (
    DEFAULT_JOB_ID,
    DEFAULT_SP_ID,
    GraphError,
    GraphState,
)

__all__ = ["DEFAULT_JOB_ID", "DEFAULT_SP_ID", "GraphError", "GraphState", "RunningGraph",
           "running_graph"]

MAX_BULK_OPERATIONS = 50  # BULK, CON, ISS
MAX_PAGE = 999  # LIST
DELTA_PAGE = 100
MAX_EMPLOYEE_ID = 16  # USER, UPD: "The maximum length is 16 characters"
SYNCED_USER_MESSAGE = ("Unable to update the specified properties for on-premises mastered "
                       "Directory Sync objects or objects currently undergoing migration.")


def _token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _untoken(text: str) -> dict[str, Any]:
    try:
        loaded = json.loads(base64.urlsafe_b64decode(text.encode()).decode())
    except ValueError as error:
        raise GraphError(400, "BadRequest", "Invalid skip or delta token.") from error
    if not isinstance(loaded, dict):
        raise GraphError(400, "BadRequest", "Invalid skip or delta token.")
    return loaded


def _shape_manager(state: GraphState, user: dict[str, Any], inner: str) -> dict[str, Any] | None:
    manager = state.users.get(user.get("manager") or "")
    if manager is None:
        return None  # Graph leaves the navigation property out when there is none
    found = re.search(r"\$select=([^;)]*)", inner)
    fields = found.group(1).split(",") if found else ["id"]
    return {"@odata.type": "#microsoft.graph.user", **{f: manager.get(f) for f in fields}}


def shape_user(state: GraphState, user: dict[str, Any], select: list[str],
               expand: list[str]) -> dict[str, Any]:
    """A user as Graph returns it: the selected properties (null when unset), the expansions."""
    shaped = {name: user.get(name) for name in select if name != "manager"}
    shaped.setdefault("id", user["id"])
    for item in expand:
        name, _, inner = item.partition("(")
        if name.strip() != "manager":
            raise GraphError(400, "Request_UnsupportedQuery", f"Cannot expand {name!r}.")
        manager = _shape_manager(state, user, inner)
        if manager is not None:
            shaped["manager"] = manager
    return shaped


def job_resource(job: Job) -> dict[str, Any]:
    """A synchronizationJob (JOB): schedule, status with its code (JSTAT), settings."""
    return {
        "id": job.job_id, "templateId": "API2AAD",
        "schedule": {"expiration": None, "interval": "PT40M",
                     "state": "Active" if job.status == "Active" else "Disabled"},
        "status": {"code": job.status, "countSuccessiveCompleteFailures": 0,
                   "escrowsPruned": False, "lastExecution": None, "quarantine": None
                   if job.status != "Quarantine" else {
                       "reason": "EncounteredQuarantineException",
                       "error": {"code": "NotificationEmailMissing", "tenantActionable": True,
                                 "message": "Set a notification e-mail, then restart."}},
                   "troubleshootingUrl": None},
        "synchronizationJobSettings": [],
    }


def schema_resource(job: Job) -> dict[str, Any]:
    """The job's synchronizationSchema (SCH): one rule, one object mapping, its attribute
    mappings with source, targetAttributeName, matchingPriority and flowType (AM)."""
    def source(mapping: Any) -> dict[str, Any]:
        if mapping.generated:
            return {"expression": GENERATED_UPN_EXPRESSION, "name": "Join", "type": "Function",
                    "parameters": []}
        return {"expression": f"[{mapping.source}]", "name": mapping.source,
                "type": "Attribute", "parameters": []}

    attribute_mappings = [{
        "source": source(m), "targetAttributeName": m.target, "defaultValue": None,
        "exportMissingReferences": False, "flowBehavior": "FlowWhenChanged",
        "flowType": "ObjectAddOnly" if m.apply == "on_create" else "Always",
        "matchingPriority": 1 if m.matching else 0} for m in job.mappings]
    return {"id": job.job_id, "version": "Date:2026-01-01", "directories": [],
            "synchronizationRules": [{
                "name": "API2AAD", "sourceDirectoryName": "API",
                "targetDirectoryName": "Azure Active Directory", "objectMappings": [{
                    "name": f"Provision API {ENTERPRISE}", "enabled": True,
                    "flowTypes": "Add, Update", "sourceObjectName": ENTERPRISE,
                    "targetObjectName": "User", "attributeMappings": attribute_mappings}]}]}


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

    def _error(self, error: GraphError) -> None:
        # learn.microsoft.com/graph/errors: {"error": {"code", "message", "innerError"}}
        self._send(error.status, {"error": {"code": error.code, "message": error.message,
                                            "innerError": {"date": now_iso()}}}, error.headers)

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
                                 "Access token has expired or is not yet valid.")
            self._route(method, parts.path, query, body)
        except GraphError as error:
            self._error(error)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v1.0"

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        segments = [s for s in path.split("/") if s]
        if not segments or segments[0] != "v1.0":
            raise GraphError(404, "BadRequest", f"Resource not found for the segment {path!r}.")
        rest = segments[1:]
        if method == "GET" and rest == ["users"]:
            return self._list_users(query)
        if method == "GET" and rest in (["users", "delta"], ["users", "delta()"]):
            return self._delta(query)
        if len(rest) == 2 and rest[0] == "users" and method in ("GET", "PATCH"):
            return (self._get_user(rest[1], query) if method == "GET"
                    else self._patch_user(rest[1], body))
        if method == "GET" and rest == ["auditLogs", "provisioning"]:
            return self._list_logs(query)
        if (len(rest) >= 5 and rest[0] == "servicePrincipals"
                and rest[2:4] == ["synchronization", "jobs"]):
            return self._job(method, rest[1], rest[4], rest[5:], body)
        raise GraphError(404, "BadRequest", f"Resource not found for the segment {path!r}.")

    # -- users ---------------------------------------------------------------------------------

    def _list_users(self, query: dict[str, str]) -> None:
        state = self.server.state
        top = int(query.get("$top", "100"))
        if not 1 <= top <= MAX_PAGE:
            raise GraphError(400, "Request_UnsupportedQuery",
                             f"Invalid page size specified: '{top}'. Must be between 1 and 999"
                             " inclusive.")
        select = selected(query, collection=True)
        expand = split_top_level(query.get("$expand", ""))
        clauses = user_clauses(query.get("$filter"))
        offset = int(_untoken(query["$skiptoken"])["offset"]) if "$skiptoken" in query else 0
        page_number = offset // top
        with state.lock:
            key = (json.dumps(sorted(query.items())), page_number)
            throttled = page_number in state.throttle_pages and key not in state._throttled
            if throttled:
                state._throttled.add(key)
            users = [u for u in sorted(state.users.values(), key=lambda u: u["id"])
                     if all(matches(u.get(p), op, v) for p, op, v in clauses)]
            page = [shape_user(state, u, select, expand) for u in users[offset:offset + top]]
        if throttled:
            raise GraphError(429, "TooManyRequests", "Too many requests.",
                             {"Retry-After": str(state.retry_after)})
        body: dict[str, Any] = {"@odata.context": f"{self._base()}/$metadata#users",
                                "value": page}
        if offset + top < len(users):
            next_query = {k: v for k, v in query.items() if k != "$skiptoken"}
            next_query["$skiptoken"] = _token({"offset": offset + top})
            body["@odata.nextLink"] = f"{self._base()}/users?" + "&".join(
                f"{k}={quote(v, safe='$(),=')}" for k, v in next_query.items())
        self._send(200, body)

    def _get_user(self, user_id: str, query: dict[str, str]) -> None:
        state = self.server.state
        with state.lock:
            user = state.users.get(user_id)
            if user is None:
                raise GraphError(404, "Request_ResourceNotFound",
                                 f"Resource '{user_id}' does not exist or one of its queried "
                                 "reference-property objects are not present.")
            shaped = shape_user(state, user, selected(query, collection=False),
                                split_top_level(query.get("$expand", "")))
        self._send(200, shaped)

    def _patch_user(self, user_id: str, body: bytes) -> None:
        """UPD: 204 No Content; the checks below are the ones recon relies on."""
        state = self.server.state
        try:
            changes = json.loads(body or b"{}")
        except ValueError as error:
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from error
        if not isinstance(changes, dict):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload.")
        with state.lock:
            user = state.users.get(user_id)
            if user is None:
                raise GraphError(404, "Request_ResourceNotFound",
                                 f"Resource '{user_id}' does not exist.")
            changes = {k: v for k, v in changes.items() if not k.startswith("@odata")}
            for name, value in changes.items():
                if name not in {"employeeId", "department", "jobTitle", "displayName",
                                "givenName", "surname", "accountEnabled", "employeeType",
                                "companyName", "employeeHireDate", "employeeLeaveDateTime"}:
                    raise GraphError(400, "Request_BadRequest",
                                     f"Property '{name}' is read-only or not supported here.")
                if name == "employeeId" and value is not None and len(str(value)) > \
                        MAX_EMPLOYEE_ID:
                    raise GraphError(400, "Request_BadRequest", "Invalid value specified for "
                                     "property 'employeeId' of resource 'User'.")
            if user.get("onPremisesSyncEnabled"):
                raise GraphError(400, "Request_BadRequest", SYNCED_USER_MESSAGE)
            user.update(changes)
            state.touch(user_id)
        self._send(204)

    def _delta(self, query: dict[str, str]) -> None:
        """DELTA: the first round returns every user, later rounds what changed since."""
        state = self.server.state
        for refused in ("$expand", "$top", "$orderby"):
            if refused in query:
                raise GraphError(400, "Request_UnsupportedQuery",
                                 f"{refused} is not supported with delta queries.")
        if "$deltatoken" in query:
            token = _untoken(query["$deltatoken"])
            since, offset, select = int(token["since"]), 0, token["select"]
        elif "$skiptoken" in query:
            token = _untoken(query["$skiptoken"])
            since, offset, select = int(token["since"]), int(token["offset"]), token["select"]
        else:
            since, offset = 0, 0
            select = selected(query, collection=True)
        with state.lock:
            changed = sorted((v, uid) for uid, v in state.versions.items()
                             if v > since and uid in state.users)
            gone = sorted((v, uid, reason) for uid, (v, reason) in state.removed.items()
                          if v > since and since > 0)
            items: list[dict[str, Any]] = []
            for _, uid in changed:
                user = state.users[uid]
                shaped = {n: user.get(n) for n in select if n != "manager" and n in user}
                shaped["id"] = uid
                if "manager" in select and user.get("manager"):
                    shaped["manager@delta"] = [{"@odata.type": "#microsoft.graph.user",
                                                "id": user["manager"]}]
                items.append(shaped)
            items += [{"id": uid, "@removed": {"reason": reason}} for _, uid, reason in gone]
            version = state.version
        page = items[offset:offset + DELTA_PAGE]
        body: dict[str, Any] = {"@odata.context": f"{self._base()}/$metadata#users",
                                "value": page}
        if offset + DELTA_PAGE < len(items):
            body["@odata.nextLink"] = f"{self._base()}/users/delta?$skiptoken=" + _token(
                {"since": since, "offset": offset + DELTA_PAGE, "select": select})
        else:
            body["@odata.deltaLink"] = f"{self._base()}/users/delta?$deltatoken=" + _token(
                {"since": version, "select": select})
        self._send(200, body)

    # -- provisioning logs ---------------------------------------------------------------------

    def _list_logs(self, query: dict[str, str]) -> None:
        state = self.server.state
        top = int(query.get("$top", "100"))
        clauses = log_clauses(query.get("$filter"))
        offset = int(query.get("$skiptoken", "0"))
        entries = [e for e in state.visible_logs()
                   if all(matches(field_of(e, path), op, v) for path, op, v in clauses)]
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

    # -- synchronization jobs ------------------------------------------------------------------

    def _job(self, method: str, sp_id: str, job_id: str, action: list[str], body: bytes) -> None:
        state = self.server.state
        job = state.jobs.get(job_id)
        if job is None or job.service_principal_id != sp_id:
            raise GraphError(404, "Request_ResourceNotFound",
                             f"The synchronization job {job_id!r} was not found.")
        if method == "GET" and not action:
            return self._send(200, job_resource(job))
        if method == "GET" and action == ["schema"]:
            return self._send(200, schema_resource(job))
        if method == "POST" and action in (["start"], ["pause"]):
            if action == ["start"]:
                state.start_job(job_id)
            else:
                state.pause_job(job_id)
            return self._send(204)
        if action == ["bulkUpload"]:
            if method != "POST":
                raise GraphError(405, "MethodNotAllowed", "Only POST is supported.")
            return self._bulk_upload(job, body)
        raise GraphError(404, "BadRequest", f"Unknown job action {'/'.join(action)!r}.")

    def _bulk_upload(self, job: Job, body: bytes) -> None:
        state = self.server.state
        with state.lock:
            call_number, state.bulk_calls = state.bulk_calls, state.bulk_calls + 1
        wait = state.admit_bulk_call()
        if call_number in state.throttle_bulk_calls or wait > 0:
            seconds = max(1, math.ceil(wait)) if wait > 0 else state.retry_after
            raise GraphError(429, "TooManyRequests", "Too many requests.",
                             {"Retry-After": str(seconds)})
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/scim+json":
            raise GraphError(400, "BadRequest", "Invalid Data Format: the Content-Type must be "
                                                "application/scim+json.")
        try:
            request = json.loads(body)
        except ValueError as error:
            raise GraphError(400, "BadRequest", f"Invalid Data Format: {error}") from error
        operations = validate_bulk(request)
        with state.lock:
            state.bulk_payloads.append(request)
            job.staged.append(operations)
        if not state.defer:
            state.process_pending(job.job_id)  # a paused job keeps them staged (ISS)
        self._send(202, None, {"Location": f"{self._base()}/auditLogs/provisioning/?$filter="
                                           f"jobid%20eq%20'{job.job_id}'"})


def validate_bulk(request: Any) -> list[dict[str, Any]]:
    """The POST operations of a BulkRequest, or a 400 "Invalid Data Format" (BULK, ISS)."""
    def bad(message: str) -> GraphError:
        return GraphError(400, "BadRequest", f"Invalid Data Format: {message}")

    if not isinstance(request, dict) or BULK_REQUEST not in request.get("schemas", []):
        raise bad(f"the request must be a SCIM BulkRequest ({BULK_REQUEST}).")
    operations = request.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise bad("the BulkRequest has no Operations.")
    if len(operations) > MAX_BULK_OPERATIONS:
        raise bad(f"the BulkRequest has {len(operations)} operations; at most "
                  f"{MAX_BULK_OPERATIONS} are allowed.")
    posts = []
    for number, op in enumerate(operations, start=1):
        if not isinstance(op, dict):
            raise bad(f"operation {number} is not an object.")
        if op.get("method") != "POST":
            continue  # FAQ: only POST; others are not processed, not even logged (Q&A 2028268)
        data = op.get("data")
        if not isinstance(data, dict) or CORE_USER not in data.get("schemas", []):
            raise bad(f"operation {number}: data must be a SCIM User ({CORE_USER}).")
        for key, value in data.items():
            if is_schema(key) and isinstance(value, dict) and key not in data["schemas"]:
                raise bad(f"operation {number}: namespace {key!r} is not listed in schemas.")
        posts.append(op)
    return posts


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
