"""A quirk-emulating layer in front of a real SCIM server: how providers bend RFC 7644.

Nothing here answers SCIM by itself: every request goes on to scim2-server, and the layer only
bends the request or the answer the way a provider's documentation says it does
(docs/providers.md). Each quirk is a switch of :class:`Quirks`:

- ``past_end_first_page``: a ``startIndex`` past the end is answered with the first page again;
- ``ignore_start_index``: every page is the first page (a server that does not page by index);
- ``echo_items_per_page``: ``itemsPerPage`` echoes the requested ``count``, not the page's size;
- ``no_total_results``: lists carry no ``totalResults`` (AWS in cursor mode);
- ``no_location``: 201 Created without a ``Location`` header (nor ``meta.location``);
- ``case_exact_eq``: ``eq`` filters compare case-sensitively, even on userName;
- ``no_extension_filters``: a filter on an extension attribute (a schema URN) is a 400;
- ``filter_attributes``: only these attributes may be filtered on (others: 400 invalidFilter);
- ``no_bulk``: ServiceProviderConfig says no Bulk, and /Bulk answers 501;
- ``no_etags``: no ETag header, no ``meta.version``, ``If-Match`` is dropped, config says no;
- ``no_patch_filters``: a PATCH path with a filter (``emails[type eq "work"]``) is a 400;
- ``put_only``: PATCH answers 501 and ServiceProviderConfig says no PATCH;
- ``no_discovery``: /ServiceProviderConfig, /ResourceTypes and /Schemas are 404;
- ``page_cap``: pages hold at most this many resources, whatever ``count`` asks;
- ``slow_pages``: each list page waits this many seconds per 100 of its ``startIndex``.

:class:`QuirkApp` is the layer as WSGI middleware over scim2-server's in-process app (unit
tests); :class:`QuirkProxy` serves it on 127.0.0.1 in front of a running server (integration
tests), like recon.testing.faults. ``PROFILE_EMULATIONS`` combines the quirks of each profile.
"""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from recon.core.scim import ERROR, get_path, is_schema
from recon.testing.scimserver import cursor_pagination

#: method, target (path and query), headers, body → status, headers, body
Upstream = Callable[[str, str, dict[str, str], bytes], tuple[int, list[tuple[str, str]], bytes]]
Answer = tuple[int, list[tuple[str, str]], bytes]

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
              "proxy-connection", "te", "trailer", "upgrade"}
DISCOVERY = ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas")


@dataclass(frozen=True)
class Quirks:
    """Which quirks the layer plays (see the module doc); all off is a transparent proxy."""

    past_end_first_page: bool = False
    ignore_start_index: bool = False
    echo_items_per_page: bool = False
    no_total_results: bool = False
    no_location: bool = False
    case_exact_eq: bool = False
    no_extension_filters: bool = False
    filter_attributes: tuple[str, ...] = ()
    no_bulk: bool = False
    no_etags: bool = False
    no_patch_filters: bool = False
    put_only: bool = False
    no_discovery: bool = False
    page_cap: int | None = None
    slow_pages: float = 0.0


@dataclass(frozen=True)
class Emulation:
    """A provider played by scim2-server: its quirks, and changes to its ServiceProviderConfig."""

    quirks: Quirks
    server_config: dict[str, Any] | None = None


#: One case per documented quirk (the integration tests run the whole loop through each).
QUIRKS: dict[str, Quirks] = {
    "past_end_first_page": Quirks(past_end_first_page=True),
    "echo_items_per_page": Quirks(echo_items_per_page=True),
    "no_location": Quirks(no_location=True),
    "case_exact_eq": Quirks(case_exact_eq=True),
    "no_extension_filters": Quirks(no_extension_filters=True),
    "no_bulk": Quirks(no_bulk=True),
    "no_etags": Quirks(no_etags=True),
    "no_patch_filters": Quirks(no_patch_filters=True),
    "put_only": Quirks(put_only=True),
    "no_discovery": Quirks(no_discovery=True),
    "slow_pages": Quirks(slow_pages=0.02),
}

