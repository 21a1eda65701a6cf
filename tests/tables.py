"""Inline pipe-delimited tables for tests that read like the domain."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from recon.core.config import Config, parse_config
from recon.core.scim import ENTERPRISE
from recon.core.snapshot import Snapshot
from recon.io.hr import HrExtract

BASE_CONFIG: dict[str, Any] = {
    "as_of": "2026-11-15",
    "source": {
        "path": "hr.csv",
        "key": "id",
        "status": {"column": "status", "active": ["Active", "Leave"]},
        "hire_date": "hired",
        "termination_date": "ended",
        "date_format": "%m/%d/%Y",
        "scope": "[in_scope]",
    },
    "target": {"file": "snapshot.json", "exclude": "[is_service]"},
    "attributes": {
        "userName": "[email]",
        "externalId": "[id]",
        "name.givenName": "[first]",
        "name.familyName": "[last]",
        "title": "[title]",
        f"{ENTERPRISE}:employeeNumber": "[id]",
        f"{ENTERPRISE}:manager": {"reference": "[manager]"},
    },
    "match": [
        {"source": "[id]", "target": f"{ENTERPRISE}:employeeNumber"},
        {"source": "[email]", "target": "userName"},
    ],
}


def config(**overrides: Any) -> Config:
    data = {**BASE_CONFIG, **overrides}
    return parse_config(data, base_dir=Path("."), name="test.yaml")


def table(text: str) -> pd.DataFrame:
    """A pipe table; `-` is an empty cell. Leading/trailing pipes optional."""
    lines = [line.strip().strip("|") for line in text.strip().splitlines()]
    rows = [[cell.strip() for cell in line.split("|")] for line in lines]
    frame = pd.DataFrame(rows[1:], columns=rows[0], dtype="string")
    return frame.mask(frame == "-")


HR_COLUMNS = ["id", "status", "email", "first", "last", "title", "manager", "hired", "ended",
              "in_scope"]


def hr(text: str) -> HrExtract:
    frame = table(text)
    for column in HR_COLUMNS:
        if column not in frame:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame["in_scope"] = frame["in_scope"].fillna("True")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="hr_row")
    return HrExtract(frame, Path("hr.csv"), "0" * 64, 1)


def accounts(text: str) -> Snapshot:
    """Accounts from a pipe table with columns id, userName, employeeNumber, active, title…"""
    frame = table(text)
    users: list[dict[str, Any]] = []
    for record in frame.to_dict("records"):
        user: dict[str, Any] = {"id": record["id"], "userName": record.get("userName")}
        if pd.notna(record.get("active")):
            user["active"] = record["active"] == "true"
        for name in ("title", "externalId"):
            if pd.notna(record.get(name)):
                user[name] = record[name]
        names = {k: record[c] for k, c in (("givenName", "first"), ("familyName", "last"))
                 if pd.notna(record.get(c))}
        if names:
            user["name"] = names
        enterprise: dict[str, Any] = {}
        if pd.notna(record.get("employeeNumber")):
            enterprise["employeeNumber"] = record["employeeNumber"]
            user.setdefault("externalId", record["employeeNumber"])
        if pd.notna(record.get("manager")):
            enterprise["manager"] = {"value": record["manager"]}
        if enterprise:
            user[ENTERPRISE] = enterprise
        if record.get("is_service") == "True":
            user["is_service"] = "True"
        users.append({k: v for k, v in user.items() if v is not None and not pd.isna(v)})
    return Snapshot.of(users, source="test")


def csv_text(frame: pd.DataFrame) -> str:
    out = io.StringIO()
    frame.to_csv(out, index=False)
    return out.getvalue()
