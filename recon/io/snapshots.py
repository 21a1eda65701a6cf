"""Target snapshots: SCIM User resources as the target returned them, from or to files.

A file may hold a SCIM ListResponse, a plain JSON list of users, JSON lines, or a snapshot
written by ``recon snapshot`` (``{"format": "recon.snapshot/1", ...}``).

Digest: a snapshot read from a file (any of these formats) has ``digest`` = sha256 of the file's
bytes, so an auditor can check it with ``sha256sum`` (``recon.core.snapshot``).

JSON lines (one user object per line, at least two lines) are read columnar: pyarrow parses the
file into ``Snapshot.users``, a struct array with one row per user, and no Python dict is made.
``Snapshot.resources`` is then built only when something asks for it, by re-reading the file
(which must still have the digest's bytes) the same way as any other file. Anything pyarrow
cannot read exactly as one object per line, or whose users fail a check, is read the general
way (orjson, then json for the wording of errors), so every error message stays the same.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.json as pa_json  # type: ignore[import-untyped, unused-ignore]

from recon.core.scim import LIST_RESPONSE
from recon.core.snapshot import Snapshot
from recon.errors import InputError

SNAPSHOT_FORMAT = "recon.snapshot/1"
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")


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


def _users_of(data: Any, name: str) -> tuple[list[Any], list[dict[str, Any]] | None]:
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict):
        if data.get("format") == SNAPSHOT_FORMAT or LIST_RESPONSE in data.get("schemas", []):
            resources = data.get("Resources", data.get("resources", []))
            groups = data.get("groups")
            if not isinstance(resources, list):
                raise InputError("not a SCIM snapshot ('Resources' is not a list)", file=name)
            return resources, groups if isinstance(groups, list) else None
        if "userName" in data or "id" in data:
            return [data], None
    raise InputError(
        "not a SCIM snapshot (expected a ListResponse, a list of users, or JSON lines)",
        file=name)


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


def _parse(raw: bytes, name: str) -> tuple[Any, list[Any], list[dict[str, Any]] | None]:
    """(the document or None, its users, its groups): orjson when it can, else json."""
    fast = _parse_fast(raw)
    if fast is None:
        return _parse_slow(raw, name)
    data, lines = fast
    users, groups = (lines, None) if lines is not None else _users_of(data, name)
    return data, users, groups


def read_snapshot(path: str | Path) -> Snapshot:
    """The snapshot a file holds; its digest is the sha256 of the file's bytes."""
    file = Path(path)
    name = str(file)
    raw = _read_bytes(file)
    # hashlib releases the GIL: the file is hashed on another core while pyarrow parses it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(lambda: hashlib.sha256(raw).hexdigest())
        users = _columnar_users(raw)
        digest = hashing.result()
    if users is not None:
        return Snapshot(source=name, digest=digest, users=users,
                        load=partial(_reread, file, digest))
    data, listed, groups = _parse(raw, name)
    return _checked(listed, groups, data, name, digest)


def _reread(file: Path, digest: str) -> list[dict[str, Any]]:
    """The resources of a columnar-read file, parsed the general way from the same bytes."""
    raw = _read_bytes(file)
    if hashlib.sha256(raw).hexdigest() != digest:
        raise InputError("snapshot file changed since it was read", file=str(file))
    _, users, _ = _parse(raw, str(file))
    return users


def _parse_slow(
    raw: bytes, name: str,
) -> tuple[Any, list[Any], list[dict[str, Any]] | None]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError("not a SCIM snapshot (not UTF-8 text)", file=name) from error
    groups: list[dict[str, Any]] | None = None
    data: Any = None
    try:
        data = json.loads(text)
        users, groups = _users_of(data, name)
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
    return data, users, groups


