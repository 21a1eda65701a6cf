"""A fault-injecting HTTP proxy on loopback, in front of a real SCIM server.

It forwards requests to the upstream server and, for a seeded random share of them, misbehaves
the way real targets and networks do:

- ``error``: 500 without forwarding (nothing happened),
- ``error_after``: forward, then answer 502 (it happened, the client cannot know),
- ``throttle``: 429 with ``Retry-After`` (nothing happened),
- ``drop``: close the connection without an answer (nothing happened),
- ``drop_after``: forward, then close without an answer (it happened; the reply is lost),
- ``slow``: wait before forwarding.

The faults are bounded (``max_faults``) so a run always ends, and reproducible (``seed``).
Discovery endpoints are spared by default: a push that cannot discover the target stops before
any write, which is not what these faults are meant to exercise.
"""

from __future__ import annotations

import http.client
import json
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from recon.core.scim import ERROR

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
              "proxy-connection", "te", "trailer", "upgrade"}


class _QuietServer(ThreadingHTTPServer):
    """A client that goes away mid-reply (killed, or timed out) is expected here, not news."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


@dataclass(frozen=True)
class Faults:
    """Probabilities per request (their sum at most 1) and the bounds of the mischief."""

    error: float = 0.0
    error_after: float = 0.0
    throttle: float = 0.0
    drop: float = 0.0
    drop_after: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 0.2
    retry_after: str = "1"
    max_faults: int = 1000
    spare: tuple[str, ...] = ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas")
    only: tuple[str, ...] = ()  # when given, only paths containing one of these misbehave

    def kinds(self) -> list[tuple[str, float]]:
        return [("error", self.error), ("error_after", self.error_after),
                ("throttle", self.throttle), ("drop", self.drop),
                ("drop_after", self.drop_after), ("slow", self.slow)]


@dataclass
class FaultProxy:
    """``with FaultProxy(upstream_url, Faults(error=0.1), seed=1) as proxy: proxy.url``."""

    upstream: str
    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    injected: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._prefix = parts.path.rstrip("/")
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{self._prefix}"

    def choose(self, path: str) -> str | None:
        """The fault for one request, or None (thread-safe, seeded, bounded)."""
        if any(spared in path for spared in self.faults.spare):
            return None
        if self.faults.only and not any(chosen in path for chosen in self.faults.only):
            return None
        with self._lock:
            if sum(self.injected.values()) >= self.faults.max_faults:
                return None
            draw = self._rng.random()
            for kind, share in self.faults.kinds():
                if draw < share:
                    self.injected[kind] += 1
                    return kind
                draw -= share
        return None

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes
                ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=60)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy.choose(self.path)
                if fault in {"drop", "error", "throttle"}:
                    self._misbehave(fault)
                    return
                if fault == "slow":
                    time.sleep(proxy.faults.slow_seconds)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                status, reply_headers, reply = proxy.forward(self.command, self.path, headers,
                                                             body)
                if fault in {"drop_after", "error_after"}:
                    self._misbehave(fault)
                    return
                self.send_response(status)
                for name, value in reply_headers:
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def _misbehave(self, fault: str) -> None:
                if fault.startswith("drop"):
                    self.close_connection = True
                    return
                status = 429 if fault == "throttle" else 500 if fault == "error" else 502
                payload = json.dumps({"schemas": [ERROR], "status": str(status),
                                      "detail": "injected fault"}).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", proxy.faults.retry_after)
                self.send_header("Content-Type", "application/scim+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        server = _QuietServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fault-proxy",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
