"""build_plan's ops, column-wise: JSON assembled by pyarrow from each op shape's template."""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.arrow import int64_array, is_in, json_strings, string_array
from recon.core.canonical import canonical_json
from recon.core.config import Config
from recon.core.plan import (
    ACTION_ORDER,
    JSON_COLUMNS,
    OP_COLUMNS,
    RISK,
    identifying,
    patch_operation,
    policy_rows,
    user_payload,
)
from recon.core.scim import PATCH_OP, parse_path

# ---- the same ops, column-wise ----------------------------------------------------------------
#
# An op's JSON is the canonical JSON of a dict whose shape depends only on which attributes it
# writes, not on their values. So each shape is written once with placeholder values by the same
# code as the general path (``user_payload``, ``patch_operation``, ``canonical_json``), split at
# the placeholders, and the ops' JSON assembled by pyarrow from those literal pieces and the
# values as JSON strings. Every key is sorted as ``canonical_json`` sorts it (code points, which
# is UTF-8 byte order); only the sha256 of each op's canonical body runs per op in Python.

_HOLE = "\ue000{}\ue000"  # a private-use character: JSON leaves it as it is
_HOLE_TOKEN = re.compile('"\ue000([0-9]+)\ue000"')
ID_FIELDS = ("action", "method", "path", "target_id", "hr_key", "payload", "before")


@dataclass(frozen=True)
class _Template:
    """Canonical JSON split at its placeholders: ``parts[0] v0 parts[1] v1 … parts[-1]``."""
    parts: tuple[str, ...]
    holes: tuple[int, ...]  # which value goes into each gap, in order

    def fill(self, values: list[pa.Array], length: int) -> pa.Array:
        if not self.holes:
            return pa.repeat(self.parts[0], length)
        pieces: list[Any] = [self.parts[0]]
        for hole, part in zip(self.holes, self.parts[1:], strict=True):
            pieces += [values[hole], part]
        return pc.binary_join_element_wise(*pieces, "")


def _template(value: Any, holes: int, *, each_once: bool) -> _Template | None:
    """``canonical_json(value)`` split at placeholders 0..holes-1 (None: one is not there as a whole
    JSON string, or more than once, or — when ``each_once`` — not at all)."""
    text = canonical_json(value)
    found = list(_HOLE_TOKEN.finditer(text))
    numbers = [int(one[1]) for one in found]
    if len(set(numbers)) != len(numbers) or any(n >= holes for n in numbers):
        return None
    if each_once and len(numbers) != holes:
        return None
    parts, start = [], 0
    for one in found:
        parts.append(text[start:one.start()])
        start = one.end()
    parts.append(text[start:])
    return _Template(tuple(parts), tuple(numbers))


_OPS_SCHEMA = pa.schema([
    ("action", pa.string()), ("method", pa.string()), ("path", pa.string()),
    ("target_id", pa.string()), ("hr_key", pa.string()), ("hr_row", pa.int64()),
    ("category", pa.string()), ("payload", pa.string()), ("before", pa.string()),
    ("etag", pa.string()), ("risk", pa.string()), ("match", pa.string()),
])


def _table(length: int, **columns: Any) -> pa.Table:
    """The op columns; a str is that value on every row, None a null on every row."""
    arrays = []
    for field in _OPS_SCHEMA:
        value = columns[field.name]
        if value is None:
            value = pa.nulls(length, field.type)
        elif isinstance(value, str):
            value = pa.repeat(value, length)
        arrays.append(value.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=_OPS_SCHEMA)


def columnar_ops(
    identities: pd.DataFrame, diffs: pd.DataFrame, wanted: pd.DataFrame,
    current: pd.DataFrame, config: Config,
) -> pa.Table | None:
    """The ops of ``_creates``, ``_patches`` and ``_policy_ops`` as one table, sorted as
    build_plan sorts them (None: an input this does not handle; the general path decides)."""
    for frame, columns in ((identities, ("category", "hr_key", "target_id")),
                           (diffs, ("target_id", "attribute", "before", "after")),
                           (current, ("target_id", "etag"))):
        if any(string_array(frame[c][:0]) is None for c in columns):
            return None
    if int64_array(identities["hr_row"][:0]) is None:
        return None
    parts = [_columnar_creates(identities, wanted), _columnar_patches(identities, diffs),
             _columnar_policy(identities, current, config)]
    if any(part is None for part in parts):
        return None
    table = pa.concat_tables([part for part in parts if part is not None])
    rank = pc.index_in(table["action"], value_set=pa.array(list(ACTION_ORDER)))
    keys = pa.table({"rank": rank, "hr_row": table["hr_row"], "target_id": table["target_id"]})
    order = pc.sort_indices(
        keys, sort_keys=[(name, "ascending", "at_end") for name in keys.column_names])
    table = table.take(order).combine_chunks()
    return table.set_column(table.schema.get_field_index("etag"), "etag",
                            _etag_column(current, table))


