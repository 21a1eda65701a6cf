"""Snapshot documents: one or several pages of users in a file, read without a dict per user.

The file forms (README "A snapshot file", docs/architecture.md "Snapshot"):

- one document: a SCIM ListResponse (``{"schemas": [ListResponse], "Resources": [...]}``), a
  ``recon.snapshot/1`` document (users and, optionally, ``groups``), a Microsoft Graph ``/users``
  page (``{"value": [...], "@odata.nextLink": ...}``), or a JSON array of users;
- several pages in one file, as a paging export saves them: either a JSON array of pages
  (``[page, page, ...]``) or the pages one after another (concatenated documents, typically one
  per line, as a loop appending each response writes them). All pages are of one kind.

A Graph export holds Graph users; they are mapped to SCIM users through
``recon.core.graph_users`` (the read table the Entra target uses), so every later stage sees
SCIM users. A saved listing that is visibly incomplete is refused rather than planned from (it
would make every missing account's worker a joiner): Graph pages whose last page still has an
``@odata.nextLink``, and ListResponse pages that hold fewer or more users than their
``totalResults``.

Two readers give the same users. The general one parses every page into dicts (orjson) and
words every error. The columnar one splits the file with msgspec into byte slices — pages, then
one slice per user (``msgspec.Raw``: a view of the file, not a dict) — joins the users' slices
into JSON lines and hands them to pyarrow (``recon.io.json_columns``); Graph users are then
mapped column by column. A recon.snapshot/1 document's groups are decoded into small structs
(``_Group``, ``_Member``) and handed on as columns (``recon.core.snapshot_groups``): a million
members make no dict. Whatever it is not sure of returns None, and the general reader decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from recon.core.graph_users import scim_user, scim_users_columnar
from recon.core.scim import LIST_RESPONSE
from recon.core.snapshot_groups import GroupColumns
from recon.errors import InputError
from recon.io.json_columns import BOM, object_lines_table

SNAPSHOT_FORMAT = "recon.snapshot/1"
_NOT_SPACE = re.compile(rb"[^ \t\r\n]")
_SPACE = frozenset(b" \t\r\n")
_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")
_SKIP = msgspec.json.Decoder(msgspec.Raw)


# ---- pages: what kind, and whether the listing is whole ----------------------------------------

def page_kind(document: Any) -> str | None:
    """"scim" for a ListResponse or recon.snapshot/1 document, "graph" for a Graph page (an
    object with a ``value`` list that is not itself a user), else None."""
    if not isinstance(document, dict):
        return None
    schemas = document.get("schemas", [])
    if document.get("format") == SNAPSHOT_FORMAT or (
            isinstance(schemas, list | str | dict) and LIST_RESPONSE in schemas):
        return "scim"
    if "schemas" not in document and isinstance(document.get("Resources"), list) and \
            "id" not in document and "userName" not in document:
        return "scim"  # a ListResponse saved without its schemas (some exports drop them)
    if isinstance(document.get("value"), list) and "id" not in document \
            and "userName" not in document:
        return "graph"
    return None


def graph_url(context: Any) -> str:
    """The service root of a Graph page's ``@odata.context`` (``https://…/v1.0``), or ""."""
    if not isinstance(context, str) or "/$metadata" not in context:
        return ""
    return context.split("/$metadata", 1)[0]


def check_complete(kind: str, pages: list[dict[str, Any]], users: int, name: str) -> None:
    """Refuse a saved listing that says itself it is not whole."""
    if kind == "graph":
        if pages and pages[-1].get("@odata.nextLink"):
            raise InputError("the Graph export is incomplete: its last page has an "
                             "@odata.nextLink (save every page, one after another)", file=name)
        return
    totals = [page.get("totalResults") for page in pages if "totalResults" in page]
    if totals and all(type(total) is int for total in totals) and users != totals[-1]:
        raise InputError(f"the ListResponse pages hold {users:,} users but totalResults is "
                         f"{totals[-1]:,}: the listing is incomplete (save every page)",
                         file=name)


@dataclass(frozen=True)
class Pages:
    """Users of a file of pages, as the general reader makes them."""

    users: list[Any]
    groups: list[dict[str, Any]] | None
    header: dict[str, Any]


