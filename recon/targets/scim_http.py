"""SCIM on the wire: connection safety, replies, read patience, filter literals, read errors.

What recon.targets.scim's client builds on. The bearer token lives only in the auth object of
the ``httpx.Client`` (:class:`BearerToken`): never printed, logged, stored or put in an error.
TLS is always verified; plain http is accepted only to loopback (:func:`check_url`).
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from recon.errors import ConfigError, PushError

SCIM_JSON = "application/scim+json"


class ScimHttpError(PushError):
    """The target answered a read with an error status (the message carries its SCIM detail)."""

    def __init__(self, message: str, *, status: int, scim_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.scim_type = scim_type


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

# -- Replies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScimReply:
    """What the target answered: status, parsed body (if JSON), version and resource id."""

    status: int
    body: dict[str, Any] | None
    etag: str | None
    resource_id: str | None
    retry_after: float | None = None
    rate_limited: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def throttled(self) -> bool:
        """429, or a 403 that carries rate-limit headers (GitHub's secondary limits)."""
        return self.status == 429 or (self.status == 403 and self.rate_limited)

    @property
    def detail(self) -> str:
        """The SCIM error detail (RFC 7644 §3.12), or the HTTP reason, on one line."""
        if self.body:
            text = self.body.get("detail") or self.body.get("scimType") or ""
            if text:
                return " ".join(str(text).split())[:300]
        return httpx.codes.get_reason_phrase(self.status) or f"HTTP {self.status}"

    @property
    def scim_type(self) -> str | None:
        value = (self.body or {}).get("scimType")
        return str(value) if value else None


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from Retry-After (delta-seconds; an HTTP date counts as 1 s) or X-RateLimit-Reset."""
    value = headers.get("Retry-After")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            return 1.0
    reset = headers.get("X-RateLimit-Reset")
    if reset is not None and headers.get("X-RateLimit-Remaining") == "0":
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            return None
    return None


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
    headers = response.headers
    return ScimReply(
        status=response.status_code,
        body=body,
        etag=str(etag) if etag else None,
        resource_id=str(resource_id) if resource_id else None,
        retry_after=_retry_after(headers),
        rate_limited="Retry-After" in headers or headers.get("X-RateLimit-Remaining") == "0",
    )


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


# -- Patience ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadRetry:
    """Reads retry 429/5xx/broken connections with capped back-off; a longer asked wait fails."""

    max_tries: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 60.0

    def delay(self, tries: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return float(min(retry_after, self.max_retry_after))
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, tries - 1))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))


class Pacer:
    """At most ``rate`` requests per second across threads (a provider's published limit)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)
