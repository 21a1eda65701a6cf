"""Keys that match an account only after leading zeros: a person decides, never a new account.

An extract saved through Excel turns employee id 004524 into 4524. If the e-mail does not find
the account either, that worker would look like a joiner and a second account would be
created; an inactive one would look departed while its account stays enabled. So a worker that
no rule matched, whose key matches an unmatched account's anchor (the first match rule's
target) once leading zeros (and a trailing ".0") are ignored, is a ``conflict`` naming both
values, and so is that account. The quality gate's ``key_shape`` warning counts them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.arrow import arrow_text
from recon.core.config import Config
from recon.core.same import normalized_array
from recon.core.scim import parse_path

#: HR rows no rule matched, whose category a hidden account would make wrong.
UNMATCHED = ("joiner", "departed", "future_hire")


def shape_of(keys: pa.Array) -> pa.Array:
    """A key without the zeros a spreadsheet adds or drops: leading zeros, a trailing ".0"."""
    keys = pc.replace_substring_regex(keys, pattern=r"\.0+$", replacement="")
    return pc.replace_substring_regex(keys, pattern="^0+([0-9])", replacement=r"\1")


def shape_conflicts(identities: pd.DataFrame, desired: pd.DataFrame, current: pd.DataFrame,
                    config: Config) -> pd.DataFrame:
    """``identities`` with each unmatched worker and unmatched (orphan) account whose keys agree
    only up to leading zeros made a conflict, naming both values; vectorised."""
    if not config.match or "match_0" not in desired:
        return identities
    rule = config.match[0]
    category = identities["category"].astype("string")
    workers = identities[category.isin(UNMATCHED).to_numpy() & identities["hr_row"].notna()]
    orphans = identities[(category == "orphan").to_numpy()]
    if workers.empty or orphans.empty or rule.target not in current:
        return identities
    anchors = current.set_index("target_id")[rule.target]
    ours = normalized_array(rule.target, arrow_text(
        desired["match_0"].reindex(workers["hr_row"].to_numpy()).astype("string")))
    theirs = normalized_array(rule.target, arrow_text(
        anchors.reindex(orphans["target_id"].astype(str).to_numpy()).astype("string")))
    at = pc.index_in(shape_of(ours), value_set=shape_of(theirs))
    hits = np.flatnonzero(at.is_valid().to_numpy(zero_copy_only=False))
    if not len(hits):
        return identities
    accounts = at.take(pa.array(hits)).to_numpy(zero_copy_only=False).astype(np.int64)
    label = parse_path(rule.target).attribute
    hr_keys = ours.take(pa.array(hits)).to_pylist()
    held = theirs.take(pa.array(accounts)).to_pylist()
    account_ids = orphans["target_id"].astype(str).to_numpy()[accounts]
    worker_rows = workers.index[hits]
    account_rows = orphans.index[np.unique(accounts)]
    changed = identities.copy()
    changed["category"] = changed["category"].astype("string")
    changed["reason"] = changed["reason"].astype("string")
    changed.loc[worker_rows, "category"] = "conflict"
    changed.loc[worker_rows, "reason"] = [
        f"no rule matched; account {account} holds {label} {value}, HR says {key}: the same "
        "key up to leading zeros (Excel drops them); a person decides"
        for account, value, key in zip(account_ids, held, hr_keys, strict=True)]
    claimed = pd.Series(hr_keys, index=account_ids).groupby(level=0).agg(", ".join)
    changed.loc[account_rows, "category"] = "conflict"
    changed.loc[account_rows, "reason"] = [
        f"matches HR key {claimed[str(account)]} only up to leading zeros; a person decides"
        for account in changed.loc[account_rows, "target_id"]]
    return changed