def read_pages(documents: list[Any], name: str) -> Pages | None:
    """The users of pages parsed into dicts (every page of one kind), or None when the first
    document is not a page. A page among them of another kind is an error."""
    if not documents or page_kind(documents[0]) is None:
        return None
    kind = page_kind(documents[0])
    for number, page in enumerate(documents, start=1):
        if page_kind(page) != kind:
            raise InputError(f"page {number} is not a {_KIND_NAMES[str(kind)]} like page 1",
                             file=name)
    users: list[Any] = []
    groups: list[dict[str, Any]] | None = None
    base = graph_url(documents[0].get("@odata.context"))
    for page in documents:
        # Groups beside a page's users (recon's own documents) are kept from a page of either
        # kind, as the columnar reader keeps them.
        if isinstance(page.get("groups"), list):
            groups = [*(groups or []), *page["groups"]]
        if kind == "graph":
            users.extend(user if not isinstance(user, dict) else scim_user(user, base)
                         for user in page["value"])
            continue
        resources = page.get("Resources", page.get("resources", []))
        if not isinstance(resources, list):
            raise InputError("not a SCIM snapshot ('Resources' is not a list)", file=name)
        users.extend(resources)
    check_complete(str(kind), documents, len(users), name)
    return Pages(users, groups, documents[0])


_KIND_NAMES = {"scim": "SCIM ListResponse", "graph": "Graph /users page"}


# ---- splitting a file into documents -----------------------------------------------------------

def document_spans(raw: bytes, *, start: int | None = None, limit: int | None = None
                   ) -> list[tuple[int, int]] | None:
    """Byte ranges of the top-level JSON values of ``raw`` (from ``start``, else after a BOM),
    at most ``limit`` of them; None when msgspec finds a value malformed (the general reader
    words the error)."""
    view = memoryview(raw)
    at = (len(BOM) if raw.startswith(BOM) else 0) if start is None else start
    spans: list[tuple[int, int]] = []
    while limit is None or len(spans) < limit:
        found = _NOT_SPACE.search(raw, at)
        if found is None:
            break
        at = found.start()
        try:
            _SKIP.decode(view[at:])
        except msgspec.DecodeError as error:
            trailing = _TRAILING.search(str(error))
            # msgspec counts the offending byte in: the next value starts just before.
            end = at + int(trailing.group(1)) - 1 if trailing is not None else -1
            if end <= at or not _NOT_SPACE.match(raw, end):
                return None
            spans.append((at, end))
            at = end
            continue
        spans.append((at, len(raw)))
        break
    return spans


def parse_documents(raw: bytes, name: str) -> list[Any] | None:
    """Every top-level value of a file of several (concatenated documents), parsed by orjson;
    None when the file is not that (one value, or one that does not parse)."""
    spans = document_spans(raw)
    if spans is None or len(spans) < 2:
        return None
    try:
        return [orjson.loads(memoryview(raw)[start:end]) for start, end in spans]
    except orjson.JSONDecodeError:
        return None


# ---- the columnar reader -----------------------------------------------------------------------

class _Page(msgspec.Struct, rename={"context": "@odata.context",
                                    "next_link": "@odata.nextLink"}):
    """The keys of a page that matter; users stay byte slices."""

    format: Any = None
    source: Any = None
    taken_at: Any = None
    schemas: Any = msgspec.UNSET
    Resources: list[msgspec.Raw] | msgspec.UnsetType = msgspec.UNSET
    resources: list[msgspec.Raw] | msgspec.UnsetType = msgspec.UNSET
    groups: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET  # read by _group_columns
    value: list[msgspec.Raw] | msgspec.UnsetType = msgspec.UNSET
    totalResults: Any = msgspec.UNSET  # the wire names
    id: Any = msgspec.UNSET
    userName: Any = msgspec.UNSET
    context: Any = None
    next_link: Any = None

    def as_header(self) -> dict[str, Any]:
        """The page's keys as the general reader sees them (for page_kind, check_complete)."""
        keys = {"format": self.format, "source": self.source, "taken_at": self.taken_at,
                "schemas": self.schemas, "Resources": self.Resources,
                "resources": self.resources, "value": self.value,
                "totalResults": self.totalResults, "id": self.id, "userName": self.userName,
                "@odata.context": self.context, "@odata.nextLink": self.next_link}
        return {key: value for key, value in keys.items()
                if value is not msgspec.UNSET and (value is not None or key in _NULLABLE)}


