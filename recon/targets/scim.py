"""SCIM 2.0 client over httpx: discovery, paged reads, filter look-ups, writes and Bulk.

The caller hands in the ``httpx.Client`` (base URL, auth, TLS, timeouts are the caller's), or
builds one from the config with :func:`connect`. The client sends requests and reports what the
target answered as a :class:`ScimReply`; deciding what a status *means* for an operation (retry,
stale, done) is the push engine's business, not this module's.

Real targets are lenient in what they send, so reads tolerate: ``active`` as the string
``"False"``, PATCH answered with 200 (and the resource) or 204 (and nothing), and the version
in the ``ETag`` header or only in ``meta.version``.

The bearer token is read from the environment variable named in the config and lives only in the
auth object of the ``httpx.Client``: it is never printed, logged, stored or put in an error.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from recon.core.config import ScimTarget
from recon.core.scim import bulk_request
from recon.core.snapshot import Snapshot
from recon.errors import ConfigError, PushError

if TYPE_CHECKING:  # scim2-models takes a second to import: only discovery needs it
    from scim2_models import ResourceType, Schema, ServiceProviderConfig

SCIM_JSON = "application/scim+json"
USERS = "/Users"
GROUPS = "/Groups"
#: Pages of this size are asked for by default; servers may return fewer (RFC 7644 §3.4.2.4).
DEFAULT_PAGE_SIZE = 200
#: A bounded read: a target that keeps returning full pages past this many is broken.
MAX_PAGES = 100_000


class ScimHttpError(PushError):
    """The target answered a read with an error status (the message carries its SCIM detail)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ScimUnavailable(PushError):
    """The target could not be reached, or the connection broke before a full reply."""


# -- Connection -------------------------------------------------------------------------------


class BearerToken(httpx.Auth):
    """Adds ``Authorization: Bearer …``; its repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerToken(<redacted>)"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost`` never leave the machine, so plain http is fine there."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, insecure: bool = False) -> str:
    """The base URL without a trailing slash; plain http only to loopback unless ``insecure``."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"target.scim.url: not an http(s) URL: {url!r}")
    if parts.username or parts.password:
        raise ConfigError("target.scim.url: credentials in the URL are not accepted; use token_env")
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not insecure:
        raise ConfigError(
            f"target.scim.url: plain http to {parts.hostname} would send the token in clear; "
            "use https (or --insecure for a test target)"
        )
    return url.rstrip("/")


def read_token(token_env: str | None) -> str | None:
    """The token from the named environment variable; an empty or unset variable is an error."""
    if token_env is None:
        return None
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise ConfigError(f"target.scim.token_env: environment variable {token_env} is not set")
    return token


def connect(
    target: ScimTarget, *, insecure: bool = False, transport: httpx.BaseTransport | None = None,
    max_connections: int = 32,
) -> ScimClient:
    """A client for ``target.scim`` of the config: TLS verified, token from the environment."""
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
    return ScimClient(http, page_size=target.page_size)


# -- Replies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScimReply:
    """What the target answered: status, parsed body (if JSON), version and resource id."""

    status: int
    body: dict[str, Any] | None
    etag: str | None
    resource_id: str | None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def detail(self) -> str:
        """The SCIM error detail (RFC 7644 §3.12), or the HTTP reason, on one line."""
        if self.body:
            text = self.body.get("detail") or self.body.get("scimType") or ""
            if text:
                return " ".join(str(text).split())[:300]
        return httpx.codes.get_reason_phrase(self.status) or f"HTTP {self.status}"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; an HTTP date is treated as 1 s)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


def _id_from_location(location: str | None) -> str | None:
    if not location:
        return None
    return location.rstrip("/").rsplit("/", 1)[-1] or None


