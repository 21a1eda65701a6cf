"""Classify every HR row and every target account, and diff every mapped attribute.

One row per HR row, plus one row per account that is not paired 1:1 with an HR row: nothing is
dropped and nothing appears twice (tests check this as a property). The categories and their
meaning are DESIGN.md's. All steps are whole-frame operations: merges, ``np.select`` and
vectorized string comparisons; the only loop is over the configured attributes (a dozen).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from recon.config import Config
from recon.mapping import as_of_timestamp, future_hires
from recon.normalize import case_insensitive, is_in, normalize_values, parse_path

HR_CATEGORIES = (
    "in_sync", "drift", "link", "joiner", "future_hire", "leaver", "rehire", "departed",
    "out_of_scope", "conflict", "invalid",
)
ACCOUNT_CATEGORIES = ("orphan", "excluded", "conflict")
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


def _text(values: pd.Series | np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(values, index=index, dtype="string")


def _join_unique(values: pd.Series) -> str:
    return ", ".join(sorted({str(v) for v in values if pd.notna(v)}))


def resolve_references(
    desired: pd.DataFrame, config: Config, key_to_target: pd.Series,
) -> tuple[pd.DataFrame, pd.Series]:
    """Replace HR manager keys by the manager's account id; note what cannot be resolved."""
    resolved = pd.DataFrame(index=desired.index)
    notes = pd.Series("", index=desired.index, dtype="string")
    known_keys = pd.Index(desired["hr_key"].dropna().unique())
    for path in config.reference_attributes():
        keys = desired[path].astype("string").str.strip()
        target = keys.map(key_to_target).astype("string")
        resolved[path] = target
        dangling = keys.notna() & ~is_in(keys, known_keys)
        no_account = keys.notna() & target.isna() & ~dangling
        label = parse_path(path).attribute
        notes = notes.mask(dangling, notes + f"{label} " + keys + " is not in the HR file; ")
        notes = notes.mask(no_account, notes + f"{label} " + keys + " has no account yet; ")
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
    clean = pairs[pairs["clean"].astype(bool)]
    messy = pairs[~pairs["clean"].astype(bool)]
    rule_names = [parse_path(rule.target).attribute for rule in config.match]

    # ---- pair each HR row with its account (clean pairs only) ---------------------------
    paired = clean.set_index("hr_row")
    target_id = _text(paired["target_id"].reindex(hr_index), hr_index)
    rule_used = paired["rule"].reindex(hr_index)
    matched = target_id.notna().to_numpy()
    accounts = current.set_index("target_id")
    account_at = accounts.reindex(target_id.fillna("\0"))
    account_at.index = hr_index
    account_active = account_at["active"].fillna(False).astype(bool).to_numpy()

    invalid = hr_index.isin(invalid_reasons.index)
    in_conflict = hr_index.isin(pd.Index(messy["hr_row"].unique())) & ~invalid
    in_scope = desired["in_scope"].astype(bool).to_numpy()
    active = desired["worker_active"].astype(bool).to_numpy()
    future = future_hires(desired, as_of, config.policy.prehire_days).to_numpy()

    # ---- attribute diffs on matched rows --------------------------------------------------
    valid_keys = desired.loc[~invalid, "hr_key"].dropna()
    unique_keys = valid_keys[~valid_keys.duplicated(keep=False)]
    key_to_target = pd.Series(target_id.loc[unique_keys.index].to_numpy(),
                              index=unique_keys.to_numpy()).dropna()
    resolved, notes = resolve_references(desired, config, key_to_target)
    wanted = pd.DataFrame(index=hr_index)
    changed = pd.Series("", index=hr_index, dtype="string")
    diff_masks: dict[str, np.ndarray] = {}
    for path in config.attributes:
        fold = case_insensitive(path)
        source = resolved[path] if path in resolved else desired[path]
        after = normalize_values(source, fold_case=fold)
        before = normalize_values(account_at[path], fold_case=fold)
        wanted[path] = after
        differs = (after.notna() & (before.isna() | (after != before))).fillna(False)
        mask = differs.to_numpy(dtype=bool) & matched
        diff_masks[path] = mask
        changed = changed.mask(mask, changed + path + ";")
    any_diff = changed.str.len().fillna(0).to_numpy() > 0
    fallback = (rule_used.fillna(0).to_numpy() > 0)

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
    category = pd.Series(np.select(conditions, choices, default="joiner"), index=hr_index)

    # ---- reasons --------------------------------------------------------------------------
    candidates = messy.groupby("hr_row")["target_id"].agg(_join_unique)
    reason = pd.Series("", index=hr_index, dtype="string")
    hire_text = desired["hire_date"].dt.strftime("%Y-%m-%d").astype("string").fillna("?")
    reason = reason.mask(category == "invalid", invalid_reasons.reindex(hr_index).astype("string"))
    conflict_reason = "matches several accounts or shares one: " + candidates.reindex(hr_index)
    reason = reason.mask(category == "conflict", conflict_reason.astype("string"))
    if in_conflict.any() and invalid.any():
        noted = hr_index.isin(candidates.index) & invalid
        reason = reason.mask(
            noted, reason + "; candidate accounts: " + candidates.reindex(hr_index))
    fixed = {
        "out_of_scope": "fails the scoping rule",
        "rehire": "active in HR, account disabled",
        "joiner": "active in HR, no account",
    }
    for name, text in fixed.items():
        reason = reason.mask(category == name, text)
    # Why a worker is inactive: a termination date before as-of, else the status value.
    ended = desired["termination_date"]
    ended_text = ended.dt.strftime("%Y-%m-%d").astype("string")
    terminated = (ended < as_of_timestamp(as_of)).fillna(False).to_numpy(dtype=bool)
    status = desired["worker_status"].astype("string").fillna("empty")
    why = ("status " + status).mask(terminated, "terminated " + ended_text)
    reason = reason.mask(category == "leaver", "inactive in HR (" + why + "), account active")
    reason = reason.mask(category == "departed", "inactive in HR (" + why + "), no account")
    reason = reason.mask(
        category == "future_hire",
        "hire date " + hire_text + f" is more than {config.policy.prehire_days} days after as-of",
    )
    reason = reason.mask(
        category == "link", "matched by " + pd.Series(
            np.array(rule_names, dtype=object)[rule_used.fillna(0).astype(int).to_numpy()],
            index=hr_index).astype("string") + " only; writes the anchor",
    )
    with_notes = (reason + "; " + notes.str.rstrip("; ")).str.lstrip("; ")
    reason = reason.mask(notes.str.len() > 0, with_notes)

    # ---- changed attributes and diffs: only where an update is planned ---------------------
    writes = is_in(category, ["drift", "link", "rehire"])
    changed = changed.where(writes, "").str.rstrip(";")
    changed = changed.mask(category == "leaver", "active")
    changed = changed.mask(category == "rehire", ("active;" + changed).str.rstrip(";"))

    identities = pd.DataFrame({
        "category": category.astype("string"),
        "hr_key": desired["hr_key"].astype("string"),
        "hr_row": pd.Series(hr_index, index=hr_index, dtype="Int64"),
        "target_id": target_id.where(matched | invalid, target_id),
        "matched_by": pd.Series(
            np.where(matched, np.array([*rule_names, ""], dtype=object)[
                rule_used.fillna(len(rule_names)).astype(int).to_numpy()], ""),
            index=hr_index, dtype="string"),
        "changed_attributes": changed,
        "reason": reason,
        "display_name": _display_names(desired),
        "user_name": desired["userName"].astype("string") if "userName" in desired else pd.NA,
    }, index=hr_index)

    diffs = _diffs(identities, account_at, wanted, diff_masks, writes)
    accounts_rows = _account_rows(current, excluded, pairs, desired)
    identities = pd.concat([identities.reset_index(drop=True), accounts_rows], ignore_index=True)
    return Classified(identities[IDENTITY_COLUMNS], diffs, wanted)


