"""An approved op's request, shaped for the provider's PATCH style at send time.

The plan holds RFC 7644 PatchOps with filtered paths (``emails[type eq "work"].value``,
``members[value eq "…"]``); its op ids and the approval are bound to that payload, so the push
translates the request rather than re-planning. What the translation writes on the target is
what the PatchOp writes, so the op's preconditions (``before``) and verify hold unchanged.

- ``path_filter``: sent as planned.
- ``value_object``: each operation with a filtered path becomes a ``replace`` of the whole
  multi-valued attribute (the account's current list with the change applied) in a value object
  without a path, as GitHub documents; other operations are sent as planned.
- ``put``: the whole resource, re-read, with the PatchOp applied here (:func:`apply_patch`),
  for providers that take profile changes only by PUT (Zoom).

Both translations start from the account as it is now, which the push re-reads anyway to check
the op's ``before`` values (these providers do not honour ETags).
"""

from __future__ import annotations

import copy
from typing import Any

from recon.core.ops import Op
from recon.core.scim import ENTERPRISE, PATCH_OP, Path, is_schema, parse_path

#: Attributes a PUT must not carry: the server owns them (RFC 7643 §3.1), or they are read-only.
SERVER_OWNED = frozenset({"meta", "groups"})


def _key(mapping: dict[str, Any], name: str) -> str:
    """``name`` as ``mapping`` spells it (attribute names are case-insensitive), else as given."""
    if name in mapping:
        return name
    lowered = name.lower()
    return next((key for key in mapping if key.lower() == lowered), name)


def _container(resource: dict[str, Any], path: Path) -> dict[str, Any]:
    if path.schema is None:
        return resource
    key = _key(resource, path.schema)
    if not isinstance(resource.get(key), dict):
        resource[key] = {}
    schemas = resource.setdefault("schemas", [])
    if isinstance(schemas, list) and not any(str(s).lower() == path.schema.lower()
                                             for s in schemas):
        schemas.append(path.schema)
    container: dict[str, Any] = resource[key]
    return container


def _matches(item: Any, path: Path) -> bool:
    if not isinstance(item, dict) or path.filter_attr is None:
        return False
    value = item.get(_key(item, path.filter_attr))
    return str(value).lower() == (path.filter_value or "").lower()


def _add_items(current: Any, items: list[Any]) -> list[Any]:
    """RFC 7644 §3.5.2.1 add to a multi-valued attribute; a typed item replaces its type's."""
    result = list(current) if isinstance(current, list) else []
    for item in items:
        if isinstance(item, dict) and "value" in item and "type" not in item and any(
                isinstance(have, dict) and have.get("value") == item["value"] for have in result):
            continue  # a member already there
        if isinstance(item, dict) and "type" in item:
            same = [i for i, have in enumerate(result)
                    if isinstance(have, dict) and have.get("type") == item["type"]]
            if same:
                result[same[0]] = {**result[same[0]], **item}
                continue
        result.append(item)
    return result


def _set(resource: dict[str, Any], text: str, value: Any, kind: str) -> None:
    path = parse_path(text)
    container = _container(resource, path)
    key = _key(container, path.attribute)
    if path.filter_attr is not None:
        items = container.get(key)
        items = list(items) if isinstance(items, list) else []
        chosen = [item for item in items if _matches(item, path)]
        if not chosen:
            item: dict[str, Any] = {path.filter_attr: path.filter_value}
            if not items:
                item["primary"] = True
            items.append(item)
            chosen = [item]
        for item in chosen:
            if path.sub is None and isinstance(value, dict):
                item.update(value)
            else:
                item[_key(item, path.sub or "value")] = value
        container[key] = items
    elif path.sub is not None:
        parent = container.get(key)
        parent = dict(parent) if isinstance(parent, dict) else {}
        parent[_key(parent, path.sub)] = value
        container[key] = parent
    elif kind == "add" and isinstance(value, list):
        container[key] = _add_items(container.get(key), value)
    elif isinstance(value, dict) and isinstance(container.get(key), dict) \
            and not path.is_reference:
        container[key] = {**container[key], **value}  # sub-attributes not given stay
    else:
        container[key] = value


def _remove(resource: dict[str, Any], text: str, value: Any) -> None:
    path = parse_path(text)
    container = _container(resource, path) if path.schema is None or _key(
        resource, path.schema) in resource else {}
    key = _key(container, path.attribute)
    if key not in container:
        return
    if path.filter_attr is not None:
        items = container[key] if isinstance(container[key], list) else []
        if path.sub is None:
            container[key] = [item for item in items if not _matches(item, path)]
        else:
            for item in items:
                if _matches(item, path):
                    item.pop(_key(item, path.sub), None)
    elif path.sub is not None:
        if isinstance(container[key], dict):
            container[key].pop(_key(container[key], path.sub), None)
    elif isinstance(value, list) and isinstance(container[key], list):
        # Entra's form: remove on "members" with the members to remove as the value.
        gone = {str(item.get("value")) for item in value if isinstance(item, dict)}
        container[key] = [item for item in container[key]
                          if not (isinstance(item, dict) and str(item.get("value")) in gone)]
    else:
        del container[key]


