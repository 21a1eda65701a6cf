"""Value normalization and the current frame: a snapshot flattened to one column per SCIM path.

Values compare after normalization: Unicode NFC, trimmed, and case-folded for attributes that
are not case-exact (``userName``, e-mail values). Paths are parsed by ``recon.core.scim``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.scim import INACTIVE_WORDS, Path, get_path, parse_path
from recon.core.snapshot import Snapshot
from recon.errors import InputError


def normalize_values(values: pd.Series, *, fold_case: bool) -> pd.Series:
    """NFC, trimmed, optionally lower-cased; empty strings become missing. Vectorized."""
    text = values.astype("string")
    if _is_arrow_text(text):
        normalized = normalize_array(arrow_text(text), fold_case=fold_case)
        return pd.Series(pd.arrays.ArrowStringArray(normalized), index=text.index, name=text.name)
    text = _nfc(text).str.strip()
    if fold_case:
        text = text.str.lower()
    return text.mask(text == "")


def _is_arrow_text(values: pd.Series) -> bool:
    dtype = values.dtype
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def arrow_text(values: pd.Series) -> Any:
    """The pyarrow array under a pyarrow-backed string Series (one chunk, large_string)."""
    array = pa.array(values.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.large_string()) if not pa.types.is_large_string(array.type) else array


def normalize_array(array: Any, *, fold_case: bool) -> Any:
    """normalize_values over a pyarrow string array, giving a large_string array.

    The same pyarrow kernels pandas calls for ``.str.strip()`` / ``.str.lower()``, in the same
    order, each applied only to the values it can change: NFC to values with a code point from
    U+0300 up (anything below is in NFC already: no combining marks, no decompositions that
    compose back differently), Unicode lower-casing to values that are not ASCII (``ascii_lower``
    is ``utf8_lower`` on ASCII), trimming to values that start or end with a byte that may be
    part of white space, and the empty-to-missing step only when some value is empty.
    """
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    offsets, data = _bytes(array)
    if fold_case:
        unusual = _rows_with_byte(array, offsets, data, 0x80)
        if unusual.any():
            rest = pc.utf8_lower(pc.utf8_normalize(array.filter(unusual), "NFC"))
            array = pc.replace_with_mask(pc.ascii_lower(array), unusual, rest)
        else:
            array = pc.ascii_lower(array)
        offsets, data = _bytes(array)
    else:
        unusual = _rows_with_byte(array, offsets, data, 0xCC)  # 0xCC 0x80 is U+0300
        if unusual.any():
            array = pc.replace_with_mask(
                array, unusual, pc.utf8_normalize(array.filter(unusual), "NFC"))
            offsets, data = _bytes(array)
    edges = _rows_with_edge_space(array, offsets, data)
    if edges.all():
        array = pc.utf8_trim_whitespace(array)
    elif edges.any():
        array = pc.replace_with_mask(
            array, edges, pc.utf8_trim_whitespace(array.filter(edges)))
    empty = pc.equal(pc.binary_length(array), 0)
    if pc.any(empty).as_py():
        array = pc.if_else(empty, pa.scalar(None, pa.large_string()), array)
    return array


def left_as_is(array: Any, *, fold_case: bool) -> np.ndarray:
    """Which values of a normalize_array result it would give back unchanged, for certain.

    Present values without a code point from U+0300 up (from U+0080 when folding case): NFC,
    trimming and lower-casing leave those as they are. A bool array over the rows.
    """
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    offsets, data = _bytes(array)
    unusual = _rows_with_byte(array, offsets, data, 0x80 if fold_case else 0xCC)
    return _present(array, ~unusual)


def _bytes(array: Any) -> tuple[np.ndarray, np.ndarray]:
    """The offsets and UTF-8 bytes of a large_string array (offsets as positions in bytes)."""
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    if buffers[2] is None or len(array) == 0:
        return np.zeros(len(array) + 1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    return offsets - offsets[0], data


def _present(array: Any, rows: np.ndarray) -> np.ndarray:
    if array.null_count:
        rows &= np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return rows


def _rows_with_byte(array: Any, offsets: np.ndarray, data: np.ndarray, low: int) -> np.ndarray:
    """Present values with a byte >= ``low`` (as a bool array over the rows)."""
    rows = np.zeros(len(array), dtype=bool)
    hits = np.flatnonzero(data >= low)
    if len(hits):
        rows[np.searchsorted(offsets, hits, side="right") - 1] = True
    return _present(array, rows)


def _rows_with_edge_space(array: Any, offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Present values that may start or end with white space (as ``utf8_trim_whitespace`` sees
    it: ASCII 0x09-0x0D, 0x1C-0x20, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029,
    U+202F, U+205F, U+3000), judged by their first byte and their last two bytes."""
    lengths = np.diff(offsets)
    filled = np.flatnonzero(lengths > 0)
    first = data[offsets[filled]]
    ends = offsets[filled + 1]
    last = data[ends - 1]
    before_last = np.where(lengths[filled] > 1, data[np.maximum(ends - 2, 0)], 0)
    starts_blank = (first <= 0x20) | (first == 0xC2) | ((first >= 0xE1) & (first <= 0xE3))
    ends_blank = (
        (last <= 0x20)
        | ((before_last == 0xC2) & ((last == 0x85) | (last == 0xA0)))
        | ((before_last == 0x9A) & (last == 0x80))
        | ((before_last == 0x80) & (((last >= 0x80) & (last <= 0x8A)) | (last == 0xA8)
                                   | (last == 0xA9) | (last == 0xAF)))
        | ((before_last == 0x81) & (last == 0x9F))
    )
    rows = np.zeros(len(array), dtype=bool)
    rows[filled] = starts_blank | ends_blank
    return _present(array, rows)


def _nfc(text: pd.Series) -> pd.Series:
    """Unicode NFC, in pyarrow's C code for pyarrow-backed strings.

    pandas would call Python's unicodedata once per value; pyarrow gives the same result for
    every code point and combining sequence (checked over all 1.1M code points), 4× faster.
    """
    if _is_arrow_text(text):
        normalized = pc.utf8_normalize(pa.array(text.array), "NFC")
        return pd.Series(pd.arrays.ArrowStringArray(normalized), index=text.index, name=text.name)
    return text.str.normalize("NFC")


def is_in(values: pd.Series | pd.Index, candidates: Any) -> np.ndarray:
    """``values.isin(candidates)`` as a bool array, through pyarrow for pyarrow-backed strings.

    pandas 3 gives the same answer for those about 25× slower (it converts the result through
    Python objects); anything pyarrow will not compare takes the pandas path.
    """
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        try:
            found = pc.is_in(pa.array(values.array),
                             value_set=pa.array(getattr(candidates, "array", candidates),
                                                from_pandas=True))
            return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass
    return np.asarray(values.isin(candidates), dtype=bool)


def parse_active(values: pd.Series) -> pd.Series:
    """SCIM ``active``: missing means active; booleans and the strings "True"/"False" accepted."""
    text = values.astype("string").str.strip().str.lower()
    return ~text.isin(list(INACTIVE_WORDS))


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
