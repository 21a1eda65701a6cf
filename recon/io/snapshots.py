"""Target snapshots: SCIM User resources as the target returned them, from or to files.

A file may hold JSON lines (one user a line), a SCIM ListResponse, a plain JSON list of users,
a snapshot written by ``recon snapshot`` (``{"format": "recon.snapshot/1", ...}``, with groups),
a Microsoft Graph ``/users`` export (mapped to SCIM users), or several pages of a listing
(``recon.io.snapshot_documents`` says which forms).

Digest: a snapshot read from a file (any of these formats) has ``digest`` = sha256 of the file's
bytes, so an auditor can check it with ``sha256sum`` (``recon.core.snapshot``).

Every form is read columnar when it can be: pyarrow parses the users into ``Snapshot.users``, a
struct array with one row per user, and no Python dict is made (JSON lines directly; documents
and pages after msgspec has cut them into one byte slice per user; a document's groups into
``Snapshot.group_columns``). ``Snapshot.resources`` and ``Snapshot.groups`` are then built only
when something asks for them, by re-reading the file (which must still have the digest's bytes)
the general way. Anything the columnar readers are not sure of is read the
general way (orjson, then json for the wording of errors), so every error message stays the same.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from recon.core.scim import LIST_RESPONSE
from recon.core.snapshot import Snapshot
from recon.core.snapshot_groups import GroupColumns
from recon.errors import InputError
from recon.io.json_columns import SAMPLE_SIZE, object_lines_table
from recon.io.snapshot_documents import (
    NOT_A_DOCUMENT,
    SNAPSHOT_FORMAT,
    ColumnarPages,
    Held,
    page_kind,
    parse_documents,
    read_columnar,
    read_pages,
    struct_ids_valid,
)

__all__ = ["LIST_RESPONSE", "SNAPSHOT_FORMAT", "read_snapshot", "snapshot_document",
           "write_snapshot"]

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
_SAMPLE_SIZE = SAMPLE_SIZE  # the first bytes whose types pyarrow is told (tests shrink it)


def snapshot_document(snapshot: Snapshot) -> dict[str, Any]:
    """The ``recon.snapshot/1`` document of a snapshot: source, time, digest, users, groups."""
    body: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "source": snapshot.source,
        "taken_at": snapshot.taken_at,
        "digest": snapshot.digest,
        "Resources": snapshot.resources,
    }
    if snapshot.groups is not None:
        body["groups"] = snapshot.groups
    return body


def write_snapshot(snapshot: Snapshot, path: Path) -> None:
    """A ``recon.snapshot/1`` document, or JSON lines (one user per line) when the file name
    ends in .jsonl or .ndjson: the form read columnar, for large targets. JSON lines hold users
    only, so a snapshot with groups is refused there rather than saved without them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() not in JSON_LINES_SUFFIXES:
        path.write_text(json.dumps(snapshot_document(snapshot), indent=1, ensure_ascii=False),
                        encoding="utf-8")
        return
    if snapshot.groups is not None:
        raise InputError("JSON lines hold users only: write a snapshot with groups to a .json "
                         "file", file=str(path))
    with path.open("wb") as out:
        for user in snapshot.resources:
            out.write(orjson.dumps(user, option=orjson.OPT_APPEND_NEWLINE))


def _users_of(data: Any, name: str
              ) -> tuple[dict[str, Any], list[Any], list[dict[str, Any]] | None]:
    """(the header, the users, the groups) of one parsed document."""
    if isinstance(data, list):
        pages = read_pages(data, name)  # a JSON array of pages
        if pages is not None:
            return pages.header, pages.users, pages.groups
        return {}, data, None
    if isinstance(data, dict):
        if page_kind(data) is not None:
            pages = read_pages([data], name)
            assert pages is not None
            return pages.header, pages.users, pages.groups
        if "userName" in data or "id" in data:
            return data, [data], None
    raise InputError(
        "not a SCIM snapshot (expected a ListResponse, a list of users, a Graph /users export, "
        "or JSON lines)", file=name)