def reply_of(response: httpx.Response) -> ScimReply:
    """Turn an httpx response into a ScimReply, accepting 200-with-body and 204-without."""
    body: dict[str, Any] | None = None
    if response.content:
        try:
            parsed = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            parsed = None
        body = parsed if isinstance(parsed, dict) else None
    meta = (body or {}).get("meta") or {}
    etag = response.headers.get("ETag") or (meta.get("version") if isinstance(meta, dict) else None)
    resource_id = (body or {}).get("id") or _id_from_location(response.headers.get("Location")
                                                              if response.status_code == 201
                                                              else None)
    return ScimReply(
        status=response.status_code,
        body=body,
        etag=str(etag) if etag else None,
        resource_id=str(resource_id) if resource_id else None,
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


# -- Discovery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Discovery:
    """What the target says it supports (RFC 7644 §4), parsed with scim2-models."""

    config: ServiceProviderConfig
    resource_types: list[ResourceType] = field(default_factory=list)
    schemas: list[Schema] = field(default_factory=list)

    @property
    def bulk(self) -> bool:
        return bool(self.config.bulk and self.config.bulk.supported)

    @property
    def bulk_max_operations(self) -> int:
        value = self.config.bulk.max_operations if self.config.bulk else None
        return int(value) if value else 0

    @property
    def bulk_max_payload(self) -> int:
        value = self.config.bulk.max_payload_size if self.config.bulk else None
        return int(value) if value else 0

    @property
    def etag(self) -> bool:
        return bool(self.config.etag and self.config.etag.supported)

    @property
    def filter(self) -> bool:
        return bool(self.config.filter and self.config.filter.supported)

    @property
    def filter_max_results(self) -> int | None:
        value = self.config.filter.max_results if self.config.filter else None
        return int(value) if value else None

    @property
    def patch(self) -> bool:
        return bool(self.config.patch and self.config.patch.supported)


def _lenient_config(data: dict[str, Any]) -> dict[str, Any]:
    """Real targets omit required blocks of ServiceProviderConfig; absent means unsupported."""
    fixed = dict(data)
    for block in ("patch", "bulk", "filter", "changePassword", "sort", "etag"):
        value = fixed.get(block)
        if not isinstance(value, dict):
            fixed[block] = {"supported": False}
        elif "supported" in value:
            fixed[block] = {**value, "supported": _truthy(value["supported"])}
    return fixed


def _truthy(value: Any) -> bool:
    """Booleans as real targets send them: true, "True", "true", 1."""
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


# -- Filters ----------------------------------------------------------------------------------


def quote(value: str) -> str:
    """A SCIM filter string literal: JSON string rules (RFC 7644 §3.4.2.2 uses JSON values)."""
    return json.dumps(value, ensure_ascii=False)


def eq_filter(attribute: str, value: str) -> str:
    """``attribute eq "value"`` with the value quoted and escaped."""
    if not attribute.replace(".", "").replace(":", "").replace("_", "").replace("$", "") \
            .replace("-", "").isalnum():
        raise ValueError(f"not a plain SCIM attribute path: {attribute!r}")
    return f"{attribute} eq {quote(value)}"


# -- Client -----------------------------------------------------------------------------------


class ScimClient:
    """SCIM operations over a caller-provided ``httpx.Client`` (whose base URL is the SCIM root).

    Reads raise :class:`ScimHttpError` on an error status; writes return the :class:`ScimReply`
    so that the caller decides. A broken connection raises :class:`ScimUnavailable`.
    """

    def __init__(self, http: httpx.Client, *, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.http = http
        self.page_size = page_size
        self._discovery: Discovery | None = None

    @property
    def base_url(self) -> str:
        return str(self.http.base_url).rstrip("/")

    def __repr__(self) -> str:
        return f"ScimClient({self.base_url!r})"

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
        try:
            response = self.http.request(method, path, content=content, params=params,
                                         headers=headers)
        except httpx.TransportError as error:
            raise ScimUnavailable(
                f"{method} {path}: {type(error).__name__}: {str(error)[:200]}") from error
        return reply_of(response)

    def _read(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = self.send("GET", path, params=params)
        if not reply.ok or reply.body is None:
            raise ScimHttpError(f"GET {path}: {reply.status} {reply.detail}", status=reply.status)
        return reply.body

    # discovery

    def discover(self) -> Discovery:
        """ServiceProviderConfig, ResourceTypes and Schemas; cached for the client's lifetime."""
        if self._discovery is None:
            from scim2_models import ResourceType, Schema, ServiceProviderConfig

            config = ServiceProviderConfig.model_validate(
                _lenient_config(self._read("/ServiceProviderConfig")))
            resource_types = [ResourceType.model_validate(item)
                              for item in self._optional_list("/ResourceTypes")]
            schemas = [Schema.model_validate(item) for item in self._optional_list("/Schemas")]
            self._discovery = Discovery(config, resource_types, schemas)
        return self._discovery

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

    # reads

    def iter_resources(
        self, endpoint: str, *, page_size: int | None = None, params: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every resource of an endpoint, page by page (1-based ``startIndex``, RFC 7644 §3.4.2.4).

        The server may return fewer than ``count`` (its own cap), and ``totalResults`` may move
        while we read (accounts created or deleted meanwhile). So paging goes on until a short or
        empty page rather than trusting ``totalResults``, and a resource seen twice (the window
        shifted under us) is yielded once. Pages are sorted by ``meta.created`` when the target
        can sort, so that newcomers land at the end; when the last ``totalResults`` still says
        more than we saw, the list is read once more (bounded) to pick up what shifted past us.
        """
        count = page_size or self.page_size
        query = dict(params or {})
        if self._can_sort():
            query.setdefault("sortBy", "meta.created")
        seen: set[str] = set()
        for _ in range(3):
            try:
                total = yield from self._pages(endpoint, count, query, seen)
            except ScimHttpError as error:
                # A target that advertises sorting but not on meta.created: read unsorted.
                if error.status != 400 or "sortBy" not in query or seen:
                    raise
                query.pop("sortBy")
                total = yield from self._pages(endpoint, count, query, seen)
            if total <= len(seen):
                return

    def _pages(self, endpoint: str, count: int, query: dict[str, Any], seen: set[str]
               ) -> Generator[dict[str, Any], None, int]:
        """One pass over the pages; returns the last totalResults."""
        start = 1
        total = 0
        for _ in range(MAX_PAGES):
            body = self._read(endpoint, {**query, "startIndex": start, "count": count})
            page = [item for item in body.get("Resources") or [] if isinstance(item, dict)]
            for resource in page:
                key = str(resource.get("id", ""))
                if key and key in seen:
                    continue
                seen.add(key)
                yield resource
            total = _as_int(body.get("totalResults"), 0)
            if not page:
                return total
            start += len(page)
            if len(page) < count:
                if start > total:
                    return total  # a short page at the end: done
                count = len(page)  # the server caps pages below what we asked: its cap it is
        raise PushError(f"GET {endpoint}: more than {MAX_PAGES} pages; the target keeps paging")

    def _can_sort(self) -> bool:
        try:
            config = self.discover().config
        except PushError:
            return False
        return bool(config.sort and config.sort.supported)

    def users(self, *, page_size: int | None = None) -> list[dict[str, Any]]:
        return list(self.iter_resources(USERS, page_size=page_size))

    def groups(self, *, page_size: int | None = None, exclude_members: bool = False
               ) -> list[dict[str, Any]]:
        """Groups with their members (RFC 7643 §4.2); for the groups feature.

        A group listed without ``members`` (the target leaves them out of lists, or we asked
        it to with ``exclude_members``, as Entra does to keep pages small) is read once more
        on its own, ``GET /Groups/{id}``; a group that has no ``members`` there either has none.
        """
        params = {"excludedAttributes": "members"} if exclude_members else None
        groups = list(self.iter_resources(GROUPS, page_size=page_size, params=params))
        for group in groups:
            if "members" not in group and group.get("id"):
                reply = self.get(str(group["id"]), GROUPS)
                if not reply.ok or reply.body is None:
                    raise ScimHttpError(f"GET {GROUPS}/{group['id']}: {reply.status} "
                                        f"{reply.detail}", status=reply.status)
                group["members"] = reply.body.get("members") or []
        return groups

    def count(self, endpoint: str = USERS) -> int:
        """totalResults of an endpoint, read with ``count=0`` (RFC 7644 §3.4.2.4)."""
        return _as_int(self._read(endpoint, {"count": 0}).get("totalResults"), 0)

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

    def find(self, attribute: str, value: str, endpoint: str = USERS) -> list[dict[str, Any]]:
        """Resources whose ``attribute eq value`` (e.g. userName, externalId)."""
        body = self._read(endpoint, {"filter": eq_filter(attribute, value)})
        return [item for item in body.get("Resources") or [] if isinstance(item, dict)]

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

    def snapshot(self, *, groups: bool = False, page_size: int | None = None) -> Snapshot:
        """Every user (and optionally every group) as the target returned them."""
        users = self.users(page_size=page_size)
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
        users: list[dict[str, Any]] = []
        with console.status(f"reading users from {client.base_url}") as status:
            for number, resource in enumerate(client.iter_resources(USERS), start=1):
                users.append(resource)
                if number % 100 == 0:
                    status.update(f"reading users from {client.base_url}: {number}")
            group_list = client.groups() if groups else None
        console.print(f"snapshot: {len(users)} users from {client.base_url}")
        return Snapshot.of(users, source=client.base_url, groups=group_list)


