"""Groups: desired group objects and memberships from HR, compared with the target's /Groups.

Most access in a target application hangs on group membership, so a leaver removed from nothing
keeps access. This module is pure (no network): it takes the HR frame, the reconciliation of
users (who has which account) and the groups of the snapshot, and says, group by group and
member by member, what agrees and what must change. recon.core.groupplan turns that into
/Groups ops.

Rules (config ``groups:``):

- every rule's ``name`` expression gives, per HR row, the displayName of a group that worker
  belongs to (``Join("", "dept-", [Supervisory Organization])``, or a fixed ``"all-employees"``);
  a multi-valued result puts the worker in several groups;
- a worker is eligible only when active, in scope and valid (not quarantined); ``when`` narrows
  that further and never widens it, so a leaver leaves every managed group whatever the rules say;
- the member is the worker's account: the account matched to the HR row, or, for a joiner, the
  account that the same push creates (the add refers to the create op and runs after it);
- only groups whose displayName matches a ``managed`` glob are changed; every other group is
  reported as ``unmanaged`` and left alone. A managed group that no rule derives is reported as
  ``group_extra`` (deleting groups is never planned) and its members are removed like any other
  member that the rules do not want.

Group names compare after NFC, trimming and case folding (displayName is not case-exact in RFC
7643 §4.2, and Entra requires it to be unique). Everything is whole-frame work: one evaluation
per rule, then one outer merge of the (few) group names with an indicator, as datacompy does,
and one join of the (many) memberships on integer codes: names are normalized once per
distinct name, ids coded once, and text made once, for the rows shown (a million members take
about a second, not a dozen). The target's groups come as columns
(``recon.core.snapshot_groups``), never as a dict per member.
"""

from __future__ import annotations

import fnmatch
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.categories import HAS_ACCOUNT
from recon.core.config import Config, Groups
from recon.core.expressions import EvalContext, evaluate, evaluate_predicate
from recon.core.snapshot_groups import GroupColumns

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

@dataclass(frozen=True)
class Wanted:
    """What the rules ask for, one entry per (group, HR row), integer-coded: a rule names a few
    hundred groups for a million rows, so names are normalized and keyed once per distinct
    name, and each entry holds positions into ``groups`` and ``keys``."""

    groups: pd.Series    # the distinct names as written: NFC, trimmed ("string")
    keys: pd.Series      # the distinct keys (group_key: case-folded), "string"
    group: np.ndarray    # per entry: position in groups
    key: np.ndarray      # per entry: position in keys
    hr_row: np.ndarray   # per entry: the HR row (the HR frame's index)
    rule: np.ndarray     # per entry: the number of the rule that asks for it (int64)

    def first_names(self) -> pd.DataFrame:
        """Per key, in order of first mention: the key, the name as first written, its rule."""
        first = pd.Series(self.key).drop_duplicates().index.to_numpy()
        return pd.DataFrame({"key": self.keys.take(self.key[first]).reset_index(drop=True),
                             "group": self.groups.take(self.group[first]).reset_index(drop=True),
                             "rule": self.rule[first]})


def wanted_memberships(
    config: Groups, hr: pd.DataFrame, eligible: pd.Series, context: EvalContext | None = None,
) -> Wanted:
    """Every (group, HR row) the rules ask for: each rule's names for the eligible rows its
    ``when`` keeps, without empty names, a (key, row) asked twice counted once (the first)."""
    codes: list[np.ndarray] = []
    distinct: list[pd.Series] = []
    rows: list[np.ndarray] = []
    numbers: list[np.ndarray] = []
    known = 0
    for number, rule in enumerate(config.rules):
        wanted = eligible.copy()
        if rule.when:
            wanted &= evaluate_predicate(rule.when, hr, context).to_numpy(dtype=bool)
        names = evaluate(rule.name, hr, context)[wanted.to_numpy(dtype=bool)]
        names = names.explode() if names.dtype == object else names
        code, uniques = pd.factorize(names.astype("string"))
        codes.append(np.where(code >= 0, code + known, -1))
        distinct.append(pd.Series(uniques, dtype="string"))
        known += len(uniques)
        rows.append(names.index.to_numpy())
        numbers.append(np.full(len(names), number, dtype=np.int64))
    written = (pd.concat(distinct, ignore_index=True) if distinct
               else pd.Series(dtype="string")).str.normalize("NFC").str.strip()
    group_of, groups = pd.factorize(written)
    key_of, keys = pd.factorize(group_key(pd.Series(groups, dtype="string")))
    group = _at(group_of, _joined(codes, np.intp), -1)
    key = _at(key_of, group, -1)
    hr_row = _joined(rows, np.int64)
    number_of = _joined(numbers, np.int64)
    keep = key >= 0
    keep[keep] = ~pd.DataFrame({"key": key[keep], "hr_row": hr_row[keep]}).duplicated().to_numpy()
    return Wanted(pd.Series(groups, dtype="string"), pd.Series(keys, dtype="string"),
                  group[keep], key[keep], hr_row[keep], number_of[keep])


