"""Paged reads of a SCIM listing that always end, and end complete or not at all.

Two ways to page (RFC 7644 §3.4.2.4 index paging, RFC 9865 cursor paging), one contract:
:func:`read_listing` returns every resource of an endpoint once, or raises
:class:`~recon.errors.TargetReadError` — never a partial listing, because a snapshot short of
some accounts would plan them as joiners.

Index paging asks ``startIndex``/``count`` and stops when ``startIndex`` passes
``totalResults``, on an empty page, or on a page that brings nothing new (servers that answer a
``startIndex`` past the end with the first page again, or that ignore ``startIndex``). A server
may return fewer than ``count`` (its own cap): the next pages ask for that many. Cursor paging
follows ``nextCursor`` until it is absent; a cursor seen twice is a loop and is refused.

A pass is complete when its unique resources number the last ``totalResults`` the server sent
(or, without ``totalResults``, when the server itself said it was the last page). Resources come
and go while a large target is read, so an incomplete pass is read again, keeping what earlier
passes found; after :data:`PASSES` passes an incomplete listing is refused in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recon.errors import TargetReadError

#: A bounded read: a target that keeps paging past this many pages is broken.
MAX_PAGES = 100_000
#: Passes over the listing before an incomplete one is refused.
PASSES = 3

Read = Callable[[str, dict[str, Any]], dict[str, Any]]


class RestartListing(Exception):
    """The server refused a cursor (RFC 9865 §2.1 invalidCursor, expiredCursor): start again."""


class CursorIgnored(Exception):
    """The first cursor page said nothing of a next page but ``totalResults`` says more."""


@dataclass
class Pass:
    """One read of the listing from its first page: what it found and how it ended."""

    resources: dict[str, dict[str, Any]]
    total: int | None
    ended: str  # "end", "empty", "short", "repeated"
    at: int = 0  # the startIndex (or page number) where the pass ended

    @property
    def complete(self) -> bool:
        if self.total is not None:
            return len(self.resources) == self.total
        return self.ended != "repeated" or self.at == 0


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _page(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in body.get("Resources") or [] if isinstance(item, dict)]


def _add_fresh(page: list[dict[str, Any]], into: dict[str, dict[str, Any]]) -> int:
    """Add the resources not seen yet (by id); the number added."""
    added = 0
    for resource in page:
        key = str(resource.get("id") or f"#no-id-{len(into)}")
        if key not in into:
            into[key] = resource
            added += 1
    return added


def index_pass(read: Read, endpoint: str, count: int, query: dict[str, Any],
               progress: Callable[[int], None] | None = None) -> Pass:
    """One pass of startIndex paging (1-based, RFC 7644 §3.4.2.4)."""
    found: dict[str, dict[str, Any]] = {}
    start = 1
    first_ids: list[str] = []
    for _ in range(MAX_PAGES):
        body = read(endpoint, {**query, "startIndex": start, "count": count})
        page = _page(body)
        total = _as_int(body.get("totalResults"))
        if start == 1:
            first_ids = [str(r.get("id")) for r in page]
        if not page:
            return Pass(found, total, "empty", start)
        if not _add_fresh(page, found):
            # Nothing new: the first page again past the end (a known quirk), or a server that
            # ignores startIndex. Only totalResults can tell which; ``at`` keeps the evidence.
            repeat_of_first = [str(r.get("id")) for r in page] == first_ids
            return Pass(found, total, "repeated", 0 if repeat_of_first and total is None
                        else start)
        if progress is not None:
            progress(len(found))
        start += len(page)
        if total is not None and start > total:
            return Pass(found, total, "end", start)
        if len(page) < count:
            if total is None:
                return Pass(found, total, "short", start)
            count = len(page)  # the server caps pages below what we asked: its cap it is
    raise TargetReadError(f"GET {endpoint}: more than {MAX_PAGES} pages; the target keeps paging")


def cursor_pass(read: Read, endpoint: str, count: int, query: dict[str, Any],
                progress: Callable[[int], None] | None = None) -> Pass:
    """One pass of cursor paging (RFC 9865 §2): an empty cursor first, then ``nextCursor``."""
    found: dict[str, dict[str, Any]] = {}
    cursor = ""
    used: set[str] = set()
    for number in range(MAX_PAGES):
        body = read(endpoint, {**query, "cursor": cursor, "count": count})
        page = _page(body)
        total = _as_int(body.get("totalResults"))
        added = _add_fresh(page, found)
        if progress is not None and added:
            progress(len(found))
        next_cursor = body.get("nextCursor")
        if not next_cursor:
            if number == 0 and total is not None and total > len(page):
                raise CursorIgnored
            return Pass(found, total, "end", number)
        next_cursor = str(next_cursor)
        if next_cursor in used:
            raise TargetReadError(f"GET {endpoint}: the target sent the same nextCursor twice; "
                                  "its cursor paging loops (RFC 9865)")
        if page and not added:
            return Pass(found, total, "repeated", number + 1)
        used.add(next_cursor)
        cursor = next_cursor
    raise TargetReadError(f"GET {endpoint}: more than {MAX_PAGES} pages; the target keeps paging")


def read_listing(
    read: Read, endpoint: str, *, count: int, query: dict[str, Any] | None = None,
    cursor: bool = False, progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Every resource of ``endpoint`` once, or TargetReadError; see the module doc."""
    query = dict(query or {})
    union: dict[str, dict[str, Any]] = {}
    last: Pass | None = None
    for _ in range(PASSES):
        try:
            if cursor:
                one = cursor_pass(read, endpoint, count, query, progress)
            else:
                one = index_pass(read, endpoint, count, query, progress)
        except RestartListing:
            continue
        except CursorIgnored:
            cursor = False  # a target that lists without cursors after all: page by index
            one = index_pass(read, endpoint, count, query, progress)
        if one.complete:
            return list(one.resources.values())
        union.update(one.resources)
        if one.total is not None and len(union) == one.total:
            return list(union.values())
        last = one
    raise TargetReadError(_incomplete(endpoint, last, len(union)))


def _incomplete(endpoint: str, last: Pass | None, union: int) -> str:
    if last is None:
        return (f"GET {endpoint}: the target refused its own cursors {PASSES} times "
                "(invalidCursor/expiredCursor); refusing a partial snapshot")
    why = ""
    if last.ended == "repeated":
        why = (f"; at startIndex {last.at} it answered with resources already read (it may "
               "ignore startIndex: set target.scim.profile, or a page_size above the user count)")
    read = (f"read {union} resources, and the listing never said it was complete"
            if last.total is None else
            f"read {union} of the {last.total} resources the target reports (totalResults)")
    return (f"GET {endpoint}: {read} in {PASSES} passes{why}; refusing a partial snapshot, "
            "which would plan existing accounts as joiners")