def _etag_column(current: pd.DataFrame, table: pa.Table) -> pa.Array:
    """The ``etag`` of every op: the snapshot's meta.version of its account ("" when none, and
    for creates). Like ``etags_by_account``, the last row of an id wins."""
    targets = table["target_id"].combine_chunks()
    wanted = pc.dictionary_encode(targets)
    accounts = string_array(current["target_id"])
    versions = string_array(current["etag"])
    assert accounts is not None and versions is not None
    # Probe the accounts against the ops' ids (hashing the smaller set).
    found = pc.index_in(accounts, value_set=wanted.dictionary)
    rows = np.flatnonzero(pc.is_valid(found).to_numpy(zero_copy_only=False))
    last = np.full(len(wanted.dictionary), -1, dtype=np.int64)
    np.maximum.at(last, pc.take(found, pa.array(rows)).to_numpy(zero_copy_only=False)
                  .astype(np.int64), rows)
    row_of = pa.array(last.take(np.asarray(wanted.indices, dtype=np.int64)), mask=None)
    etags = pc.fill_null(versions.take(pc.if_else(pc.less(row_of, 0), None, row_of)), "")
    return pc.if_else(pc.equal(table["action"], "create"), "", etags)


def _columnar_creates(identities: pd.DataFrame, wanted: pd.DataFrame) -> pa.Table | None:
    joiners = identities[identities["category"] == "joiner"]
    length = len(joiners)
    if not length:
        return _table(0, **dict.fromkeys(_OPS_SCHEMA.names, None))
    values = wanted.loc[joiners["hr_row"].to_numpy()]
    paths = list(values.columns)
    if len(set(paths)) != len(paths) or len(paths) > 62 or any(
            not isinstance(p, str) or _value_dependent(p) for p in paths):
        return None
    columns = [string_array(values[p]) for p in paths]
    if any(c is None for c in columns):
        return None
    quoted = [json_strings(c) for c in columns if c is not None]
    present = values.notna().to_numpy(dtype=bool)
    shapes = present.astype(np.int64) @ (np.int64(1) << np.arange(len(paths), dtype=np.int64))
    payloads, matches, rows_of = [], [], []
    for shape in np.unique(shapes):
        rows = np.flatnonzero(shapes == shape)
        used = [i for i in range(len(paths)) if (int(shape) >> i) & 1]
        holes = {paths[i]: _HOLE.format(n) for n, i in enumerate(used)}
        try:
            user = user_payload(holes)
        except (TypeError, AttributeError, ValueError):
            return None  # the general path raises it, for the first row of this shape
        match = {"userName": user.get("userName"), "externalId": user.get("externalId")}
        payload_template = _template(user, len(used), each_once=True)
        match_template = _template(match, len(used), each_once=False)
        if payload_template is None or match_template is None:
            return None
        taken = [quoted[i].take(pa.array(rows)) for i in used]
        payloads.append(payload_template.fill(taken, len(rows)))
        matches.append(match_template.fill(taken, len(rows)))
        rows_of.append(rows)
    back = np.empty(length, dtype=np.int64)
    back[np.concatenate(rows_of)] = np.arange(length)
    inverse = pa.array(back)
    hr_key, hr_row = string_array(joiners["hr_key"]), int64_array(joiners["hr_row"])
    return _table(
        length, action="create", method="POST", path="/Users", target_id="", hr_key=hr_key,
        hr_row=hr_row, category="joiner",
        payload=pa.concat_arrays(payloads).take(inverse), before=canonical_json({}), etag="",
        risk=RISK["create"], match=pa.concat_arrays(matches).take(inverse))


