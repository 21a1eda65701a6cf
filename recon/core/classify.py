"""Classify every HR row and every target account, and diff every mapped attribute.

One row per HR row, plus one row per account that is not paired 1:1 with an HR row: nothing is
dropped and nothing appears twice (tests check this as a property). The categories and their
meaning are DESIGN.md's. All steps are whole-column operations in pyarrow compute and numpy:
accounts are found by position (match gives each pair's row of ``current``), attributes are
compared as pyarrow arrays, and text (reasons, changed attributes, diffs) is assembled only for
the rows that carry it; the only loops are over the configured attributes (a dozen) and over
the distinct sets of changed attributes.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.arrow import arrow_text
from recon.core.config import Config
from recon.core.mapping import as_of_timestamp, future_hires
from recon.core.match import encode
from recon.core.same import desired_array, differs, normalized_array
from recon.core.scim import parse_path

IDENTITY_COLUMNS = [
    "category", "hr_key", "hr_row", "target_id", "matched_by", "changed_attributes", "reason",
    "display_name", "user_name",
]
DIFF_COLUMNS = ["hr_key", "hr_row", "target_id", "category", "attribute", "before", "after"]


@dataclass(frozen=True)
class Classified:
    identities: pd.DataFrame
    diffs: pd.DataFrame
    desired_values: pd.DataFrame  # normalized desired values, references resolved to ids


_STRING = pa.large_string()


def _strings(values: pd.Series) -> Any:
    """A Series' values as one pyarrow large_string array."""
    return arrow_text(values.astype("string"))


def _column(array: Any, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(array), index=index, copy=False)


def _take(array: Any, rows: np.ndarray) -> Any:
    """``array`` at positions ``rows``; missing where a position is negative."""
    return array.take(pa.array(rows, mask=rows < 0))


def _concat(*parts: Any) -> Any:
    """Element-wise concatenation of string arrays and str scalars (missing if any is)."""
    return pc.binary_join_element_wise(
        *(pa.scalar(part, _STRING) if isinstance(part, str) else part.cast(_STRING)
          for part in parts), pa.scalar("", _STRING))


class _Text:
    """A string column assembled from pieces: each row points at one value of a small pool."""

    def __init__(self, size: int) -> None:
        self.pieces: list[Any] = [pa.array([""], _STRING)]
        self.used = 1
        self.at = np.zeros(size, dtype=np.int64)

    def put(self, rows: np.ndarray, values: Any) -> None:
        """Rows (positions) get ``values``: one str for all, or an array with one per row."""
        if len(rows) == 0:
            return
        if isinstance(values, str):
            values = pa.array([values], _STRING)
            self.at[rows] = self.used
        else:
            values = values.cast(_STRING)
            self.at[rows] = self.used + np.arange(len(rows))
        self.pieces.append(values)
        self.used += len(values)

    def array(self) -> Any:
        return pa.concat_arrays(self.pieces).take(pa.array(self.at))


def _join_unique(groups: np.ndarray, values: Any, size: int) -> Any:
    """Per group 0 … size-1: its distinct present values, sorted, joined by ", " ("" if none)."""
    present = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    groups, values = groups[present], values.filter(pa.array(present)).cast(_STRING)
    order = pc.sort_indices(pa.table({"g": groups, "v": values}),
                            sort_keys=[("g", "ascending"), ("v", "ascending")]).to_numpy()
    groups, values = groups[order], values.take(pa.array(order))
    first = np.ones(len(groups), dtype=bool)
    if len(groups) > 1:
        same_value = pc.equal(values[1:], values[:-1]).to_numpy(zero_copy_only=False)
        first[1:] = ~((groups[1:] == groups[:-1]) & same_value)
    groups, values = groups[first], values.filter(pa.array(first))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(groups, minlength=size))])
    lists = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), values)
    return pc.binary_join(lists, pa.scalar(", ", _STRING))


def _strftime(values: pd.Series) -> Any:
    return _strings(values.dt.strftime("%Y-%m-%d"))


