"""The SCIM client against scim2-server in-process (RFC 7644 discovery, paging, filters, writes).

Real-target quirks are played by a thin WSGI layer that rewrites the real server's answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from recon.core.config import ScimTarget
from recon.core.scim import ENTERPRISE, is_active
from recon.errors import ConfigError, TargetReadError, TargetSetupError
from recon.targets.scim import (
    BearerToken,
    ScimClient,
    ScimHttpError,
    check_url,
    connect,
    eq_filter,
    reply_of,
    snapshot_scim,
)
from recon.targets.scim_profiles import PROFILES
from recon.testing import QuirkApp, Quirks, inprocess_app, inprocess_client, seed, user
from tests.plans import patch_op

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def people(count: int) -> list[dict[str, Any]]:
    return [user(f"user{n:03d}@example.com", external_id=f"E{n:03d}", title="Engineer")
            for n in range(count)]


def client_over(app: WSGIApp, page_size: int = 200) -> ScimClient:
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://127.0.0.1/v2")
    return ScimClient(http, page_size=page_size)


# -- discovery ---------------------------------------------------------------------------------


def test_discovery_reads_what_scim2_server_advertises() -> None:
    """RFC 7644 §4: ServiceProviderConfig, ResourceTypes and Schemas, parsed with scim2-models."""
    found = inprocess_client().discover()
    assert (found.bulk, found.bulk_max_operations, found.bulk_max_payload) == (True, 1000, 1048576)
    assert found.etag and found.filter and found.patch
    assert {rt.endpoint for rt in found.resource_types} == {"/Users", "/Groups"}
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" in {
        s.id for s in found.schemas}


# -- paged reads --------------------------------------------------------------------------------


def test_paged_snapshot_reads_every_user_once() -> None:
    """RFC 7644 §3.4.2.4: 1-based startIndex; 23 users in pages of 5 is five requests."""
    client = inprocess_client(page_size=5)
    seed(client, people(23))
    snapshot = client.snapshot()
    ids = [r["id"] for r in snapshot.resources]
    assert len(ids) == len(set(ids)) == 23
    assert snapshot.digest == client.snapshot(page_size=1000).digest


def clamp_count(app: WSGIApp, cap: int) -> WSGIApp:
    """A server that returns at most ``cap`` resources per page whatever the client asks."""
    def clamped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        if "count" in query and int(query["count"]) > cap:
            query["count"] = str(cap)
            environ["QUERY_STRING"] = urlencode(query)
        return app(environ, start_response)
    return clamped


def test_server_page_cap_below_the_asked_count_is_followed() -> None:
    app = inprocess_app()
    seed(client_over(app), people(17))
    assert len(client_over(clamp_count(app, 4), page_size=10).users()) == 17


def without_sort(app: WSGIApp) -> WSGIApp:
    """A target that cannot sort (its pages come in storage order, newcomers anywhere)."""
    def unsorted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = b"".join(app(environ, start_response))
        if environ["PATH_INFO"].endswith("/ServiceProviderConfig"):
            data = json.loads(body)
            data["sort"] = {"supported": False}
            body = json.dumps(data).encode()  # same length is not needed: WSGITransport reads all
        return [body]
    return unsorted


@pytest.mark.parametrize("sortable", [True, False])
def test_users_created_while_paging_are_read_without_duplicates(sortable: bool) -> None:
    """totalResults moves mid-read: keep going to a short page, dedupe by id, re-read if short."""
    app = inprocess_app()
    writer = client_over(app)
    seed(writer, people(12))
    pages = {"served": 0}

    def growing(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"].endswith("/Users") and environ["REQUEST_METHOD"] == "GET":
            pages["served"] += 1
            if pages["served"] == 2:  # between page 1 and page 2, three joiners arrive
                seed(writer, [user(f"late{n}@example.com") for n in range(3)])
        return app(environ, start_response)

    reader = client_over(growing if sortable else without_sort(growing), page_size=5)
    resources = reader.users()
    names = [r["userName"] for r in resources]
    assert len(names) == len(set(names)) == 15
    assert {f"late{n}@example.com" for n in range(3)} <= set(names)


# -- filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "value", "expected"),
    [
        ("userName", "ann@example.com", 'userName eq "ann@example.com"'),
        ("externalId", 'O"Brien', 'externalId eq "O\\"Brien"'),
        ("userName", "back\\slash", 'userName eq "back\\\\slash"'),
        ("emails.value", "a@b.c", 'emails.value eq "a@b.c"'),
    ],
)
def test_filter_values_are_quoted_and_escaped(attribute: str, value: str, expected: str) -> None:
    """RFC 7644 §3.4.2.2: comparison values are JSON strings."""
    assert eq_filter(attribute, value) == expected


def test_filter_attribute_cannot_smuggle_an_expression() -> None:
    with pytest.raises(ValueError, match="not a plain SCIM attribute path"):
        eq_filter('userName eq "x" or userName', "y")


def test_look_up_by_username_and_external_id() -> None:
    client = inprocess_client()
    seed(client, [user("ann@example.com", external_id='E"1'), user("bob@example.com")])
    assert [r["userName"] for r in client.find("userName", "ANN@example.com")] == [
        "ann@example.com"]  # userName is not case-exact (RFC 7643 §4.1.1)
    assert [r["userName"] for r in client.find("externalId", 'E"1')] == ["ann@example.com"]
    assert client.find("userName", "nobody@example.com") == []


# -- writes --------------------------------------------------------------------------------------


def test_create_get_patch_replace_delete() -> None:
    client = inprocess_client()
    created = client.create(user("ann@example.com", title="Engineer", email="ann@example.com"))
    assert created.status == 201 and created.resource_id and created.etag
    path = f"/Users/{created.resource_id}"
    patched = client.patch(path, patch_op(("replace", 'emails[type eq "work"].value',
                                           "ann.lee@example.com"), ("Replace", "title", "Lead")),
                           if_match=created.etag)
    assert patched.status in {200, 204} and patched.etag != created.etag
    stale = client.patch(path, patch_op(("replace", "title", "Other")), if_match=created.etag)
    assert stale.status == 412
    current = client.get_user(created.resource_id)
    assert current is not None
    assert (current["title"], current["emails"][0]["value"]) == ("Lead", "ann.lee@example.com")
    replaced = client.replace(path, {**user("ann@example.com", title="Director")})
    assert replaced.ok and replaced.body and replaced.body["title"] == "Director"
    assert client.delete(path).status == 204
    assert client.get_user(created.resource_id) is None
    assert client.delete(path).status == 404


def test_bulk_reports_each_operation() -> None:
    """RFC 7644 §3.7: one request, one status per operation."""
    client = inprocess_client()
    reply = client.bulk([
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("a@example.com")},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": user("a@example.com")},
    ])
    statuses = {o["bulkId"]: o["status"] for o in (reply.body or {})["Operations"]}
    assert statuses == {"a": "201", "b": "409"}


def test_read_errors_raise_with_the_scim_detail() -> None:
    client = inprocess_client()
    with pytest.raises(ScimHttpError, match="GET /Users: 400") as caught:
        list(client.iter_resources("/Users", params={"filter": "userName zz 1"}))
    assert caught.value.status == 400


# -- real-target quirks ---------------------------------------------------------------------------


def quirky(app: WSGIApp) -> WSGIApp:
    """A target that sends active as "False"/"True", no ETag header, and 200+body on PATCH."""
    def rewrite(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            captured["status"], captured["headers"] = status, headers

        body = b"".join(app(environ, capture))
        status = captured["status"]
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "etag"]
        if status.startswith("204") and environ["REQUEST_METHOD"] == "PATCH":
            get = dict(environ, REQUEST_METHOD="GET", CONTENT_LENGTH="", QUERY_STRING="")
            body = b"".join(app(get, capture))
            status = "200 OK"
        if body:
            data = json.loads(body)
            for item in [data, *data.get("Resources", [])]:
                if isinstance(item.get("active"), bool):
                    item["active"] = str(item["active"])
            body = json.dumps(data).encode()
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, headers)
        return [body]
    return rewrite


def test_quirky_answers_are_understood() -> None:
    app = inprocess_app()
    client = client_over(quirky(app))
    created = client.create(user("ann@example.com", active=True))
    assert created.etag  # from meta.version, the header being absent
    reply = client.patch(f"/Users/{created.resource_id}", patch_op(("Replace", "active", False)))
    assert reply.status == 200 and reply.body is not None
    assert reply.body["active"] == "False" and is_active(reply.body["active"]) is False
    assert is_active(None) is True and is_active("true") is True


def test_reply_without_body_has_no_etag_and_a_reason() -> None:
    reply = reply_of(httpx.Response(204))
    assert (reply.ok, reply.body, reply.etag, reply.detail) == (True, None, None, "No Content")


# -- connection safety ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/v2", "http://127.8.9.10/v2",
                                 "http://[::1]:9000/v2", "http://localhost/v2",
                                 "https://scim.example.com/v2/"])
def test_plain_http_is_accepted_only_to_loopback(url: str) -> None:
    assert check_url(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://scim.example.com/v2", "http://10.0.0.5/v2",
                                 "ftp://127.0.0.1/", "https://user:pw@scim.example.com/v2"])
def test_unsafe_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        check_url(url)


def test_insecure_allows_plain_http_elsewhere() -> None:
    assert check_url("http://scim.example.com/v2", insecure=True) == "http://scim.example.com/v2"


def test_token_comes_from_the_environment_and_never_shows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-token-value"
    monkeypatch.setenv("RECON_TEST_TOKEN", secret)
    app = inprocess_app(token=secret)
    target = ScimTarget(url="http://127.0.0.1/v2", token_env="RECON_TEST_TOKEN")
    client = connect(target, transport=httpx.WSGITransport(app=app))
    assert client.count() == 0  # authorised
    assert secret not in repr(client) and secret not in repr(client.http.auth)
    assert isinstance(client.http.auth, BearerToken)
    monkeypatch.setenv("RECON_TEST_TOKEN", "wrong")
    refused = connect(target, transport=httpx.WSGITransport(app=app))
    with pytest.raises(TargetSetupError, match="check the environment variable RECON_TEST_TOKEN"
                       ) as caught:
        refused.count()
    assert caught.value.status == 401 and "wrong" not in str(caught.value)


def test_missing_token_variable_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECON_TEST_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="RECON_TEST_TOKEN is not set"):
        connect(ScimTarget(url="http://127.0.0.1/v2", token_env="RECON_TEST_TOKEN"))


def test_snapshot_from_the_config_target(capsys: pytest.CaptureFixture[str]) -> None:
    """What `recon snapshot` / `recon reconcile` call for a live target."""
    app = inprocess_app()
    seed(client_over(app), people(3))
    target = ScimTarget(url="http://127.0.0.1/v2", page_size=2)
    taken = snapshot_scim(target, progress=True, transport=httpx.WSGITransport(app=app))
    assert len(taken.resources) == 3 and taken.source == "http://127.0.0.1/v2"
    assert "snapshot: 3 users" in capsys.readouterr().err


def test_a_target_that_refuses_the_sort_is_read_unsorted() -> None:
    app = inprocess_app()
    seed(client_over(app), people(7))

    def picky(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if "sortBy" in environ.get("QUERY_STRING", ""):
            start_response("400 Bad Request", [("Content-Type", "application/scim+json")])
            return [b'{"status": "400", "scimType": "invalidValue", "detail": "no sort"}']
        return app(environ, start_response)

    assert len(client_over(picky, page_size=3).users()) == 7


# -- errors that name their likely cause ---------------------------------------------------------


def test_a_wrong_base_url_says_to_check_it() -> None:
    """404 at discovery and on /Users: the URL is wrong, not the data."""
    http = httpx.Client(transport=httpx.WSGITransport(app=inprocess_app()),
                        base_url="http://127.0.0.1/v2/scim")
    with pytest.raises(TargetSetupError, match=r"GET /Users: 404 .*: check target\.scim\.url: "
                       r"http://127\.0\.0\.1/v2/scim \(the SCIM base usually ends in /scim/v2\)"
                       ) as caught:
        ScimClient(http).discover()
    assert caught.value.exit_code == 2


def test_a_wrong_base_url_names_the_profiles_url_pattern() -> None:
    http = httpx.Client(transport=httpx.WSGITransport(app=inprocess_app()),
                        base_url="http://127.0.0.1/nowhere")
    client = ScimClient(http, profile=PROFILES["github_emu"])
    with pytest.raises(TargetSetupError, match=re.escape(
            "it looks like https://api.github.com/scim/v2/enterprises/<enterprise>")):
        client.users()


def test_a_target_without_service_provider_config_is_read_with_safe_defaults() -> None:
    """No /ServiceProviderConfig (GitHub, Zoom): a probe of /Users, then no Bulk, no ETags."""
    client = client_over(QuirkApp(inprocess_app(), Quirks(no_discovery=True)))
    found = client.discover()
    assert found.config is None and not found.bulk and not found.etag and found.patch
    assert found.patch_style == "path_filter" and not found.cursor


def test_a_rejected_token_is_reported_at_discovery_not_later(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A 401 on /ServiceProviderConfig was swallowed and the run failed later on /Users."""
    monkeypatch.setenv("RECON_TEST_TOKEN", "wrong")
    app = inprocess_app(token="right")
    target = ScimTarget(url="http://127.0.0.1/v2", token_env="RECON_TEST_TOKEN")
    with pytest.raises(TargetSetupError, match=r"^GET /(ServiceProviderConfig|ResourceTypes): 401 .* the target "
                       r"refused the token; check the environment variable RECON_TEST_TOKEN"):
        snapshot_scim(target, transport=httpx.WSGITransport(app=app))


