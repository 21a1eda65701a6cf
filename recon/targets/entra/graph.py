"""Reading Microsoft Graph with msgraph-sdk: the session, paging, and users (the snapshot).

msgraph-sdk is async; recon's library surface is not. Each public call runs its own event
loop (``run_sync``), in a worker thread when the caller already has one running (JupyterLab).
The SDK's middleware retries 429/503/504 and honours ``Retry-After``; recon raises its limit to
``MAX_RETRIES`` because a tenant-wide throttle can answer 429 several times in a row.

The SDK imports slowly (seconds), so it is imported inside the functions that need it.
Provisioning logs are read by ``recon.targets.entra.logs``, the job and the link PATCH by
``recon.targets.entra.jobs``, repeated snapshots through ``users/delta`` by
``recon.targets.entra.delta``.

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
from recon.targets.entra.mapping import (
    MANAGER_EXPAND,
    GraphAttribute,
    app_mappings,
    graph_select,
    read_property,
    scim_user,
)

MAX_RETRIES = 10  # the SDK's ceiling (RetryHandlerOption.MAX_MAX_RETRIES)
MAX_PAGES = 100_000  # 99.9 M users at 999 a page: a bound, not a limit anyone meets
MAX_IN_VALUES = 15  # values of one `in` filter (learn.microsoft.com/graph/known-issues)

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


def progress_bar(enabled: bool, label: str) -> Any:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn(label), TextColumn("{task.completed:,}"),
                    TextColumn("({task.fields[pages]} pages)"), TimeElapsedColumn(),
                    console=Console(stderr=True), disable=not enabled, transient=False)


async def page_of(session: GraphSession, builder: Any, config: Any = None) -> dict[str, Any]:
    """One GET through the SDK's request builder and adapter, as the JSON Graph sent."""
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    request = builder.to_get_request_information(config)
    raw = await session.client.request_adapter.send_primitive_async(
        request, "bytes", {"XXX": ODataError})
    page = json.loads(raw) if raw else {}
    if not isinstance(page, dict):
        raise PushError(f"Microsoft Graph sent something that is not a page: {str(page)[:80]}")
    return page


async def pages(session: GraphSession, builder: Any, config: Any,
                on_page: Callable[[int], None]) -> list[dict[str, Any]]:
    """Every item of a collection, following ``@odata.nextLink`` verbatim (G-PAGE)."""
    items: list[dict[str, Any]] = []
    seen_links: set[str] = set()
    page = await page_of(session, builder, config)
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
        page = await page_of(session, builder.with_url(link))
    return items


def read_table(target: EntraTarget) -> tuple[GraphAttribute, ...]:
    """What a snapshot of this target reads: the SCIM paths of the app's mappings included."""
    return app_mappings(target.inbound).read_table()


async def _read_users(session: GraphSession, target: EntraTarget,
                      on_page: Callable[[int], None]) -> list[dict[str, Any]]:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    table = read_table(target)
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        select=graph_select(table), expand=[MANAGER_EXPAND], top=target.page_size,
        filter=target.user_filter)
    users = await pages(session, session.client.users,
                        RequestConfiguration(query_parameters=query), on_page)
    return [scim_user(user, session.endpoint.base_url, table) for user in users]


def snapshot_entra(target: EntraTarget, *, progress: bool = True,
                   credential: Any | None = None) -> Snapshot:
    """All Entra users (``/users``, paged at ``page_size`` ≤ 999) as SCIM-shaped resources.

    ``credential`` overrides the one the config describes (a notebook may hold its own).
    """
    endpoint = graph_endpoint(target)

    async def read() -> list[dict[str, Any]]:
        session = open_session(target, credential)
        try:
            with progress_bar(progress, "Reading Entra users") as bar:
                task = bar.add_task("users", total=None, pages=0)

                def on_page(count: int) -> None:
                    bar.update(task, advance=count, pages=bar.tasks[0].fields["pages"] + 1)

                with graph_errors(endpoint):
                    return await _read_users(session, target, on_page)
        finally:
            await session.http.aclose()

    resources = run_sync(read)
    return Snapshot.of(resources, source=f"entra:{endpoint.base_url}/users")


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def _users_where(session: GraphSession, target: EntraTarget, prop: str,
                       values: list[str]) -> list[dict[str, Any]]:
    """Users whose ``prop`` is one of ``values``: ``in`` filters of at most 15 values each
    (learn.microsoft.com/graph/known-issues: "limited to 15 expressions"), four at a time."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    table = read_table(target)
    gate = asyncio.Semaphore(4)

    async def chunk(part: list[str]) -> list[dict[str, Any]]:
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            select=graph_select(table), expand=[MANAGER_EXPAND], top=MAX_IN_VALUES,
            filter=f"{prop} in ({','.join(_quoted(v) for v in part)})")
        async with gate:
            return await pages(session, session.client.users,
                               RequestConfiguration(query_parameters=query), lambda _: None)

    parts = [values[n:n + MAX_IN_VALUES] for n in range(0, len(values), MAX_IN_VALUES)]
    found = await asyncio.gather(*(chunk(part) for part in parts))
    return [user for users in found for user in users]


@dataclass(frozen=True)
class Accounts:
    """Entra users re-read before a push, as Graph sent them (wire names)."""

    by_id: dict[str, dict[str, Any]]
    by_key: dict[str, list[dict[str, Any]]]  # matching value (employeeId) → users holding it

    def scim(self, user: dict[str, Any], target: EntraTarget) -> dict[str, Any]:
        return scim_user(user, "", read_table(target))


def read_accounts(target: EntraTarget, ids: list[str], keys: list[str], *,
                  credential: Any | None = None) -> Accounts:
    """The users with these object ids, and those whose matching property (employeeId by
    default) holds one of ``keys`` — the honest precondition of a bulkUpload push."""
    endpoint = graph_endpoint(target)
    matching = app_mappings(target.inbound).matching.target

    async def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        session = open_session(target, credential)
        try:
            with graph_errors(endpoint):
                by_id = await _users_where(session, target, "id", sorted(set(ids)))
                by_key = await _users_where(session, target, matching, sorted(set(keys)))
                return by_id, by_key
        finally:
            await session.http.aclose()

    by_id, by_key = run_sync(read)
    holders: dict[str, list[dict[str, Any]]] = {}
    for user in {u["id"]: u for u in by_id + by_key}.values():
        value = read_property(user, matching)
        if value not in (None, ""):
            holders.setdefault(str(value), []).append(user)
    return Accounts({str(u["id"]): u for u in by_id}, holders)
