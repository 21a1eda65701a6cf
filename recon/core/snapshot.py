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
from recon.core.snapshot_groups import GroupColumns

#: What reads a columnar-read file again the general way: its users and its groups as dicts.
Loader = Callable[[], tuple[list[dict[str, Any]], list[dict[str, Any]] | None]]


def resources_digest(resources: Iterable[dict[str, Any]]) -> str:
    ordered = sorted(resources, key=lambda r: str(r.get("id", "")))
    digest = hashlib.sha256()
    for resource in ordered:
        digest.update(canonical_bytes(resource))
        digest.update(b"\n")
    return digest.hexdigest()


class Snapshot:
    """SCIM User resources of one target at one time; immutable once made.

    ``resources`` are the users as dicts and ``groups`` the groups as dicts (None: the target
    was read without groups). A file read columnar holds its users as ``users`` (a pyarrow
    struct ChunkedArray, one row per user) and its groups as ``group_columns``
    (``recon.core.snapshot_groups``), and makes ``resources`` and ``groups`` on first access to
    either with ``load`` (which reads the file again); ``users`` is None for every other
    snapshot. ``group_columns`` are made from the dicts when a snapshot has only those.
    """

    __slots__ = ("_group_columns", "_groups", "_load", "_resources", "digest", "source",
                 "taken_at", "users")

    source: str
    taken_at: str
    digest: str
    users: Any
    _resources: list[dict[str, Any]] | None
    _groups: list[dict[str, Any]] | None
    _group_columns: GroupColumns | None
    _load: Loader | None

    def __init__(
        self, resources: list[dict[str, Any]] | None = None, source: str = "",
        taken_at: str | None = None, digest: str = "",
        groups: list[dict[str, Any]] | None = None, *, users: Any = None,
        load: Loader | None = None, group_columns: GroupColumns | None = None,
    ) -> None:
        if resources is None and (users is None or load is None):
            raise ValueError("a Snapshot needs its resources, or columnar users and their loader")
        if groups is None and group_columns is not None and load is None:
            raise ValueError("a Snapshot with columnar groups needs their loader")
        values = {"_resources": resources, "source": source, "digest": digest,
                  "taken_at": taken_at or datetime.now(UTC).isoformat(timespec="seconds"),
                  "_groups": groups, "_group_columns": group_columns, "users": users,
                  "_load": load}
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
            self._loaded()
        assert self._resources is not None
        return self._resources

    @property
    def groups(self) -> list[dict[str, Any]] | None:
        """The groups as dicts (None: read without groups); for a file whose groups were read
        columnar, loaded once with the resources and kept."""
        if self._groups is None and self._group_columns is not None:
            self._loaded()
        return self._groups

    @property
    def group_columns(self) -> GroupColumns | None:
        """The groups as columns (what recon.core.groups compares), None without groups; made
        from the dicts once when the snapshot was not read columnar."""
        if self._group_columns is None and self._groups is not None:
            object.__setattr__(self, "_group_columns", GroupColumns.of(self._groups))
        return self._group_columns

    def _loaded(self) -> None:
        assert self._load is not None  # __init__ guarantees it
        resources, groups = self._load()
        if self._resources is None:
            object.__setattr__(self, "_resources", resources)
        if self._groups is None and self._group_columns is not None:
            object.__setattr__(self, "_groups", groups)

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
