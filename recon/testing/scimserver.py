"""A real SCIM target for tests, the demo and notebooks: scim2-server, in-process or on loopback.

``inprocess_app()`` is the server's WSGI application over a fresh in-memory storage (for fast
tests through ``httpx.WSGITransport``); ``start_server()`` runs the real ``scim2-server`` command
on a free 127.0.0.1 port and stops it when done (and when this process dies: the child gets
SIGTERM from the kernel through PR_SET_PDEATHSIG on Linux).

Both take ``config``: changes to the server's ServiceProviderConfig, e.g.
``{"pagination": cursor_pagination()}`` to serve RFC 9865 cursor paging only, as AWS IAM
Identity Center does (scim2-server implements the cursors itself).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from recon.core.scim import CORE_GROUP, CORE_USER, ENTERPRISE, PATCH_OP
from recon.errors import PushError
from recon.targets.scim import ScimClient
from recon.targets.scim_profiles import GENERIC, Profile

STARTUP_TIMEOUT = 20.0


def cursor_pagination(*, max_page_size: int = 100, index: bool = False) -> dict[str, Any]:
    """RFC 9865 §4 ``pagination``: cursors (and, with ``index``, startIndex too)."""
    return {"cursor": True, "index": index, "defaultPaginationMethod": "cursor",
            "defaultPageSize": max_page_size, "maxPageSize": max_page_size,
            "cursorTimeout": 3600}


def service_provider_config(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """scim2-server's default ServiceProviderConfig (JSON) with ``changes`` merged in."""
    from scim2_server.utils import load_default_service_provider_config

    config: dict[str, Any] = load_default_service_provider_config().model_dump(mode="json")
    return {**config, **(changes or {})}


def inprocess_app(*, token: str | None = None, config: dict[str, Any] | None = None) -> Any:
    """scim2-server's WSGI app over a fresh InMemoryStorage (as the ``scim2-server`` command)."""
    from scim2_models import ScimProvider, ServiceProviderConfig
    from scim2_server.memory import InMemoryStorage
    from scim2_server.service import ScimService
    from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
    from scim2_server.utils import (
        load_default_provider,
        load_default_resource_types,
        load_default_schemas,
    )

    provider = load_default_provider()
    if config:
        provider = ScimProvider.from_discovery(
            load_default_schemas().values(), load_default_resource_types().values(),
            config=ServiceProviderConfig.model_validate(service_provider_config(config)))
    if token:
        announced = provider.config
        assert announced is not None
        announced.authentication_schemes = [*(announced.authentication_schemes or []),
                                            BEARER_TOKEN_SCHEME]
    service = ScimService(provider, secret="recon-tests")
    return BearerTokenApplication(InMemoryStorage(), provider, service=service,
                                  bearer_tokens=[token] if token else [])


def inprocess_client(app: Any = None, *, page_size: int = 200,
                     profile: Profile | None = None) -> ScimClient:
    """A ScimClient talking to an in-process scim2-server (a fresh one unless ``app`` is given)."""
    http = httpx.Client(transport=httpx.WSGITransport(app=app or inprocess_app()),
                        base_url="http://127.0.0.1/v2")
    return ScimClient(http, page_size=page_size, profile=profile or GENERIC)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGTERM the server when the process that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _command() -> list[str]:
    script = Path(sys.executable).with_name("scim2-server")
    if script.exists():
        return [str(script)]
    found = shutil.which("scim2-server")
    return [found] if found else [sys.executable, "-m", "scim2_server.testserver.cli"]


@dataclass
class RunningServer:
    """A ``scim2-server`` subprocess on 127.0.0.1; a context manager that stops it."""

    process: subprocess.Popen[bytes]
    port: int
    host: str = "127.0.0.1"
    token: str | None = field(default=None, repr=False)
    config_file: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v2"

    def client(self, *, page_size: int = 200, timeout: float = 30.0) -> ScimClient:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        return ScimClient(http, page_size=page_size)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.config_file is not None:
            self.config_file.unlink(missing_ok=True)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_server(port: int = 0, token: str | None = None, *, host: str = "127.0.0.1",
                 config: dict[str, Any] | None = None, users: Path | None = None,
                 startup_timeout: float = STARTUP_TIMEOUT) -> RunningServer:
    """Start ``scim2-server --hostname 127.0.0.1 --port N`` and wait until it answers.

    ``users`` (a JSON-lines file of SCIM users, ids and all) seeds it before it listens: the
    same scim2-server application and WSGI server as its command, with its in-memory storage
    filled directly (``serve_preloaded``) — 100,000 users in seconds, where creating them over
    HTTP (``seed``) takes minutes. Give such a start a longer ``startup_timeout``."""
    attempts = 1 if port else 3  # a free port can be taken by another process before use
    for attempt in range(1, attempts + 1):
        try:
            return _start_once(port or free_port(), token, host=host, config=config,
                               users=users, startup_timeout=startup_timeout)
        except _ExitedAtStart as exited:
            if attempt == attempts:
                raise PushError(str(exited)) from None
    raise AssertionError("unreachable")