#: Each profile's combination of quirks (recon.targets.scim_profiles, docs/providers.md).
PROFILE_EMULATIONS: dict[str, Emulation] = {
    "generic": Emulation(Quirks()),
    "aws_identity_center": Emulation(
        Quirks(no_bulk=True, no_etags=True, no_total_results=True,
               filter_attributes=("userName", "externalId", "displayName", "id")),
        {"pagination": cursor_pagination(max_page_size=100)}),
    "github_emu": Emulation(Quirks(
        no_discovery=True, no_bulk=True, no_etags=True, no_patch_filters=True,
        filter_attributes=("userName", "externalId", "id", "displayName"))),
    "slack": Emulation(Quirks(no_bulk=True, no_etags=True, page_cap=1000,
                              filter_attributes=("userName",))),
    "atlassian": Emulation(Quirks(no_bulk=True, page_cap=100,
                                  filter_attributes=("userName", "externalId", "displayName"))),
    "zoom": Emulation(Quirks(no_discovery=True, no_bulk=True, no_etags=True, put_only=True,
                             filter_attributes=("userName",))),
}


def _error(status: int, detail: str, scim_type: str | None = None) -> Answer:
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return status, [("Content-Type", "application/scim+json")], json.dumps(body).encode()


def _strip_versions(data: Any) -> None:
    for item in [data, *(data.get("Resources") or [])] if isinstance(data, dict) else []:
        meta = item.get("meta") if isinstance(item, dict) else None
        if isinstance(meta, dict):
            meta.pop("version", None)