def _account_positions(current: pd.DataFrame, pairs: pd.DataFrame) -> np.ndarray:
    """Each pair's row of ``current``: by match's ``account`` label, else by target id."""
    if "account" in pairs:
        return np.asarray(current.index.get_indexer(pd.Index(pairs["account"])), dtype=np.int64)
    found = pc.index_in(_strings(pairs["target_id"]), value_set=_strings(current["target_id"]))
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def resolve_references(
    desired: pd.DataFrame, config: Config, target_id: Any, invalid: np.ndarray,
) -> tuple[dict[str, Any], Any]:
    """Replace HR manager keys by the manager's account id; note what cannot be resolved.

    A key resolves through the one valid HR row that has it (keys shared by several valid rows
    do not resolve) to that row's account (``target_id``, one per HR row). Returns the resolved
    ids per reference path and the notes (a str per row, "" for most), or None without notes.
    """
    paths = config.reference_attributes()
    resolved: dict[str, Any] = {}
    notes: np.ndarray | None = None
    if not paths:
        return resolved, notes
    size = len(desired)
    hr_keys = _strings(desired["hr_key"])
    for path in paths:
        keys = pc.utf8_trim_whitespace(_strings(desired[path]))
        (hr_codes, key_codes), distinct = encode(hr_keys, keys)
        known = np.zeros(distinct + 1, dtype=bool)  # the last slot: a missing key
        known[hr_codes[hr_codes >= 0]] = True
        valid = ~invalid & (hr_codes >= 0)
        holders = np.bincount(hr_codes[valid], minlength=distinct)
        row_of = np.full(distinct + 1, -1, dtype=np.int64)
        row_of[hr_codes[valid]] = np.flatnonzero(valid)
        row_of[:distinct][holders != 1] = -1
        target = _take(target_id, row_of[key_codes])
        resolved[path] = target
        has_key = key_codes >= 0
        dangling = has_key & ~known[key_codes]
        no_account = (has_key & ~dangling
                      & ~np.asarray(target.is_valid().to_numpy(zero_copy_only=False), dtype=bool))
        label = parse_path(path).attribute
        for rows, text in ((np.flatnonzero(dangling), " is not in the HR file; "),
                           (np.flatnonzero(no_account), " has no account yet; ")):
            if len(rows):
                if notes is None:
                    notes = np.full(size, "", dtype=object)
                key_text = keys.take(pa.array(rows)).to_numpy(zero_copy_only=False)
                notes[rows] = notes[rows] + (f"{label} " + key_text + text)
    return resolved, notes


