"""A snapshot's groups as columns: what recon.core.groups compares, without a dict per member.

A target with a million people has about a million group memberships. As dicts they cost
seconds and hundreds of megabytes before anything is compared, so the columnar snapshot reader
(``recon.io.snapshot_documents``) fills these columns straight from the file's bytes, and a
live target's groups (dicts, ``Snapshot.groups``) go through ``GroupColumns.of``. Both read a
group as leniently as recon always has:

- ``id`` as text ("" when absent), ``displayName`` as written, ``meta.version`` (when ``meta``
  is an object) as the group's etag;
- a member is an object with a ``value`` (the member's id, as text; members without one are
  skipped) and a ``type`` ("User" when absent or empty; ``Group`` marks a nested group);
  anything in ``members`` that is not an object is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

GROUP_FIELDS = ["target_id", "group", "etag"]
MEMBER_FIELDS = ["group", "member_id", "kind"]


@dataclass(frozen=True)
class GroupColumns:
    """The groups of a snapshot, one row per group and one per member.

    ``groups``: ``target_id``, ``group`` (the displayName), ``etag``, as text, in listed order.
    ``members``: ``group`` (the row of the member's group in ``groups``, int64), ``member_id``
    and ``kind`` (text), in listed order; duplicates are kept (recon.core.groups drops them).
    """

    groups: pd.DataFrame
    members: pd.DataFrame

    @classmethod
    def of(cls, groups: Sequence[Mapping[str, Any]]) -> GroupColumns:
        """The columns of groups as dicts (a live target, the general snapshot reader)."""
        listed = [(number, member.get("value"), member.get("type"))
                  for number, group in enumerate(groups)
                  for member in (group.get("members") or []) if isinstance(member, dict)]
        return cls.listed(groups, np.array([row[0] for row in listed], dtype=np.int64),
                          [row[1] for row in listed], [row[2] for row in listed])

    @classmethod
    def listed(cls, groups: Sequence[Mapping[str, Any]], member_group: np.ndarray,
               values: list[Any], types: list[Any]) -> GroupColumns:
        """The columns of groups (their own keys; members are not read from them) and of their
        members, given as the group's row, the ``value`` and the ``type`` of each (None when
        absent). Groups are few: they are read one by one; members column-wise."""
        rows = [(str(group.get("id", "")), group.get("displayName"),
                 group["meta"].get("version") if isinstance(group.get("meta"), dict) else None)
                for group in groups]
        frame = pd.DataFrame(rows, columns=GROUP_FIELDS, dtype="string")
        member_id = _text(values)
        kind = pc.fill_null(_text(types, falsy_missing=True), "")
        kind = pc.if_else(pc.equal(kind, ""), "User", kind) if len(kind) else kind
        keep = pc.fill_null(pc.greater(pc.binary_length(member_id), 0), False)
        if not pc.all(keep).as_py() and len(member_id):
            member_group = member_group[np.asarray(keep.to_numpy(zero_copy_only=False))]
            member_id, kind = member_id.filter(keep), kind.filter(keep)
        members = pd.DataFrame({"group": pd.Series(member_group, dtype="int64"),
                                "member_id": _strings(member_id), "kind": _strings(kind)})
        return cls(frame, members)

    def member_ids(self) -> Any:
        """The members' ids as one pyarrow large_string array."""
        return _arrow(self.members["member_id"])

    def kinds(self) -> Any:
        return _arrow(self.members["kind"])


def _text(values: list[Any], *, falsy_missing: bool = False) -> Any:
    """Strings as they are, anything else as ``str()`` writes it (missing: null; with
    ``falsy_missing``, 0, false and empty values too), as pyarrow large_string. A type or value
    that is not text is rare: only then is each one looked at."""
    try:
        return pa.array(values, type=pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if value is None or (falsy_missing and not value)
                         else value if isinstance(value, str) else str(value)
                         for value in values], type=pa.large_string())


def _strings(array: Any) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(array), copy=False)


def _arrow(column: pd.Series) -> Any:
    array = pa.array(column.array)
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return array.cast(pa.large_string())