@dataclass
class QuirkLayer:
    """The quirks over an upstream; ``played`` counts each quirk that changed an exchange."""

    quirks: Quirks
    played: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def _played(self, name: str) -> None:
        with self._lock:
            self.played[name] += 1

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes,
               upstream: Upstream) -> Answer:
        q = self.quirks
        parts = urlsplit(target)
        path = parts.path.rstrip("/")
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if q.no_etags:
            headers = {k: v for k, v in headers.items()
                       if k.lower() not in {"if-match", "if-none-match"}}
        if any(path.endswith(name) for name in DISCOVERY):
            return self._discovery(method, target, headers, body, upstream, path)
        if path.endswith("/Bulk") and q.no_bulk:
            self._played("no_bulk")
            return _error(501, "Bulk is not supported")
        if method == "PATCH":
            refused = self._patch(json.loads(body or b"{}").get("Operations") or [])
            if refused is not None:
                return refused
        if method == "POST" and path.endswith("/Bulk"):
            operations = json.loads(body or b"{}").get("Operations") or []
            patched = [op for item in operations if isinstance(item, dict)
                       and str(item.get("method", "")).upper() == "PATCH"
                       for op in (item.get("data") or {}).get("Operations") or []]
            refused = self._patch(patched) if patched else None
            if refused is not None:
                return refused  # the whole Bulk request: the quirk holds inside it too
        if method == "GET" and path.rsplit("/", 1)[-1] in {"Users", "Groups"}:
            return self._list(target, params, headers, body, upstream)
        status, reply_headers, reply = upstream(method, target, headers, body)
        if q.no_location and status == 201:
            self._played("no_location")
            reply_headers = [(k, v) for k, v in reply_headers if k.lower() != "location"]
            reply = self._edit(reply, lambda data: (data.get("meta") or {}).pop("location", None))
        if q.no_location and path.endswith("/Bulk") and status == 200:
            reply = self._edit(reply, self._without_locations)
        return self._finish(status, reply_headers, reply)

    def _without_locations(self, data: dict[str, Any]) -> None:
        """A BulkResponse without the location of what it created (nor the resource's id)."""
        for operation in data.get("Operations") or []:
            if isinstance(operation, dict) and operation.pop("location", None):
                self._played("no_location")
                operation.pop("response", None)

    def _discovery(self, method: str, target: str, headers: dict[str, str], body: bytes,
                   upstream: Upstream, path: str) -> Answer:
        q = self.quirks
        if q.no_discovery:
            self._played("no_discovery")
            return _error(404, "Not Found")
        status, reply_headers, reply = upstream(method, target, headers, body)
        if not path.endswith("/ServiceProviderConfig") or status != 200:
            return status, reply_headers, reply

        def edit(data: dict[str, Any]) -> None:
            if q.no_bulk:
                self._played("no_bulk")
                data["bulk"] = {"supported": False, "maxOperations": 0, "maxPayloadSize": 0}
            if q.no_etags:
                self._played("no_etags")
                data["etag"] = {"supported": False}
            if q.put_only:
                self._played("put_only")
                data["patch"] = {"supported": False}
        return status, reply_headers, self._edit(reply, edit)

    def _patch(self, operations: list[Any]) -> Answer | None:
        if self.quirks.put_only:
            self._played("put_only")
            return _error(501, "PATCH is not supported; use PUT")
        if self.quirks.no_patch_filters and any(
                "[" in str(op.get("path") or "") for op in operations if isinstance(op, dict)):
            self._played("no_patch_filters")
            return _error(400, "Complex SCIM path selectors that include filters are not "
                               "supported", "invalidPath")
        return None

    def _list(self, target: str, params: dict[str, str], headers: dict[str, str], body: bytes,
              upstream: Upstream) -> Answer:
        q = self.quirks
        path = urlsplit(target).path
        filter_text = params.get("filter", "")
        attribute = filter_text.split(" ", 1)[0]
        if filter_text and q.no_extension_filters and is_schema(attribute):
            self._played("no_extension_filters")
            return _error(400, f"filtering on {attribute} is not supported", "invalidFilter")
        if filter_text and q.filter_attributes and attribute.lower() not in {
                name.lower() for name in q.filter_attributes}:
            self._played("filter_attributes")
            return _error(400, f"filtering on {attribute} is not supported", "invalidFilter")
        asked = dict(params)
        if q.page_cap and int(params.get("count") or 0) > q.page_cap:
            self._played("page_cap")
            params = {**params, "count": str(q.page_cap)}
        if q.ignore_start_index and "startIndex" in params:
            self._played("ignore_start_index")
            params = {**params, "startIndex": "1"}
        start = int(params.get("startIndex") or 1)
        if q.slow_pages and start > 1:
            self._played("slow_pages")
            time.sleep(q.slow_pages * start / 100)
        status, reply_headers, reply = upstream("GET", f"{path}?{urlencode(params)}", headers,
                                                body)
        if status != 200:
            return self._finish(status, reply_headers, reply)
        data = json.loads(reply)
        if q.past_end_first_page and not data.get("Resources") and start > 1 \
                and int(data.get("totalResults") or 0) > 0:
            self._played("past_end_first_page")
            _, _, first = upstream("GET", f"{path}?{urlencode({**params, 'startIndex': '1'})}",
                                   headers, body)
            data = json.loads(first)
        if q.case_exact_eq and " eq " in filter_text:
            wanted = json.loads(filter_text.split(" eq ", 1)[1])
            kept = [r for r in data.get("Resources") or [] if get_path(r, attribute) == wanted]
            if len(kept) != len(data.get("Resources") or []):
                self._played("case_exact_eq")
            data["Resources"] = kept
            data["totalResults"] = len(kept)
        if q.echo_items_per_page and "count" in asked:
            self._played("echo_items_per_page")
            data["itemsPerPage"] = int(asked["count"])
        if q.no_total_results:
            data.pop("totalResults", None)
            data.pop("startIndex", None)
        return self._finish(status, reply_headers, json.dumps(data).encode())

    def _edit(self, reply: bytes, edit: Callable[[dict[str, Any]], Any]) -> bytes:
        try:
            data = json.loads(reply)
        except ValueError:
            return reply
        if isinstance(data, dict):
            edit(data)
        return json.dumps(data).encode()

    def _finish(self, status: int, headers: list[tuple[str, str]], reply: bytes) -> Answer:
        if self.quirks.no_etags:
            if any(k.lower() == "etag" for k, _ in headers) or b'"version"' in reply:
                self._played("no_etags")
            headers = [(k, v) for k, v in headers if k.lower() != "etag"]
            reply = self._edit(reply, _strip_versions) if reply else reply
        return status, headers, reply