def apply_patch(resource: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The resource after ``patch`` (RFC 7644 §3.5.2), computed here; the input is not changed.

    Covers what recon plans and what Entra sends: add/replace/remove in any case, plain, sub,
    URN and filtered paths, the manager reference, path-less value objects, and member lists.
    """
    result = copy.deepcopy(resource)
    for operation in patch.get("Operations") or []:
        kind = str(operation.get("op", "")).lower()
        path = operation.get("path")
        value = operation.get("value")
        if kind == "remove" and path:
            _remove(result, str(path), value)
        elif kind in {"add", "replace"} and path:
            _set(result, str(path), value, kind)
        elif kind in {"add", "replace"} and isinstance(value, dict):
            for name, item in value.items():
                if is_schema(name) and isinstance(item, dict):
                    for sub, sub_value in item.items():
                        _set(result, f"{name}:{sub}", sub_value, kind)
                else:
                    _set(result, name, item, kind)
        else:
            raise ValueError(f"cannot apply PATCH operation {kind!r} without a path")
    return result


def writable(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource to PUT: server-owned attributes dropped, the enterprise schema listed if used."""
    body = {key: value for key, value in resource.items() if key not in SERVER_OWNED}
    schemas = [str(s) for s in body.get("schemas") or []]
    if _key(body, ENTERPRISE) in body and ENTERPRISE.lower() not in {s.lower() for s in schemas}:
        schemas.append(ENTERPRISE)
    body["schemas"] = schemas
    return body


def has_filtered_path(patch: dict[str, Any] | None) -> bool:
    return any("[" in str(operation.get("path") or "")
               for operation in (patch or {}).get("Operations") or [])


def sent_summary(style: str, op: Op) -> str:
    """The op's journal summary, saying how the request was shaped for the profile."""
    if op.method != "PATCH" or style == "path_filter":
        return op.summary
    if style == "put":
        return f"{op.summary} (sent as PUT)"
    return op.summary + (" (filtered paths sent as value objects)"
                         if has_filtered_path(op.payload) else "")


def written_paths(ops: list[Op]) -> list[str]:
    """The attribute paths the ops write (creates: the payload's top-level attributes)."""
    written: dict[str, None] = {}
    for op in ops:
        if op.method == "POST":
            written.update(dict.fromkeys(k for k in (op.payload or {}) if k != "schemas"))
        written.update(dict.fromkeys(k for k in op.desired if k != "members"))
    return list(written)


def refusal_hint(style: str, op: Op, status: int) -> str:
    """The likely cause of a refused write, and what to set (docs/providers.md)."""
    if status == 401:
        return "; the target refused the token (target.scim.token_env)"
    if status == 403:
        return "; the token may not write here: grant the SCIM token or app write permission"
    if op.method != "PATCH" or style == "put":
        return ""
    if status in {405, 501}:
        return "; the target does not take PATCH: set target.scim.patch_style: put"
    if status == 400 and style == "path_filter" and has_filtered_path(op.payload):
        return ("; if the target refuses filtered PATCH paths, set target.scim.patch_style: "
                "value_object")
    return ""


def needs_current(style: str, method: str, patch: dict[str, Any] | None) -> bool:
    """Whether shaping this request for ``style`` needs the resource as it is now."""
    if method != "PATCH":
        return False
    return style == "put" or (style == "value_object" and has_filtered_path(patch))


def shape(style: str, method: str, patch: dict[str, Any] | None,
          current: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    """The method and body to send for an op's request under ``style`` (see the module doc)."""
    if not needs_current(style, method, patch):
        return method, patch
    if current is None or patch is None:
        raise ValueError("shaping this request needs the resource as it is now")
    if style == "put":
        return "PUT", writable(apply_patch(current, patch))
    operations: list[dict[str, Any]] = []
    working = copy.deepcopy(current)
    for operation in patch.get("Operations") or []:
        path = str(operation.get("path") or "")
        if "[" not in path:
            operations.append(operation)
            working = apply_patch(working, {"Operations": [operation]})
            continue
        working = apply_patch(working, {"Operations": [operation]})
        parsed = parse_path(path)
        container = working if parsed.schema is None else working.get(
            _key(working, parsed.schema), {})
        whole = container.get(_key(container, parsed.attribute), [])
        if parsed.schema is None:
            operations.append({"op": "replace", "value": {parsed.attribute: whole}})
        else:
            operations.append({"op": "replace", "path": f"{parsed.schema}:{parsed.attribute}",
                               "value": whole})
    return method, {"schemas": list(patch.get("schemas") or [PATCH_OP]), "Operations": operations}
