"""Credentials for Microsoft Graph through azure-identity, from the config's ``target.entra``.

Secrets never come from the config file: it names environment variables
(``client_secret_env``, ``token_env``) and recon reads them at the moment it needs a token.
Nothing here logs or stores a secret; error messages name the variable, never its value.

``graph_url`` must be https, except on loopback, where the tests' Graph server speaks plain
http (the Kiota token provider applies the same rule). Its host also names the cloud, and so the
sign-in authority every azure-identity credential is given (learn.microsoft.com/graph/deployments):
a token from the public cloud is refused by graph.microsoft.us and the other way round.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from recon.core.config import EntraTarget
from recon.errors import ConfigError

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

#: Graph host → the Microsoft Entra authority that issues its tokens (the values of
#: azure.identity.AzureAuthorityHosts), per national cloud (learn.microsoft.com/graph/deployments).
AUTHORITIES = {
    "graph.microsoft.com": "login.microsoftonline.com",  # global service (and US GCC)
    "graph.microsoft.us": "login.microsoftonline.us",  # US Government L4 (GCC High)
    "dod-graph.microsoft.us": "login.microsoftonline.us",  # US Government L5 (DoD)
    "microsoftgraph.chinacloudapi.cn": "login.chinacloudapi.cn",  # China, operated by 21Vianet
}


@dataclass(frozen=True)
class GraphEndpoint:
    """A validated ``graph_url``: base URL without a trailing slash, host, token scope, and the
    sign-in authority of its cloud."""

    base_url: str
    host: str
    scope: str
    authority: str


def graph_endpoint(target: EntraTarget) -> GraphEndpoint:
    url = target.graph_url.strip().rstrip("/")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("https", "http"):
        raise ConfigError(f"target.entra.graph_url: {url!r} is not an http(s) URL")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ConfigError(f"target.entra.graph_url: plain http is accepted only for loopback, "
                          f"not {host!r}; use https")
    if parts.username or parts.password:
        raise ConfigError("target.entra.graph_url: credentials do not belong in the URL")
    authority = AUTHORITIES.get(host)
    if authority is None and host in LOOPBACK_HOSTS:
        authority = AUTHORITIES["graph.microsoft.com"]  # the loopback test Graph takes any token
    if authority is None:
        raise ConfigError(f"target.entra.graph_url: {host!r} is not a Microsoft Graph host; "
                          f"use one of {', '.join(AUTHORITIES)} (national clouds: "
                          "learn.microsoft.com/graph/deployments)")
    # Graph's token audience is the host (ports are never part of a .default scope).
    return GraphEndpoint(url, host, f"https://{host}/.default", authority)


def _env(name: str | None, option: str) -> str:
    if not name:
        raise ConfigError(f"target.entra.{option} is required for this credential kind")
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} (target.entra.{option}) is not set")
    return value


def _need(target: EntraTarget, *names: str) -> list[str]:
    """The named options' values, or ConfigError naming the missing ones."""
    values = [getattr(target, n) for n in names]
    missing = [n for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise ConfigError(f"target.entra: credential {target.credential!r} needs "
                          + ", ".join(missing))
    return [str(v) for v in values]


class EnvTokenCredential:
    """A TokenCredential over a bearer token in an environment variable.

    For tokens obtained elsewhere (``az account get-access-token``) and for the loopback
    tests. The variable is read on every request, so a refreshed token is picked up; its expiry
    is not known, so Graph's 401 is the signal to refresh it.
    """

    def __init__(self, variable: str) -> None:
        self.variable = variable
        _env(variable, "token_env")  # fail early, with the variable's name

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(_env(self.variable, "token_env"), int(time.time()) + 300)

    def close(self) -> None:
        """Nothing to release (the TokenCredential protocol asks for it)."""

    def __repr__(self) -> str:
        return f"EnvTokenCredential({self.variable!r})"  # the name, never the token


def graph_credential(target: EntraTarget) -> Any:
    """The azure-identity credential for ``target.credential`` (imported lazily: it is slow).

    Every credential that signs in gets the authority of ``graph_url``'s cloud. A managed
    identity takes no authority: its token comes from the cloud the workload runs in.
    """
    kind = target.credential
    if kind == "token":
        return EnvTokenCredential(target.token_env or "")
    import azure.identity as identity

    authority = graph_endpoint(target).authority
    if kind == "client_secret":
        tenant_id, client_id = _need(target, "tenant_id", "client_id")
        return identity.ClientSecretCredential(
            tenant_id, client_id, _env(target.client_secret_env, "client_secret_env"),
            authority=authority)
    if kind == "certificate":
        tenant_id, client_id, certificate = _need(target, "tenant_id", "client_id",
                                                  "certificate_path")
        # A password-protected certificate takes its password from client_secret_env.
        password = os.environ.get(target.client_secret_env) if target.client_secret_env else None
        return identity.CertificateCredential(tenant_id, client_id, certificate_path=certificate,
                                              password=password, authority=authority)
    if kind == "managed_identity":
        # A client id selects a user-assigned identity; without it, the system-assigned one.
        return identity.ManagedIdentityCredential(client_id=target.client_id)
    if kind == "device_code":
        (client_id,) = _need(target, "client_id")
        return identity.DeviceCodeCredential(client_id=client_id, tenant_id=target.tenant_id,
                                             authority=authority)
    if kind == "interactive":
        return identity.InteractiveBrowserCredential(
            authority=authority, **{k: v for k, v in (("tenant_id", target.tenant_id),
                                                      ("client_id", target.client_id)) if v})
    return identity.DefaultAzureCredential(
        authority=authority,
        **({"managed_identity_client_id": target.client_id} if target.client_id else {}))


def bearer_token(credential: Any, endpoint: GraphEndpoint) -> str:
    """A current access token for raw requests (azure-identity caches and refreshes it)."""
    return str(credential.get_token(endpoint.scope).token)