# -- WSGI: the layer in-process, or served on loopback -----------------------------------------


def _headers_of(environ: dict[str, Any]) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").title(): str(value)
               for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = str(environ["CONTENT_TYPE"])
    return headers


def wsgi_upstream(app: Any, base: dict[str, Any]) -> Upstream:
    """Send an exchange to a WSGI app (scim2-server in-process)."""
    def send(method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        parts = urlsplit(target)
        environ = {k: v for k, v in base.items() if not k.startswith("HTTP_")
                   and k not in {"CONTENT_TYPE", "CONTENT_LENGTH"}}
        environ.update({"REQUEST_METHOD": method, "PATH_INFO": unquote(parts.path),
                        "QUERY_STRING": parts.query, "wsgi.input": io.BytesIO(body),
                        "CONTENT_LENGTH": str(len(body))})
        for name, value in headers.items():
            if name.lower() == "content-type":
                environ["CONTENT_TYPE"] = value
            elif name.lower() not in HOP_BY_HOP:
                environ["HTTP_" + name.upper().replace("-", "_")] = value
        captured: dict[str, Any] = {}

        def start_response(status: str, reply_headers: list[tuple[str, str]], *_: Any) -> None:
            captured["status"], captured["headers"] = status, reply_headers
        reply = b"".join(app(environ, start_response))
        return int(str(captured["status"]).split()[0]), list(captured["headers"]), reply
    return send


def http_upstream(url: str) -> Upstream:
    """Send an exchange to a server on loopback (one connection per request, like HTTP/1.0)."""
    parts = urlsplit(url)

    def send(method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80,
                                                timeout=60)
        try:
            connection.request(method, target, body=body or None,
                               headers={k: v for k, v in headers.items()
                                        if k.lower() not in HOP_BY_HOP})
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()
    return send


class QuirkApp:
    """WSGI middleware: ``QuirkApp(inprocess_app(), Quirks(...))`` (or over an upstream URL)."""

    def __init__(self, upstream: Any, quirks: Quirks) -> None:
        self.layer = QuirkLayer(quirks)
        self._upstream = upstream

    @property
    def played(self) -> Counter[str]:
        return self.layer.played

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        query = environ.get("QUERY_STRING") or ""
        target = quote(environ.get("PATH_INFO") or "/") + (f"?{query}" if query else "")
        upstream = (http_upstream(self._upstream) if isinstance(self._upstream, str)
                    else wsgi_upstream(self._upstream, environ))
        status, headers, reply = self.layer.handle(environ["REQUEST_METHOD"], target,
                                                   _headers_of(environ), body, upstream)
        headers = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        headers.append(("Content-Length", str(len(reply))))
        start_response(f"{status} {http.client.responses.get(status, '')}", headers)
        return [reply]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass
class QuirkProxy:
    """``with QuirkProxy(server.url, Quirks(no_bulk=True)) as proxy: proxy.url``."""

    upstream: str
    quirks: Quirks = field(default_factory=Quirks)

    def __post_init__(self) -> None:
        self.app = QuirkApp(self.upstream, self.quirks)
        self._prefix = urlsplit(self.upstream).path.rstrip("/")
        self._server: _ThreadingServer | None = None

    @property
    def played(self) -> Counter[str]:
        return self.app.played

    @property
    def url(self) -> str:
        assert self._server is not None, "start the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{self._prefix}"

    def start(self) -> QuirkProxy:
        server = make_server("127.0.0.1", 0, self.app, server_class=_ThreadingServer,
                             handler_class=_QuietHandler)
        assert isinstance(server, _ThreadingServer)
        self._server = server
        threading.Thread(target=server.serve_forever, name="quirk-proxy",
                         kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> QuirkProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
