"""Readable tables over a reconciliation: what the notebooks, the hygiene findings and the
workbooks show a person. Pure pandas; displaying them is the caller's.

Managers appear by name, not by account id; SCIM paths by the name an analyst knows
(``urn:…:User:department`` → ``department``); missing values as empty cells.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from recon.core.config import Config
from recon.core.results import Reconciliation
from recon.core.same import parse_active
from recon.core.scim import ENTERPRISE, parse_path


@functools.cache
def label(path: str) -> str:
    """A SCIM path as an analyst reads it: ``urn:…:User:department`` → ``department``."""
    parsed = parse_path(path)
    if parsed.filter_attr:
        return f"{parsed.attribute} ({parsed.filter_value})"
    return path.rsplit(":", 1)[-1]


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values as empty cells and booleans as yes/no, for people rather than code."""
    shown = frame.copy()
    for column in shown.columns:
        values = shown[column]
        if pd.api.types.is_bool_dtype(values):
            shown[column] = values.map({True: "yes", False: "no"}).astype("string")
        elif not pd.api.types.is_numeric_dtype(values) or values.isna().any():
            shown[column] = values.astype("string").fillna("")
    return shown


def quarantine_table(hr: pd.DataFrame, invalid: pd.DataFrame) -> pd.DataFrame:
    """The HR rows that failed the quality checks: why first, then the row as it is in the file."""
    reasons = invalid[["reason", "rule", "column"]].rename(columns={"column": "failed column"})
    rows = reasons.join(hr, how="left")
    rows.index.name = "hr_row"
    return rows.reset_index()


def names_by_id(current: pd.DataFrame) -> pd.Series:
    name = current["displayName"] if "displayName" in current else current["userName"]
    return pd.Series(name.fillna(current["userName"]).astype("string").to_numpy(),
                     index=current["target_id"].astype("string").to_numpy())


def is_manager(path: str) -> bool:
    parsed = parse_path(path)
    return parsed.schema == ENTERPRISE and parsed.attribute.lower() == "manager"


def labels(paths: pd.Series) -> pd.Series:
    """``;``-joined SCIM paths as the labels an analyst reads, each distinct value once."""
    text = paths.fillna("").astype(str)
    distinct = {value: ", ".join(label(p) for p in value.split(";") if p)
                for value in text.unique()}
    return text.map(distinct)


def _blank(values: pd.Series) -> bool:
    """Whether a column holds nothing but missing or blank values."""
    present = values.dropna()
    return present.empty or bool(present.astype("string").str.strip().eq("").all())


def category_table(reconciliation: Reconciliation, category: str) -> pd.DataFrame:
    """One category's rows with the columns that say who and why (empty columns left out)."""
    rows = reconciliation.category(category)
    columns = ["hr_row", "hr_key", "display_name", "user_name", "reason", "changed_attributes",
               "matched_by", "target_id"]
    table = rows[[c for c in columns if c in rows]].copy()
    if "changed_attributes" in table:
        table["changed_attributes"] = labels(table["changed_attributes"])
    empty = [c for c in table.columns if _blank(table[c])]
    return table.drop(columns=empty).reset_index(drop=True)


def diff_table(reconciliation: Reconciliation,
               categories: Iterable[str] = ("drift", "link", "rehire")) -> pd.DataFrame:
    """Attribute-level differences, before → after; managers by name, not by account id."""
    diffs = reconciliation.diffs
    diffs = diffs[diffs["category"].isin(list(categories))]
    names = names_by_id(reconciliation.current)
    people = reconciliation.identities.dropna(subset=["hr_row"]).set_index("hr_row")
    manager = diffs["attribute"].map(is_manager).astype(bool)
    active = diffs["attribute"].map(lambda p: parse_path(p).attribute.lower() == "active")

    def shown(values: pd.Series) -> pd.Series:
        text = values.astype("string")
        by_name = text.map(names).fillna(text)
        state = parse_active(text).map({True: "enabled", False: "disabled"})
        return text.mask(manager, by_name).mask(active.astype(bool), state).fillna("(empty)")

    return pd.DataFrame({
        "hr_row": diffs["hr_row"].to_numpy(),
        "who": people["display_name"].reindex(diffs["hr_row"]).to_numpy(),
        "category": diffs["category"].to_numpy(),
        "attribute": diffs["attribute"].map(label).to_numpy(),  # label is cached per path
        "before (target)": shown(diffs["before"]).to_numpy(),
        "after (HR)": shown(diffs["after"]).to_numpy(),
    })


