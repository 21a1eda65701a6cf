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

from recon.errors import InputError

SNAPSHOT_FORMAT = "recon.snapshot/1"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def resources_digest(resources: Iterable[dict[str, Any]]) -> str:
    ordered = sorted(resources, key=lambda r: str(r.get("id", "")))
    digest = hashlib.sha256()
    for resource in ordered:
        digest.update(canonical_json(resource).encode("utf-8"))
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


def read_snapshot(path: str | Path) -> Snapshot:
    file = Path(path)
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InputError(f"cannot read snapshot ({error.strerror})", file=name) from error
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
