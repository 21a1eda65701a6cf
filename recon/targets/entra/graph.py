"""Reading Microsoft Graph with msgraph-sdk: users (the snapshot) and provisioning logs.

msgraph-sdk is async; recon's library surface is not. Each public call runs its own event
loop (``run_sync``), in a worker thread when the caller already has one running (JupyterLab).
The SDK's middleware retries 429/503/504 and honours ``Retry-After``; recon raises its limit to
``MAX_RETRIES`` because a tenant-wide throttle can answer 429 several times in a row.

The SDK imports slowly (seconds), so it is imported inside the functions that need it.

Requests go through the SDK — its request builders, its request adapter, its auth and retry
middleware — but recon parses the JSON of each page itself: the SDK's model deserialization
costs about 40 ms per user (``Entity.get_field_deserializers`` re-imports thousands of model
classes on every call), i.e. 40 s per 999-user page; reading the wire JSON keeps a 100k-user
tenant to the time Graph takes to answer. The mapping reads wire names (camelCase), the same
names the docs and ``GRAPH_ATTRIBUTES`` use.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from recon.core.config import EntraTarget
from recon.core.snapshot import Snapshot
from recon.errors import PushError
from recon.targets.entra.credentials import GraphEndpoint, graph_credential, graph_endpoint
from recon.targets.entra.mapping import MANAGER_EXPAND, graph_select, scim_user

MAX_RETRIES = 10  # the SDK's ceiling (RetryHandlerOption.MAX_MAX_RETRIES)
MAX_PAGES = 100_000  # 99.9 M users at 999 a page: a bound, not a limit anyone meets
LOG_PAGE_SIZE = 500

T = TypeVar("T")


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code, also inside a running loop."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


@dataclass
class GraphSession:
    """A GraphServiceClient pointed at ``graph_url`` and the httpx client it owns."""

    client: Any  # msgraph.GraphServiceClient
    http: httpx.AsyncClient
    endpoint: GraphEndpoint


def open_session(target: EntraTarget, credential: Any | None = None) -> GraphSession:
    """Build the SDK client: Azure-identity auth for ``graph_url``'s host, SDK middleware."""
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from kiota_http.middleware.options import RetryHandlerOption
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_request_adapter import options as graph_options
    from msgraph.graph_service_client import GraphServiceClient
    from msgraph_core import GraphClientFactory  # type: ignore[import-untyped]

    endpoint = graph_endpoint(target)
    credential = credential if credential is not None else graph_credential(target)
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=[endpoint.scope], allowed_hosts=[endpoint.host])
    options = {**graph_options,
               RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=MAX_RETRIES)}
    http = GraphClientFactory.create_with_default_middleware(options=options)
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = endpoint.base_url
    return GraphSession(GraphServiceClient(request_adapter=adapter), http, endpoint)


def describe_error(error: BaseException, endpoint: GraphEndpoint) -> str:
    """One line for a Graph failure: status, Graph's error code and message, no token."""
    status = getattr(error, "response_status_code", None)
    odata = getattr(error, "error", None)
    code = getattr(odata, "code", None)
    message = getattr(odata, "message", None) or getattr(error, "message", None) or str(error)
    if isinstance(error, httpx.HTTPError):
        return f"cannot reach Microsoft Graph at {endpoint.base_url}: {error!s}"
    hint = {401: " (the credential was refused)",
            403: " (the app registration lacks a permission; see docs/entra.md)",
            429: " (still throttled after retries; run again later)"}.get(status or 0, "")
    head = f"Microsoft Graph answered {status}" if status else "Microsoft Graph failed"
    return f"{head}{hint}: {code + ': ' if code else ''}{message}".strip()


@contextmanager
def graph_errors(endpoint: GraphEndpoint) -> Iterator[None]:
    """Turn SDK and transport failures into one-line ``PushError`` (the target refused)."""
    from kiota_abstractions.api_error import APIError

    try:
        yield
    except (APIError, httpx.HTTPError) as error:
        raise PushError(describe_error(error, endpoint)) from error


def _progress(enabled: bool, label: str) -> Any:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn(label), TextColumn("{task.completed:,}"),
                    TextColumn("({task.fields[pages]} pages)"), TimeElapsedColumn(),
                    console=Console(stderr=True), disable=not enabled, transient=False)


async def _page(session: GraphSession, builder: Any, config: Any = None) -> dict[str, Any]:
    """One GET through the SDK's request builder and adapter, as the JSON Graph sent."""
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    request = builder.to_get_request_information(config)
    raw = await session.client.request_adapter.send_primitive_async(
        request, "bytes", {"XXX": ODataError})
    page = json.loads(raw) if raw else {}
    if not isinstance(page, dict):
        raise PushError(f"Microsoft Graph sent something that is not a page: {str(page)[:80]}")
    return page


