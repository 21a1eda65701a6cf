"""Paging that always ends, complete or refused: RFC 7644 §3.4.2.4 index paging, RFC 9865 cursors.

scim2-server answers every request (in-process); the quirks of real providers are put in front
of it by recon.testing.quirks, and a counting layer records what the client asked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from recon.core.config import ScimTarget
from recon.errors import PushError, TargetReadError
from recon.targets.scim import ScimClient, snapshot_scim
from recon.targets.scim_profiles import GENERIC, Profile
from recon.testing import (
    QuirkApp,
    QuirkProxy,
    Quirks,
    cursor_pagination,
    inprocess_app,
    seed,
    start_server,
    user,
)

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Counting:
    """Records the query of every list request that reaches the layer below."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.lists: list[dict[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"].endswith("/Users"):
            self.lists.append(dict(parse_qsl(environ.get("QUERY_STRING", ""),
                                             keep_blank_values=True)))
        return self.app(environ, start_response)


def people(count: int) -> list[dict[str, Any]]:
    return [user(f"user{n:03d}@example.com", external_id=f"E{n:03d}") for n in range(count)]


def server_with(count: int, config: dict[str, Any] | None = None) -> Any:
    app = inprocess_app(config=config)
    seed(client_over(app), people(count))
    return app


def client_over(app: WSGIApp, page_size: int = 200, profile: Profile = GENERIC) -> ScimClient:
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://127.0.0.1/v2")
    return ScimClient(http, page_size=page_size, profile=profile)


def list_pages(counting: Counting) -> list[dict[str, str]]:
    return [query for query in counting.lists if "filter" not in query and query.get("count")
            != "1"]


# -- index paging ---------------------------------------------------------------------------


def test_a_multiple_of_the_page_size_ends_without_asking_past_the_end() -> None:
    """Regression: 400 users in pages of 200 against a server that answers a startIndex past
    the end with the first page looped for MAX_PAGES requests; totalResults ends it at two."""
    counting = Counting(QuirkApp(server_with(10), Quirks(past_end_first_page=True)))
    users = client_over(counting, page_size=5).users()
    assert len({u["id"] for u in users}) == 10
    assert [q["startIndex"] for q in list_pages(counting)] == ["1", "6"]


def test_the_first_page_again_past_the_end_ends_the_read_without_total_results() -> None:
    """Without totalResults the past-the-end request is made: a page with nothing new ends it."""
    layer = QuirkApp(server_with(10), Quirks(past_end_first_page=True, no_total_results=True))
    counting = Counting(layer)
    users = client_over(counting, page_size=5).users()
    assert len({u["id"] for u in users}) == 10
    assert [q["startIndex"] for q in list_pages(counting)] == ["1", "6", "11"]
    assert layer.played["past_end_first_page"] == 1


def test_a_server_that_ignores_start_index_is_refused_not_read_short() -> None:
    """A repeated page against totalResults 12: five users are not the target (exit 1)."""
    counting = Counting(QuirkApp(server_with(12), Quirks(ignore_start_index=True)))
    with pytest.raises(TargetReadError, match=r"read 5 of the 12 .* at startIndex 6 it "
                                              r"answered with resources already read") as caught:
        client_over(counting, page_size=5).users()
    assert caught.value.exit_code == 1
    assert len(list_pages(counting)) == 6  # three passes of two pages, not MAX_PAGES