def desired_memberships(
    config: Groups, hr: pd.DataFrame, eligible: pd.Series, context: EvalContext | None = None,
) -> pd.DataFrame:
    """One row per (group, HR row) the rules ask for: group, hr_row, rule, key."""
    wanted = wanted_memberships(config, hr, eligible, context)
    return pd.DataFrame({"group": wanted.groups.take(wanted.group).reset_index(drop=True),
                         "hr_row": wanted.hr_row, "rule": wanted.rule,
                         "key": wanted.keys.take(wanted.key).reset_index(drop=True)})


def eligible_workers(desired: pd.DataFrame, invalid: pd.Index) -> pd.Series:
    """Active, in scope and valid: the default ``when`` of every rule (and its ceiling)."""
    return (desired["worker_active"].astype(bool) & desired["in_scope"].astype(bool)
            & ~desired.index.isin(invalid))


# ---- current ----------------------------------------------------------------------------------

def current_groups(groups: list[dict[str, Any]] | GroupColumns
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The target's groups (target_id, group, key, etag) and members (group_id, member_id, kind).

    Members are read leniently (``recon.core.snapshot_groups``): ``value`` is the member's id; a
    ``type`` of ``Group`` marks a nested group (never managed here). A group without
    ``members`` has none (targets that leave members out must be read member by member by the
    adapter).
    """
    columns = groups if isinstance(groups, GroupColumns) else GroupColumns.of(groups)
    frame = columns.groups.copy()
    frame["key"] = group_key(frame["group"])
    members = pd.DataFrame({
        "group_id": frame["target_id"].take(columns.members["group"].to_numpy()).reset_index(
            drop=True),
        "member_id": columns.members["member_id"], "kind": columns.members["kind"]})
    return frame, members.drop_duplicates(["group_id", "member_id"])


# ---- classification ---------------------------------------------------------------------------

def classify_groups(
    config: Config, hr: pd.DataFrame, desired: pd.DataFrame, identities: pd.DataFrame,
    invalid: pd.Index, account_ids: pd.Series,
    snapshot_groups: list[dict[str, Any]] | GroupColumns, context: EvalContext | None = None,
) -> GroupReconciliation:
    """Classify every desired and target group, and every member of a managed group."""
    settings = config.groups or Groups()
    columns = (snapshot_groups if isinstance(snapshot_groups, GroupColumns)
               else GroupColumns.of(snapshot_groups))
    wanted = wanted_memberships(settings, hr, eligible_workers(desired, invalid), context)
    target = columns.groups.copy()
    target["key"] = group_key(target["group"])

    # ---- groups: one outer merge of desired names with target groups ---------------------
    merged = wanted.first_names().merge(target, on="key", how="outer", indicator=True,
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
    members = _Members.of(wanted, live.reset_index(drop=True), columns, identities, account_ids)
    memberships = members.frame()

    # ---- per-group counts --------------------------------------------------------------
    per = members.counts().reindex(merged["group"].to_numpy()).fillna(0).astype("int64")
    merged["desired_members"] = (per["member_ok"] + per["member_missing"]
                                 + per["member_waiting"]).to_numpy()
    merged["current_members"] = members.current.reindex(
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


# ---- memberships, integer-coded ---------------------------------------------------------------
#
# A million members are compared as integers: the ids of the target's members and of the
# identities' accounts are coded once in one dictionary, a group is its row of ``live``, an HR
# row its number. What the rules want and what the target holds then meet in one hash join of
# int64 keys (datacompy's one merge, on codes); every column is computed by numpy on codes and
# turned into text once, at the end, in the order the memberships are shown.

#: Membership categories in the order their names sort: a category's code is its position.
MEMBER_CATEGORIES = ("member_conflict", "member_dangling", "member_extra", "member_left_alone",
                     "member_missing", "member_nested", "member_ok", "member_waiting")
_CODE = {name: code for code, name in enumerate(MEMBER_CATEGORIES)}
#: The member a worker without an account is joined as: "hr_row:<row>". A target member with
#: that very id is that worker (as it always was when members were compared as text).
_JOINER_ID = "hr_row:"


@dataclass(frozen=True)
class _People:
    """The identities as arrays: categories coded, and who holds which HR row."""

    frame: pd.DataFrame
    category: np.ndarray      # position in categories, -1 when missing
    categories: pd.Index
    hr_row: np.ndarray        # int64 (0 where hr_row_missing: accounts without an HR row)
    hr_row_missing: np.ndarray
    rows: np.ndarray          # the identities rows with an HR row ...
    rows_index: pd.Index      # ... and their HR rows

    @classmethod
    def of(cls, identities: pd.DataFrame) -> _People:
        category, categories = pd.factorize(identities["category"])
        hr_row = identities["hr_row"].astype("Int64")
        missing = hr_row.isna().to_numpy()
        values = hr_row.to_numpy(dtype=np.int64, na_value=0)
        rows = np.flatnonzero(~missing)
        return cls(identities, category, pd.Index(categories), values, missing, rows,
                   pd.Index(values[rows]))

    def of_hr_rows(self, hr_rows: np.ndarray) -> np.ndarray:
        """The identities row of each HR row (-1: none). An HR row has one at most: with two,
        this raises, as looking it up in the frame would."""
        return _at(self.rows, self.rows_index.get_indexer(pd.Index(hr_rows)), -1)

    def flag(self, names: Any) -> np.ndarray:
        """Per category code: whether it is one of ``names``."""
        return np.asarray(self.categories.isin(list(names)), dtype=bool)

    def text(self, column: str, rows: np.ndarray) -> pd.Series:
        """A text column of the identities at ``rows`` (-1: missing)."""
        return _strings(_take(_arrow_text(self.frame[column]), rows))


@dataclass(frozen=True)
class _Members:
    """Every membership of a managed group, as codes (one entry each, in no particular order);
    ``frame`` turns them into MEMBERSHIP_COLUMNS, ``counts`` counts them per group."""

    live: pd.DataFrame        # the managed groups that exist or will: key, group, target_id
    ids: Any                  # the dictionary of member and account ids (pyarrow)
    people: _People
    group: np.ndarray         # row of live
    category: np.ndarray      # position in MEMBER_CATEGORIES
    member: np.ndarray        # position in ids; -1: none (a joiner, a worker without account)
    hr_row: np.ndarray        # int64, 0 where hr_row_missing
    hr_row_missing: np.ndarray
    source: np.ndarray        # the identities row of the HR row (-1: none)
    shown: np.ndarray         # the identities row whose names are shown: the HR row's, or,
                              # for a member no rule wants, its account's (-1: none)
    account_category: np.ndarray  # position in people.categories, -1 when missing
    current: pd.Series        # members per target group id (a member listed twice, once)

    @classmethod
    def of(cls, wanted: Wanted, live: pd.DataFrame, columns: GroupColumns,
           identities: pd.DataFrame, account_ids: pd.Series) -> _Members:
        people = _People.of(identities)
        listed_ids, identity_ids = columns.member_ids(), _arrow_text(identities["target_id"])
        encoded = pc.dictionary_encode(pa.concat_arrays(
            [listed_ids, identity_ids, _arrow_text(account_ids.dropna().astype(str))]))
        ids = encoded.dictionary
        codes = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
        listed = codes[:len(listed_ids)]
        account_code = codes[len(listed_ids):len(listed_ids) + len(identity_ids)]
        in_snapshot = np.zeros(len(ids), dtype=bool)
        in_snapshot[codes[len(listed_ids) + len(identity_ids):]] = True
        account_row = _account_rows(people, account_code, in_snapshot)

        # present: the target's members, a member listed twice in a group once
        group_code, group_ids = pd.factorize(columns.groups["target_id"])
        listed_group = group_code.astype(np.int64)[columns.members["group"].to_numpy()]
        once = ~pd.Series(listed_group * (len(ids) + 1) + listed).duplicated().to_numpy()
        listed_group, listed = listed_group[once], listed[once]
        kind, kinds = pd.factorize(columns.members["kind"])
        nested = _at(np.array([str(k).casefold() == "group" for k in kinds], dtype=bool),
                     kind, False)[once]
        current = pd.Series(np.bincount(listed_group, minlength=len(group_ids)),
                            index=pd.Index(group_ids))
        present, present_group = _inner_join(
            listed_group, pd.Index(group_ids).get_indexer(live["target_id"]))
        present_member, present_nested = listed[present], nested[present]

        # desired: what the rules ask for in the groups we manage
        want_group = _at(pd.Index(live["key"]).get_indexer(wanted.keys), wanted.key, -1)
        chosen = want_group >= 0
        want_group, want_hr = want_group[chosen], wanted.hr_row[chosen]
        person = people.of_hr_rows(want_hr)
        want_category = _at(people.category, person, -1)
        has_account = _at(people.flag(HAS_ACCOUNT), want_category, False)
        joiner = _at(people.flag(["joiner"]), want_category, False)
        want_member = np.where(has_account, _at(account_code, person, -1), -1)
        waiting = (want_category >= 0) & ~has_account & ~joiner

        # one join on (group, member): an account by its id, anyone else as "hr_row:<row>"
        span = np.int64(len(ids) + 1)
        joined = np.where(want_member >= 0, want_member, _joiner_codes(ids, want_hr))
        match = pd.Index(present_group * span + present_member).get_indexer(
            want_group * span + joined)
        matched = np.zeros(len(present_member), dtype=bool)
        matched[match[match >= 0]] = True
        extra = np.flatnonzero(~matched)  # present, and no rule wants it
        extra_member = present_member[extra]
        extra_account = _at(account_row, extra_member, -1)
        extra_hr_missing = _at(people.hr_row_missing, extra_account, True)
        extra_hr = _at(people.hr_row, extra_account, 0)
        extra_person = np.where(extra_hr_missing, -1, people.of_hr_rows(extra_hr))

        # member_id: the present member's; else the account's, unless it reads as a joiner's
        joiner_like = _starts_with(ids, _JOINER_ID)
        want_id = np.where(match >= 0, _at(present_member, match, -1),
                           np.where(_at(joiner_like, want_member, True), -1, want_member))
        account_category = np.concatenate(
            [want_category, _at(people.category, extra_account, -1)])
        wants, none = np.ones(len(want_group), dtype=bool), np.zeros(len(extra), dtype=bool)
        category = np.select(
            [np.concatenate([match >= 0, none]), np.concatenate([waiting, none]),
             np.concatenate([wants, none]), np.concatenate([~wants, present_nested[extra]]),
             np.concatenate([~wants, extra_account < 0]),
             _at(people.flag(LEFT_ALONE), account_category, False),
             _at(people.flag(["conflict"]), account_category, False)],
            [_CODE["member_ok"], _CODE["member_waiting"], _CODE["member_missing"],
             _CODE["member_nested"], _CODE["member_dangling"], _CODE["member_left_alone"],
             _CODE["member_conflict"]], default=_CODE["member_extra"])
        return cls(live, ids, people,
                   group=np.concatenate([want_group, present_group[extra]]),
                   category=category,
                   member=np.concatenate([want_id, extra_member]),
                   hr_row=np.concatenate([want_hr, extra_hr]),
                   hr_row_missing=np.concatenate([~wants, extra_hr_missing]),
                   source=np.concatenate([person, extra_person]),
                   shown=np.concatenate([person, extra_account]),
                   account_category=account_category, current=current)

    def counts(self) -> pd.DataFrame:
        """Memberships per managed group (by name; a group without one has none) and
        category."""
        width = len(MEMBER_CATEGORIES)
        cells = np.bincount(self.group * width + self.category,
                            minlength=len(self.live) * width).reshape(len(self.live), width)
        named = self.live["group"].notna().to_numpy()
        return pd.DataFrame(cells[named], index=pd.Index(self.live["group"][named]),
                            columns=list(MEMBER_CATEGORIES))

    def frame(self) -> pd.DataFrame:
        """MEMBERSHIP_COLUMNS, sorted by group, category, hr_row, member_id."""
        order = self._order()
        member, account_category = self.member[order], self.account_category[order]
        return pd.DataFrame({
            "category": _strings(_take(_text_array(MEMBER_CATEGORIES), self.category[order])),
            "group": _strings(_take(_arrow_text(self.live["group"]), self.group[order])),
            "group_id": _strings(_take(_arrow_text(self.live["target_id"]),
                                       self.group[order])),
            "member_id": _strings(_take(self.ids, member)),
            "hr_key": self.people.text("hr_key", self.source[order]),
            "hr_row": pd.Series(pd.arrays.IntegerArray(self.hr_row[order],
                                                       self.hr_row_missing[order])),
            "user_name": self.people.text("user_name", self.shown[order]),
            "display_name": self.people.text("display_name", self.shown[order]),
            "account_category": _strings(_take(_arrow_text(pd.Series(
                self.people.categories, dtype="string")), account_category)),
            "reason": _strings(self._reasons(self.category[order], account_category,
                                             member < 0)),
        })

    def _order(self) -> np.ndarray:
        """The entries by group name, category, hr_row, member_id (missing last, as pandas
        sorts), ties kept in entry order."""
        names = _arrow_text(self.live["group"])
        group_rank = np.empty(len(names), dtype=np.int64)
        group_rank[pc.array_sort_indices(names, null_placement="at_end").to_numpy()] = (
            np.arange(len(names)))
        rank, ranks = _ranks(self.hr_row, self.hr_row_missing)
        key = (group_rank[self.group] * len(MEMBER_CATEGORIES) + self.category) * ranks + rank
        order = np.argsort(key, kind="stable")
        ordered = key[order]
        tied = np.zeros(len(order), dtype=bool)
        tied[1:] = ordered[1:] == ordered[:-1]
        tied[:-1] |= tied[1:]
        if tied.any():  # the same group, category and HR row (none: accounts without one)
            at = np.flatnonzero(tied)
            rows = order[at]
            by_id = pc.array_sort_indices(_take(self.ids, self.member[rows]),
                                          null_placement="at_end").to_numpy()
            id_rank = np.empty(len(rows), dtype=np.int64)
            id_rank[by_id] = np.arange(len(rows))
            order[at] = rows[np.lexsort((id_rank, key[rows]))]
        return order

    def _reasons(self, category: np.ndarray, account_category: np.ndarray,
                 joining: np.ndarray) -> Any:
        """The reason of each membership: one text per distinct (category, account category,
        member missing)."""
        width = len(self.people.categories) + 1
        combined = (category * width + account_category + 1) * 2 + joining
        inverse, distinct = pd.factorize(combined)
        texts = []
        for value in distinct.tolist():
            rest, is_joining = divmod(value, 2)
            code, account = divmod(rest, width)
            texts.append(_reason(MEMBER_CATEGORIES[code],
                                 str(self.people.categories[account - 1]) if account else "?",
                                 bool(is_joining)))
        return _text_array(texts).take(pa.array(inverse.reshape(-1)))


def _reason(category: str, account: str, joining: bool) -> str:
    """Why a membership is in its category; ``account``: the account's category, or "?"."""
    if category == "member_missing":
        return ("joiner: added right after the push creates the account" if joining
                else "a member by the rules: add")
    return {
        "member_waiting": f"no account yet ({account}); joins when it exists",
        "member_nested": "a nested group; left alone",
        "member_dangling": "points to an account that no longer exists; reported",
        "member_left_alone": f"an account recon leaves alone ({account})",
        "member_conflict": "the account is in a match conflict; human decides",
        "member_extra": f"not a member by the rules ({account}): remove",
    }.get(category, "")


def _account_rows(people: _People, account_code: np.ndarray,
                  in_snapshot: np.ndarray) -> np.ndarray:
    """Per id: the identities row of that account (the one with an HR row first, else its
    first row), -1 when the snapshot has no account of that id."""
    has_id = account_code >= 0
    order = np.concatenate([np.flatnonzero(has_id & ~people.hr_row_missing),
                            np.flatnonzero(has_id & people.hr_row_missing)])
    code = account_code[order]
    first = ~pd.Series(code).duplicated().to_numpy()
    rows = np.full(len(in_snapshot), -1, dtype=np.int64)
    rows[code[first]] = order[first]
    rows[~in_snapshot] = -1
    return rows


def _joiner_codes(ids: Any, hr_rows: np.ndarray) -> np.ndarray:
    """The member a worker without an account is joined as: the code of the id
    "hr_row:<row>" when the target has a member of that id, else one no member has."""
    codes = np.full(len(hr_rows), len(ids), dtype=np.int64)
    like = np.flatnonzero(_starts_with(ids, _JOINER_ID))
    if len(like):
        suffix = pc.utf8_slice_codeunits(ids.take(pa.array(like)), len(_JOINER_ID))
        written = pc.fill_null(pc.match_substring_regex(suffix, r"^(0|-?[1-9][0-9]{0,17})$"),
                               False).to_numpy(zero_copy_only=False)
        numbers = pd.Index(pc.cast(suffix.filter(pa.array(written)), pa.int64()).to_numpy())
        found = numbers.get_indexer(hr_rows) if numbers.is_unique else np.full(len(hr_rows), -1)
        codes = np.where(found >= 0, _at(like[written], found, -1), codes)
    return codes


def _ranks(values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, int]:
    """Numbers in the order of ``values`` (missing last), and how many there can be: the
    values' offsets from the smallest when they are dense (HR rows are), else their ranks."""
    present = values[~missing]
    low = int(present.min()) if len(present) else 0
    span = int(present.max()) - low + 1 if len(present) else 0
    if span <= 4 * len(values) + 1:
        rank = values - low
    else:
        distinct, inverse = np.unique(present, return_inverse=True)
        rank = np.zeros(len(values), dtype=np.int64)
        rank[~missing] = inverse.reshape(-1)
        span = len(distinct)
    return np.where(missing, span, rank).astype(np.int64), span + 1


def _starts_with(ids: Any, prefix: str) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.starts_with(ids, prefix), False).to_numpy(
        zero_copy_only=False), dtype=bool)