_NULLABLE = {"totalResults", "id", "userName", "schemas"}
_USER_LISTS = {"Resources", "resources", "value"}  # a header keeps none: they are the users
_PAGE = msgspec.json.Decoder(_Page)
_USERS = msgspec.json.Decoder(list[msgspec.Raw])


class _Member(msgspec.Struct, gc=False):
    """A group member as recon.core.snapshot_groups reads it (other keys are skipped)."""

    value: Any = None
    type: Any = None


class _Group(msgspec.Struct, gc=False):
    """A group's keys that recon compares; its members as small structs, not dicts."""

    id: Any = msgspec.UNSET
    displayName: Any = msgspec.UNSET
    meta: Any = msgspec.UNSET
    members: list[_Member] | None = None

    def head(self) -> dict[str, Any]:
        """The group's own keys as its dict has them."""
        keys = {"id": self.id, "displayName": self.displayName, "meta": self.meta}
        return {key: value for key, value in keys.items() if value is not msgspec.UNSET}


_GROUPS = msgspec.json.Decoder(list[_Group])


@dataclass(frozen=True)
class ColumnarPages:
    """What the columnar reader found: the users as one struct array, the groups as columns,
    the first page's header (its keys but the users)."""

    users: Any
    groups: GroupColumns | None
    header: dict[str, Any]


NOT_A_DOCUMENT = False
"""What ``read_columnar`` says of a file that does not start with an array or a page."""


@dataclass
class Held:
    """The bytes of a file, held so that a reader can let them go once it has copied what it
    needs (a million-user file need not be in memory twice)."""

    data: bytes | None

    def release(self) -> None:
        self.data = None


