"""Approved ops as the push engine sees them, and the comparisons behind its preconditions.

An op's ``payload`` says what it writes; from it we derive the *desired* values (``{path:
value}``), so that an account already holding them counts as done. Its ``before`` says what the
snapshot held; if the account no longer holds it, someone changed it since and the op is stale.
Both compare by the one rule of ``recon.core.same`` that classify and verify use: Unicode NFC,
trimmed, lower-cased for userName and e-mail values, ``active`` read leniently ("False" is
false, missing is true), manager as its id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import pandas as pd

from recon.core.same import missing, same
from recon.core.scim import get_path, is_schema

#: An earlier create's resource, named by its bulkId (RFC 7644 §3.7.2; see recon.core.groupplan).
REFERENCE = re.compile(r"bulkId:([0-9a-f]{32})")
_MEMBER_FILTER = re.compile(r'^members\[\s*value\s+eq\s+"(?P<id>[^"]*)"\s*\]$', re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """What a re-read says about an op: a final status (with a reason), or None to go ahead."""

    status: str | None
    reason: str | None = None


def _json(value: Any) -> Any:
    """A JSON text column (or an already parsed value); missing values become None."""
    if missing(value):
        return None
    if isinstance(value, str):
        return json.loads(value) if value.strip() else None
    return value


def _text(value: Any) -> str:
    return "" if missing(value) else str(value)


def _flatten(prefix: str | None, value: dict[str, Any], into: dict[str, Any]) -> bool:
    """Path-less PATCH values (``{"op": "replace", "value": {...}}``) as ``{path: value}``."""
    complete = True
    for key, item in value.items():
        if is_schema(key) and isinstance(item, dict):
            for sub, sub_value in item.items():
                complete &= _put(f"{key}:{sub}", sub_value, into)
        elif isinstance(item, dict) and not (prefix is None and key.lower() == "manager"):
            for sub, sub_value in item.items():
                complete &= _put(f"{key}.{sub}", sub_value, into)
        else:
            complete &= _put(key, item, into)
    return complete


def _put(path: str, value: Any, into: dict[str, Any]) -> bool:
    """Record a desired value; lists of typed items become one path per type."""
    if isinstance(value, list):
        if value and all(isinstance(i, dict) and "type" in i and "value" in i for i in value):
            for item in value:
                into[f'{path}[type eq "{item["type"]}"].value'] = item["value"]
            return True
        return False  # a multi-valued write we cannot compare item by item
    into[path] = value
    return True


def _member_ids(value: Any) -> list[str] | None:
    """Member ids of a PATCH value: ``[{"value": id}, …]`` (or one such item); None otherwise."""
    items = value if isinstance(value, list) else [value]
    ids = [str(item["value"]) for item in items if isinstance(item, dict) and item.get("value")]
    return ids if ids and len(ids) == len(items) else None


def _members_op(kind: str, path: str, value: Any, into: dict[str, Any]) -> bool | None:
    """A group-membership operation as ``{"members": {"present": […], "absent": […]}}``.

    Accepts the RFC 7644 forms (add with a value list; remove by ``members[value eq "…"]``)
    and Entra's non-RFC ones: capitalised ops, and a remove on ``members`` with a value array.
    Returns None when the operation is not about members, False when it cannot be compared
    (a remove of every member).
    """
    filtered = _MEMBER_FILTER.match(path.strip())
    if path.strip().lower() != "members" and filtered is None:
        return None
    wanted = into.setdefault("members", {"present": [], "absent": []})
    if filtered is not None and kind == "remove":
        ids: list[str] | None = [filtered.group("id")]
    else:
        ids = _member_ids(value)
    if ids is None or kind not in {"add", "remove"}:
        return False
    if kind == "add":
        wanted["present"] = [i for i in wanted["present"] if i not in ids] + ids
        wanted["absent"] = [i for i in wanted["absent"] if i not in ids]
    else:
        wanted["absent"] = [i for i in wanted["absent"] if i not in ids] + ids
        wanted["present"] = [i for i in wanted["present"] if i not in ids]
    return True


def members_hold(resource: dict[str, Any], expected: Mapping[str, Any]) -> bool:
    """A group has every ``present`` member and none of the ``absent`` ones."""
    have = {str(m.get("value")) for m in (get_path(resource, "members") or [])
            if isinstance(m, dict)}
    return (all(str(i) in have for i in expected.get("present") or [])
            and not any(str(i) in have for i in expected.get("absent") or []))


def _holds(resource: dict[str, Any], path: str, value: Any) -> bool:
    if path.lower() == "members" and isinstance(value, dict):
        return members_hold(resource, value)
    return same(path, get_path(resource, path), value)


def desired_of_patch(patch: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
    """The ``{path: value}`` a PatchOp leaves behind, and whether that is all it does."""
    desired: dict[str, Any] = {}
    complete = True
    for operation in (patch or {}).get("Operations") or []:
        kind = str(operation.get("op", "")).lower()  # real clients send "Replace", "Add"
        path = operation.get("path")
        value = operation.get("value")
        if isinstance(path, str) and (members := _members_op(kind, path, value, desired)
                                      ) is not None:
            complete &= members
        elif kind == "remove" and path:
            desired[path] = None
        elif kind in {"add", "replace"} and path:
            complete &= _put(path, value, desired)
        elif kind in {"add", "replace"} and isinstance(value, dict):
            complete &= _flatten(None, value, desired)
        else:
            complete = False
    return desired, complete


def desired_holds(resource: dict[str, Any], desired: dict[str, Any]) -> bool:
    """The account already holds every desired value."""
    return all(_holds(resource, path, value) for path, value in desired.items())


def before_holds(resource: dict[str, Any], before: dict[str, Any]) -> bool:
    """The account still holds what the snapshot held for every attribute the op writes."""
    return all(_holds(resource, path, value) for path, value in before.items())


def summarize(values: dict[str, Any]) -> str:
    """The attribute names of a mapping, never its values (no personal data in messages)."""
    return "/".join(values) or "no attributes"


@dataclass(frozen=True)
class Op:
    """One approved op, its JSON columns parsed once."""

    op_id: str
    action: str
    method: str
    path: str
    target_id: str
    hr_key: str
    category: str
    payload: dict[str, Any] | None
    before: dict[str, Any]
    etag: str
    match: dict[str, Any]
    desired: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return "/" + self.path.strip("/").split("/")[0]

    @property
    def bulk_id(self) -> str:
        return self.op_id[:32]

    @property
    def summary(self) -> str:
        """What the journal keeps about the request: method, path and the attribute paths."""
        if self.method == "POST":
            keys = [k for k in (self.payload or {}) if k != "schemas"]
            return f"POST {self.endpoint}: {', '.join(keys)}"
        if self.method == "DELETE":
            return f"DELETE {self.path}"
        parts = [
            f"{str(o.get('op', '')).lower()} {o.get('path') or summarize(o.get('value') or {})}"
            for o in (self.payload or {}).get("Operations") or []
        ]
        return f"{self.method} {self.path}: {'; '.join(parts)}"[:500]

    def changed_paths(self, resource: dict[str, Any]) -> list[str]:
        return [path for path, value in self.before.items()
                if not _holds(resource, path, value)]

    @property
    def references(self) -> list[str]:
        """bulkIds of earlier creates this op refers to (a new group, a joiner's account)."""
        found = REFERENCE.findall(json.dumps([self.path, self.payload, self.before]))
        return list(dict.fromkeys(found))

    def resolved(self, created: Mapping[str, str]) -> Op:
        """The op with every ``bulkId:…`` replaced by the id its create got (all must be known)."""
        if not self.references:
            return self
        text = REFERENCE.sub(lambda found: created[found.group(1)],
                             json.dumps([self.path, self.target_id, self.payload, self.before]))
        path, target_id, payload, before = json.loads(text)
        return replace(self, path=path, target_id=target_id, payload=payload, before=before,
                       desired=_desired(self.method, payload, self.match))

    def bulk_operation(self) -> dict[str, Any]:
        """The op as a BulkRequest operation (RFC 7644 §3.7), its snapshot version as If-Match."""
        operation: dict[str, Any] = {"method": self.method, "bulkId": self.bulk_id,
                                     "path": self.endpoint if self.method == "POST" else self.path}
        if self.payload is not None and self.method != "DELETE":
            operation["data"] = self.payload
        if self.etag and self.method != "POST":
            operation["version"] = self.etag
        return operation

    @cached_property
    def bulk_size(self) -> int:
        """Bytes of the op in a BulkRequest (for chunking to maxPayloadSize)."""
        return len(json.dumps(self.bulk_operation(), ensure_ascii=False).encode("utf-8"))


def op_from_row(row: Mapping[Any, Any]) -> Op:
    action = _text(row.get("action"))
    method = _text(row.get("method")).upper() or {"create": "POST", "delete": "DELETE"}.get(
        action, "PATCH")
    payload = _json(row.get("payload"))
    before = _json(row.get("before")) or {}
    match = _json(row.get("match")) or {}
    return Op(
        op_id=_text(row.get("op_id")), action=action, method=method, path=_text(row.get("path")),
        target_id=_text(row.get("target_id")), hr_key=_text(row.get("hr_key")),
        category=_text(row.get("category")), payload=payload if isinstance(payload, dict) else None,
        before=before if isinstance(before, dict) else {}, etag=_text(row.get("etag")),
        match=match if isinstance(match, dict) else {},
        desired=_desired(method, payload, match if isinstance(match, dict) else {}),
    )


def _desired(method: str, payload: Any, match: dict[str, Any]) -> dict[str, Any]:
    """What the target holds once the op is applied; empty when that cannot be compared."""
    if method == "POST":
        desired: dict[str, Any] = {k: v for k, v in match.items() if v not in (None, "")}
        if not desired and isinstance(payload, dict):
            desired = {k: payload[k] for k in ("userName", "externalId") if payload.get(k)}
        complete = bool(desired)
    elif method == "DELETE":
        desired, complete = {}, True
    else:
        desired, complete = desired_of_patch(payload if isinstance(payload, dict) else None)
    # An op whose effect we cannot fully compare is never declared "already applied".
    return desired if complete else {}


def ops_from_frame(frame: pd.DataFrame) -> list[Op]:
    """Plan rows (docs/architecture.md "Plan") as Op objects, in order."""
    columns = list(frame.columns)
    # One conversion to plain Python objects, then per-row dicts (the rows hold nested JSON).
    values = frame.astype(object).to_numpy()
    return [op_from_row(dict(zip(columns, row, strict=True))) for row in values]


def bulk_chunks(ops: list[Op], max_operations: int, max_payload: int) -> Iterator[list[Op]]:
    """Chunks within the target's Bulk limits (operation count and payload bytes, with margin)."""
    budget = int(max_payload * 0.9) - 200
    chunk: list[Op] = []
    size = 0
    for op in ops:
        weight = op.bulk_size + 2
        if chunk and (len(chunk) >= max_operations or size + weight > budget):
            yield chunk
            chunk, size = [], 0
        chunk.append(op)
        size += weight
    if chunk:
        yield chunk


__all__ = [
    "REFERENCE",
    "Op",
    "Verdict",
    "before_holds",
    "bulk_chunks",
    "desired_holds",
    "desired_of_patch",
    "members_hold",
    "op_from_row",
    "ops_from_frame",
    "summarize",
]
