"""The classification of groups and memberships as recon.core.groups did it before it was
integer-coded (commit 67de0fe), kept verbatim as the oracle of tests/test_groups_vectorised.py.

Do not change it to follow recon.core.groups: it is what "the same output" means.
"""

from __future__ import annotations

import fnmatch
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recon.core.arrow import text_in
from recon.core.categories import HAS_ACCOUNT
from recon.core.config import Config, Groups
from recon.core.expressions import EvalContext, evaluate, evaluate_predicate

GROUP_COLUMNS = ["category", "group", "target_id", "rule", "desired_members", "current_members",
                 "to_add", "to_remove", "reason", "etag"]
MEMBERSHIP_COLUMNS = ["category", "group", "group_id", "member_id", "hr_key", "hr_row",
                      "user_name", "display_name", "account_category", "reason"]
#: Accounts whose memberships recon never touches (DESIGN.md: excluded and out-of-scope
#: accounts are left alone; a quarantined HR row plans nothing, so its account keeps its groups).
LEFT_ALONE = ("excluded", "out_of_scope", "invalid")
#: Membership categories that plan an op.
PLANNED = {"member_missing": "group_add", "member_extra": "group_remove"}


@dataclass(frozen=True)
class GroupReconciliation:
    """Groups and memberships classified; the workbook and notebooks render these frames."""

    groups: pd.DataFrame       # one row per desired or target group (GROUP_COLUMNS)
    memberships: pd.DataFrame  # one row per (managed group, member) desired or present

    def counts(self) -> pd.Series:
        return self.groups.groupby("category").size().sort_values(ascending=False)

    def member_counts(self) -> pd.Series:
        return self.memberships.groupby("category").size().sort_values(ascending=False)

    def changes(self) -> pd.DataFrame:
        """The membership diffs: members to add and to remove."""
        return self.memberships[self.memberships["category"].isin(list(PLANNED))]


def group_key(names: pd.Series) -> pd.Series:
    """displayName as compared: NFC, trimmed, case-folded; empty names are missing."""
    text = names.astype("string").str.normalize("NFC").str.strip()
    return text.str.casefold().mask(text == "")


def is_managed(names: pd.Series, patterns: list[str]) -> pd.Series:
    """True where a displayName matches one of the ``managed`` globs (case-insensitive)."""
    folded = names.astype("string").fillna("").str.casefold()
    result = pd.Series(False, index=names.index)
    for pattern in patterns:
        matches = folded.str.match(fnmatch.translate(pattern.casefold()))
        result |= matches.astype("boolean").fillna(False).astype(bool)
    return result


# ---- desired ----------------------------------------------------------------------------------

def desired_memberships(
    config: Groups, hr: pd.DataFrame, eligible: pd.Series, context: EvalContext | None = None,
) -> pd.DataFrame:
    """One row per (group, HR row) the rules ask for: group, key, rule, hr_row."""
    parts = []
    for number, rule in enumerate(config.rules):
        wanted = eligible.copy()
        if rule.when:
            wanted &= evaluate_predicate(rule.when, hr, context).to_numpy(dtype=bool)
        names = evaluate(rule.name, hr, context)[wanted.to_numpy(dtype=bool)]
        names = names.explode() if names.dtype == object else names
        part = pd.DataFrame({"group": names.astype("string").str.normalize("NFC").str.strip(),
                             "hr_row": names.index, "rule": number})
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {"group": pd.Series(dtype="string"), "hr_row": pd.Series(dtype="int64"),
         "rule": pd.Series(dtype="int64")})
    frame["key"] = group_key(frame["group"])
    frame = frame.dropna(subset=["key"])
    return frame.drop_duplicates(["key", "hr_row"]).reset_index(drop=True)


def eligible_workers(desired: pd.DataFrame, invalid: pd.Index) -> pd.Series:
    """Active, in scope and valid: the default ``when`` of every rule (and its ceiling)."""
    return (desired["worker_active"].astype(bool) & desired["in_scope"].astype(bool)
            & ~desired.index.isin(invalid))


# ---- current ----------------------------------------------------------------------------------

