"""The one rule for "is this the same value?", in a scalar and a vectorised form.

classify ("in sync"), match (keys), push ("already applied", and the preconditions that make an
op stale), verify ("converged") and the Entra adapter all compare a desired value with a
target's value here, so they can never disagree.

=====================  ==============================================================
case                   rule
=====================  ==============================================================
white space            trimmed at both ends (inner white space is kept); white space is
                       what ``str.isspace`` calls so (also U+00A0, U+2028, U+3000 …)
Unicode normal forms   NFC: a decomposed "é" (e + U+0301) equals the composed "é"
case                   significant, except for ``userName`` and e-mail values (RFC 7643
                       §4.1.1, §4.1.2: not case-exact), which are lower-cased. Lower-cased,
                       not case-folded: "straße@x.org" and "strasse@x.org" are different
                       addresses (different mailboxes), so they differ
empty vs absent        None, NaN, an empty or blank string: all absent; absent equals absent
booleans               ``active`` reads leniently: absent is true; "False"/"0"/"no" (any case,
                       trimmed) and JSON false are false; any other value is true. Elsewhere a
                       JSON boolean is the text "True"/"False", as the frames spell it
numbers                compared as their text (``str``): JSON 4524 equals "4524", never "004524"
references             a reference ``{"value": id}`` compares by its id
multi-valued           compared per item, addressed by a value filter
                       (``emails[type eq "work"].value``), never as a whole list
=====================  ==============================================================

The definition is pyarrow's (utf8proc) NFC, white space and lower-casing, which the vectorised
form runs over whole columns. The scalar form gives the same answer for one value: ASCII text
through Python's ``str`` methods (identical to pyarrow's on ASCII), any other text through the
same pyarrow code, so the two agree on every code point, also where Python's ``str.lower``
differs from pyarrow's ("İ" U+0130, the Greek final sigma, letters newer than Python's Unicode
database). A property test holds them to it.

Absent desired values are never written (Entra never provisions nulls): ``desired_array`` keeps
them absent, and ``differs`` says where a present desired value is not the target's.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.arrow import arrow_text
from recon.core.scim import INACTIVE_WORDS, case_insensitive, parse_path

_STRING = pa.large_string()


@cache
def is_active_path(path: str) -> bool:
    """The core ``active`` attribute (not an extension's attribute of that name)."""
    parsed = parse_path(path)
    return (parsed.attribute.lower() == "active" and parsed.schema is None
            and parsed.sub is None and parsed.filter_attr is None)


@cache
def folds_case(path: str) -> bool:
    """Whether values of ``path`` compare case-insensitively (userName, e-mail values)."""
    return case_insensitive(path)


def missing(value: Any) -> bool:
    """None, pd.NA or NaN: a cell that holds no value."""
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def text_of(value: Any) -> str | None:
    """A value as the frames hold it: a reference as its id, a boolean as "True"/"False",
    anything else as ``str`` (what ``astype("string")`` makes of it); None when missing."""
    if isinstance(value, dict):
        value = value.get("value")
    if missing(value):
        return None
    return value if isinstance(value, str) else str(value)


def normalized(path: str, value: Any) -> str | None:
    """One value as every comparison sees it (see the table above); None when absent."""
    text = text_of(value)
    if is_active_path(path):
        flag = _normalized_text(text, fold_case=True) if text is not None else None
        return "false" if flag in INACTIVE_WORDS else "true"
    return _normalized_text(text, fold_case=folds_case(path)) if text is not None else None


def same(path: str, left: Any, right: Any) -> bool:
    """Whether two values of the attribute at ``path`` are the same value."""
    return normalized(path, left) == normalized(path, right)


def _normalized_text(text: str, *, fold_case: bool) -> str | None:
    if text.isascii():  # NFC leaves ASCII alone; str.strip and str.lower are pyarrow's there
        text = text.strip()
        return (text.lower() if fold_case else text) or None
    result: str | None = normalize_array(pa.array([text], _STRING), fold_case=fold_case)[0].as_py()
    return result


# ---- the vectorised form ----------------------------------------------------------------------

def normalized_column(path: str, values: pd.Series) -> pd.Series:
    """``normalized`` over a column of the attribute at ``path``, vectorised."""
    array = normalized_array(path, _text_array(values))
    return pd.Series(pd.arrays.ArrowStringArray(array), index=values.index, name=values.name)


def normalized_array(path: str, array: Any) -> Any:
    """``normalized`` over a pyarrow string array (a large_string array back)."""
    if is_active_path(path):
        flags = normalize_array(array, fold_case=True)
        inactive = pc.fill_null(pc.is_in(flags, value_set=pa.array(sorted(INACTIVE_WORDS),
                                                                   _STRING)), False)
        return pc.if_else(inactive, pa.scalar("false", _STRING), pa.scalar("true", _STRING))
    return normalize_array(array, fold_case=folds_case(path))


def desired_array(path: str, array: Any) -> Any:
    """Desired values as a push writes them: normalized, and absent ones kept absent (for
    ``active`` too, where an absent target value reads as true)."""
    if not is_active_path(path):
        return normalized_array(path, array)
    present = normalize_array(array, fold_case=False).is_valid()
    return pc.if_else(present, normalized_array(path, array), pa.scalar(None, _STRING))


def differs(path: str, wanted: Any, raw: Any) -> np.ndarray:
    """Where a present wanted value (``desired_array``) is not the same as the target's raw
    value: a bool array over the rows. ``not differs`` is ``wanted absent or same(...)``.

    An account value equal to its wanted value needs no normalizing: without case folding,
    normalize_array gives its own results back (NFC is idempotent; white space characters never
    compose, so trimming an NFC value leaves it in NFC; trimming is idempotent). With case
    folding that is certain for ASCII values only. Only the other values are normalized.
    """
    fold = folds_case(path)
    boolean = is_active_path(path)
    same_text = np.asarray(
        pc.fill_null(pc.equal(wanted, raw), False).to_numpy(zero_copy_only=False), dtype=bool)
    if boolean:
        same_text[:] = False
    elif fold:
        same_text &= left_as_is(wanted, fold_case=True)
    unsettled = np.flatnonzero(~same_text)
    result = np.zeros(len(wanted), dtype=bool)
    if len(unsettled):
        at = pa.array(unsettled)
        chosen, theirs = wanted.take(at), raw.take(at)
        equal = pc.fill_null(pc.equal(chosen, normalized_array(path, theirs)), False)
        result[unsettled] = np.asarray(
            pc.and_(chosen.is_valid(), pc.invert(equal)).to_numpy(zero_copy_only=False),
            dtype=bool)
    return result


def _text_array(values: pd.Series) -> Any:
    """A column's values as text (``text_of``), one large_string array. Columns of Python
    objects (references, booleans, numbers) go value by value; they are never a hot path."""
    if values.dtype == object:
        values = pd.Series([text_of(value) for value in values], dtype="string")
    return arrow_text(values.astype("string"))


def parse_active(values: pd.Series) -> pd.Series:
    """SCIM ``active`` as booleans (``normalized`` of the ``active`` path): missing is True."""
    flags = normalized_array("active", _text_array(values))
    return pd.Series(np.asarray(pc.equal(flags, "true").to_numpy(zero_copy_only=False),
                                dtype=bool), index=values.index, name=values.name)


def normalize_values(values: pd.Series, *, fold_case: bool) -> pd.Series:
    """NFC, trimmed, optionally lower-cased; empty strings become missing. Vectorized."""
    text = values.astype("string")
    normalized_text = normalize_array(arrow_text(text), fold_case=fold_case)
    return pd.Series(pd.arrays.ArrowStringArray(normalized_text), index=text.index,
                     name=text.name)


def normalize_array(array: Any, *, fold_case: bool) -> Any:
    """normalize_values over a pyarrow string array, giving a large_string array.

    NFC, then (folding case) lower-casing and NFC once more, then trimming: pyarrow's kernels,
    each applied only to the values it can change: NFC to values with a code point from U+0300
    up (anything below is in NFC already: no combining marks, no decompositions that compose
    back differently), Unicode lower-casing to values that are not ASCII (``ascii_lower`` is
    ``utf8_lower`` on ASCII), trimming to values that start or end with a byte that may be part
    of white space, and the empty-to-missing step only when some value is empty. The result is
    a fixed point: normalizing it again changes nothing.
    """
    if not pa.types.is_large_string(array.type):
        array = array.cast(_STRING)
    offsets, data = _bytes(array)
    if fold_case:
        unusual = _rows_with_byte(array, offsets, data, 0x80)
        if unusual.any():
            # NFC again after lower-casing: "İ" + U+0301 lower-cases to a form that is not NFC,
            # and a normalized value must normalize to itself (verify compares what classify
            # planned).
            rest = pc.utf8_normalize(
                pc.utf8_lower(pc.utf8_normalize(array.filter(unusual), "NFC")), "NFC")
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
        array = pc.if_else(empty, pa.scalar(None, _STRING), array)
    return array


def left_as_is(array: Any, *, fold_case: bool) -> np.ndarray:
    """Which values of a normalize_array result it would give back unchanged, for certain.

    Present values without a code point from U+0300 up (from U+0080 when folding case): NFC,
    trimming and lower-casing leave those as they are. A bool array over the rows.
    """
    if not pa.types.is_large_string(array.type):
        array = array.cast(_STRING)
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