@cache
def _value_dependent(path: str) -> bool:
    """``set_path`` finds a filtered item by the value of its filter attribute: a path that
    writes that attribute itself makes the payload's shape depend on the value."""
    parsed = parse_path(path)
    return parsed.filter_attr is not None and (parsed.sub or "value").lower() == (
        parsed.filter_attr.lower())


def _columnar_patches(identities: pd.DataFrame, diffs: pd.DataFrame) -> pa.Table | None:
    kinds = {"drift": "update", "link": "link", "rehire": "enable"}
    people = identities[is_in(identities["category"], list(kinds))]
    length = len(people)
    if not length:
        return _table(0, **dict.fromkeys(_OPS_SCHEMA.names, None))
    targets, categories = string_array(people["target_id"]), string_array(people["category"])
    assert targets is not None and categories is not None
    if targets.null_count or pc.count_distinct(targets).as_py() != length:
        return None  # one account, several people: the general path
    actions = pc.take(pa.array(list(kinds.values())),
                      pc.index_in(categories, value_set=pa.array(list(kinds))))
    # The diff rows of each person's account, as (person, position) -> operation and before.
    person = pc.index_in(string_array(diffs["target_id"]), value_set=targets)
    attributes = string_array(diffs["attribute"])
    assert attributes is not None
    ours = pc.is_valid(person)
    if pc.any(pc.and_(ours, pc.is_null(attributes))).as_py():
        return None
    ours = pc.and_(ours, pc.not_equal(attributes, "active"))
    positions = np.flatnonzero(ours.to_numpy(zero_copy_only=False))
    picked = pa.array(positions)
    attributes = attributes.take(picked)
    olds = string_array(diffs["before"]).take(picked)  # type: ignore[union-attr]
    news = pc.fill_null(string_array(diffs["after"]).take(picked), str(pd.NA))  # type: ignore[union-attr]
    had = pc.is_valid(olds)
    names = pc.dictionary_encode(attributes)
    vocabulary = names.dictionary.to_pylist()
    shape = np.asarray(names.indices, dtype=np.int64) * 2 + had.to_numpy(zero_copy_only=False)
    prefixes, suffixes = [""] * (2 * len(vocabulary)), [""] * (2 * len(vocabulary))
    for code in np.unique(shape):
        name, has = vocabulary[int(code) // 2], bool(code % 2)
        template = _template(patch_operation(name, _HOLE.format(0), has), 1, each_once=True)
        if template is None:
            return None
        prefixes[int(code)], suffixes[int(code)] = template.parts
    # Typed: with no attribute to write (a rehire alone) the lists are empty, and an untyped
    # empty list is a null array that no string kernel takes.
    shapes = pa.array(shape, pa.int64())
    operations = pc.binary_join_element_wise(
        pa.array(prefixes, pa.string()).take(shapes), json_strings(news),
        pa.array(suffixes, pa.string()).take(shapes), "")
    befores = pc.binary_join_element_wise(
        json_strings(attributes), ":", pc.fill_null(json_strings(olds), "null"), "")
    owner = person.take(picked).to_numpy(zero_copy_only=False).astype(np.int64)
    writes_identity = np.array([identifying(str(one)) for one in vocabulary], dtype=bool)
    risky = np.bincount(owner, weights=writes_identity[np.asarray(names.indices, dtype=np.int64)],
                        minlength=length) > 0
    # A rehire's account is enabled first; its before holds "active": false.
    enabling = np.flatnonzero(pc.equal(actions, "enable").to_numpy(zero_copy_only=False))
    active_op = canonical_json({"op": "replace", "path": "active", "value": True})
    active_before = canonical_json({"active": False})[1:-1]
    owner = np.concatenate([owner, enabling])
    position = np.concatenate([positions, np.full(len(enabling), -1, dtype=np.int64)])
    attributes = pa.concat_arrays([attributes, pa.repeat("active", len(enabling))])
    operations = pa.concat_arrays([operations, pa.repeat(active_op, len(enabling))])
    befores = pa.concat_arrays([befores, pa.repeat(active_before, len(enabling))])
    offsets = pa.array(np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=length))]),
                       pa.int32())
    by_position = pa.array(np.lexsort((position, owner)))
    by_name = pc.sort_indices(pa.table({"owner": owner, "name": attributes}),
                              sort_keys=[("owner", "ascending"), ("name", "ascending")])
    names_sorted = attributes.take(by_name).to_numpy(zero_copy_only=False)
    owners_sorted = owner[np.asarray(by_name)]
    if np.any((owners_sorted[1:] == owners_sorted[:-1]) & (names_sorted[1:] == names_sorted[:-1])):
        return None  # an attribute twice for one account: one key in before, two operations
    joined_operations = pc.binary_join(
        pa.ListArray.from_arrays(offsets, operations.take(by_position)), ",")
    joined_befores = pc.binary_join(pa.ListArray.from_arrays(offsets, befores.take(by_name)), ",")
    payload = _template({"schemas": [PATCH_OP], "Operations": [_HOLE.format(0)]}, 1,
                        each_once=True)
    assert payload is not None
    risk = pc.if_else(pc.and_(pa.array(risky), pc.equal(actions, "update")), "medium",
                      pc.take(pa.array([RISK[a] for a in kinds.values()]),
                              pc.index_in(actions, value_set=pa.array(list(kinds.values())))))
    return _table(
        length, action=actions, method="PATCH",
        path=pc.binary_join_element_wise("/Users/", targets, ""), target_id=targets,
        hr_key=string_array(people["hr_key"]), hr_row=int64_array(people["hr_row"]),
        category=categories,
        payload=payload.fill([joined_operations], length),
        before=pc.binary_join_element_wise("{", joined_befores, "}", ""),
        etag=None, risk=risk, match="")