class _ExitedAtStart(Exception):
    """The server process ended before it answered (most often: its port was taken)."""


def _start_once(chosen: int, token: str | None, *, host: str, config: dict[str, Any] | None,
                users: Path | None, startup_timeout: float) -> RunningServer:
    command = [*_command(), "--hostname", host, "--port", str(chosen)]
    if users is not None:
        command = [sys.executable, "-m", "recon.testing.scimserver", "--hostname", host,
                   "--port", str(chosen), "--users", str(users)]
    if token:
        command += ["--bearer-token", token]
    config_file: Path | None = None
    if config:
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="scim2-spc-",
                                         delete=False) as written:
            json.dump(service_provider_config(config), written)
        config_file = Path(written.name)
        command += ["--service-provider-config", str(config_file)]
    # The server's own file handle keeps what it writes; ours reads its complaint at start.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=errors,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        server = RunningServer(process, chosen, host, token, config_file)
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                errors.seek(0)
                said = [line for line in errors.read().decode(errors="replace").splitlines()
                        if line.strip()]
                server.stop()
                raise _ExitedAtStart(f"scim2-server exited at start (code {process.returncode}"
                                     f"{': ' + said[-1].strip() if said else ''}); is port "
                                     f"{chosen} free?")
            try:
                response = httpx.get(f"{server.url}/ServiceProviderConfig", timeout=1.0)
                if response.status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    server.stop()
    raise PushError(f"scim2-server did not answer on {server.url} within {startup_timeout:.0f} s")


def user(user_name: str, *, external_id: str | None = None, given: str | None = None,
         family: str | None = None, title: str | None = None, email: str | None = None,
         employee_number: str | None = None, department: str | None = None,
         active: bool | None = None) -> dict[str, Any]:
    """A SCIM User resource (core + enterprise), for seeding."""
    resource: dict[str, Any] = {"schemas": [CORE_USER], "userName": user_name}
    if external_id is not None:
        resource["externalId"] = external_id
    name = {k: v for k, v in (("givenName", given), ("familyName", family)) if v is not None}
    if name:
        resource["name"] = name
    if title is not None:
        resource["title"] = title
    if email is not None:
        resource["emails"] = [{"type": "work", "value": email, "primary": True}]
    if active is not None:
        resource["active"] = active
    enterprise = {k: v for k, v in (("employeeNumber", employee_number),
                                     ("department", department)) if v is not None}
    if enterprise:
        resource["schemas"] = [CORE_USER, ENTERPRISE]
        resource[ENTERPRISE] = enterprise
    return resource