def _row_values(frame: pd.Series, paths: list[str], names: pd.Series) -> list[str]:
    values = []
    for path in paths:
        value = frame.get(path)
        text = "" if value is None or pd.isna(value) else str(value)
        if is_manager(path) and text:
            text = str(names.get(text, text))
        values.append(text)
    return values


def conflict_views(reconciliation: Reconciliation, config: Config, *, limit: int | None = None
                   ) -> list[tuple[str, pd.DataFrame]]:
    """For each HR row in conflict (the first ``limit``): the wanted values beside every candidate
    account's values."""
    identities = reconciliation.identities
    conflicts = identities[identities["category"] == "conflict"]
    people = conflicts.dropna(subset=["hr_row"])
    if limit is not None:
        people = people.head(limit)
    accounts = conflicts[conflicts["hr_row"].isna()]
    current = reconciliation.current.set_index("target_id", drop=False)
    names = names_by_id(reconciliation.current)
    paths = list(config.attributes)
    views = []
    for person in people.itertuples(index=False):
        reason = str(person.reason)
        candidates = [str(t) for t in accounts["target_id"] if str(t) in reason]
        wanted: pd.Series = reconciliation.wanted.reindex([person.hr_row]).iloc[0]
        active = bool(reconciliation.desired["worker_active"].get(person.hr_row, True))
        columns = {"HR wants": [*_row_values(wanted, paths, names),
                                "(active in HR)" if active else "(inactive in HR)", ""]}
        for number, target_id in enumerate(candidates, start=1):
            account = current.loc[current.index == target_id].iloc[0]
            state = "enabled" if bool(account["active"]) else "disabled"
            columns[f"account {number}"] = [*_row_values(account, paths, names), state,
                                             target_id]
        view = pd.DataFrame(columns, index=[*(label(p) for p in paths), "account", "target id"])
        title = f"HR row {person.hr_row} — {person.display_name} ({person.hr_key})"
        views.append((title, view))
    return views


ORPHAN_DETAILS = ("userName", "title", f"{ENTERPRISE}:department", f"{ENTERPRISE}:manager",
                  f"{ENTERPRISE}:employeeNumber", "externalId")


def orphan_table(reconciliation: Reconciliation, categories: Iterable[str] = ("orphan",)
                 ) -> pd.DataFrame:
    """Accounts with no HR row, with their last known attributes from the target."""
    identities = reconciliation.identities
    rows = identities[identities["category"].isin(list(categories))
                      & identities["hr_row"].isna()]
    current = reconciliation.current.set_index("target_id")
    names = names_by_id(reconciliation.current)
    known = current.reindex(rows["target_id"].astype(str))
    table = pd.DataFrame({"category": rows["category"].to_numpy(),
                          "account": rows["display_name"].to_numpy(),
                          "enabled": known["active"].to_numpy()})
    for path in ORPHAN_DETAILS:
        if path not in current.columns:
            continue
        values = known[path].astype("string")
        if is_manager(path):
            values = values.map(names).fillna(values)
        table[label(path)] = values.to_numpy()
    table["reason"] = rows["reason"].to_numpy()
    table["target_id"] = rows["target_id"].to_numpy()
    return table.dropna(axis=1, how="all")



# ---- names for ids: what a reviewer reads instead of account and group ids ------------------

class _Match(msgspec.Struct):
    """What a create op's ``match`` keys say of a name."""

    displayName: Any = None
    userName: Any = None


_MATCHES = msgspec.json.Decoder(list[_Match])


class _Texts:
    """id → text, one id at a time: the ids' hash (pandas builds it on the first lookup) and
    the texts as Python strings (None where missing)."""

    def __init__(self, table: pd.Series) -> None:
        self.index = table.index
        self.texts = table.astype(object).where(table.notna(), None).to_numpy()

    def get(self, ref: str) -> str | None:
        try:
            at = self.index.get_loc(ref)
        except (KeyError, TypeError):
            return None
        if not isinstance(at, int):  # an id twice: the first names it
            at = int(np.flatnonzero(np.asarray(self.index == ref))[0])
        text = self.texts[at]
        return None if text is None else str(text)