def _display_names(desired: pd.DataFrame) -> pd.Series:
    if "displayName" in desired:
        return desired["displayName"].astype("string")
    given = desired.get("name.givenName")
    family = desired.get("name.familyName")
    if given is not None and family is not None:
        return (given.fillna("") + " " + family.fillna("")).str.strip().astype("string")
    return desired["hr_key"].astype("string")


def _diffs(
    identities: pd.DataFrame, account_at: pd.DataFrame, wanted: pd.DataFrame,
    masks: dict[str, np.ndarray], writes: np.ndarray,
) -> pd.DataFrame:
    parts: list[pd.DataFrame] = []
    # Boolean masks over the pyarrow-backed arrays: no round trip through Python objects.
    who = {column: identities[column].array for column in ("hr_key", "hr_row", "target_id")}
    categories = identities["category"].array
    for path, mask in masks.items():
        rows = mask & writes
        if not rows.any():
            continue
        parts.append(pd.DataFrame({
            **{column: values[rows] for column, values in who.items()},
            "category": categories[rows],
            "attribute": path,
            "before": account_at[path].array[rows],
            "after": wanted[path].array[rows],
        }))
    for name, before, after in (("leaver", True, False), ("rehire", False, True)):
        rows = (identities["category"] == name).to_numpy(dtype=bool)
        if rows.any():
            parts.append(pd.DataFrame({
                **{column: values[rows] for column, values in who.items()},
                "category": name, "attribute": "active",
                "before": str(before), "after": str(after),
            }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in DIFF_COLUMNS})
    diffs = pd.concat(parts, ignore_index=True)
    for column in DIFF_COLUMNS:
        diffs[column] = diffs[column].astype("Int64" if column == "hr_row" else "string")
    return diffs.sort_values(["hr_row", "attribute"], kind="stable").reset_index(drop=True)