def current_groups(groups: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The target's groups (target_id, group, key, etag) and members (group_id, member_id, kind).

    Members are read leniently: ``value`` is the member's id; a ``type`` of ``Group`` marks a
    nested group (never managed here). A group without ``members`` has none (targets that leave
    members out must be read member by member by the adapter).
    """
    rows = [(str(g.get("id", "")), g.get("displayName"),
             ((g.get("meta") or {}).get("version") if isinstance(g.get("meta"), dict) else None))
            for g in groups]
    frame = pd.DataFrame(rows, columns=["target_id", "group", "etag"], dtype="string")
    frame["key"] = group_key(frame["group"])
    members = [(str(g.get("id", "")), str(m.get("value")), str(m.get("type") or "User"))
               for g in groups for m in (g.get("members") or [])
               if isinstance(m, dict) and m.get("value") not in (None, "")]
    member_frame = pd.DataFrame(members, columns=["group_id", "member_id", "kind"],
                                dtype="string").drop_duplicates(["group_id", "member_id"])
    return frame, member_frame


# ---- classification ---------------------------------------------------------------------------

def _accounts(identities: pd.DataFrame, account_ids: pd.Series) -> pd.DataFrame:
    """Per account id: the identities row it belongs to (HR row first, else its own row)."""
    rows = identities.dropna(subset=["target_id"]).copy()
    rows["is_hr"] = rows["hr_row"].notna()
    rows = rows.sort_values("is_hr", ascending=False, kind="stable")
    rows = rows.drop_duplicates("target_id").set_index("target_id")
    known = pd.Index(account_ids.dropna().astype(str))
    chosen: pd.DataFrame = rows[text_in(rows.index, known)]
    return chosen


def classify_groups(
    config: Config, hr: pd.DataFrame, desired: pd.DataFrame, identities: pd.DataFrame,
    invalid: pd.Index, account_ids: pd.Series, snapshot_groups: list[dict[str, Any]],
    context: EvalContext | None = None,
) -> GroupReconciliation:
    """Classify every desired and target group, and every member of a managed group."""
    settings = config.groups or Groups()
    wanted = desired_memberships(settings, hr, eligible_workers(desired, invalid), context)
    target, members = current_groups(snapshot_groups)
    accounts = _accounts(identities, account_ids)
    people = identities.dropna(subset=["hr_row"]).set_index(
        identities.dropna(subset=["hr_row"])["hr_row"].astype("int64"))

    # ---- groups: one outer merge of desired names with target groups ---------------------
    names = wanted.drop_duplicates("key")[["key", "group", "rule"]]
    merged = names.merge(target, on="key", how="outer", indicator=True,
                         suffixes=("_desired", "_target"))
    merged["group"] = merged["group_target"].fillna(merged["group_desired"])
    duplicated = merged["key"].duplicated(keep=False) & merged["target_id"].notna()
    managed = is_managed(merged["group"], settings.managed)
    side = merged["_merge"].astype(str)
    category = pd.Series(np.select(
        [duplicated.to_numpy(), ~managed.to_numpy(), (side == "left_only").to_numpy(),
         (side == "right_only").to_numpy()],
        ["group_conflict", "unmanaged", "group_missing", "group_extra"], default="group_ok"),
        index=merged.index)
    reason = pd.Series(np.select(
        [category == "group_conflict", (category == "unmanaged") & (side != "right_only"),
         category == "unmanaged", category == "group_missing", category == "group_extra"],
        ["several target groups share this displayName; human decides",
         "derived by a rule but not in groups.managed; left alone",
         "not in groups.managed; left alone",
         "derived from HR, missing in the target: create",
         "managed, but no rule derives it: reported (groups are never deleted); "
         "its members are removed"], default=""), index=merged.index)
    merged["category"], merged["reason"] = category, reason

    # ---- memberships of the groups we manage --------------------------------------------
    live = merged[merged["category"].isin(["group_ok", "group_missing", "group_extra"])]
    want = wanted[wanted["key"].isin(live["key"])].merge(
        live[["key", "target_id"]], on="key", how="left")
    person = people.reindex(want["hr_row"].to_numpy())
    has_account = person["category"].isin(list(HAS_ACCOUNT)).to_numpy()
    joiner = (person["category"] == "joiner").to_numpy()
    want["member_id"] = pd.Series(person["target_id"].to_numpy(), dtype="string").where(
        has_account)
    want["member_key"] = want["member_id"].fillna("hr_row:" + want["hr_row"].astype(str))
    want["account_category"] = person["category"].to_numpy()
    want["waiting"] = ~has_account & ~joiner

    have = members.merge(live[["key", "target_id"]], left_on="group_id", right_on="target_id",
                         how="inner").drop(columns="target_id")
    have["member_key"] = have["member_id"]
    both = want.drop(columns=["member_id"]).merge(
        have[["key", "member_key", "member_id", "kind"]], on=["key", "member_key"],
        how="outer", indicator=True)
    both["member_id"] = both["member_id"].fillna(
        both["member_key"].where(~both["member_key"].str.startswith("hr_row:")))
    group_of = live.set_index("key")
    both["group"] = group_of["group"].reindex(both["key"]).to_numpy()
    both["group_id"] = group_of["target_id"].reindex(both["key"]).to_numpy()

    account = accounts.reindex(both["member_id"].fillna("\0").to_numpy())
    from_account = both["hr_row"].isna().to_numpy()
    both["hr_row"] = both["hr_row"].fillna(pd.Series(account["hr_row"].to_numpy(),
                                                     index=both.index))
    person = people.reindex(both["hr_row"].astype("Int64").fillna(-1).to_numpy())
    both["account_category"] = pd.Series(both["account_category"]).fillna(
        pd.Series(np.where(from_account, account["category"].to_numpy(),
                           person["category"].to_numpy()), index=both.index))
    side = both["_merge"].astype(str)
    known = pd.Series(text_in(both["member_id"], accounts.index) | ~from_account,
                      index=both.index)
    nested = (both["kind"].fillna("User").str.casefold() == "group").to_numpy()
    acct = both["account_category"].astype("string")
    member_category = np.select(
        [_flag(side == "both"),
         _flag((side == "left_only") & both["waiting"].astype("boolean")),
         _flag(side == "left_only"), nested, ~_flag(known), _flag(acct.isin(list(LEFT_ALONE))),
         _flag(acct == "conflict")],
        ["member_ok", "member_waiting", "member_missing", "member_nested", "member_dangling",
         "member_left_alone", "member_conflict"], default="member_extra")
    both["category"] = member_category
    reasons = {
        "member_waiting": "no account yet (" + acct.fillna("?") + "); joins when it exists",
        "member_nested": pd.Series("a nested group; left alone", index=both.index),
        "member_dangling": pd.Series("points to an account that no longer exists; reported",
                                     index=both.index),
        "member_left_alone": "an account recon leaves alone (" + acct.fillna("?") + ")",
        "member_conflict": pd.Series("the account is in a match conflict; human decides",
                                     index=both.index),
        "member_extra": "not a member by the rules (" + acct.fillna("?") + "): remove",
    }
    reason = pd.Series("", index=both.index, dtype="string")
    for name, text in reasons.items():
        reason = reason.mask(both["category"] == name, text.astype("string"))
    joining = (both["category"] == "member_missing") & both["member_id"].isna()
    reason = reason.mask(joining, "joiner: added right after the push creates the account")
    reason = reason.mask((both["category"] == "member_missing") & ~joining,
                         "a member by the rules: add")
    both["reason"] = reason
    source = people.reindex(both["hr_row"].astype("Int64").fillna(-1).to_numpy())
    both["hr_key"] = source["hr_key"].to_numpy()
    both["user_name"] = np.where(from_account, account["user_name"].to_numpy(),
                                 source["user_name"].to_numpy())
    both["display_name"] = np.where(from_account, account["display_name"].to_numpy(),
                                    source["display_name"].to_numpy())
    memberships = _typed(both[MEMBERSHIP_COLUMNS], MEMBERSHIP_COLUMNS).sort_values(
        ["group", "category", "hr_row", "member_id"], kind="stable").reset_index(drop=True)

    # ---- per-group counts --------------------------------------------------------------
    count = memberships.groupby(["group", "category"]).size().unstack(fill_value=0)
    for column in ("member_ok", "member_missing", "member_extra", "member_waiting",
                   "member_dangling", "member_left_alone", "member_conflict",
                   "member_nested"):
        if column not in count:
            count[column] = 0
    per = count.reindex(merged["group"].to_numpy()).fillna(0).astype("int64")
    merged["desired_members"] = (per["member_ok"] + per["member_missing"]
                                 + per["member_waiting"]).to_numpy()
    merged["current_members"] = members.groupby("group_id").size().reindex(
        merged["target_id"].fillna("\0").to_numpy()).fillna(0).astype("int64").to_numpy()
    merged["to_add"] = per["member_missing"].to_numpy()
    merged["to_remove"] = per["member_extra"].to_numpy()
    changing = (merged["category"] == "group_ok") & (merged["to_add"] + merged["to_remove"] > 0)
    merged["category"] = merged["category"].mask(
        merged["category"] == "group_ok", "group_in_sync").mask(changing, "group_drift")
    merged["reason"] = merged["reason"].mask(
        changing, "members differ: add " + merged["to_add"].astype(str) + ", remove "
        + merged["to_remove"].astype(str))
    merged["rule"] = merged["rule"].astype("Int64")
    groups = _typed(merged[GROUP_COLUMNS], GROUP_COLUMNS).sort_values(
        ["group", "target_id"], kind="stable").reset_index(drop=True)
    return GroupReconciliation(groups, memberships)


def _flag(values: pd.Series) -> np.ndarray:
    """A condition for np.select: missing is False."""
    return np.asarray(values.astype("boolean").fillna(False), dtype=bool)


def _typed(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        if column in {"hr_row", "rule"}:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("Int64")
        elif column in {"desired_members", "current_members", "to_add", "to_remove"}:
            out[column] = out[column].astype("int64")
        else:
            out[column] = out[column].astype("string")
    return out


def group_name(name: Any) -> str:
    """A displayName as written in a payload: NFC and trimmed."""
    return unicodedata.normalize("NFC", str(name)).strip()