def classify(
    desired: pd.DataFrame,
    current: pd.DataFrame,
    excluded: pd.Series,
    pairs: pd.DataFrame,
    invalid_reasons: pd.Series,
    config: Config,
    as_of: date,
) -> Classified:
    """identities + diffs from the desired frame, the current frame and the match pairs."""
    hr_index = desired.index
    size = len(hr_index)
    rule_names = [parse_path(rule.target).attribute for rule in config.match]
    # A pair found by a later rule whose account holds another identity is no pair at all.
    clash, clash_notes = _anchor_clashes(desired, current, pairs, config)
    if clash.any():
        pairs = pairs.assign(clean=pairs["clean"].astype(bool).to_numpy() & ~clash)
    is_clean = pairs["clean"].astype(bool).to_numpy()
    clean = pairs[is_clean]
    messy = pairs[~is_clean]

    # ---- pair each HR row with its account (clean pairs only) ---------------------------
    account = np.full(size, -1, dtype=np.int64)
    rule_used = np.full(size, -1, dtype=np.int64)
    workers = hr_index.get_indexer(pd.Index(clean["hr_row"]))
    account[workers] = _account_positions(current, clean)
    rule_used[workers] = clean["rule"].to_numpy(dtype=np.int64)
    matched = account >= 0
    # The clean pairs' ids, in HR order already (match pairs follow the HR rows): a near
    # sequential gather rather than a random one from current.
    pair_of = np.full(size, -1, dtype=np.int64)
    pair_of[workers] = np.arange(len(clean))
    target_id = _take(_strings(clean["target_id"]), pair_of)
    account_active = np.zeros(size, dtype=bool)
    account_active[matched] = current["active"].fillna(False).astype(bool).to_numpy()[
        account[matched]]

    invalid = hr_index.isin(invalid_reasons.index)
    messy_rows = hr_index.get_indexer(pd.Index(messy["hr_row"]).unique())
    in_messy = np.zeros(size, dtype=bool)
    in_messy[messy_rows] = True
    in_conflict = in_messy & ~invalid
    in_scope = desired["in_scope"].astype(bool).to_numpy()
    active = desired["worker_active"].astype(bool).to_numpy()
    future = future_hires(desired, as_of, config.policy.prehire_days).to_numpy()

    # ---- attribute diffs on matched rows --------------------------------------------------
    wanted: dict[str, Any] = {}
    before: dict[str, Any] = {}  # the account's value, over the matched rows
    diff_masks: dict[str, np.ndarray] = {}
    matched_rows = np.flatnonzero(matched)
    is_matched = pa.array(matched)
    at_account = pa.array(account[matched_rows])

    def compare(path: str, resolved: dict[str, Any]) -> tuple[Any, Any, np.ndarray]:
        source = resolved[path] if path in resolved else _strings(desired[path])
        after = desired_array(path, source)
        raw = _strings(current[path]).take(at_account)
        mask = np.zeros(size, dtype=bool)
        mask[matched_rows] = differs(path, after.filter(is_matched), raw)
        return after, raw, mask

    # One attribute per task: pyarrow's kernels release the GIL, so the attributes are compared
    # on every core (the results are the same as one after the other).
    # References are resolved while the plain attributes are compared, then compared too.
    references = config.reference_attributes()
    with ThreadPoolExecutor(max_workers=_workers(len(config.attributes) + 1)) as pool:
        resolving = pool.submit(resolve_references, desired, config, target_id, invalid)
        plain = {path: pool.submit(compare, path, {})
                 for path in config.attributes if path not in references}
        resolved, notes = resolving.result()
        tasks = {path: plain[path] if path in plain else pool.submit(compare, path, resolved)
                 for path in config.attributes}
        compared = [tasks[path].result() for path in config.attributes]
    for path, (after, raw, mask) in zip(config.attributes, compared, strict=True):
        wanted[path], before[path], diff_masks[path] = after, raw, mask
    changes = (np.column_stack(list(diff_masks.values())) if diff_masks
               else np.zeros((size, 0), dtype=bool))
    any_diff = changes.any(axis=1)
    fallback = rule_used > 0

    conditions = [
        invalid,
        in_conflict,
        ~in_scope,
        matched & ~active & account_active,
        matched & ~active,
        matched & active & ~account_active & future,
        matched & active & ~account_active,
        matched & fallback & any_diff,
        matched & any_diff,
        matched,
        ~active,
        future,
    ]
    choices = ["invalid", "conflict", "out_of_scope", "leaver", "in_sync", "future_hire",
               "rehire", "link", "drift", "in_sync", "departed", "future_hire"]
    names = list(dict.fromkeys([*choices, "joiner"]))
    code = np.select(conditions, [names.index(c) for c in choices], default=names.index("joiner"))
    category = pa.array(names, _STRING).take(pa.array(code))

    def rows_of(name: str) -> np.ndarray:
        return np.flatnonzero(code == names.index(name))

    # ---- reasons --------------------------------------------------------------------------
    reason = _Text(size)
    candidates: Any = None
    candidate_of = np.full(size, -1, dtype=np.int64)
    if len(messy):
        in_order = np.sort(messy_rows)
        groups = np.searchsorted(in_order, hr_index.get_indexer(pd.Index(messy["hr_row"])))
        candidates = _join_unique(groups, _strings(messy["target_id"]), len(messy_rows))
        candidate_of[in_order] = np.arange(len(messy_rows))
    rows = rows_of("invalid")
    if len(rows):
        texts = _strings(invalid_reasons.reindex(hr_index[rows]))
        if in_conflict.any():
            noted = candidate_of[rows] >= 0
            if noted.any():
                extra = _concat(_take(texts, np.flatnonzero(noted)), "; candidate accounts: ",
                                _take(candidates, candidate_of[rows[noted]]))
                texts = pc.replace_with_mask(texts, pa.array(noted), extra.cast(_STRING))
        reason.put(rows, texts)
    rows = rows_of("conflict")
    if len(rows):
        reason.put(rows, _concat("matches several accounts or shares one: ",
                                 _take(candidates, candidate_of[rows])))
    if clash.any():
        clashing = pairs[clash]
        rows = hr_index.get_indexer(pd.Index(clashing["hr_row"]))
        conflicting = code[rows] == names.index("conflict")
        rule = pa.array(rule_names, _STRING).take(pa.array(clashing["rule"].to_numpy()))
        reason.put(rows[conflicting], _concat(
            "matched by ", rule, " only, to account ", _strings(clashing["target_id"]), ": ",
            clash_notes).filter(pa.array(conflicting)))
    reason.put(rows_of("out_of_scope"), "fails the scoping rule")
    reason.put(rows_of("rehire"), "active in HR, account disabled")
    reason.put(rows_of("joiner"), "active in HR, no account")
    # Why a worker is inactive: a termination date before as-of, else the status value.
    ended = desired["termination_date"]
    terminated = (ended < as_of_timestamp(as_of)).fillna(False).to_numpy(dtype=bool)
    for name, tail in (("leaver", "), account active"), ("departed", "), no account")):
        rows = rows_of(name)
        if not len(rows):
            continue
        status = pc.fill_null(_strings(desired["worker_status"].iloc[rows]), "empty")
        why = _concat("status ", status)
        ends = terminated[rows]
        if ends.any():
            dates = _concat("terminated ", _strftime(ended.iloc[rows[ends]]))
            why = pc.replace_with_mask(why, pa.array(ends), dates.cast(_STRING))
        reason.put(rows, _concat("inactive in HR (", why, tail))
    rows = rows_of("future_hire")
    if len(rows):
        hired = pc.fill_null(_strftime(desired["hire_date"].iloc[rows]), "?")
        reason.put(rows, _concat(
            "hire date ", hired,
            f" is more than {config.policy.prehire_days} days after as-of"))
    rows = rows_of("link")
    if len(rows):
        rule = pa.array(rule_names, _STRING).take(pa.array(np.maximum(rule_used[rows], 0)))
        reason.put(rows, _concat("matched by ", rule, " only; writes the anchor"))
    reasons = reason.array()
    if notes is not None:
        noted = notes != ""
        rows = np.flatnonzero(noted)
        note_text = pc.utf8_rtrim(pa.array(notes[rows], _STRING), characters="; ")
        with_notes = pc.utf8_ltrim(_concat(reasons.take(pa.array(rows)), "; ", note_text),
                                   characters="; ")
        reasons = pc.replace_with_mask(reasons, pa.array(noted), with_notes.cast(_STRING))

    # ---- changed attributes and diffs: only where an update is planned ---------------------
    writes = np.isin(code, [names.index(n) for n in ("drift", "link", "rehire")])
    changed = _changed(changes, list(diff_masks), writes, code == names.index("leaver"),
                       code == names.index("rehire"))

    identities = pd.DataFrame({
        "category": _column(category, hr_index),
        "hr_key": desired["hr_key"].astype("string"),
        "hr_row": pd.Series(hr_index, index=hr_index, dtype="Int64"),
        "target_id": _column(target_id, hr_index),
        "matched_by": _column(
            pa.array([*rule_names, ""], _STRING).take(
                pa.array(np.where(matched, rule_used, len(rule_names)))), hr_index),
        "changed_attributes": _column(changed, hr_index),
        "reason": _column(reasons, hr_index),
        "display_name": _display_names(desired),
        "user_name": desired["userName"].astype("string") if "userName" in desired else pd.NA,
    }, index=hr_index)

    in_matched = np.full(size, -1, dtype=np.int64)
    in_matched[matched_rows] = np.arange(len(matched_rows))
    diffs = _diffs(identities, before, in_matched, wanted, diff_masks, writes, code,
                   (names.index("leaver"), names.index("rehire")))
    accounts_rows = _account_rows(current, excluded, pairs, desired,
                                  _clash_reasons(pairs, clash, clash_notes, rule_names))
    identities = pd.concat([identities.reset_index(drop=True), accounts_rows], ignore_index=True)
    wanted_frame = pd.DataFrame(
        {path: _column(values, hr_index) for path, values in wanted.items()},
        index=hr_index, columns=pd.Index(list(wanted), dtype="str"))
    return Classified(identities[IDENTITY_COLUMNS], diffs, wanted_frame)