async def _pages(session: GraphSession, builder: Any, config: Any,
                 on_page: Callable[[int], None]) -> list[dict[str, Any]]:
    """Every item of a collection, following ``@odata.nextLink`` verbatim (G-PAGE)."""
    items: list[dict[str, Any]] = []
    seen_links: set[str] = set()
    page = await _page(session, builder, config)
    for _ in range(MAX_PAGES):
        values = page.get("value") or []
        items.extend(values)
        on_page(len(values))
        link = page.get("@odata.nextLink")
        if not link:
            break
        if link in seen_links:
            raise PushError(f"Microsoft Graph returned the same @odata.nextLink twice: {link}")
        seen_links.add(link)
        page = await _page(session, builder.with_url(link))
    return items


async def _read_users(session: GraphSession, target: EntraTarget,
                      on_page: Callable[[int], None]) -> list[dict[str, Any]]:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        select=graph_select(), expand=[MANAGER_EXPAND], top=target.page_size,
        filter=target.user_filter)
    users = await _pages(session, session.client.users,
                         RequestConfiguration(query_parameters=query), on_page)
    return [scim_user(user, session.endpoint.base_url) for user in users]


def snapshot_entra(target: EntraTarget, *, progress: bool = True,
                   credential: Any | None = None) -> Snapshot:
    """All Entra users (``/users``, paged at ``page_size`` ≤ 999) as SCIM-shaped resources.

    ``credential`` overrides the one the config describes (a notebook may hold its own).
    """
    endpoint = graph_endpoint(target)

    async def read() -> list[dict[str, Any]]:
        session = open_session(target, credential)
        try:
            with _progress(progress, "Reading Entra users") as bar:
                task = bar.add_task("users", total=None, pages=0)

                def on_page(count: int) -> None:
                    bar.update(task, advance=count, pages=bar.tasks[0].fields["pages"] + 1)

                with graph_errors(endpoint):
                    return await _read_users(session, target, on_page)
        finally:
            await session.http.aclose()

    resources = run_sync(read)
    return Snapshot.of(resources, source=f"entra:{endpoint.base_url}/users")


@dataclass(frozen=True)
class LogEntry:
    """The parts of a ``provisioningObjectSummary`` that verify needs."""

    id: str
    activity: str  # ISO UTC
    job_id: str
    action: str
    status: str  # success | warning | failure | skipped
    source_id: str
    target_id: str
    error_code: str
    reason: str


def _log_entry(summary: dict[str, Any]) -> LogEntry:
    status_info = summary.get("provisioningStatusInfo") or {}
    error = status_info.get("errorInformation") or {}
    return LogEntry(
        id=str(summary.get("id") or ""),
        activity=str(summary.get("activityDateTime") or ""),
        job_id=str(summary.get("jobId") or ""),
        action=str(summary.get("provisioningAction") or ""),
        status=str(status_info.get("status") or ""),
        source_id=str((summary.get("sourceIdentity") or {}).get("id") or ""),
        target_id=str((summary.get("targetIdentity") or {}).get("id") or ""),
        error_code=str(error.get("errorCode") or ""),
        reason=str(error.get("reason") or ""),
    )


def provisioning_logs(target: EntraTarget, job_id: str, since: str, *,
                      credential: Any | None = None) -> list[LogEntry]:
    """``/auditLogs/provisioning`` entries of one job at or after ``since`` (ISO UTC), paged.

    Reports APIs allow about 5 requests per 10 s (facts §1.9); the SDK's retry handler waits
    out the 429s, and pages are large so a verify needs few calls.
    """
    endpoint = graph_endpoint(target)
    quoted_job = job_id.replace("'", "''")

    async def read() -> list[LogEntry]:
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.audit_logs.provisioning.provisioning_request_builder import (
            ProvisioningRequestBuilder,
        )

        session = open_session(target, credential)
        try:
            with graph_errors(endpoint):
                query = ProvisioningRequestBuilder.ProvisioningRequestBuilderGetQueryParameters(
                    filter=f"jobId eq '{quoted_job}' and activityDateTime ge {since}",
                    top=LOG_PAGE_SIZE)
                summaries = await _pages(session, session.client.audit_logs.provisioning,
                                         RequestConfiguration(query_parameters=query),
                                         lambda _: None)
                return [_log_entry(summary) for summary in summaries]
        finally:
            await session.http.aclose()

    return run_sync(read)
