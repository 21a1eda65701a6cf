"""Readable tables over a reconciliation: what the notebooks, the hygiene findings and the
workbooks show a person. Pure pandas; displaying them is the caller's.

Managers appear by name, not by account id; SCIM paths by the name an analyst knows
(``urn:…:User:department`` → ``department``); missing values as empty cells.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

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

