"""Repeated snapshots through ``GET /users/delta``: the first read is full, later ones only
fetch what changed (learn.microsoft.com/graph/api/user-delta, …/graph/delta-query-overview).

A round of delta calls follows ``@odata.nextLink`` until an ``@odata.deltaLink``; the next
round starts from that link and returns only users changed since (with every selected
property), and removed ones as ``{"id", "@removed": {"reason": "changed" | "deleted"}}``.
``manager`` is tracked by selecting it: changes arrive as ``manager@delta``. ``$expand`` is not
supported, so the manager's employeeId is looked up among the users held.

The link and the users it describes are kept in the run folder (``entra-delta.json``): the
users as Graph sent them, the deltaLink, the graph_url and the ``$select`` they belong to. A
different graph_url or ``$select`` (the app's mappings changed), an expired token (Graph keeps
directory delta tokens for 7 days; 410 Gone or ``syncStateNotFound``) or a missing file starts
a full round again. The file holds directory data (names, UPNs), like the run's other files;
the deltaLink is a state token, not a credential.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recon.core.config import EntraTarget
from recon.core.snapshot import Snapshot
from recon.targets.entra.credentials import graph_endpoint
from recon.targets.entra.graph import (
    graph_errors,
    open_session,
    page_of,
    progress_bar,
    read_table,
    run_sync,
)
from recon.targets.entra.mapping import graph_select, scim_user

DELTA_STATE = "entra-delta.json"
MAX_DELTA_PAGES = 100_000
_RESYNC = {"syncStateNotFound", "resyncRequired", "SyncStateInvalid"}


def _load(path: Path, graph_url: str, select: list[str]) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (not isinstance(state, dict) or state.get("graph_url") != graph_url
            or state.get("select") != select or not state.get("deltaLink")):
        return None
    return state


def _manager_of(item: dict[str, Any]) -> Any:
    """The manager id a delta item names; ... when the item says nothing about the manager."""
    if "manager@delta" not in item:
        return ...
    alive = [m for m in item["manager@delta"] or [] if "@removed" not in m and m.get("id")]
    return alive[-1]["id"] if alive else None


def apply_changes(users: dict[str, dict[str, Any]], items: list[dict[str, Any]]) -> None:
    """Merge one round of delta items into the users held (by object id)."""
    for item in items:
        user_id = str(item.get("id") or "")
        if not user_id:
            continue
        if "@removed" in item:
            users.pop(user_id, None)
            continue
        merged = {**users.get(user_id, {}),
                  **{k: v for k, v in item.items() if k != "manager@delta"}}
        manager = _manager_of(item)
        if manager is not ...:
            merged["manager"] = manager
        users[user_id] = merged


async def _round(session: Any, start: Any, on_page: Any, config: Any = None
                 ) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    page = await page_of(session, start, config)
    for _ in range(MAX_DELTA_PAGES):
        values = page.get("value") or []
        items.extend(values)
        on_page(len(values))
        if page.get("@odata.deltaLink"):
            return items, str(page["@odata.deltaLink"])
        link = page.get("@odata.nextLink")
        if not link:
            break
        page = await page_of(session, session.client.users.delta.with_url(link))
    return items, ""


def snapshot_delta(target: EntraTarget, folder: str | Path, *, progress: bool = True,
                   credential: Any | None = None) -> Snapshot:
    """All Entra users as SCIM-shaped resources, read through users/delta and kept up to date
    in ``folder`` (a run folder) between calls."""
    from kiota_abstractions.api_error import APIError
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder

    endpoint = graph_endpoint(target)
    table = read_table(target)
    select = [*graph_select(table), "manager"]
    path = Path(folder) / DELTA_STATE
    held = _load(path, endpoint.base_url, select)

    async def read(state: dict[str, Any] | None) -> tuple[list[dict[str, Any]], str]:
        session = open_session(target, credential)
        try:
            with progress_bar(progress, "Reading Entra changes") as bar:
                task = bar.add_task("users", total=None, pages=0)

                def on_page(count: int) -> None:
                    bar.update(task, advance=count, pages=bar.tasks[0].fields["pages"] + 1)

                with graph_errors(endpoint):
                    if state is not None:
                        start = session.client.users.delta.with_url(state["deltaLink"])
                        return await _round(session, start, on_page)
                    query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
                        select=select)
                    return await _round(session, session.client.users.delta, on_page,
                                        RequestConfiguration(query_parameters=query))
        finally:
            await session.http.aclose()

    users: dict[str, dict[str, Any]] = dict(held["users"]) if held else {}
    try:
        items, link = run_sync(lambda: read(held))
    except Exception as error:  # an expired token: start over (delta-query-overview)
        cause = error.__cause__
        code = getattr(getattr(cause, "error", None), "code", "")
        if held is None or not isinstance(cause, APIError) or (
                cause.response_status_code != 410 and code not in _RESYNC):
            raise
        users, held = {}, None
        items, link = run_sync(lambda: read(None))
    apply_changes(users, items)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "graph_url": endpoint.base_url, "select": select, "deltaLink": link,
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"), "users": users},
        ensure_ascii=False), encoding="utf-8")
    resources = []
    for user in users.values():
        manager = users.get(str(user.get("manager") or ""))
        wire = {**user, "manager": None if not user.get("manager") else {
            "id": user["manager"], "employeeId": (manager or {}).get("employeeId")}}
        resources.append(scim_user(wire, endpoint.base_url, table))
    return Snapshot.of(resources, source=f"entra:{endpoint.base_url}/users/delta")