def _account_rows(
    current: pd.DataFrame, excluded: pd.Series, pairs: pd.DataFrame, desired: pd.DataFrame,
) -> pd.DataFrame:
    """Rows for accounts not paired 1:1: excluded, conflict candidates and orphans."""
    clean_targets = pd.Index(pairs.loc[pairs["clean"].astype(bool), "target_id"])
    messy = pairs[~pairs["clean"].astype(bool)]
    claimants = (
        messy.assign(hr_key=desired["hr_key"].reindex(messy["hr_row"]).to_numpy())
        .groupby("target_id")
        .agg(rows=("hr_row", _join_unique), keys=("hr_key", _join_unique))
    )
    ids = current["target_id"]
    is_excluded = excluded.to_numpy(dtype=bool)
    in_conflict = is_in(ids, claimants.index) & ~is_excluded
    unpaired = ~is_in(ids, clean_targets)
    keep = is_excluded | in_conflict | unpaired
    rows = current[keep]
    category = np.select(
        [is_excluded[keep], in_conflict[keep]], ["excluded", "conflict"], default="orphan")
    claim = claimants.reindex(rows["target_id"])
    reason = np.select(
        [is_excluded[keep], in_conflict[keep]],
        ["matches the exclusion rule",
         ("matched by several HR rows or one of several accounts: HR rows "
          + claim["rows"].astype("string").fillna("") + " (keys "
          + claim["keys"].astype("string").fillna("") + ")").to_numpy(dtype=object)],
        default=np.where(rows["active"].to_numpy(dtype=bool),
                         "no HR row matches; account active",
                         "no HR row matches; account disabled"),
    )
    display = rows["displayName"] if "displayName" in rows else rows["userName"]
    return pd.DataFrame({
        "category": pd.Series(category, dtype="string"),
        "hr_key": pd.Series(pd.NA, index=range(len(rows)), dtype="string"),
        "hr_row": pd.Series(pd.NA, index=range(len(rows)), dtype="Int64"),
        "target_id": rows["target_id"].astype("string").to_numpy(),
        "matched_by": "",
        "changed_attributes": "",
        "reason": pd.Series(reason, dtype="string"),
        "display_name": display.astype("string").to_numpy(),
        "user_name": rows["userName"].astype("string").to_numpy(),
    })