def _workers(tasks: int) -> int:
    return max(1, min(tasks, os.cpu_count() or 1, 8))


def _changed(
    changes: np.ndarray, paths: list[str], writes: np.ndarray, leaver: np.ndarray,
    rehire: np.ndarray,
) -> Any:
    """changed_attributes: the differing paths of rows with a planned update, ";"-joined.

    Rows share few distinct sets of differing paths: each set's text is made once (exactly
    as a row-by-row ``"a;" + "b;"`` then ``rstrip(";")`` would make it) and rows point at it.
    """
    pool = ["", "active"]
    at = np.zeros(len(writes), dtype=np.int64)
    at[leaver] = 1
    rows = np.flatnonzero((writes & changes.any(axis=1)) | rehire)
    if len(rows):
        chosen = changes[rows]
        if len(paths) < 63:  # each row's set of paths as the bits of one integer
            bits = chosen.astype(np.int64) @ (np.int64(1) << np.arange(len(paths), dtype=np.int64))
            keys, of_set = np.unique(bits, return_inverse=True)
            sets = (keys[:, None] >> np.arange(len(paths), dtype=np.int64)) & 1 == 1
        else:
            sets, of_set = np.unique(chosen, axis=0, return_inverse=True)
        for hits in sets:
            base = "".join(path + ";" for path, hit in zip(paths, hits, strict=True) if hit)
            base = base.rstrip(";")
            pool += [base, ("active;" + base).rstrip(";")]
        at[rows] = 2 + 2 * of_set.reshape(-1) + rehire[rows]
    return pa.array(pool, _STRING).take(pa.array(at))