def read_columnar(held: Held, name: str, *, sample_size: int | None = None
                  ) -> ColumnarPages | bool | None:
    """The users of a document or of pages as a SCIM-shaped struct array; None when the
    general reader must decide; NOT_A_DOCUMENT when the file starts with neither an array nor
    a page (JSON lines of users, or nothing readable), decided from its first value alone.

    The file's bytes are released once its users are joined into lines. One pretty-printed
    document is decoded as it is, its users slices of the file that span lines (pyarrow reads
    them so, ``object_lines_table(objects=…)``): making it one line first cost more than the
    rest of the read. Pretty-printed pages and arrays are made one line each."""
    raw = held.data
    assert raw is not None
    try:
        pages = _split(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if pages is None or pages is NOT_A_DOCUMENT:
        return pages
    assert isinstance(pages, list)
    headers = [page.as_header() for page in pages]
    kinds = {page_kind(header) for header in headers}
    if len(kinds) != 1 or None in kinds:
        return None
    kind = str(kinds.pop())
    slices = [user for page in pages for user in _users(page)]
    if len(slices) < 2:
        return None  # one user or none: the general reader is as fast, and words it
    try:
        check_complete(kind, headers, len(slices), name)
    except InputError:
        return None  # the general reader raises it
    try:
        groups = _group_columns(pages)
    except msgspec.ValidationError:
        return None  # a group or a member that is not an object: the general reader reads it
    header = {key: value for key, value in headers[0].items() if key not in _USER_LISTS}
    del pages, headers, raw
    held.release()
    count = len(slices)
    slices.append(msgspec.Raw(b""))  # the last line's break, without a copy of all the lines
    lines = b"\n".join(slices)
    del slices
    # As many objects as slices, which may span lines (a pretty-printed document's users):
    # pyarrow reads them as fast so as one per line.
    table = object_lines_table(lines, sample_size=sample_size, objects=count)
    del lines
    if table is None:
        return None
    users = table.to_struct_array()
    del table
    if kind == "graph":
        users = scim_users_columnar(users, graph_url(header.get("@odata.context")))
        if users is None:
            return None
    if not struct_ids_valid(users, user_name_nulls=kind == "graph"):
        return None
    return ColumnarPages(users, groups, header)


def _split(raw: bytes) -> list[_Page] | bool | None:
    """The pages of a file (users as byte slices), NOT_A_DOCUMENT, or None when unsure.

    The first value is decoded straight away; only when more follow (msgspec stops at them)
    is the rest split into values."""
    at = _NOT_SPACE.search(raw, len(BOM) if raw.startswith(BOM) else 0)
    if at is None:
        return NOT_A_DOCUMENT
    start = at.start()
    if raw[start:start + 1] == b"[":
        return _array_pages(raw, start, len(raw))  # anything after the array: an error
    try:  # one document (the usual file) is read in one pass, not scanned for its end first;
        # a pretty-printed one as it is (its users then span lines: read_columnar knows)
        head = _PAGE.decode(memoryview(raw)[start:])
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass  # more values follow (msgspec stops at the second), or none it reads: split
    else:
        return [head] if page_kind(head.as_header()) is not None else NOT_A_DOCUMENT
    first = document_spans(raw, start=start, limit=1)
    if not first:
        return NOT_A_DOCUMENT
    end = first[0][1]
    head = _PAGE.decode(_one_line(raw, start, end))
    if page_kind(head.as_header()) is None:
        return NOT_A_DOCUMENT
    rest = document_spans(raw, start=end)
    if rest is None or any(raw[begin:begin + 1] != b"{" for begin, _ in rest):
        return None
    return [head, *(_PAGE.decode(_one_line(raw, *span)) for span in rest)]


def _array_pages(raw: bytes, start: int, end: int) -> list[_Page] | None:
    """The pages of a JSON array of pages, or one page of the users of a JSON array of users
    (a pretty-printed array is made one line first, so that no slice holds a line break)."""
    items = _USERS.decode(_one_line(raw, start, end))
    if not items or bytes(items[0])[:1] != b"{":
        return None
    try:
        head = _PAGE.decode(items[0])
    except msgspec.ValidationError:
        head = None
    if head is None or page_kind(head.as_header()) is None:
        return [_Page(schemas=[LIST_RESPONSE], Resources=items)]
    return [head, *(_PAGE.decode(item) for item in items[1:])]


def _one_line(raw: bytes, start: int, end: int) -> Any:
    """The value at raw[start:end], without line breaks outside strings (a view when it has
    none already)."""
    while end > start and raw[end - 1] in _SPACE:
        end -= 1  # the white space after a value (a final line break) is no line break in it
    if raw.find(b"\n", start, end) < 0:
        return memoryview(raw)[start:end]
    return msgspec.json.format(memoryview(raw)[start:end], indent=0)


def _users(page: _Page) -> list[msgspec.Raw]:
    if page.value is not msgspec.UNSET and page_kind(page.as_header()) == "graph":
        return page.value
    if page.Resources is not msgspec.UNSET:
        return page.Resources
    return page.resources if page.resources is not msgspec.UNSET else []


def _group_columns(pages: list[_Page]) -> GroupColumns | None:
    """The pages' groups as the general reader takes them (their lists joined; None when no
    page has a list), as columns: a member is a small struct, never a dict."""
    groups: list[_Group] | None = None
    for page in pages:
        listed = page.groups
        if listed is not msgspec.UNSET and memoryview(listed)[:1].tobytes() == b"[":
            groups = [*(groups or []), *_GROUPS.decode(listed)]
    if groups is None:
        return None
    sizes = [len(group.members) if group.members else 0 for group in groups]
    return GroupColumns.listed(
        [group.head() for group in groups],
        np.repeat(np.arange(len(groups), dtype=np.int64), sizes),
        [member.value for group in groups for member in group.members or ()],
        [member.type for group in groups for member in group.members or ()])


def struct_ids_valid(users: Any, *, user_name_nulls: bool = False) -> bool:
    """What the general reader demands of every user, where the columns say it for sure: ids
    present, non-empty and unique strings; userName a string in every row (a null could be
    JSON null, which is refused: not sure), or with ``user_name_nulls`` (Graph users mapped
    column-wise, where a null is an absent userName) wherever it is present."""
    import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

    names = [field.name for field in users.type]
    if names.count("id") != 1 or names.count("userName") > 1:
        return False
    ids = pc.struct_field(users, [names.index("id")])
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        return False
    if ids.null_count or not pc.all(pc.greater(pc.binary_length(ids), 0)).as_py():
        return False
    if "userName" in names:
        user_names = pc.struct_field(users, [names.index("userName")])
        if pa.types.is_null(user_names.type):
            return user_name_nulls and len(pc.unique(ids)) == len(ids)
        if not (pa.types.is_string(user_names.type) or pa.types.is_large_string(
                user_names.type)) or (user_names.null_count and not user_name_nulls):
            return False
    return len(pc.unique(ids)) == len(ids)