def _writable(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource to POST: server-owned attributes (id, meta) dropped, schemas completed."""
    body = {k: v for k, v in resource.items() if k not in {"id", "meta"}}
    schemas = list(body.get("schemas") or [CORE_USER])
    if ENTERPRISE in body and ENTERPRISE not in schemas:
        schemas.append(ENTERPRISE)
    body["schemas"] = schemas
    return body


def seed(target: str | ScimClient, resources: Iterable[dict[str, Any]], *, chunk: int = 500
         ) -> dict[str, str]:
    """Create users (via Bulk when advertised, else POSTs), keeping externalIds and attributes.

    Returns ``{given id or userName: new id}`` so that a snapshot's ids can be mapped to the
    server's (scim2-server assigns its own ids). Managers that point at seeded ids are rewired.
    """
    client = target if isinstance(target, ScimClient) else ScimClient(
        httpx.Client(base_url=target.rstrip("/"), timeout=60.0))
    items = list(resources)
    ids: dict[str, str] = {}
    bulk = client.discover().bulk
    for start in range(0, len(items), chunk):
        part = items[start:start + chunk]
        if bulk:
            operations = [{"method": "POST", "path": "/Users", "bulkId": f"s{start + i}",
                           "data": _writable(_without_manager(item))}
                          for i, item in enumerate(part)]
            reply = client.bulk(operations)
            answers = {str(a.get("bulkId")): a for a in (reply.body or {}).get("Operations", [])}
            for i, item in enumerate(part):
                answer = answers.get(f"s{start + i}") or {}
                if not str(answer.get("status", "")).startswith("2"):
                    raise PushError(f"seed: creating {item.get('userName')!r} failed: "
                                    f"{answer.get('status')}")
                ids[_key(item)] = str(answer["location"]).rstrip("/").rsplit("/", 1)[-1]
        else:
            for item in part:
                created = client.create(_writable(_without_manager(item)))
                if not created.ok or not created.resource_id:
                    raise PushError(f"seed: creating {item.get('userName')!r} failed: "
                                    f"{created.status} {created.detail}")
                ids[_key(item)] = created.resource_id
    _wire_managers(client, items, ids)
    return ids


def seed_groups(client: ScimClient, groups: Iterable[dict[str, Any]], ids: dict[str, str]
                ) -> dict[str, str]:
    """Create groups with their members, member ids mapped through ``seed``'s ``ids``.

    Members that point at no seeded user are dropped (a live target keeps no dangling member
    here). Returns ``{given group id: new id}``.
    """
    created: dict[str, str] = {}
    for group in groups:
        members = [{"value": ids[str(m.get("value"))]} for m in group.get("members") or []
                   if str(m.get("value")) in ids]
        body = {"schemas": list(group.get("schemas") or [CORE_GROUP]),
                "displayName": group.get("displayName"), "members": members}
        reply = client.create(body, "/Groups")
        if not reply.ok or not reply.resource_id:
            raise PushError(f"seed: creating group {group.get('displayName')!r} failed: "
                            f"{reply.status} {reply.detail}")
        created[str(group.get("id") or group.get("displayName"))] = reply.resource_id
    return created


def _key(item: dict[str, Any]) -> str:
    return str(item.get("id") or item.get("userName"))


def _without_manager(item: dict[str, Any]) -> dict[str, Any]:
    enterprise = item.get(ENTERPRISE)
    if not isinstance(enterprise, dict) or "manager" not in enterprise:
        return item
    return {**item, ENTERPRISE: {k: v for k, v in enterprise.items() if k != "manager"}}


def _wire_managers(client: ScimClient, items: list[dict[str, Any]], ids: dict[str, str],
                   *, chunk: int = 500) -> None:
    """Second pass: managers given as seeded ids now point at the server's ids (Bulk if offered)."""
    def manager_of(item: dict[str, Any]) -> Any:
        return (((item.get(ENTERPRISE) or {}).get("manager") or {}).get("value"))
    patches = [(f"/Users/{ids[_key(item)]}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": f"{ENTERPRISE}:manager",
         "value": {"value": ids.get(str(manager_of(item)), str(manager_of(item)))}}]})
        for item in items if manager_of(item)]
    if not client.discover().bulk:
        for path, patch in patches:
            client.patch(path, patch)
        return
    for start in range(0, len(patches), chunk):
        reply = client.bulk([{"method": "PATCH", "path": path, "bulkId": f"m{start + i}",
                              "data": patch}
                             for i, (path, patch) in enumerate(patches[start:start + chunk])])
        if not reply.ok:
            raise PushError(f"seed: wiring managers failed: {reply.status} {reply.detail}")


def preloaded_app(users: Path, *, token: str | None = None,
                  config: dict[str, Any] | None = None) -> Any:
    """scim2-server's application with its storage already holding the users of a JSON-lines
    file (each validated by the server's own User model; ids and ``meta.version`` kept)."""
    import orjson
    from scim2_models import Meta

    app = inprocess_app(token=token, config=config)
    resource_type = app.service.get_resource_type_by_endpoint("/Users")
    model = app.service.get_model(resource_type)
    resources = []
    with users.open("rb") as lines:
        for line in lines:
            if not line.strip():
                continue
            resource = model.model_validate(orjson.loads(line))
            meta = resource.meta or Meta()
            meta.resource_type = "User"
            resource.meta = meta
            resources.append(resource)
    app.storage.resources = resources
    return app


def serve_preloaded(argv: list[str] | None = None) -> None:  # pragma: no cover - a server
    """``python -m recon.testing.scimserver --port N --users FILE``: scim2-server, seeded."""
    import argparse
    from wsgiref.simple_server import make_server

    from scim2_server.testserver.cli import ThreadingWSGIServer

    parser = argparse.ArgumentParser(description=serve_preloaded.__doc__)
    parser.add_argument("--hostname", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", type=Path, required=True)
    parser.add_argument("--bearer-token")
    parser.add_argument("--service-provider-config", type=Path)
    args = parser.parse_args(argv)
    config = (json.loads(args.service_provider_config.read_text(encoding="utf-8"))
              if args.service_provider_config else None)
    app = preloaded_app(args.users, token=args.bearer_token, config=config)
    with make_server(args.hostname, args.port, app, server_class=ThreadingWSGIServer) as server:
        server.serve_forever()


if __name__ == "__main__":  # pragma: no cover
    serve_preloaded()
