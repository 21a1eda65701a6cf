"""Nothing lost: for random workers and accounts every HR row and account appears exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.core.scim import ENTERPRISE
from recon.core.snapshot import Snapshot
from recon.io.hr import HrExtract
from recon.workflows.reconcile import reconcile
from tests.tables import HR_COLUMNS, config

KEYS = st.sampled_from(["1", "2", "3", "4", "5", "6", None])
EMAILS = st.sampled_from(["a@x.org", "A@x.org ", "b@x.org", "c@x.org", "not-an-email", None])
WORKER = st.fixed_dictionaries({
    "id": KEYS,
    "status": st.sampled_from(["Active", "Leave", "Terminated", None]),
    "email": EMAILS,
    "first": st.sampled_from(["Zoë", "Zoe\u0308", "Ann", None]),
    "last": st.text(max_size=5),
    "title": st.sampled_from(["A", "B", None]),
    "manager": KEYS,
    "hired": st.sampled_from(["01/05/2020", "12/31/2026", "31/02/2026", "45000", None]),
    "ended": st.sampled_from(["10/01/2026", None]),
    "in_scope": st.sampled_from(["True", "False"]),
})
ACCOUNT = st.fixed_dictionaries({
    "userName": EMAILS,
    "employeeNumber": KEYS,
    "active": st.booleans(),
    "service": st.booleans(),
})


def as_hr(rows: list[dict[str, Any]]) -> HrExtract:
    frame = pd.DataFrame(rows, columns=HR_COLUMNS, dtype="string")
    frame = frame.apply(lambda column: column.str.strip())
    frame = frame.mask(frame == "")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="hr_row")
    return HrExtract(frame, Path("hr.csv"), "0" * 64, 1)


def as_snapshot(rows: list[dict[str, Any]]) -> Snapshot:
    users = []
    for number, row in enumerate(rows):
        user: dict[str, Any] = {"id": f"t{number}", "active": row["active"]}
        if row["userName"]:
            user["userName"] = row["userName"]
        if row["employeeNumber"]:
            user[ENTERPRISE] = {"employeeNumber": row["employeeNumber"]}
        if row["service"]:
            user["is_service"] = "True"
        users.append(user)
    return Snapshot.of(users)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(WORKER, min_size=1, max_size=12), st.lists(ACCOUNT, max_size=12))
def test_every_row_and_every_account_lands_exactly_once(
    workers: list[dict[str, Any]], targets: list[dict[str, Any]]
) -> None:
    extract, snapshot = as_hr(workers), as_snapshot(targets)
    result = reconcile(config(quality={"max_invalid_share": 1}), extract, snapshot)
    identities = result.identities
    hr_rows = identities["hr_row"].dropna().astype(int)
    assert sorted(hr_rows) == list(range(1, len(workers) + 1))
    ids = identities["target_id"].dropna()
    assert sorted(ids) == sorted(f"t{n}" for n in range(len(targets)))
    assert not ids.duplicated().any()
    assert identities["category"].notna().all()
    people = identities[identities["hr_row"].notna()]
    accounts = identities[identities["hr_row"].isna()]
    assert set(accounts["category"]) <= {"orphan", "excluded", "conflict"}
    assert pd.Series(people["category"]).isin([
        "in_sync", "drift", "link", "joiner", "future_hire", "leaver", "rehire", "departed",
        "out_of_scope", "conflict", "invalid"]).all()
