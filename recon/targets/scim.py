"""SCIM 2.0 client over httpx: discovery, paged reads, filter look-ups, writes and Bulk.

The caller hands in the ``httpx.Client`` (base URL, auth, TLS, timeouts are the caller's), or
builds one from the config with :func:`connect`. The client sends requests and reports what the
target answered as a :class:`ScimReply`; deciding what a status *means* for an operation (retry,
stale, done) is the push engine's business, not this module's.

Real targets are lenient in what they send, so reads tolerate: ``active`` as the string
``"False"``, PATCH answered with 200 (and the resource) or 204 (and nothing), and the version
in the ``ETag`` header or only in ``meta.version``. Each provider's documented quirks are a
profile (recon.targets.scim_profiles); listings are read by recon.targets.scim_paging, complete
or not at all. Reads retry 429 (honouring ``Retry-After``), 5xx and broken connections a bounded
number of times, and an error names its likely cause: a wrong base URL (404), a rejected token
(401), a missing permission (403), throttling for longer than the run waits.
The wire (connection safety, replies, patience) is recon.targets.scim_http; the bearer token is
read from the environment variable the config names and is never printed, logged or stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from recon.core.config import ScimTarget
from recon.core.same import same
from recon.core.scim import bulk_request, get_path
from recon.core.snapshot import Snapshot
from recon.errors import TargetReadError, TargetSetupError
from recon.targets.scim_discovery import Discovery, lenient_config
from recon.targets.scim_http import (
    SCIM_JSON,
    BearerToken,
    Pacer,
    ReadRetry,
    ScimHttpError,
    ScimReply,
    ScimUnavailable,
    check_url,
    eq_filter,
    read_token,
    reply_of,
)
from recon.targets.scim_paging import RestartListing, read_listing
from recon.targets.scim_profiles import GENERIC, Profile, profile_for

__all__ = ["DEFAULT_PAGE_SIZE", "GROUPS", "USERS", "BearerToken", "Discovery", "ReadRetry",
           "ScimClient", "ScimHttpError", "ScimReply", "ScimUnavailable", "check_url", "connect",
           "eq_filter", "reply_of", "snapshot_scim"]

USERS = "/Users"
GROUPS = "/Groups"
SERVICE_PROVIDER_CONFIG = "/ServiceProviderConfig"
#: Pages of this size are asked for by default; servers may return fewer (RFC 7644 §3.4.2.4).
DEFAULT_PAGE_SIZE = 200
#: RFC 9865 §2.1: the server no longer knows this cursor; the listing starts again.
CURSOR_ERRORS = frozenset({"invalidcursor", "expiredcursor"})


def connect(
    target: ScimTarget, *, insecure: bool = False, transport: httpx.BaseTransport | None = None,
    max_connections: int = 32,
) -> ScimClient:
    """A client for ``target.scim`` of the config: TLS verified, token from the environment,
    the provider's profile (``target.scim.profile``) with the config's overrides."""
    base_url = check_url(target.url, insecure=insecure)
    token = read_token(target.token_env)
    http = httpx.Client(
        base_url=base_url,
        auth=BearerToken(token) if token else None,
        timeout=target.timeout,
        verify=True,  # TLS is always verified; --insecure only allows plain http
        transport=transport,
        headers={"Accept": SCIM_JSON},
        limits=httpx.Limits(max_connections=max_connections,
                            max_keepalive_connections=max_connections),
    )
    return ScimClient(http, profile=profile_for(target), token_env=target.token_env)


# -- Client -----------------------------------------------------------------------------------


class ScimClient:
    """SCIM operations over a caller-provided ``httpx.Client`` (whose base URL is the SCIM root).

    Reads raise :class:`ScimHttpError` on an error status (:class:`TargetSetupError` when it
    names a setup mistake); writes return the :class:`ScimReply` so that the caller decides. A
    broken connection raises :class:`ScimUnavailable`. ``profile`` holds the provider's quirks.
    """

    def __init__(self, http: httpx.Client, *, page_size: int | None = None,
                 profile: Profile = GENERIC, token_env: str | None = None,
                 read_retry: ReadRetry | None = None) -> None:
        self.http = http
        self.profile = profile
        self.page_size = page_size or profile.page_size or DEFAULT_PAGE_SIZE
        self.token_env = token_env
        self.read_retry = read_retry or ReadRetry()
        self._pacer = Pacer(profile.requests_per_second)
        self._discovery: Discovery | None = None
        self._unfilterable: set[str] = set()

    @property
    def base_url(self) -> str:
        return str(self.http.base_url).rstrip("/")

    def __repr__(self) -> str:
        return f"ScimClient({self.base_url!r}, profile={self.profile.name!r})"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ScimClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # transport

    def send(
        self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
        if_match: str | None = None,
    ) -> ScimReply:
        """One request; a connection problem becomes ScimUnavailable (without any header)."""
        headers = {"Accept": SCIM_JSON}
        content: bytes | None = None
        if body is not None:
            headers["Content-Type"] = SCIM_JSON
            content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if if_match:
            headers["If-Match"] = if_match
        self._pacer.wait()
        try:
            response = self.http.request(method, path, content=content, params=params,
                                         headers=headers)
        except httpx.TransportError as error:
            raise ScimUnavailable(
                f"{method} {path}: {type(error).__name__}: {str(error)[:200]}") from error
        return reply_of(response)

    def _read(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET with bounded retries; an error status raises with its likely cause."""
        patience = self.read_retry
        for tries in range(1, patience.max_tries + 1):
            try:
                reply = self.send("GET", path, params=params)
            except ScimUnavailable as error:
                if tries < patience.max_tries:
                    time.sleep(patience.delay(tries, None))
                    continue
                if isinstance(error.__cause__, httpx.TimeoutException):
                    raise TargetReadError(
                        f"{error}: no answer within target.scim.timeout "
                        f"({self.http.timeout.read} s), {tries} times; a target whose pages "
                        "slow down with their offset needs a longer timeout") from error
                raise
            if reply.ok and reply.body is not None:
                return reply.body
            if not (reply.throttled or reply.status >= 500) or tries == patience.max_tries:
                raise self._refusal(path, reply, tries)
            if reply.throttled and (reply.retry_after or 0) > patience.max_retry_after:
                raise self._refusal(path, reply, tries)
            time.sleep(patience.delay(tries, reply.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    def _refusal(self, path: str, reply: ScimReply, tries: int) -> Exception:
        """The exception for an error reply, naming the likely cause where the status tells it."""
        what = f"GET {path}: {reply.status} {reply.detail}"
        if reply.throttled:
            waits = (f"asks to wait {reply.retry_after:.0f} s" if reply.retry_after is not None
                     else f"still throttles after {tries} tries")
            rate = self.profile.requests_per_second
            paced = f" (paced at {rate:.3g} requests/s)" if rate else ""
            return TargetReadError(
                f"{what}: rate-limited for longer than this run waits: the target {waits}, "
                f"recon waits at most {self.read_retry.max_retry_after:.0f} s{paced}; "
                "try again later, or lower target.scim.requests_per_second")
        if reply.status == 401:
            token = (f"the environment variable {self.token_env} (target.scim.token_env)"
                     if self.token_env else "target.scim.token_env (no token is configured)")
            return TargetSetupError(f"{what}: the target refused the token; check {token}",
                                    status=401)
        if reply.status == 403:
            return TargetSetupError(
                f"{what}: the token was accepted but may not read {path}; grant the SCIM "
                "token or app the permission to read users (and groups)", status=403)
        if reply.status == 404 and path in {USERS, GROUPS}:
            example = (f"for {self.profile.title} it looks like {self.profile.url_pattern}"
                       if self.profile.url_pattern else "the SCIM base usually ends in /scim/v2")
            groups = ", or the target has no /Groups" if path == GROUPS else ""
            return TargetSetupError(f"{what}: check target.scim.url: {self.base_url} "
                                    f"({example}){groups}", status=404)
        return ScimHttpError(what, status=reply.status, scim_type=reply.scim_type)

    # discovery

    def discover(self) -> Discovery:
        """ServiceProviderConfig, ResourceTypes and Schemas with the profile; cached.

        A target without ServiceProviderConfig (404, or a profile that says so) is probed with
        one small read of /Users, so that a wrong URL or token shows here, before any write.
        """
        if self._discovery is None:
            from scim2_models import ResourceType, Schema, ServiceProviderConfig

            if not self.profile.discovery:
                self._probe()
                self._discovery = Discovery(None, profile=self.profile)
                return self._discovery
            try:
                raw = self._read(SERVICE_PROVIDER_CONFIG)
            except ScimHttpError as error:
                if error.status not in {404, 501}:
                    raise
                self._probe()  # a wrong URL raises here; else the target just has none
                self._discovery = Discovery(None, profile=self.profile)
                return self._discovery
            config = ServiceProviderConfig.model_validate(lenient_config(raw))
            resource_types = [ResourceType.model_validate(item)
                              for item in self._optional_list("/ResourceTypes")]
            schemas = [Schema.model_validate(item) for item in self._optional_list("/Schemas")]
            self._discovery = Discovery(config, resource_types, schemas, self.profile)
        return self._discovery

    def _probe(self) -> None:
        self._read(USERS, {"count": 1})

    def _optional_list(self, path: str) -> list[dict[str, Any]]:
        """Discovery lists that some targets do not serve: a 404 means none."""
        try:
            body = self._read(path)
        except ScimHttpError as error:
            if error.status in {404, 501}:
                return []
            raise
        resources = body.get("Resources", [])
        return [item for item in resources if isinstance(item, dict)]

    def _capabilities(self) -> Discovery:
        """Discovery, or the profile alone when the target's own description cannot be read."""
        try:
            return self.discover()
        except (ScimHttpError, ScimUnavailable):
            return Discovery(None, profile=self.profile)

    # reads

    def read_all(
        self, endpoint: str, *, page_size: int | None = None,
        params: dict[str, Any] | None = None, progress: Callable[[int], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Every resource of an endpoint, each once, or TargetReadError (recon.targets.scim_paging).

        Pages are by cursor where the profile or the target's ``pagination`` says so (RFC 9865),
        else by index, sorted by ``meta.created`` when the target can sort, so that newcomers
        land at the end; a target that advertises sorting but refuses it is read unsorted, and
        one that refuses cursors is read by index.
        """
        found = self._capabilities()
        count = page_size or self.page_size
        if found.max_page_size:
            count = min(count, found.max_page_size)
        query = dict(params or {})
        sorted_here = not found.cursor and found.sort and "sortBy" not in query
        if sorted_here:
            query["sortBy"] = "meta.created"

        def read(path: str, page_params: dict[str, Any]) -> dict[str, Any]:
            try:
                return self._read(path, page_params)
            except ScimHttpError as error:
                if error.status == 400 and (error.scim_type or "").lower() in CURSOR_ERRORS:
                    raise RestartListing(str(error)) from error
                raise

        cursor = found.cursor
        try:
            return read_listing(read, endpoint, count=count, query=query, cursor=cursor,
                                progress=progress)
        except ScimHttpError as error:
            if error.status == 400 and sorted_here:
                query.pop("sortBy")
            elif cursor and error.status in {400, 501}:
                cursor = False  # the profile says cursors, the target does not know them
            else:
                raise
            return read_listing(read, endpoint, count=count, query=query, cursor=cursor,
                                progress=progress)

    def iter_resources(
        self, endpoint: str, *, page_size: int | None = None, params: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The resources of :meth:`read_all`, one by one (read completely first)."""
        yield from self.read_all(endpoint, page_size=page_size, params=params)

    def users(self, *, page_size: int | None = None) -> list[dict[str, Any]]:
        return self.read_all(USERS, page_size=page_size)

    def groups(self, *, page_size: int | None = None, exclude_members: bool = False
               ) -> list[dict[str, Any]]:
        """Groups with their members (RFC 7643 §4.2); for the groups feature.

        A group listed without ``members`` (the target leaves them out of lists, or we asked
        it to with ``exclude_members``, as Entra does to keep pages small) is read once more
        on its own, ``GET /Groups/{id}``; a group that has no ``members`` there either has none.
        """
        params = {"excludedAttributes": "members"} if exclude_members else None
        groups = self.read_all(GROUPS, page_size=page_size, params=params)
        for group in groups:
            if "members" not in group and group.get("id"):
                group["members"] = self._read(f"{GROUPS}/{group['id']}").get("members") or []
        return groups

    def count(self, endpoint: str = USERS) -> int:
        """totalResults of an endpoint, read with ``count=0`` (RFC 7644 §3.4.2.4); a target that
        sends no totalResults (AWS in cursor mode) is counted by reading its listing."""
        total = self._read(endpoint, {"count": 0}).get("totalResults")
        return _as_int(total, 0) if total is not None else len(self.read_all(endpoint))

    def get(self, resource_id: str, endpoint: str = USERS) -> ScimReply:
        """GET one resource; 404 is an answer (the reply), not an exception."""
        return self.send("GET", f"{endpoint}/{resource_id}")

    def get_user(self, resource_id: str) -> dict[str, Any] | None:
        reply = self.get(resource_id)
        if reply.status == 404:
            return None
        if not reply.ok or reply.body is None:
            raise ScimHttpError(f"GET {USERS}/{resource_id}: {reply.status} {reply.detail}",
                                status=reply.status)
        return reply.body

    def find(self, attribute: str, value: str, endpoint: str = USERS, *,
             thorough: bool = False) -> list[dict[str, Any]]:
        """Resources whose ``attribute eq value`` (e.g. userName, externalId).

        An attribute the profile cannot filter on, or that the target refused as a filter, is
        looked up by reading the listing and comparing here (the "same value" rule). So is a
        case-insensitive attribute that found nothing on a target whose ``eq`` is case-exact,
        or anything that found nothing when ``thorough`` (after a 409 on create).
        """
        if self.profile.can_filter(attribute) and attribute not in self._unfilterable:
            try:
                body = self._read(endpoint, {"filter": eq_filter(attribute, value)})
            except ScimHttpError as error:
                if error.status not in {400, 501}:
                    raise
                self._unfilterable.add(attribute)
            else:
                found = [item for item in body.get("Resources") or [] if isinstance(item, dict)]
                if found or not (thorough or self.profile.case_exact_eq):
                    return found
        return [resource for resource in self.read_all(endpoint)
                if same(attribute, get_path(resource, attribute), value)]

    # writes (the reply is returned; the caller decides what a status means)

    def create(self, resource: dict[str, Any], endpoint: str = USERS) -> ScimReply:
        return self.send("POST", endpoint, body=resource)

    def patch(self, path: str, patch_op: dict[str, Any], *, if_match: str | None = None
              ) -> ScimReply:
        return self.send("PATCH", path, body=patch_op, if_match=if_match)

    def replace(self, path: str, resource: dict[str, Any], *, if_match: str | None = None
                ) -> ScimReply:
        return self.send("PUT", path, body=resource, if_match=if_match)

    def delete(self, path: str, *, if_match: str | None = None) -> ScimReply:
        return self.send("DELETE", path, if_match=if_match)

    def bulk(self, operations: list[dict[str, Any]], *, fail_on_errors: int | None = None
             ) -> ScimReply:
        """POST /Bulk (RFC 7644 §3.7); per-operation outcomes are in ``reply.body``."""
        return self.send("POST", "/Bulk",
                         body=bulk_request(operations, fail_on_errors=fail_on_errors))

    # snapshots

    def snapshot(self, *, groups: bool = False, page_size: int | None = None,
                 progress: Callable[[int], None] | None = None) -> Snapshot:
        """Every user (and optionally every group) as the target returned them."""
        users = self.read_all(USERS, page_size=page_size, progress=progress)
        group_list = self.groups(page_size=page_size) if groups else None
        return Snapshot.of(users, source=self.base_url, groups=group_list)


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def snapshot_scim(
    target: ScimTarget, *, insecure: bool = False, progress: bool = False, groups: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> Snapshot:
    """Connect to ``target.scim`` of the config and read every user (and optionally group).

    With ``progress``, a rich status line on stderr counts the users as the pages come in.
    """
    with connect(target, insecure=insecure, transport=transport) as client:
        if not progress:
            return client.snapshot(groups=groups)
        from rich.console import Console

        console = Console(stderr=True)
        with console.status(f"reading users from {client.base_url}") as status:
            taken = client.snapshot(groups=groups, progress=lambda number: status.update(
                f"reading users from {client.base_url}: {number}"))
        console.print(f"snapshot: {taken.count} users from {client.base_url}")
        return taken
