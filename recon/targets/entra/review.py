"""What an Entra access review asks beyond the categories: lifecycle dates and guests.

- ``lifecycle_dates``: Entra's ``employeeHireDate`` and ``employeeLeaveDateTime`` against HR's
  hire and termination dates. Lifecycle Workflows start joiner and leaver tasks from these two
  properties (their time-based trigger; learn.microsoft.com/entra/id-governance/
  how-to-lifecycle-workflow-sync-attributes; reading employeeLeaveDateTime needs
  User-LifeCycleInfo.Read.All, learn.microsoft.com/graph/api/resources/user), so a wrong date
  runs onboarding or offboarding on the wrong day.
- ``guests``: invited users (``userType`` Guest) with ``externalUserState`` (PendingAcceptance
  or Accepted) and ``createdDateTime``: invitations never accepted, and old ones, are the first
  candidates for removal.

Pure: a reconciliation and its snapshot in, tables out (dates compared as UTC calendar days).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from recon.core.results import Reconciliation
from recon.core.scim import GRAPH_EXTENSION, get_path
from recon.core.snapshot import Snapshot

HIRE = f"{GRAPH_EXTENSION}:employeeHireDate"
LEAVE = f"{GRAPH_EXTENSION}:employeeLeaveDateTime"
USER_TYPE = f"{GRAPH_EXTENSION}:userType"
STATE = f"{GRAPH_EXTENSION}:externalUserState"
CREATED = f"{GRAPH_EXTENSION}:createdDateTime"


def _day(value: Any) -> date | None:
    """An ISO timestamp (Graph's UTC ``…Z``) or a pandas timestamp as a calendar day."""
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    text = str(value).strip()
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def lifecycle_dates(reconciliation: Reconciliation, snapshot: Snapshot) -> pd.DataFrame:
    """Matched workers whose Entra lifecycle dates differ from HR's (one row each)."""
    accounts = {str(r["id"]): r for r in snapshot.resources if r.get("id")}
    identities = reconciliation.identities
    matched = identities[identities["hr_row"].notna() & identities["target_id"].notna()
                         & (identities["target_id"].astype("string") != "")]
    desired = reconciliation.desired
    rows = []
    for who in matched.itertuples(index=False):
        account = accounts.get(str(who.target_id))
        if account is None:
            continue
        hr_hire = _day(desired.at[who.hr_row, "hire_date"]) if "hire_date" in desired else None
        hr_end = (_day(desired.at[who.hr_row, "termination_date"])
                  if "termination_date" in desired else None)
        entra_hire, entra_end = _day(get_path(account, HIRE)), _day(get_path(account, LEAVE))
        differs = [name for name, hr, entra in (("hire", hr_hire, entra_hire),
                                                ("leave", hr_end, entra_end))
                   if hr != entra and (hr is not None or entra is not None)]
        if not differs:
            continue
        rows.append({"hr_key": who.hr_key, "who": who.display_name,
                     "account": account.get("userName"), "differs": " and ".join(differs),
                     "HR hire date": hr_hire, "Entra employeeHireDate": entra_hire,
                     "HR termination date": hr_end, "Entra employeeLeaveDateTime": entra_end,
                     "target_id": who.target_id})
    columns = ["hr_key", "who", "account", "differs", "HR hire date", "Entra employeeHireDate",
               "HR termination date", "Entra employeeLeaveDateTime", "target_id"]
    return pd.DataFrame(rows, columns=columns)


def guests(snapshot: Snapshot, as_of: date | None = None) -> pd.DataFrame:
    """Guest users with their invitation state and age, pending and oldest first."""
    day = as_of or datetime.now(UTC).date()
    rows = []
    for user in snapshot.resources:
        if str(get_path(user, USER_TYPE) or "") != "Guest":
            continue
        created = _day(get_path(user, CREATED))
        rows.append({"account": user.get("userName"), "name": user.get("displayName"),
                     "externalUserState": get_path(user, STATE) or "",
                     "createdDateTime": created,
                     "days since invited": (day - created).days if created else None,
                     "enabled": user.get("active", True), "target_id": user.get("id")})
    frame = pd.DataFrame(rows, columns=["account", "name", "externalUserState",
                                        "createdDateTime", "days since invited", "enabled",
                                        "target_id"])
    pending = frame["externalUserState"] != "Accepted"
    return frame.assign(pending=pending).sort_values(
        ["pending", "days since invited"], ascending=[False, False]).drop(
        columns="pending").reset_index(drop=True)