def answering(status: int, headers: list[tuple[str, str]], *, times: int = 1_000,
              app: WSGIApp | None = None) -> WSGIApp:
    """A target that answers every list of /Users with ``status`` (``times`` times)."""
    inner = app or inprocess_app()
    left = {"times": times}

    def answer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"].endswith("/Users") and left["times"] > 0:
            left["times"] -= 1
            start_response(f"{status} X", [("Content-Type", "application/scim+json"), *headers])
            return [json.dumps({"status": str(status), "detail": "refused"}).encode()]
        return inner(environ, start_response)
    return answer


def test_a_missing_permission_says_so() -> None:
    with pytest.raises(TargetSetupError, match="the token was accepted but may not read /Users"):
        client_over(answering(403, [])).users()


def test_throttling_longer_than_the_run_waits_is_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("recon.targets.scim.time.sleep", slept.append)
    with pytest.raises(TargetReadError, match=r"rate-limited for longer than this run waits: "
                       r"the target asks to wait 3600 s, recon waits at most 60 s") as caught:
        client_over(answering(429, [("Retry-After", "3600")])).users()
    assert slept == [] and caught.value.exit_code == 1


@pytest.mark.parametrize("headers", [[("Retry-After", "2")],
                                     [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "0")]],
                         ids=["429", "github-403"])
