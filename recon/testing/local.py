"""Local stand-in targets for the notebooks: scim2-server and the loopback Microsoft Graph.

When a notebook is given no real target, it starts one of these on 127.0.0.1, loads it with
the sample accounts and points the config at it. Tokens are random and kept in environment
variables, so they never appear in a notebook.
"""

from __future__ import annotations

import importlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recon.core.config import Config, EntraTarget, ScimTarget, Target
from recon.core.scim import ENTERPRISE, get_path


@dataclass
class LocalTarget:
    """A local target started for a notebook, and the config that points at it."""

    config: Config
    url: str
    stop: Callable[[], None] = field(repr=False)
    started_at: str = field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))


def journal_for(run_dir: str | Path, local: LocalTarget | None) -> Path:
    """The push journal of a run: ``journal.sqlite`` for a real target (so a second push
    resumes), a journal of its own for each fresh local server (whose accounts are new)."""
    name = "journal.sqlite" if local is None else f"journal-local-{local.started_at}.sqlite"
    return Path(run_dir) / name


def with_scim(config: Config, url: str, token_env: str | None = None) -> Config:
    """The same config against the SCIM service provider at ``url``."""
    old = config.target.scim
    scim = ScimTarget(url=url, token_env=token_env or (old.token_env if old else None),
                      **({"timeout": old.timeout, "page_size": old.page_size} if old else {}))
    target = Target(scim=scim, exclude=config.target.exclude)
    return config.model_copy(update={"target": target})


def start_local_scim(config: Config, resources: list[dict[str, Any]]) -> LocalTarget:
    """Start scim2-server on loopback, seed it with ``resources``, and point the config at it.

    The server gets a random bearer token, put in the environment variable the config names
    (``RECON_SCIM_TOKEN`` when it names none), so the token never appears in the notebook.
    """
    scimserver = importlib.import_module("recon.testing.scimserver")
    token_env = (config.target.scim.token_env if config.target.scim and
                 config.target.scim.token_env else "RECON_SCIM_TOKEN")
    token = secrets.token_urlsafe(24)
    os.environ[token_env] = token
    server = scimserver.start_server(token=token)
    try:
        with server.client() as client:
            scimserver.seed(client, resources)
    except BaseException:
        server.stop()
        raise
    return LocalTarget(with_scim(config, server.url, token_env), server.url, server.stop)


# SCIM User (as in the sample snapshot) → Microsoft Graph user properties, for the demo tenant.
_GRAPH_FROM_SCIM = {
    "id": "id", "userName": "userPrincipalName", "active": "accountEnabled",
    "displayName": "displayName", "name.givenName": "givenName", "name.familyName": "surname",
    "title": "jobTitle", 'emails[type eq "work"].value': "mail", "userType": "employeeType",
    f"{ENTERPRISE}:employeeNumber": "employeeId", f"{ENTERPRISE}:department": "department",
    f"{ENTERPRISE}:manager": "manager", f"{ENTERPRISE}:organization": "companyName",
}


def graph_user(resource: dict[str, Any]) -> dict[str, Any]:
    """A SCIM User dict as the Graph user properties Entra would hold for it.

    The sample accounts carry no lifecycle dates; for the local tenant ``createdDateTime`` and
    ``employeeHireDate`` come from the account's ``meta.created``, and a disabled account's
    ``employeeLeaveDateTime`` from its ``meta.lastModified`` — the dates a tenant that never
    wrote them from HR tends to hold — so notebook 4 has differences with HR to show.
    """
    user: dict[str, Any] = {}
    for path, name in _GRAPH_FROM_SCIM.items():
        value = get_path(resource, path)
        if isinstance(value, dict):
            value = value.get("value")
        if value is None or value == "":
            continue
        if name == "accountEnabled":
            value = str(value).strip().lower() not in {"false", "0", "no"}
        user[name] = value
    meta = resource.get("meta") or {}
    if meta.get("created"):
        user["createdDateTime"] = user["employeeHireDate"] = meta["created"]
    if user.get("accountEnabled") is False and meta.get("lastModified"):
        user["employeeLeaveDateTime"] = meta["lastModified"]
    return user


#: Invited users for the local tenant (the sample snapshot has none): what notebook 4's guest
#: review lists — an invitation never accepted, an old accepted one, a recent one.
LOCAL_GUESTS: tuple[dict[str, Any], ...] = (
    {"userPrincipalName": "pat_fabrikam.com#EXT#@contoso.onmicrosoft.com",
     "displayName": "Pat (Fabrikam)", "externalUserState": "PendingAcceptance",
     "createdDateTime": "2024-02-12T09:30:00Z"},
    {"userPrincipalName": "lee_northwind.com#EXT#@contoso.onmicrosoft.com",
     "displayName": "Lee (Northwind)", "externalUserState": "Accepted",
     "createdDateTime": "2021-06-01T14:00:00Z"},
    {"userPrincipalName": "sam_tailspin.com#EXT#@contoso.onmicrosoft.com",
     "displayName": "Sam (Tailspin)", "externalUserState": "Accepted",
     "createdDateTime": "2026-10-20T08:15:00Z"},
)


def with_entra(config: Config, graph_url: str) -> Config:
    """The same config against the Microsoft Graph at ``graph_url`` (the config's Entra
    credentials kept when it has an ``entra`` target, the default credential otherwise)."""
    old = config.target.entra
    entra = old.model_copy(update={"graph_url": graph_url}) if old else EntraTarget(
        graph_url=graph_url)
    return config.model_copy(update={"target": Target(entra=entra,
                                                       exclude=config.target.exclude)})


def start_local_graph(config: Config, resources: list[dict[str, Any]],
                      token_env: str = "RECON_GRAPH_TOKEN", *, lifetime: float = 8 * 3600
                      ) -> LocalTarget:
    """Start the loopback Microsoft Graph, fill it with ``resources`` as Entra users, and point
    the config at it (bearer token in ``token_env``)."""
    from contextlib import ExitStack

    from recon.testing.graph_server import running_graph

    token = secrets.token_urlsafe(24)
    os.environ[token_env] = token
    stack = ExitStack()
    running = stack.enter_context(running_graph(token, lifetime=lifetime))
    for resource in resources:
        running.state.add_user(**graph_user(resource))
    for guest in LOCAL_GUESTS:
        running.state.add_user(userType="Guest", **guest)
    entra = EntraTarget(credential="token", token_env=token_env, graph_url=running.url)
    target = Target(entra=entra, exclude=config.target.exclude)
    return LocalTarget(config.model_copy(update={"target": target}), running.url, stack.close)