def _inner_join(keys: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (position in keys, position in table) of equal values, as an inner merge
    gives them (in keys' order, then table's); -1 in table matches nothing."""
    valid = np.flatnonzero(table >= 0)
    ordered = valid[np.argsort(table[valid], kind="stable")]
    values = table[ordered]
    start = np.searchsorted(values, keys, side="left")
    count = np.searchsorted(values, keys, side="right") - start
    rows = np.repeat(np.arange(len(keys)), count)
    offset = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
    return rows, ordered[np.repeat(start, count) + offset]


def _at(values: np.ndarray, positions: np.ndarray, missing: Any) -> np.ndarray:
    """values[positions], ``missing`` where a position is -1."""
    found = positions >= 0
    out = np.full(positions.shape, missing, dtype=values.dtype)
    out[found] = values[positions[found]]
    return out


def _joined(arrays: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype) if arrays else np.empty(0, dtype=dtype)


def _take(values: Any, positions: np.ndarray) -> Any:
    """values.take(positions), null where a position is -1."""
    return values.take(pa.array(positions, mask=positions < 0, type=pa.int64()))


def _text_array(texts: Any) -> Any:
    return pa.array(list(texts), type=pa.large_string())


def _arrow_text(values: pd.Series) -> Any:
    """A column as one pyarrow large_string array."""
    array = pa.array(values.astype("string").array)
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return array.cast(pa.large_string())


def _strings(array: Any) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(array), copy=False)


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
