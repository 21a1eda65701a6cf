"""Match HR rows to target accounts: rules in precedence order, ambiguity kept, never guessed.

Entra's semantics (entra_scim_facts §1.3): the rules are tried in order, and the first rule that
yields any account for a worker decides for that worker; later rules are not tried for it. Every
rule is one hash join over whole columns (pyarrow dictionary codes, then numpy). A pair is
*clean* when its worker has exactly one account and its account exactly one worker; everything
else is a conflict for a person to decide.

Target ids are unique and present (the snapshot readers refuse anything else), so an account is
its row of ``current``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.arrow import arrow_text
from recon.core.config import MatchRule
from recon.core.same import normalize_values
from recon.core.scim import case_insensitive

PAIR_COLUMNS = ["hr_row", "target_id", "rule", "clean", "account"]


def match(desired: pd.DataFrame, current: pd.DataFrame, rules: list[MatchRule]) -> pd.DataFrame:
    """Pairs (hr_row, target_id, rule index, clean, account) for every worker that matched.

    ``desired`` carries ``match_0 … match_n`` (the source side of each rule) indexed by hr_row;
    ``current`` carries ``target_id`` and each rule's target path. ``account`` is the label of
    the account's row in ``current``. Neither frame is modified.
    """
    open_rows = np.arange(len(desired))
    workers: list[np.ndarray] = []
    accounts: list[np.ndarray] = []
    numbers: list[np.ndarray] = []
    for number, rule in enumerate(rules):
        if len(open_rows) == 0:
            break
        fold = case_insensitive(rule.target)
        source = desired[f"match_{number}"]
        if len(open_rows) < len(desired):
            source = source.iloc[open_rows]
        left, right = _keys(source, fold), _keys(current[rule.target], fold)
        left_at, right_at = _inner_join(left, right)
        workers.append(open_rows[left_at])
        accounts.append(right_at)
        numbers.append(np.full(len(left_at), number, dtype=np.int64))
        if len(left_at):
            still_open = np.ones(len(open_rows), dtype=bool)
            still_open[left_at] = False
            open_rows = open_rows[still_open]
    if not workers:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PAIR_COLUMNS})
    worker = np.concatenate(workers)
    account = np.concatenate(accounts)
    per_worker = np.bincount(worker, minlength=len(desired))[worker]
    per_account = np.bincount(account, minlength=len(current))[account]
    return pd.DataFrame({
        "hr_row": desired.index[worker],
        "target_id": current["target_id"].astype("string").array.take(account),
        "rule": np.concatenate(numbers),
        "clean": (per_worker == 1) & (per_account == 1),
        "account": current.index[account],
    })


def _keys(values: pd.Series, fold: bool) -> Any:
    """Normalized match keys as one pyarrow large_string array (missing for empty values)."""
    return arrow_text(normalize_values(values, fold_case=fold))


def _inner_join(left: Any, right: Any) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in left, in right) of every pair of equal, present keys.

    Ordered by left position, then right position: the order of ``DataFrame.merge``.
    """
    right_rows: np.ndarray | None = None
    if 4 * len(left) < len(right):  # a few open workers: only the accounts that can match
        right_rows = np.flatnonzero(np.asarray(
            pc.is_in(right, value_set=left).to_numpy(zero_copy_only=False), dtype=bool))
        right = right.take(pa.array(right_rows))
    (left_codes, right_codes), size = encode(left, right)
    left_at, right_at = _pairs_of(left_codes, right_codes, size)
    return left_at, (right_at if right_rows is None else right_rows[right_at])


def _pairs_of(
    left_codes: np.ndarray, right_codes: np.ndarray, size: int,
) -> tuple[np.ndarray, np.ndarray]:
    right_rows = np.flatnonzero(right_codes >= 0)
    counts = np.bincount(right_codes[right_rows], minlength=size)
    left_rows = np.flatnonzero(left_codes >= 0)
    if counts.max(initial=0) <= 1:  # every key at most once on the right: a lookup
        at = np.full(size, -1, dtype=np.int64)
        at[right_codes[right_rows]] = right_rows
        found = at[left_codes[left_rows]]
        hit = found >= 0
        return left_rows[hit], found[hit]
    by_key = right_rows[np.argsort(right_codes[right_rows], kind="stable")]
    starts = np.cumsum(counts) - counts
    per_left = counts[left_codes[left_rows]]
    left_at = np.repeat(left_rows, per_left)
    offsets = np.arange(len(left_at)) - np.repeat(np.cumsum(per_left) - per_left, per_left)
    right_at = by_key[np.repeat(starts[left_codes[left_rows]], per_left) + offsets]
    return left_at, right_at


def encode(*arrays: Any) -> tuple[list[np.ndarray], int]:
    """Codes 0 … size-1 that are equal where the strings are equal, across all the arrays
    (-1 where a value is missing), and size.

    Short strings (up to 7 bytes, such as most employee ids) are packed into one integer each
    and hashed as integers; others are dictionary-encoded by pyarrow.
    """
    packed = [_packed(array) for array in arrays]
    lengths = [len(array) for array in arrays]
    if all(values is not None for values in packed):
        keys = np.concatenate([values for values in packed if values is not None])
        present = keys != _MISSING
        codes = np.full(len(keys), -1, dtype=np.int64)
        found, uniques = pd.factorize(_mixed(keys[present]))
        codes[present] = found
        size = len(uniques)
    else:
        encoded = pc.dictionary_encode(pa.chunked_array(
            [array.cast(pa.large_string()) for array in arrays], pa.large_string()))
        codes = np.concatenate([
            np.asarray(pc.fill_null(chunk.indices, -1).to_numpy(zero_copy_only=False),
                       dtype=np.int64) for chunk in encoded.chunks]
            or [np.zeros(0, dtype=np.int64)])
        size = len(encoded.chunks[0].dictionary) if encoded.num_chunks else 0
    return list(np.split(codes, np.cumsum(lengths)[:-1])), size


def _mixed(keys: np.ndarray) -> np.ndarray:
    """The keys through splitmix64's finalizer: a bijection (equal stays equal, different stays
    different) that spreads similar keys, such as ids that differ in one digit, over all bits,
    which pandas' hash table needs to stay fast."""
    with np.errstate(over="ignore"):
        keys = keys ^ (keys >> np.uint64(30))
        keys = keys * np.uint64(0xBF58476D1CE4E5B9)
        keys = keys ^ (keys >> np.uint64(27))
        keys = keys * np.uint64(0x94D049BB133111EB)
        mixed: np.ndarray = keys ^ (keys >> np.uint64(31))
    return mixed


_MISSING = np.uint64(2**64 - 1)  # no packed string has all bits set: its length byte is <= 7


def _packed(array: Any) -> np.ndarray | None:
    """Each string as one uint64 (its bytes, then its length in the top byte), missing as
    _MISSING; None when some string is longer than 7 bytes."""
    array = array.cast(pa.large_string())
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    lengths = np.diff(offsets)
    valid = (np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
             if array.null_count else np.ones(len(array), dtype=bool))
    lengths = np.where(valid, lengths, 0)
    if lengths.max(initial=0) > 7:
        return None
    keys = lengths.astype(np.uint64) << np.uint64(56)
    if buffers[2] is not None and len(array):
        data = np.frombuffer(buffers[2], dtype=np.uint8)
        starts = offsets[:-1]
        for byte in range(int(lengths.max(initial=0))):
            has = lengths > byte
            at = np.minimum(starts + byte, len(data) - 1)
            keys |= np.where(has, data[at], 0).astype(np.uint64) << np.uint64(8 * byte)
    keys[~valid] = _MISSING
    return keys