def test_brief_throttling_is_waited_out(monkeypatch: pytest.MonkeyPatch,
                                        headers: list[tuple[str, str]]) -> None:
    """429 with Retry-After, and GitHub's 403 with rate-limit headers, are retried."""
    slept: list[float] = []
    monkeypatch.setattr("recon.targets.scim.time.sleep", slept.append)
    app = inprocess_app()
    seed(client_over(app), people(3))
    status = 429 if headers[0][0] == "Retry-After" else 403
    assert len(client_over(answering(status, headers, times=2, app=app)).users()) == 3
    assert len(slept) == 2


# -- look-ups a provider cannot filter -------------------------------------------------------------


def test_a_filter_the_target_refuses_is_answered_from_the_listing() -> None:
    """no_extension_filters: the look-up reads the listing and compares with the same rule."""
    app = inprocess_app()
    seed(client_over(app), [user("ann@example.com", employee_number="E1"),
                            user("bob@example.com", employee_number="E2")])
    client = client_over(QuirkApp(app, Quirks(no_extension_filters=True)))
    path = f"{ENTERPRISE}:employeeNumber"
    assert [r["userName"] for r in client.find(path, "E2")] == ["bob@example.com"]


def test_a_case_exact_target_is_looked_up_thoroughly_after_a_conflict() -> None:
    app = inprocess_app()
    seed(client_over(app), [user("Ann.Lee@example.com")])
    client = client_over(QuirkApp(app, Quirks(case_exact_eq=True)))
    assert client.find("userName", "ann.lee@example.com") == []
    assert [r["userName"] for r in client.find("userName", "ann.lee@example.com",
                                               thorough=True)] == ["Ann.Lee@example.com"]


def test_pages_slower_than_the_timeout_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("recon.targets.scim.time.sleep", lambda _: None)

    def too_slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    http = httpx.Client(transport=httpx.MockTransport(too_slow), base_url="http://127.0.0.1/v2",
                        timeout=7.0)
    with pytest.raises(TargetReadError, match=r"no answer within target\.scim\.timeout \(7\.0 s\)"
                                              r", 5 times"):
        ScimClient(http).count()
