"""Match HR rows to target accounts: rules in precedence order, ambiguity kept, never guessed.

Entra's semantics (entra_scim_facts §1.3): the rules are tried in order, and the first rule that
yields any account for a worker decides for that worker; later rules are not tried for it. Every
rule is one merge over whole frames. A pair is *clean* when its worker has exactly one account and
its account exactly one worker; everything else is a conflict for a person to decide.
"""

from __future__ import annotations

import pandas as pd

from recon.config import MatchRule
from recon.normalize import case_insensitive, normalize_values

PAIR_COLUMNS = ["hr_row", "target_id", "rule", "clean"]


def match(desired: pd.DataFrame, current: pd.DataFrame, rules: list[MatchRule]) -> pd.DataFrame:
    """Pairs (hr_row, target_id, rule index, clean) for every worker that matched any rule.

    ``desired`` carries ``match_0 … match_n`` (the source side of each rule) indexed by hr_row;
    ``current`` carries ``target_id`` and each rule's target path. Neither is modified.
    """
    remaining = pd.Index(desired.index)
    found: list[pd.DataFrame] = []
    for number, rule in enumerate(rules):
        if remaining.empty:
            break
        fold = case_insensitive(rule.target)
        left = pd.DataFrame({
            "hr_row": remaining,
            "key": normalize_values(desired.loc[remaining, f"match_{number}"], fold_case=fold)
            .to_numpy(),
        }).dropna(subset=["key"])
        right = pd.DataFrame({
            "target_id": current["target_id"].to_numpy(),
            "key": normalize_values(current[rule.target], fold_case=fold).to_numpy(),
        }).dropna(subset=["key"])
        pairs = left.merge(right, on="key", how="inner")[["hr_row", "target_id"]]
        pairs["rule"] = number
        found.append(pairs)
        remaining = remaining.difference(pd.Index(pairs["hr_row"].unique()))
    if not found:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PAIR_COLUMNS})
    pairs = pd.concat(found, ignore_index=True).drop_duplicates(["hr_row", "target_id"])
    per_worker = pairs.groupby("hr_row")["target_id"].transform("size")
    per_account = pairs.groupby("target_id")["hr_row"].transform("size")
    pairs["clean"] = (per_worker == 1) & (per_account == 1)
    return pairs.reset_index(drop=True)