def _columnar_policy(identities: pd.DataFrame, current: pd.DataFrame, config: Config,
                     ) -> pa.Table | None:
    chosen = policy_rows(identities, current, config)
    tables = []
    for frame, action in chosen:
        targets = string_array(frame["target_id"])
        if targets is None or targets.null_count:
            return None
        if action == "disable":
            payload = canonical_json({"schemas": [PATCH_OP],
                                 "Operations": [{"op": "replace", "path": "active",
                                                 "value": False}]})
            method = "PATCH"
        else:
            payload, method = "", "DELETE"
        tables.append(_table(
            len(frame), action=action, method=method,
            path=pc.binary_join_element_wise("/Users/", targets, ""), target_id=targets,
            hr_key=string_array(frame["hr_key"]), hr_row=int64_array(frame["hr_row"]),
            category=string_array(frame["category"]), payload=payload,
            before=canonical_json({"active": True}), etag=None, risk=RISK[action],
            match=""))
    return pa.concat_tables(tables) if tables else _table(0, **dict.fromkeys(_OPS_SCHEMA.names))


def ops_of_table(table: pa.Table) -> pd.DataFrame:
    """The typed Plan frame (as ``ops_frame`` types it) of an op table, ids computed."""
    columns: dict[str, pd.Series] = {
        "op_id": pd.Series(pa.array(op_ids_of_table(table), pa.string()), dtype="string")}
    for name in OP_COLUMNS[1:]:
        dtype = "Int64" if name == "hr_row" else "str" if name in JSON_COLUMNS else "string"
        columns[name] = pd.Series(table[name].combine_chunks(), dtype=dtype)
    return pd.DataFrame(columns)


def op_ids_of_table(table: pa.Table) -> list[str]:
    """``op_id`` of every op of the table: its canonical body assembled, then its sha256."""
    body = _template({field: _HOLE.format(n) for n, field in enumerate(ID_FIELDS)},
                     len(ID_FIELDS), each_once=True)
    assert body is not None

    def value(field: str) -> pa.Array:
        column = table[field].combine_chunks()
        if field in JSON_COLUMNS:  # "" in the frame stands for None
            return pc.if_else(pc.equal(column, ""), "null", column)
        return pc.fill_null(json_strings(column), "null")
    return _sha256_hex(body.fill([value(field) for field in ID_FIELDS], table.num_rows))


def _sha256_hex(texts: pa.Array) -> list[str]:
    """sha256 hex digest of each string's UTF-8 bytes, straight from the arrow buffers."""
    texts = texts.cast(pa.string())
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not len(texts):
        return []
    _, offsets_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=len(texts) + 1,
                            offset=texts.offset * 4).tolist()
    data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
    sha256 = hashlib.sha256
    return [sha256(data[start:end]).hexdigest()
            for start, end in itertools.pairwise(offsets)]


