"""A snapshot of a target: its SCIM User resources (and groups) at one time; immutable.

Every target produces one — a SCIM service provider, Entra ID mapped to SCIM shape, a file
(``recon.io.snapshots``) — and nothing downstream knows which.

Digest: a snapshot read from a file has the sha256 of the file's bytes (``sha256sum`` shows it);
a live snapshot (``Snapshot.of(resources)``) the sha256 of the canonical JSON of its resources
sorted by id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime
from typing import Any

from recon.core.canonical import canonical_bytes


def resources_digest(resources: Iterable[dict[str, Any]]) -> str:
    ordered = sorted(resources, key=lambda r: str(r.get("id", "")))
    digest = hashlib.sha256()
    for resource in ordered:
        digest.update(canonical_bytes(resource))
        digest.update(b"\n")
    return digest.hexdigest()


class Snapshot:
    """SCIM User resources of one target at one time; immutable once made.

    ``resources`` are the users as dicts. A JSON-lines file read columnar holds them as
    ``users`` (a pyarrow struct ChunkedArray, one row per user) and makes ``resources`` on first
    access with ``load`` (which reads the file again); ``users`` is None for every other
    snapshot.
    """

    __slots__ = ("_load", "_resources", "digest", "groups", "source", "taken_at", "users")

    source: str
    taken_at: str
    digest: str
    groups: list[dict[str, Any]] | None
    users: Any
    _resources: list[dict[str, Any]] | None
    _load: Callable[[], list[dict[str, Any]]] | None

    def __init__(
        self, resources: list[dict[str, Any]] | None = None, source: str = "",
        taken_at: str | None = None, digest: str = "",
        groups: list[dict[str, Any]] | None = None, *, users: Any = None,
        load: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        if resources is None and (users is None or load is None):
            raise ValueError("a Snapshot needs its resources, or columnar users and their loader")
        values = {"_resources": resources, "source": source, "digest": digest,
                  "taken_at": taken_at or datetime.now(UTC).isoformat(timespec="seconds"),
                  "groups": groups, "users": users, "_load": load}
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return (f"Snapshot({self.count} users, source={self.source!r}, "
                f"taken_at={self.taken_at!r}, digest={self.digest[:16]!r})")

    @property
    def count(self) -> int:
        """How many users the snapshot holds (without making their dicts)."""
        return len(self.users) if self._resources is None else len(self._resources)

    @property
    def resources(self) -> list[dict[str, Any]]:
        """The users as dicts; for a columnar-read file, loaded once and kept."""
        if self._resources is None:
            assert self._load is not None  # __init__ guarantees it
            object.__setattr__(self, "_resources", self._load())
        assert self._resources is not None
        return self._resources

    @classmethod
    def of(
        cls, resources: list[dict[str, Any]], source: str = "",
        groups: list[dict[str, Any]] | None = None, taken_at: str | None = None,
    ) -> Snapshot:
        """A live snapshot: its digest is that of the canonical JSON of the resources."""
        return cls(
            resources=resources,
            source=source,
            taken_at=taken_at,
            digest=resources_digest(resources + (groups or [])),
            groups=groups,
        )