def _display_names(desired: pd.DataFrame) -> pd.Series:
    if "displayName" in desired:
        return desired["displayName"].astype("string")
    given = desired.get("name.givenName")
    family = desired.get("name.familyName")
    if given is not None and family is not None:
        return (given.fillna("") + " " + family.fillna("")).str.strip().astype("string")
    return desired["hr_key"].astype("string")


def _diffs(
    identities: pd.DataFrame, before: dict[str, Any], in_matched: np.ndarray,
    wanted: dict[str, Any], masks: dict[str, np.ndarray], writes: np.ndarray, code: np.ndarray,
    leaver_rehire: tuple[int, int],
) -> pd.DataFrame:
    who = {column: _strings(identities[column]) for column in ("hr_key", "target_id", "category")}
    hr_row = identities["hr_row"].to_numpy(dtype=np.int64)
    parts: list[tuple[np.ndarray, str, Any, Any]] = []
    for path, mask in masks.items():
        rows = np.flatnonzero(mask & writes)
        if len(rows):
            at = pa.array(rows)
            parts.append((rows, path, before[path].take(pa.array(in_matched[rows])),
                          wanted[path].take(at)))
    for number, (old, new) in zip(leaver_rehire, (("True", "False"), ("False", "True")),
                                  strict=True):
        rows = np.flatnonzero(code == number)
        if len(rows):
            parts.append((rows, "active", pa.nulls(len(rows), _STRING).fill_null(old),
                          pa.nulls(len(rows), _STRING).fill_null(new)))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in DIFF_COLUMNS})
    rows = np.concatenate([part[0] for part in parts])
    attributes = [part[1] for part in parts]
    rank = {name: number for number, name in enumerate(sorted(set(attributes)))}
    attribute_rank = np.repeat([rank[name] for name in attributes],
                               [len(part[0]) for part in parts])
    order = np.lexsort((attribute_rank, hr_row[rows]))
    ordered = rows[order]
    at = pa.array(ordered)
    columns: dict[str, Any] = {
        "hr_key": who["hr_key"].take(at),
        "hr_row": pd.array(hr_row[ordered], dtype="Int64"),
        "target_id": who["target_id"].take(at),
        "category": who["category"].take(at),
        "attribute": pa.array(attributes, _STRING).take(
            pa.array(np.repeat(np.arange(len(parts)), [len(part[0]) for part in parts])[order])),
        "before": pa.concat_arrays([part[2].cast(_STRING) for part in parts]).take(
            pa.array(order)),
        "after": pa.concat_arrays([part[3].cast(_STRING) for part in parts]).take(
            pa.array(order)),
    }
    return pd.DataFrame({
        column: values if column == "hr_row" else pd.arrays.ArrowStringArray(values)
        for column, values in columns.items()})


def _anchor_clashes(
    desired: pd.DataFrame, current: pd.DataFrame, pairs: pd.DataFrame, config: Config,
) -> tuple[np.ndarray, Any]:
    """Clean pairs found by a later match rule whose account holds a different, non-empty value
    in the anchor (the first rule's target, e.g. employeeNumber) than the worker's.

    Such a pair is not a link: writing the anchor would overwrite another identity (an HR
    export saved through Excel turns Employee ID 004524 into 4524, and the e-mail then finds
    the account that rightly holds 004524). A person decides. Returns a bool array over the
    pairs and, for the clashing ones, "account holds employeeNumber 004524, HR says 4524".
    """
    clash = np.zeros(len(pairs), dtype=bool)
    if not len(pairs) or len(config.match) < 2:
        return clash, None
    later = np.flatnonzero(pairs["clean"].astype(bool).to_numpy()
                           & (pairs["rule"].to_numpy(dtype=np.int64) > 0))
    if not len(later):
        return clash, None
    path = config.match[0].target
    chosen = pairs.iloc[later]
    accounts = pa.array(_account_positions(current, chosen))
    workers = pa.array(desired.index.get_indexer(pd.Index(chosen["hr_row"])))
    theirs = normalized_array(path, _strings(current[path]).take(accounts))
    ours = normalized_array(path, _strings(desired["match_0"]).take(workers))
    differ = pc.fill_null(pc.not_equal(theirs, ours), False)
    clash[later] = np.asarray(differ.to_numpy(zero_copy_only=False), dtype=bool)
    label = parse_path(path).attribute
    notes = _concat(f"account holds {label} ", theirs, ", HR says ", ours).filter(differ)
    return clash, notes