def _parse_fast(raw: bytes) -> tuple[Any, list[Any] | None] | None:
    """(the document, or None and the objects of its JSON lines), parsed by orjson.

    None when orjson cannot read it: the json path then finds the error and words it.
    """
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError:
        pass
    try:
        return None, [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    except orjson.JSONDecodeError:
        return None


def _read_bytes(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read snapshot ({error.strerror})", file=str(file)) from error


def _parse(raw: bytes, name: str
           ) -> tuple[dict[str, Any], list[Any], list[dict[str, Any]] | None]:
    """(the header, the users, the groups): orjson when it can, else json.

    Lines or concatenated documents whose first is a page are the pages of one listing."""
    fast = _parse_fast(raw)
    if fast is None:
        documents = parse_documents(raw, name)
        if documents is not None and page_kind(documents[0]) is not None:
            pages = read_pages(documents, name)
            assert pages is not None
            return pages.header, pages.users, pages.groups
        return _parse_slow(raw, name)
    data, lines = fast
    if lines is None:
        return _users_of(data, name)
    pages = read_pages(lines, name)
    if pages is not None:
        return pages.header, pages.users, pages.groups
    return {}, lines, None


def read_snapshot(path: str | Path) -> Snapshot:
    """The snapshot a file holds; its digest is the sha256 of the file's bytes."""
    file = Path(path)
    name = str(file)
    held = Held(_read_bytes(file))
    # hashlib releases the GIL: the file is hashed on another core while it is parsed.
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(hashlib.sha256, held.data or b"")
        columnar = _columnar_users(held)
        digest = hashing.result().hexdigest()
    if columnar is not None:
        users, group_columns, header = columnar
        return Snapshot(source=str(header.get("source") or name), digest=digest, users=users,
                        group_columns=group_columns, taken_at=header.get("taken_at"),
                        load=partial(_reread, file, digest))
    raw = held.data if held.data is not None else _same_bytes(file, digest)
    header, listed, groups = _parse(raw, name)
    return _checked(listed, groups, header, name, digest)


def _same_bytes(file: Path, digest: str) -> bytes:
    """The file's bytes read again, which must still be those of the digest."""
    raw = _read_bytes(file)
    if hashlib.sha256(raw).hexdigest() != digest:
        raise InputError("snapshot file changed since it was read", file=str(file))
    return raw


def _reread(file: Path, digest: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """The resources and groups of a columnar-read file, parsed the general way from the same
    bytes."""
    _, users, groups = _parse(_same_bytes(file, digest), str(file))
    return users, groups


def _parse_slow(
    raw: bytes, name: str,
) -> tuple[dict[str, Any], list[Any], list[dict[str, Any]] | None]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError("not a SCIM snapshot (not UTF-8 text)", file=name) from error
    groups: list[dict[str, Any]] | None = None
    header: dict[str, Any] = {}
    try:
        header, users, groups = _users_of(json.loads(text), name)
    except json.JSONDecodeError as first_error:
        users = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                users.append(json.loads(line))
            except json.JSONDecodeError as error:
                if number == 1:
                    raise InputError(
                        f"not a SCIM snapshot: invalid JSON at line {first_error.lineno}, "
                        f"column {first_error.colno}", file=name) from first_error
                raise InputError(f"invalid JSON line: {error.msg}", file=name,
                                 row=number) from error
    return header, users, groups


def _checked(
    users: list[Any], groups: list[dict[str, Any]] | None, header: dict[str, Any], name: str,
    digest: str,
) -> Snapshot:
    for number, user in enumerate(users, start=1):
        if not isinstance(user, dict):
            raise InputError("not a SCIM user object", file=name, row=number)
        if not user.get("id"):
            raise InputError("SCIM user without an 'id'", file=name, row=number)
        if not isinstance(user.get("userName", ""), str):
            raise InputError("'userName' is not a string", file=name, row=number)
    ids = [str(user["id"]) for user in users]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        duplicate = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise InputError(f"duplicate SCIM id {duplicate!r}", file=name)
    return Snapshot(
        users, source=str(header.get("source") or name), groups=groups,
        taken_at=header.get("taken_at"), digest=digest,
    )


# ---- columnar reading -------------------------------------------------------------------------

def _columnar_users(held: Held) -> tuple[Any, GroupColumns | None, dict[str, Any]] | None:
    """(the users as a pyarrow struct array, the groups as columns, the header) of a file, or
    None.

    A document or pages (a file that starts with an array, or with a page) go to
    ``snapshot_documents`` (which may release the file's bytes); JSON lines of users to
    pyarrow directly."""
    pages = read_columnar(held, "", sample_size=_SAMPLE_SIZE)
    if isinstance(pages, ColumnarPages):
        return pages.users, pages.groups, pages.header
    if pages is not NOT_A_DOCUMENT or held.data is None:
        return None
    table = object_lines_table(held.data, sample_size=_SAMPLE_SIZE)
    if table is None:
        return None
    users = table.to_struct_array()
    return (users, None, {}) if struct_ids_valid(users) else None