@dataclass(frozen=True)
class Names:
    """Who or what an id stands for, from a run's identities (and groups, and plan).

    ``accounts``: account id → the person's name; ``users``: account id → user name;
    ``people``: HR row → display_name and user_name; ``groups``: group id → display name;
    ``created``: the ``bulkId:…`` reference of a create op → the name of what it creates.
    """

    accounts: pd.Series
    users: pd.Series
    people: pd.DataFrame
    groups: pd.Series
    created: dict[str, str]

    @classmethod
    def of(cls, identities: pd.DataFrame, groups: pd.DataFrame | None = None,
           ops: pd.DataFrame | None = None) -> Names:
        ids = identities[["hr_row", "target_id", "display_name", "user_name"]]
        # An account's own row (an HR row matched to it, or the account row) names it.
        target = ids["target_id"]
        named = ids[(target.notna() & ~target.duplicated()).to_numpy(dtype=bool)]
        accounts_index = pd.Index(named["target_id"].to_numpy(dtype=object).astype(str))
        user_names = named["user_name"].astype("string")
        accounts = pd.Series(named["display_name"].astype("string").fillna(user_names).array,
                             index=accounts_index)
        users = pd.Series(user_names.array, index=accounts_index)  # the same index: one hash
        rows = pd.to_numeric(ids["hr_row"], errors="coerce").astype("Int64")
        first = (rows.notna() & ~rows.duplicated()).to_numpy(dtype=bool)
        people = pd.DataFrame({column: ids[column].astype("string").array[first]
                               for column in ("display_name", "user_name")},
                              index=pd.Index(rows.array[first], name="hr_row"))
        group_names = pd.Series(dtype="string")
        if groups is not None and not groups.empty and "target_id" in groups:
            known = groups.dropna(subset=["target_id"]).drop_duplicates("target_id")
            group_names = pd.Series(known["group"].astype("string").to_numpy(),
                                    index=known["target_id"].astype(str).to_numpy())
        created: dict[str, str] = {}
        if ops is not None and not ops.empty:
            posts = ops[ops["method"] == "POST"]
            who = pd.to_numeric(posts["hr_row"], errors="coerce").astype("Int64").map(
                people["display_name"]).astype("string")
            matches = _MATCHES.decode(b"[%b]" % b",".join(
                str(match).encode() if match else b"{}" for match in posts["match"].fillna("")))
            for one, keys, name in zip(posts["op_id"], matches, who, strict=True):
                label = keys.displayName or (None if pd.isna(name) else name) or \
                    keys.userName or str(one)[:12]
                created[f"bulkId:{str(one)[:32]}"] = f"{label} (new)"
        return cls(accounts, users, people, group_names, created)

    @cached_property
    def _lookup(self) -> tuple[_Texts, _Texts, _Texts]:
        """The three id → name tables, for one id at a time (made on first use; accounts and
        user names share one hash of the account ids)."""
        return _Texts(self.accounts), _Texts(self.users), _Texts(self.groups)

    def warm(self) -> Names:
        """Make the lookups now (before a fork: the worker then shares them, not remakes them)."""
        for texts in self._lookup:
            texts.get("")
        return self

    def account(self, ref: str) -> str:
        """A person's name for an account id (or the create that makes it); else the id."""
        if ref in self.created:
            return self.created[ref]
        name = self._lookup[0].get(ref)
        return ref if name is None else name

    def member(self, ref: str) -> str:
        """A group member as a reviewer reads it: name and user name, or the id."""
        if ref in self.created:
            return self.created[ref]
        accounts, users, groups = self._lookup
        name, user = accounts.get(ref), users.get(ref)
        if name is None:
            group = groups.get(ref)
            return ref if group is None else f"group {group}"
        return f"{name} ({user})" if user is not None and user != name else name

    def group(self, ref: str) -> str:
        """A group's display name for its id (or the create that makes it); else the id."""
        if ref in self.created:
            return self.created[ref].removesuffix(" (new)")
        name = self._lookup[2].get(ref)
        return ref if name is None else name

    def manager(self, ref: str) -> str:
        """A manager reference: the name beside the account id (its start, when long: the
        name is what a reviewer reads), the id alone when unknown."""
        name = self.account(ref)
        return ref if name == ref else f"{name} ({ref if len(ref) <= 16 else ref[:8] + '…'})"