def _checked(
    users: list[Any], groups: list[dict[str, Any]] | None, data: Any, name: str, digest: str,
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
    header = data if isinstance(data, dict) else {}
    return Snapshot(
        users, source=str(header.get("source") or name), groups=groups,
        taken_at=header.get("taken_at"), digest=digest,
    )


# ---- columnar reading of JSON lines ------------------------------------------------------------
# pyarrow's JSON reader accepts more than one object per line, objects across lines and blank
# lines; the general path reads a file line by line. So the columnar path takes a file only when
# each line is exactly one object: it starts with "{", every line break sits between "}" and "{"
# (the only place they can meet outside a string is between two top-level objects, and pyarrow
# refuses raw line breaks in strings), and pyarrow finds as many rows as there are lines. It also
# checks UTF-8 (pyarrow does not) and every rule _checked applies; on any doubt, None.

_BOM = b"\xef\xbb\xbf"
_BLOCK_SIZE = 4 << 20  # bytes per pyarrow block: the unit of its threads, and the longest line
_SAMPLE_SIZE = 1 << 20  # the first lines, whose types are given to pyarrow for the whole file
_SLICE = 1 << 22  # bytes searched for line breaks at a time
_LF, _CR, _OPEN, _CLOSE = b"\n"[0], b"\r"[0], b"{"[0], b"}"[0]


def _columnar_users(raw: bytes) -> Any:
    """The users of a JSON-lines file as a pyarrow struct ChunkedArray, or None."""
    start = len(_BOM) if raw.startswith(_BOM) else 0
    if raw[start:start + 1] != b"{":
        return None
    lines = _object_lines(raw)
    if lines < 2:
        return None  # one object may be a whole document: the general path decides
    buffer = pa.py_buffer(raw).slice(start)
    sample = raw.find(b"\n", start + _SAMPLE_SIZE) + 1 or len(raw)
    try:
        offsets = pa.array([0, len(buffer)], pa.int64()).buffers()[1]
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, buffer]).cast(
            pa.large_string())  # UTF-8 check
        first = pa_json.read_json(pa.BufferReader(buffer.slice(0, sample - start)),
                                  read_options=pa_json.ReadOptions(use_threads=False))
        table = pa_json.read_json(
            pa.BufferReader(buffer), read_options=pa_json.ReadOptions(block_size=_BLOCK_SIZE),
            parse_options=pa_json.ParseOptions(explicit_schema=_pinned(first.schema)))
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != lines or not _valid_users(table):
        return None
    return table.to_struct_array()


def _object_lines(raw: bytes) -> int:
    """How many lines the file has, if each line break sits between "}" and "{" (CR allowed
    before it), else 0. In slices, so that the temporary arrays stay small."""
    data = np.frombuffer(raw, dtype=np.uint8)
    end = len(data) - 1 if raw.endswith(b"\n") else len(data)  # a final break ends a line
    breaks = 0
    for offset in range(0, end, _SLICE):
        at = np.flatnonzero(data[offset:min(offset + _SLICE, end)] == _LF) + offset
        before = data[at - 1]
        crlf = before == _CR
        if not (np.all(data[at + 1] == _OPEN)
                and np.all(np.where(crlf, data[np.maximum(at - 2, 0)], before) == _CLOSE)):
            return 0
        breaks += len(at)
    return breaks + 1


def _is_text(column: Any) -> bool:
    return bool(pa.types.is_string(column.type) or pa.types.is_large_string(column.type))


def _valid_users(table: Any) -> bool:
    """What _checked demands, where the columns say it for sure: ids present, non-empty and
    unique strings; userName a string in every row (a null could be JSON null: not sure)."""
    names = table.schema.names
    if names.count("id") != 1 or names.count("userName") > 1:
        return False
    ids = table.column("id")
    if not _is_text(ids) or ids.null_count:
        return False
    if not pc.all(pc.greater(pc.binary_length(ids), 0)).as_py():
        return False
    if "userName" in names:
        user_names = table.column("userName")
        if not _is_text(user_names) or user_names.null_count:
            return False
    return len(pc.unique(ids)) == len(ids)


def _pinned(schema: Any) -> Any:
    """The schema inferred from the first lines, as an explicit schema for the whole file: the
    types it is sure of (strings, booleans, objects, lists of them), with timestamp-looking
    strings kept as strings, so that such a column is read columnar rather than per resource.
    Numbers and nulls are left to inference (an integer column may still meet a fraction);
    fields first seen later are inferred. pyarrow refuses nothing with it that inference would
    have accepted, and skips some inference work."""
    fields = [pa.field(field.name, kind) for field in schema
              if (kind := _pinned_type(field.type)) is not None]
    return pa.schema(fields)


def _pinned_type(kind: Any) -> Any:
    if pa.types.is_string(kind) or pa.types.is_timestamp(kind):
        return pa.string()
    if pa.types.is_boolean(kind):
        return kind
    if pa.types.is_struct(kind):
        fields = [pa.field(field.name, inner) for field in kind
                  if (inner := _pinned_type(field.type)) is not None]
        return pa.struct(fields) if fields else None
    if pa.types.is_list(kind):
        item = _pinned_type(kind.value_type)
        return pa.list_(item) if item is not None else None
    return None
