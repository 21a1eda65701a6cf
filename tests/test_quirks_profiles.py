"""Provider profiles, and the push shaping each approved op's request for them at send time.

The plan is provider-neutral (RFC 7644 PatchOps with filtered paths). A profile's PATCH style
changes only the request the push sends: a value object without a path (GitHub), or the whole
resource by PUT (Zoom). scim2-server in-process is the target; recon.testing.quirks bends it.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import time
import typing
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from recon.core.config import ScimTarget
from recon.core.scim import CORE_GROUP, CORE_USER, ENTERPRISE, PATCH_OP
from recon.targets.scim import ScimClient, connect
from recon.targets.scim_profiles import GENERIC, PROFILES, Profile, profile_for
from recon.targets.scim_requests import apply_patch, shape
from recon.testing import QuirkApp, Quirks, inprocess_app, inprocess_client, seed, user
from recon.workflows.push import push
from recon.workflows.push_scim import RetryPolicy
from tests.plans import approve_all, op_row, patch_op, plan_of
from tests.test_push import assert_converged, cycle_ops, the_team

WORK_EMAIL = 'emails[type eq "work"].value'
FAST = RetryPolicy(max_tries=3, base_delay=0.01, max_delay=0.02)
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def client_over(app: WSGIApp, profile: Profile = GENERIC) -> ScimClient:
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://127.0.0.1/v2")
    return ScimClient(http, profile=profile)


# -- the profiles as data --------------------------------------------------------------------


def test_the_config_names_every_profile() -> None:
    """target.scim.profile accepts exactly the profiles recon.targets.scim_profiles defines."""
    names = typing.get_args(ScimTarget.model_fields["profile"].annotation)
    assert set(names) == set(PROFILES)
    assert {"aws_identity_center", "github_emu", "slack", "atlassian", "zoom"} < set(names)


@pytest.mark.parametrize("name", sorted(set(PROFILES) - {"generic"}))
def test_each_profile_cites_the_providers_own_docs(name: str) -> None:
    profile = PROFILES[name]
    assert profile.docs and all(url.startswith("https://") for url in profile.docs)
    assert profile.url_pattern and profile.url_pattern.startswith("https://")
    assert profile.bulk is False  # none of them documents /Bulk
    assert name in (Path(__file__).parent.parent / "docs" / "providers.md").read_text()


def test_the_config_overrides_the_profile() -> None:
    target = ScimTarget(url="https://x.example/scim/v2", profile="github_emu", page_size=50,
                        patch_style="put", requests_per_second=0)
    profile = profile_for(target)
    assert (profile.page_size, profile.patch_style, profile.requests_per_second) == (
        50, "put", None)
    assert profile_for(ScimTarget(url="https://x.example")).name == "generic"


def test_a_profile_names_the_attributes_its_provider_ignores() -> None:
    paths = ["userName", "title", WORK_EMAIL, f"{ENTERPRISE}:department", "externalId"]
    assert PROFILES["github_emu"].ignored(paths) == ["title", f"{ENTERPRISE}:department"]
    assert PROFILES["zoom"].ignored(paths) == ["externalId"]
    assert GENERIC.ignored(paths) == []


# -- a PatchOp applied here is the PatchOp applied by the server --------------------------------


PATCHES = {
    "replace a title": [("replace", "title", "Lead")],
    "replace a filtered e-mail": [("replace", WORK_EMAIL, "ann.lee@example.com")],
    "add a work e-mail to none": [("add", "emails", [{"type": "work", "value": "x@example.com",
                                                      "primary": True}])],
    "replace a sub-attribute": [("Replace", "name.givenName", "Annie")],
    "replace an extension attribute": [("replace", f"{ENTERPRISE}:department", "Platform")],
    "set the manager": [("replace", f"{ENTERPRISE}:manager", {"value": "m-1"})],
    "disable": [("replace", "active", False)],
    "remove a title": [("remove", "title", None)],
    "a value object": [("replace", None, {"title": "Boss", "name": {"familyName": "Lee"},
                                          ENTERPRISE: {"department": "Ops"}})],
    "enable and drift": [("replace", "active", True), ("replace", "title", "Returning"),
                         ("Add", "externalId", "E9")],
}


@pytest.mark.parametrize("name", list(PATCHES))
def test_apply_patch_agrees_with_scim2_server(name: str) -> None:
    client = inprocess_client()
    has_email = name != "add a work e-mail to none"
    seed(client, [user("ann@example.com", title="Engineer", given="Ann", family="Li",
                       email="ann@example.com" if has_email else None, department="R&D")])
    [before] = client.users()
    patch = patch_op(*PATCHES[name])
    ours = apply_patch(before, patch)
    reply = client.patch(f"/Users/{before['id']}", patch)
    assert reply.ok, reply.detail
    theirs = client.get_user(before["id"])
    assert theirs is not None
    assert {k: v for k, v in ours.items() if k != "meta"} == {
        k: v for k, v in theirs.items() if k != "meta"}


def test_apply_patch_changes_group_members_like_the_server() -> None:
    client = inprocess_client()
    ids = list(seed(client, [user(f"u{n}@example.com") for n in range(3)]).values())
    created = client.create({"schemas": [CORE_GROUP], "displayName": "g",
                             "members": [{"value": ids[0]}, {"value": ids[1]}]}, "/Groups")
    group = client.get(str(created.resource_id), "/Groups").body or {}
    patch = patch_op(("add", "members", [{"value": ids[2]}]),
                     ("remove", f'members[value eq "{ids[0]}"]', None))
    ours = apply_patch(group, patch)
    assert client.patch(f"/Groups/{group['id']}", patch).ok
    theirs = client.get(group["id"], "/Groups").body or {}
    assert sorted(m["value"] for m in ours["members"]) == sorted(
        m["value"] for m in theirs["members"]) == sorted(ids[1:])


def test_apply_patch_leaves_its_input_alone() -> None:
    resource = {"id": "1", "emails": [{"type": "work", "value": "a@example.com"}]}
    kept = copy.deepcopy(resource)
    apply_patch(resource, patch_op(("replace", WORK_EMAIL, "b@example.com")))
    assert resource == kept


def test_shapes_of_one_update() -> None:
    current = {"id": "1", "schemas": [CORE_USER],
               "userName": "ann@example.com", "title": "Engineer", "meta": {"version": "W/1"},
               "emails": [{"type": "work", "value": "ann@example.com", "primary": True},
                          {"type": "home", "value": "ann@home.example"}]}
    patch = patch_op(("replace", "title", "Lead"), ("replace", WORK_EMAIL, "ann.lee@example.com"))
    assert shape("path_filter", "PATCH", patch, None) == ("PATCH", patch)
    method, body = shape("value_object", "PATCH", patch, current)
    assert method == "PATCH" and body == {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "title", "value": "Lead"},
        {"op": "replace", "value": {"emails": [
            {"type": "work", "value": "ann.lee@example.com", "primary": True},
            {"type": "home", "value": "ann@home.example"}]}}]}
    method, body = shape("put", "PATCH", patch, current)
    assert method == "PUT" and body is not None and "meta" not in body
    assert (body["title"], body["emails"][0]["value"]) == ("Lead", "ann.lee@example.com")
    assert shape("put", "DELETE", None, None) == ("DELETE", None)


# -- the push adapts each approved op to the profile --------------------------------------------


def journal_methods(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT method, request_summary FROM attempts"))


@pytest.mark.parametrize(("quirks", "profile", "sent"), [
    (Quirks(no_patch_filters=True), replace(GENERIC, patch_style="value_object"), "PATCH"),
    (Quirks(put_only=True), GENERIC, "PUT"),  # discovered: ServiceProviderConfig says no PATCH
    (Quirks(no_discovery=True, no_bulk=True, no_etags=True, no_patch_filters=True),
     PROFILES["github_emu"], "PATCH"),
    (Quirks(no_discovery=True, no_etags=True, put_only=True), PROFILES["zoom"], "PUT"),
], ids=["value_object", "put_discovered", "github_emu", "zoom"])
def test_the_push_shapes_requests_for_the_profile_and_converges(
        tmp_path: Path, quirks: Quirks, profile: Profile, sent: str) -> None:
    inner = inprocess_app()
    client = client_over(QuirkApp(inner, quirks), replace(profile, requests_per_second=None))
    plan = plan_of(cycle_ops(the_team(client_over(inner))))  # seeded and read as it is
    with pytest.warns(UserWarning) if profile.only_attributes or profile.ignored_attributes \
            else _no_warning():
        result = push(plan, approve_all(plan), client, tmp_path / "push.db", progress=False,
                      retry=FAST)
    assert result.ok, result.results.to_string()
    assert_converged(client)
    updates = [method for method, _ in journal_methods(tmp_path / "push.db") if method != "POST"]
    assert set(updates) == {sent}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = push(plan, approve_all(plan), client, tmp_path / "other.db", progress=False)
    assert set(again.results["status"]) == {"already_applied"}


class _no_warning:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def test_a_refused_filtered_path_names_the_setting_to_change(tmp_path: Path) -> None:
    client = client_over(QuirkApp(inprocess_app(), Quirks(no_patch_filters=True)))
    plan = plan_of(cycle_ops(the_team(client)))
    result = push(plan, approve_all(plan), client, tmp_path / "push.db", progress=False,
                  retry=FAST)
    [error] = result.results.loc[result.results["action"] == "update", "error"]
    assert "400" in error and "set target.scim.patch_style: value_object" in error


def test_a_created_account_without_id_in_the_reply_is_found(tmp_path: Path) -> None:
    """201 with neither a body nor a Location header: the push looks the account up."""
    inner = QuirkApp(inprocess_app(), Quirks(no_location=True))

    def no_body(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            captured.update(status=status, headers=headers)
        body = b"".join(inner(environ, capture))
        if captured["status"].startswith("201"):
            body = b""
            captured["headers"] = [(k, v) for k, v in captured["headers"]
                                   if k.lower() != "content-length"]
        start_response(captured["status"], captured["headers"])
        return [body]

    client = client_over(no_body)
    rows = [op_row("create", hr_key="E1", match={"userName": "eve@example.com"},
                   payload=user("eve@example.com", external_id="E1"))]
    plan = plan_of(rows)
    result = push(plan, approve_all(plan), client, tmp_path / "push.db", progress=False)
    [created] = client.find("userName", "eve@example.com")
    assert result.ok and list(result.results["target_id"]) == [created["id"]]


def throttling_writes(app: WSGIApp, seconds: str) -> tuple[WSGIApp, list[str]]:
    seen: list[str] = []

    def throttle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] in {"PATCH", "PUT"}:
            seen.append(environ["REQUEST_METHOD"])
            start_response("429 Too Many Requests", [("Retry-After", seconds),
                                                     ("Content-Type", "application/scim+json")])
            return [json.dumps({"status": "429", "detail": "slow down"}).encode()]
        return app(environ, start_response)
    return throttle, seen


def test_throttling_longer_than_the_push_waits_stops_the_push(tmp_path: Path) -> None:
    app = inprocess_app()
    client = client_over(app)
    plan = plan_of([row for row in cycle_ops(the_team(client)) if row["action"] != "create"])
    throttled, seen = throttling_writes(app, "3600")
    result = push(plan, approve_all(plan), client_over(throttled), tmp_path / "push.db",
                  progress=False, concurrency=1, use_bulk=False, retry=FAST)
    assert not result.ok and set(result.results["status"]) == {"failed"}
    assert len(seen) == 1, "one refusal is enough to know"
    errors = list(result.results["error"])
    assert "asks to wait 3600 s, more than max_retry_after (60 s)" in errors[0]
    assert all(e.startswith("not sent: rate-limited") for e in errors[1:])


# -- pacing a provider's published rate ---------------------------------------------------------


def test_connect_applies_the_profile_and_paces_its_rate() -> None:
    """Slack's limits are organisation-wide: 10 requests/s, unless the config says otherwise."""
    app = inprocess_app()
    target = ScimTarget(url="http://127.0.0.1/v2", profile="slack")
    client = connect(target, transport=httpx.WSGITransport(app=app))
    assert (client.profile.name, client.page_size) == ("slack", 1000)
    started = time.monotonic()
    for _ in range(4):
        client.count()
    assert time.monotonic() - started >= 0.29  # three intervals of 0.1 s
    unpaced = connect(target.model_copy(update={"requests_per_second": 0}),
                      transport=httpx.WSGITransport(app=app))
    assert unpaced.profile.requests_per_second is None