def _clash_reasons(
    pairs: pd.DataFrame, clash: np.ndarray, notes: Any, rule_names: list[str],
) -> tuple[pd.DataFrame, Any] | None:
    """(the clashing pairs, a reason for each one's account), or None."""
    if not clash.any():
        return None
    clashing = pairs[clash]
    rule = pa.array(rule_names, _STRING).take(pa.array(clashing["rule"].to_numpy()))
    hr_rows = pa.array(clashing["hr_row"].to_numpy(dtype=np.int64)).cast(_STRING)
    return clashing, _concat("matched by ", rule, " to HR row ", hr_rows, " only: ", notes)


def _account_rows(
    current: pd.DataFrame, excluded: pd.Series, pairs: pd.DataFrame, desired: pd.DataFrame,
    clashes: tuple[pd.DataFrame, Any] | None = None,
) -> pd.DataFrame:
    """Rows for accounts not paired 1:1: excluded, conflict candidates and orphans."""
    is_clean = pairs["clean"].astype(bool).to_numpy()
    accounts = _account_positions(current, pairs)
    paired = np.zeros(len(current), dtype=bool)
    paired[accounts[is_clean]] = True
    messy = pairs[~is_clean]
    messy_accounts = accounts[~is_clean]
    claimed = np.unique(messy_accounts)
    is_claimed = np.zeros(len(current), dtype=bool)
    is_claimed[claimed] = True
    is_excluded = excluded.to_numpy(dtype=bool)
    in_conflict = is_claimed & ~is_excluded
    keep = is_excluded | in_conflict | ~paired
    kept = np.flatnonzero(keep)
    category = np.select(
        [is_excluded[keep], in_conflict[keep]], ["excluded", "conflict"], default="orphan")
    active = current["active"].to_numpy(dtype=bool)[keep]
    reason = _Text(len(kept))
    reason.put(np.flatnonzero(~active), "no HR row matches; account disabled")
    reason.put(np.flatnonzero(active), "no HR row matches; account active")
    conflict_rows = np.flatnonzero(in_conflict[keep] & ~is_excluded[keep])
    if len(conflict_rows):
        group = np.searchsorted(claimed, messy_accounts)
        hr_rows = pa.array(messy["hr_row"].to_numpy()).cast(_STRING)
        hr_keys = _strings(desired["hr_key"].reindex(messy["hr_row"]))
        of = np.searchsorted(claimed, kept[conflict_rows])
        claim_rows = _join_unique(group, hr_rows, len(claimed)).take(pa.array(of))
        claim_keys = _join_unique(group, hr_keys, len(claimed)).take(pa.array(of))
        reason.put(conflict_rows, _concat(
            "matched by several HR rows or one of several accounts: HR rows ", claim_rows,
            " (keys ", claim_keys, ")"))
    if clashes is not None:
        clashing, texts = clashes
        reason.put(np.searchsorted(kept, _account_positions(current, clashing)), texts)
    reason.put(np.flatnonzero(is_excluded[keep]), "matches the exclusion rule")
    names = ["target_id", "userName", *(["displayName"] if "displayName" in current else [])]
    rows = current[names].iloc[kept]
    display = rows["displayName"] if "displayName" in rows else rows["userName"]
    index = pd.RangeIndex(len(rows))

    def text(values: pd.Series) -> pd.Series:  # the HR rows' types, also without rows
        return values.astype("string").reset_index(drop=True)

    return pd.DataFrame({
        "category": pd.Series(category, index=index, dtype="string"),
        "hr_key": pd.Series(pd.NA, index=index, dtype="string"),
        "hr_row": pd.Series(pd.NA, index=index, dtype="Int64"),
        "target_id": text(rows["target_id"]),
        "matched_by": pd.Series("", index=index, dtype="string"),
        "changed_attributes": pd.Series("", index=index, dtype="string"),
        "reason": pd.Series(pd.arrays.ArrowStringArray(reason.array()), index=index),
        "display_name": text(display),
        "user_name": text(rows["userName"]),
    })
