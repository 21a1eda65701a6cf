"""The current frame: a snapshot flattened to one column per SCIM path.

Values are kept as the target holds them (as text); how two values compare is
``recon.core.same``'s. Paths are parsed by ``recon.core.scim``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.arrow import arrow_text
from recon.core.same import parse_active
from recon.core.scim import Path, get_path, parse_path
from recon.core.snapshot import Snapshot
from recon.errors import InputError


def current_frame(snapshot: Snapshot, paths: list[str]) -> pd.DataFrame:
    """One row per target account: target_id, etag, active and one column per SCIM path.

    A snapshot read columnar (``snapshot.users``) is flattened from its pyarrow columns without
    making its resource dicts, unless a column can only be read per resource (then
    ``snapshot.resources`` is made once); the frame is the same either way.
    """
    parsed = {text: parse_path(text) for text in dict.fromkeys(paths)}
    users = snapshot.users
    columns: dict[str, Any] = {}
    if users is None:
        resources = snapshot.resources
        columns["target_id"] = [resource.get("id") for resource in resources]
        columns["etag"] = [(resource.get("meta") or {}).get("version") for resource in resources]
        columns["active"] = [resource.get("active") for resource in resources]
        users = _as_arrow(resources) if parsed else None
    else:
        columns["target_id"] = _arrow_strings(_get(users, ["id"]))
        etags = _get(users, ["meta", "version"])
        columns["etag"] = (_arrow_strings(etags) if etags is not None
                           else [(resource.get("meta") or {}).get("version")
                                 for resource in snapshot.resources])
        columns["active"] = _arrow_active(users)
        if columns["active"] is None:
            columns["active"] = [resource.get("active") for resource in snapshot.resources]
    for text, path in parsed.items():
        values = _arrow_values(users, path) if users is not None else None
        # Per resource only where the columnar read cannot say exactly what get_path says.
        columns[text] = (_arrow_strings(values) if values is not None
                         else [get_path(resource, path) for resource in snapshot.resources])
    frame = pd.DataFrame({name: pd.Series(values, dtype=object)
                          if isinstance(values, list) else values
                          for name, values in columns.items()})
    for column in ["target_id", "etag", *parsed]:
        frame[column] = frame[column].astype("string")
    if frame["active"].dtype != bool:
        frame["active"] = parse_active(frame["active"])
    _check_ids(frame["target_id"], snapshot.source)
    return frame


def _check_ids(ids: pd.Series, source: str) -> None:
    """Every account has an id, and no id twice (match and classify rely on it). The file
    readers check this already; a live target that breaks it is named here, not mis-counted."""
    values = arrow_text(ids)
    if values.null_count:
        raise InputError("a SCIM user without an 'id'", file=source)
    if len(pc.unique(values)) != len(values):
        twice = pd.Series(values.to_pandas()).duplicated()
        duplicate = str(ids.to_numpy()[np.flatnonzero(twice.to_numpy())[0]])
        raise InputError(f"duplicate SCIM id {duplicate!r}", file=source)


# ---- columnar reading of SCIM resources -------------------------------------------------------
# The users are one pyarrow struct array: the snapshot's own (a JSON-lines file read columnar, a
# ChunkedArray) or the resource dicts converted in C. Each path is then a few field look-ups. A
# column is read this way only when the answer is certainly get_path's: exact-case names, string
# leaves (pyarrow's JSON reader makes numbers, booleans and timestamp-like strings other types),
# ASCII filter values; anything else is read per resource.

def _arrow_strings(values: Any) -> Any:
    return pd.arrays.ArrowStringArray(values.cast(pa.large_string()))


def _get(users: Any, keys: list[str]) -> Any:
    """``users[k0][k1]…`` as ``dict.get`` reads it (exact case, a null parent gives null), as a
    pyarrow string array; None when some value is not a string or not a plain lookup."""
    node = users
    for key in keys:
        if pa.types.is_null(node.type):
            break
        if not pa.types.is_struct(node.type):
            return None
        names = [field.name for field in node.type]
        if names.count(key) != 1:
            return None if names.count(key) else pa.nulls(len(users), pa.large_string())
        node = pc.struct_field(node, [names.index(key)])
    if pa.types.is_null(node.type):
        return pa.nulls(len(users), pa.large_string())
    return _combined(node) if _is_text(node) else None


def _arrow_active(users: Any) -> Any:
    """The raw ``active`` values of a columnar snapshot: a bool array (a missing or null
    ``active`` is True, as parse_active reads it), strings for parse_active, or None."""
    names = [field.name for field in users.type]
    if names.count("active") != 1:
        return None if names.count("active") else np.ones(len(users), dtype=bool)
    active = _combined(pc.struct_field(users, [names.index("active")]))
    if pa.types.is_boolean(active.type):
        return pc.fill_null(active, True).to_numpy(zero_copy_only=False)
    strings = _get(users, ["active"])
    return _arrow_strings(strings) if strings is not None else None


def _combined(array: Any) -> Any:
    """One contiguous array from a ChunkedArray (the later kernels index it as a whole)."""
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _as_arrow(resources: list[dict[str, Any]]) -> Any:
    try:
        users = pa.array(resources)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None  # mixed shapes (a string here, an object there): per resource
    return users if pa.types.is_struct(users.type) else None


def _is_text(array: Any) -> bool:
    return bool(pa.types.is_string(array.type) or pa.types.is_large_string(array.type))


def _field(node: Any, name: str) -> Any:
    """The child ``name`` of a struct array (nulls where the parent is null), or None."""
    if pa.types.is_null(node.type):
        return node
    if not pa.types.is_struct(node.type):
        return None
    spellings = [field.name for field in node.type if field.name.lower() == name.lower()]
    if not spellings:
        return pa.nulls(len(node))
    if spellings != [name]:
        return None  # another spelling somewhere: get_path's case-insensitive rules decide
    # Chunks stay chunks down the path; only the leaf (or a list to search) is combined, so
    # a container's other fields are never copied.
    return pc.struct_field(node, [node.type.get_field_index(name)])


def _first_match(items: Any, attribute: str, value: str) -> Any:
    """Per row, the first item of a multi-valued attribute whose ``attribute`` equals value."""
    if pa.types.is_null(items.type):
        return items
    if not pa.types.is_list(items.type) or not value.isascii() or value.lower() == "none":
        return None
    items = _combined(items)
    flat = pc.list_flatten(items)
    key = _field(flat, attribute)
    if key is None or not (_is_text(key) or pa.types.is_null(key.type)):
        return None
    if pa.types.is_null(key.type):
        return pa.nulls(len(items), flat.type)
    if pc.all(pc.string_is_ascii(key.drop_null())).as_py() not in (True, None):
        return None
    hits = np.flatnonzero(pc.fill_null(pc.equal(pc.ascii_lower(key), value.lower()), False)
                          .to_numpy(zero_copy_only=False))
    parents = pc.list_parent_indices(items).to_numpy()[hits]
    chosen, first = np.unique(parents, return_index=True)
    take = np.full(len(items), -1, dtype=np.int64)
    take[chosen] = hits[first]
    return flat.take(pa.array(take, mask=take < 0))


def _arrow_values(users: Any, path: Path) -> Any:
    """The column get_path would give for every user, as a pyarrow string array, or None."""
    node = users if path.schema is None else _field(users, path.schema)
    node = _field(node, path.attribute) if node is not None else None
    if node is not None and path.filter_attr is not None:
        node = _first_match(node, path.filter_attr, path.filter_value or "")
    if node is not None and path.sub is not None:
        node = _field(node, path.sub)
    elif node is not None and path.is_reference and pa.types.is_struct(node.type):
        node = _field(node, "value")
    if node is None:
        return None
    if pa.types.is_null(node.type):
        return pa.nulls(len(users), pa.large_string())
    return _combined(node) if _is_text(node) else None
