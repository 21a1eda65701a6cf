"""Target snapshots: SCIM User resources as the target returned them, from or to files.

A file may hold a SCIM ListResponse, a plain JSON list of users, JSON lines, or a snapshot
written by ``recon snapshot`` (``{"format": "recon.snapshot/1", ...}``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from recon.errors import InputError

SNAPSHOT_FORMAT = "recon.snapshot/1"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


# Dates, dataclasses and str subclasses go through ``default=str`` as in canonical_json.
_ORJSON_CANONICAL = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                     | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS)


def canonical_bytes(value: Any) -> bytes:
    """``canonical_json(value)`` as UTF-8: the same bytes, from orjson when it can (3× faster).

    orjson refuses what json would write differently (non-string keys, NaN, huge integers,
    lone surrogates); those take the json path.
    """
    try:
        return orjson.dumps(value, option=_ORJSON_CANONICAL, default=str)
    except (TypeError, orjson.JSONEncodeError):
        return canonical_json(value).encode("utf-8")


def resources_digest(resources: Iterable[dict[str, Any]]) -> str:
    ordered = sorted(resources, key=lambda r: str(r.get("id", "")))
    digest = hashlib.sha256()
    for resource in ordered:
        digest.update(canonical_bytes(resource))
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class Snapshot:
    resources: list[dict[str, Any]]
    source: str = ""
    taken_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    digest: str = ""
    groups: list[dict[str, Any]] | None = None

    @classmethod
    def of(
        cls, resources: list[dict[str, Any]], source: str = "",
        groups: list[dict[str, Any]] | None = None, taken_at: str | None = None,
    ) -> Snapshot:
        return cls(
            resources=resources,
            source=source,
            taken_at=taken_at or datetime.now(UTC).isoformat(timespec="seconds"),
            digest=resources_digest(resources + (groups or [])),
            groups=groups,
        )

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "format": SNAPSHOT_FORMAT,
            "source": self.source,
            "taken_at": self.taken_at,
            "digest": self.digest,
            "Resources": self.resources,
        }
        if self.groups is not None:
            body["groups"] = self.groups
        return body


def write_snapshot(snapshot: Snapshot, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(snapshot.to_json(), indent=1, ensure_ascii=False), encoding="utf-8")


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


def read_snapshot(path: str | Path) -> Snapshot:
    file = Path(path)
    name = str(file)
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read snapshot ({error.strerror})", file=name) from error
    fast = _parse_fast(raw)
    if fast is not None:
        data, lines = fast
        users, groups = (lines, None) if lines is not None else _users_of(data, name)
    else:
        data, users, groups = _parse_slow(raw, name)
    return _checked(users, groups, data, name)


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
    users: list[Any], groups: list[dict[str, Any]] | None, data: Any, name: str,
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
    return Snapshot.of(
        users, source=str(header.get("source") or name), groups=groups,
        taken_at=header.get("taken_at"),
    )