def hiding(app: WSGIApp, hidden: str) -> WSGIApp:
    """A server whose listing never shows one user, though totalResults counts it."""
    def hide(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = b"".join(app(environ, start_response))
        if environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"].endswith("/Users"):
            data = json.loads(body)
            data["Resources"] = [r for r in data.get("Resources") or []
                                 if r.get("userName") != hidden]
            body = json.dumps(data).encode()
        return [body]
    return hide


def test_a_short_snapshot_is_refused_in_one_line() -> None:
    """Regression: a listing short of totalResults came back as the target, and reconcile
    planned the missing accounts as joiners. Now the snapshot is refused (exit 1)."""
    app = hiding(server_with(9), "user004@example.com")
    target = ScimTarget(url="http://127.0.0.1/v2", page_size=4)
    with pytest.raises(TargetReadError) as caught:
        snapshot_scim(target, transport=httpx.WSGITransport(app=app))
    message = str(caught.value)
    assert "read 8 of the 9 resources the target reports" in message
    assert "refusing a partial snapshot" in message and "\n" not in message
    assert isinstance(caught.value, PushError) and caught.value.exit_code == 1


def test_items_per_page_is_never_trusted() -> None:
    """itemsPerPage echoing the asked count says nothing about the page: its resources do."""
    layer = QuirkApp(server_with(11), Quirks(echo_items_per_page=True))
    assert len(client_over(layer, page_size=4).users()) == 11
    assert layer.played["echo_items_per_page"] >= 3


def test_a_page_cap_below_the_count_is_followed() -> None:
    layer = QuirkApp(server_with(17), Quirks(page_cap=4))
    assert len(client_over(layer, page_size=10).users()) == 17


def test_slow_pages_are_read_to_the_end() -> None:
    layer = QuirkApp(server_with(9), Quirks(slow_pages=0.01))
    assert len(client_over(layer, page_size=3).users()) == 9
    assert layer.played["slow_pages"] == 2


# -- cursor paging (RFC 9865) -----------------------------------------------------------------


def test_cursor_paging_is_used_when_the_target_offers_it() -> None:
    """RFC 9865 §4: ``pagination.cursor`` in ServiceProviderConfig; maxPageSize caps count."""
    counting = Counting(server_with(10, {"pagination": cursor_pagination(max_page_size=4)}))
    client = client_over(counting, page_size=50)
    assert client.discover().cursor
    assert len({u["id"] for u in client.users()}) == 10
    pages = list_pages(counting)
    assert [q["count"] for q in pages] == ["4", "4", "4"]
    assert pages[0]["cursor"] == "" and all("startIndex" not in q for q in pages)


def test_cursor_pages_without_total_results_end_at_the_last_cursor() -> None:
    """AWS in cursor mode sends no totalResults: the absent nextCursor is the end."""
    app = QuirkApp(server_with(7, {"pagination": cursor_pagination(max_page_size=3)}),
                   Quirks(no_total_results=True))
    assert len(client_over(app).users()) == 7


def refusing_a_cursor_once(app: WSGIApp, scim_type: str) -> WSGIApp:
    refused = {"done": False}

    def refuse(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        if query.get("cursor") and not refused["done"]:
            refused["done"] = True
            start_response("400 Bad Request", [("Content-Type", "application/scim+json")])
            return [json.dumps({"status": "400", "scimType": scim_type,
                                "detail": "cursor expired"}).encode()]
        return app(environ, start_response)
    return refuse


@pytest.mark.parametrize("scim_type", ["expiredCursor", "invalidCursor"])
def test_a_refused_cursor_starts_the_listing_again(scim_type: str) -> None:
    """RFC 9865 §2.1: the server forgot the cursor; a fresh pass reads everything."""
    app = refusing_a_cursor_once(
        server_with(9, {"pagination": cursor_pagination(max_page_size=4)}), scim_type)
    assert len(client_over(app).users()) == 9


def looping_cursor(app: WSGIApp) -> WSGIApp:
    def loop(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        asked = environ.get("QUERY_STRING", "")
        environ = {**environ, "QUERY_STRING": asked.replace("cursor=same", "cursor=")}
        body = b"".join(app(environ, start_response))
        if environ["PATH_INFO"].endswith("/Users"):
            data = json.loads(body)
            data["nextCursor"] = "same"
            data["Resources"] = [{"id": f"x{len(asked)}"}]
            body = json.dumps(data).encode()
        return [body]
    return loop


def test_a_cursor_that_repeats_is_refused() -> None:
    app = looping_cursor(server_with(3, {"pagination": cursor_pagination(max_page_size=2)}))
    with pytest.raises(TargetReadError, match="same nextCursor twice"):
        client_over(app).users()


def test_a_profile_that_says_cursor_falls_back_to_index_on_a_target_without_cursors() -> None:
    counting = Counting(server_with(7))
    client = client_over(counting, page_size=3, profile=replace(GENERIC, paging="cursor"))
    assert len(client.users()) == 7
    assert "startIndex" in list_pages(counting)[-1]


# -- the command line: one line and exit 1, never a partial file ------------------------------


@pytest.mark.slow
@pytest.mark.integration
def test_recon_snapshot_refuses_a_partial_target_in_one_line(tmp_path: Path) -> None:
    """`recon snapshot` against a server that ignores startIndex: exit 1, one line, no file."""
    with start_server() as server, server.client() as direct:
        seed(direct, people(12))
        with QuirkProxy(server.url, Quirks(ignore_start_index=True)) as proxy:
            config = tmp_path / "recon.yaml"
            config.write_text((SAMPLES / "recon-live.yaml").read_text(encoding="utf-8").replace(
                "url: http://127.0.0.1:8000/v2, token_env: RECON_SCIM_TOKEN",
                f"url: {proxy.url}, page_size: 5").replace("path: workers.csv",
                                                           f"path: {SAMPLES / 'workers.csv'}"),
                encoding="utf-8")
            done = subprocess.run(
                [sys.executable, "-m", "recon.cli", "snapshot", "--config", str(config),
                 "--out", str(tmp_path / "target.json")],
                capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "read 5 of the 12 resources" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "target.json").exists()


def test_a_cursor_listing_that_stops_bringing_news_is_refused() -> None:
    """Cursor pages that keep a nextCursor but repeat what was read: no totalResults to trust."""
    app = QuirkApp(server_with(6, {"pagination": cursor_pagination(max_page_size=3)}),
                   Quirks(no_total_results=True))

    served = {"pages": 0}

    def stuck(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ["PATH_INFO"].endswith("/Users"):
            return app(environ, start_response)
        served["pages"] += 1  # every page is the first page, with yet another nextCursor
        body = b"".join(app({**environ, "QUERY_STRING": "cursor=&count=3"}, start_response))
        return [json.dumps({**json.loads(body), "nextCursor": f"page{served['pages']}"}).encode()]

    with pytest.raises(TargetReadError, match="read 3 resources, and the listing never said "
                                              "it was complete in 3 passes"):
        client_over(stuck).users()
