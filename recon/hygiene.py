"""Joiner / mover / leaver hygiene: what an access review asks of HR against a directory.

Findings are plain DataFrames computed from a reconciliation (notebook 4 shows them for Entra
ID, but any target works): leavers whose account is still enabled, accounts without an employee
id or sharing one, and department or manager values that disagree with HR. ``export``
writes them as CSV files and one workbook, with spreadsheet formulas made inert.

For Entra ID the notebook also uses, from ``recon.targets.entra``: ``snapshot_delta`` (users
read through users/delta, the link kept in the run folder), ``lifecycle_dates`` (Entra's hire
and leave dates against HR's) and ``guests`` (invitation state and age).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from recon.core.config import Config
from recon.core.results import Reconciliation
from recon.core.views import diff_table, names_by_id
from recon.io.access_review import write_access_review
from recon.targets.entra.delta import snapshot_delta as snapshot_delta
from recon.targets.entra.review import guests as guests
from recon.targets.entra.review import lifecycle_dates as lifecycle_dates


def findings(reconciliation: Reconciliation, config: Config) -> dict[str, pd.DataFrame]:
    """What an access review asks about: leavers still enabled, employee ids missing or shared,
    department and manager disagreements. The employee id is the first match rule's target."""
    anchor = config.match[0].target
    identities = reconciliation.identities
    current = reconciliation.current
    by_account = identities.dropna(subset=["target_id"]).drop_duplicates("target_id")
    category = pd.Series(by_account["category"].to_numpy(),
                         index=by_account["target_id"].astype(str).to_numpy())
    names = names_by_id(current)

    leavers = identities[identities["category"] == "leaver"]
    left = reconciliation.desired["termination_date"].reindex(leavers["hr_row"])
    still_enabled = pd.DataFrame({
        "hr_key": leavers["hr_key"].to_numpy(), "who": leavers["display_name"].to_numpy(),
        "account": leavers["user_name"].to_numpy(),
        "termination date": left.dt.strftime("%Y-%m-%d").to_numpy(),
        "target_id": leavers["target_id"].to_numpy()})

    def accounts(mask: pd.Series) -> pd.DataFrame:
        rows = current[mask.to_numpy(dtype=bool)]
        ids = rows["target_id"].astype(str)
        table = pd.DataFrame({
            "account": rows["userName"].to_numpy(), "name": ids.map(names).to_numpy(),
            "employee id": rows[anchor].to_numpy(),
            "enabled": rows["active"].to_numpy(),
            "recon category": ids.map(category).to_numpy(), "target_id": ids.to_numpy()})
        return table.sort_values(["employee id", "account"], ignore_index=True)

    ids = current[anchor].astype("string").str.strip()
    excluded = current["target_id"].astype(str).map(category).eq("excluded")
    missing = accounts(ids.isna() & ~excluded).drop(columns=["employee id"])
    shared = accounts(ids.notna() & ids.duplicated(keep=False))
    matched = ("drift", "link", "rehire", "leaver", "in_sync", "out_of_scope")
    diffs = diff_table(reconciliation, matched)
    disagreements = diffs[diffs["attribute"].isin(["department", "manager"])]
    return {
        "leavers still enabled": still_enabled,
        "accounts without employee id": missing,
        "employee ids on several accounts": shared,
        "department or manager differs": disagreements.reset_index(drop=True),
    }


def counts(findings: Mapping[str, pd.DataFrame]) -> pd.Series:
    """Rows per finding."""
    return pd.Series({title: len(frame) for title, frame in findings.items()}, dtype="int64")


def export(findings: Mapping[str, pd.DataFrame], folder: str | Path,
           stem: str = "access_review") -> list[Path]:
    """One CSV per finding and one workbook with a sheet per finding, for an access review."""
    return write_access_review(findings, folder, stem)
