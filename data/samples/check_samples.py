"""Independent check of the sample pair: recompute every category from the files alone.

It reads ``workers.csv`` and ``target_snapshot.json`` (not the generator) and applies the rules
of DESIGN.md with the mapping of ``recon.yaml`` hard-coded in plain Python, then compares the
result with the expected category that README.md lists for each tricky row and with the counts
table. Stdlib only.

    python data/samples/check_samples.py            # counts; exit 1 on any mismatch
    python data/samples/check_samples.py --rows     # also one line per HR row and account
"""

from __future__ import annotations

import csv
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
AS_OF = date(2026, 11, 15)
PREHIRE = timedelta(days=14)
ACTIVE = {"Active", "Leave of Absence"}
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def norm(value: Any, *, fold: bool = False) -> str | None:
    """NFC, trimmed, optionally lower-cased; empty means missing."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value)).strip()
    if fold:
        text = unicodedata.normalize("NFC", text.lower())
    return text or None


def parse_date(text: str | None) -> date | str | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%m/%d/%Y").date()
    except ValueError:
        return "bad"


def read_hr() -> list[dict[str, str | None]]:
    with (HERE / "workers.csv").open(encoding="utf-8-sig", newline="") as handle:
        return [{k: (v.strip() or None) for k, v in row.items()} for row in csv.DictReader(handle)]


def read_accounts() -> list[dict[str, Any]]:
    data = json.loads((HERE / "target_snapshot.json").read_text(encoding="utf-8"))
    assert data["totalResults"] == len(data["Resources"])
    return list(data["Resources"])


def work_email(account: dict[str, Any]) -> str | None:
    for item in account.get("emails") or []:
        if item.get("type") == "work":
            return str(item.get("value"))
    return None


def quality(rows: list[dict[str, str | None]]) -> dict[int, str]:
    keys = Counter(row["Employee ID"] for row in rows if row["Employee ID"])
    invalid: dict[int, str] = {}
    for number, row in enumerate(rows, start=1):
        reasons = []
        if not row["Employee ID"]:
            reasons.append("missing Employee ID")
        elif keys[row["Employee ID"]] > 1:
            reasons.append("duplicate Employee ID")
        if not row["Worker Status"]:
            reasons.append("missing Worker Status")
        if not row["Work Email"] or not EMAIL.match(row["Work Email"]):
            reasons.append("malformed Work Email")
        if parse_date(row["Hire Date"]) in (None, "bad"):
            reasons.append("bad Hire Date")
        if parse_date(row["Termination Date"]) == "bad":
            reasons.append("bad Termination Date")
        if reasons:
            invalid[number] = "; ".join(reasons)
    return invalid


def desired(row: dict[str, str | None]) -> dict[str, str | None]:
    email = norm(row["Work Email"], fold=True)
    return {
        "userName": email,
        "externalId": norm(row["Employee ID"]),
        "name.givenName": norm(row["Preferred First Name"] or row["Legal First Name"]),
        "name.familyName": norm(row["Legal Last Name"]),
        "title": norm(row["Business Title"]),
        'emails[type eq "work"].value': email,
        "employeeNumber": norm(row["Employee ID"]),
        "department": norm(row["Supervisory Organization"]),
    }


def current(account: dict[str, Any]) -> dict[str, str | None]:
    enterprise = account.get(ENTERPRISE) or {}
    name = account.get("name") or {}
    return {
        "userName": norm(account.get("userName"), fold=True),
        "externalId": norm(account.get("externalId")),
        "name.givenName": norm(name.get("givenName")),
        "name.familyName": norm(name.get("familyName")),
        "title": norm(account.get("title")),
        'emails[type eq "work"].value': norm(work_email(account), fold=True),
        "employeeNumber": norm(enterprise.get("employeeNumber")),
        "department": norm(enterprise.get("department")),
    }


def classify() -> tuple[dict[int, str], dict[str, str], dict[int, list[str]]]:
    rows, accounts = read_hr(), read_accounts()
    by_id = {a["id"]: a for a in accounts}
    invalid = quality(rows)
    excluded = {a["id"] for a in accounts if str(a.get("userName", "")).startswith("svc-")}
    pool = [a for a in accounts if a["id"] not in excluded]
    by_number: dict[str, list[str]] = defaultdict(list)
    by_user: dict[str, list[str]] = defaultdict(list)
    for account in pool:
        number = norm((account.get(ENTERPRISE) or {}).get("employeeNumber"))
        if number:
            by_number[number].append(account["id"])
        user = norm(account.get("userName"), fold=True)
        if user:
            by_user[user].append(account["id"])

    # match every valid row (in scope or not), rules in precedence order
    matches: dict[int, tuple[str, list[str]]] = {}
    for number, row in enumerate(rows, start=1):
        if number in invalid:
            continue
        for rule, candidates in (
            ("employeeNumber", by_number.get(norm(row["Employee ID"]) or "", [])),
            ("userName", by_user.get(norm(row["Work Email"], fold=True) or "", [])),
        ):
            if candidates:
                matches[number] = (rule, candidates)
                break
    claims: Counter[str] = Counter(i for _, c in matches.values() for i in c)
    ambiguous_rows = {n for n, (_, c) in matches.items() if len(c) > 1 or claims[c[0]] > 1}
    conflict_accounts = {i for n in ambiguous_rows for i in matches[n][1]}
    paired = {n: c[0] for n, (_, c) in matches.items() if n not in ambiguous_rows}
    key_to_account = {rows[n - 1]["Employee ID"]: i for n, i in paired.items()}

    hr_category: dict[int, str] = {}
    changed: dict[int, list[str]] = {}
    for number, row in enumerate(rows, start=1):
        if number in invalid:
            hr_category[number] = "invalid"
            continue
        if row["Worker Type"] == "Intern":
            hr_category[number] = "out_of_scope"
            continue
        if number in ambiguous_rows:
            hr_category[number] = "conflict"
            continue
        hire = parse_date(row["Hire Date"])
        term = parse_date(row["Termination Date"])
        active = row["Worker Status"] in ACTIVE and not (isinstance(term, date) and term < AS_OF)
        account = by_id.get(paired.get(number, ""))
        if account is None:
            if not active:
                hr_category[number] = "departed"
            elif isinstance(hire, date) and hire > AS_OF + PREHIRE:
                hr_category[number] = "future_hire"
            else:
                hr_category[number] = "joiner"
            continue
        want, have = desired(row), current(account)
        diff = [path for path in want if want[path] != have[path]]
        manager_key = row["Manager Employee ID"]
        have_manager = ((account.get(ENTERPRISE) or {}).get("manager") or {}).get("value")
        want_manager = key_to_account.get(manager_key) if manager_key else None
        if manager_key and want_manager is None:
            diff.append("manager(unresolved)")
        elif want_manager != have_manager:
            diff.append("manager")
        changed[number] = diff
        account_active = account.get("active", True) is not False
        if not active:
            hr_category[number] = "leaver" if account_active else "in_sync"
        elif not account_active:
            hr_category[number] = "rehire"
        elif matches[number][0] != "employeeNumber":
            hr_category[number] = "link"
        else:
            hr_category[number] = "drift" if diff else "in_sync"

    claimed = set(paired.values())
    account_category: dict[str, str] = {}
    for account in accounts:
        identifier = account["id"]
        if identifier in excluded:
            account_category[identifier] = "excluded"
        elif identifier in conflict_accounts:
            account_category[identifier] = "conflict"
        elif identifier not in claimed:
            account_category[identifier] = "orphan"
    return hr_category, account_category, changed


def readme_expectations() -> tuple[dict[int, str], dict[str, tuple[int, int]]]:
    text = (HERE / "README.md").read_text(encoding="utf-8")
    rows = {int(m[1]): m[2] for m in re.finditer(r"^\| (\d+) \|.*\| `(\w+)` \|$", text, re.M)}
    counts = {m[1]: (int(m[2]), int(m[3]))
              for m in re.finditer(r"^\| `(\w+)` \| (\d+) \| (\d+) \|", text, re.M)}
    return rows, counts


def main() -> int:
    hr_category, account_category, changed = classify()
    hr_counts, account_counts = Counter(hr_category.values()), Counter(account_category.values())
    if "--rows" in sys.argv:
        for number, category in hr_category.items():
            print(f"hr_row {number:3} {category:13} {';'.join(changed.get(number, []))}")
        for identifier, category in account_category.items():
            print(f"account {identifier} {category}")
    problems = []
    expected_rows, expected_counts = readme_expectations()
    for number, category in expected_rows.items():
        if hr_category.get(number) != category:
            problems.append(f"hr_row {number}: README says {category}, "
                            f"rules give {hr_category.get(number)}")
    for number, category in hr_category.items():
        if number not in expected_rows and category != "in_sync":
            problems.append(f"hr_row {number}: unlisted row is {category}")
    for category, (hr, acc) in expected_counts.items():
        if (hr_counts.get(category, 0), account_counts.get(category, 0)) != (hr, acc):
            problems.append(f"{category}: README says {hr}+{acc}, rules give "
                            f"{hr_counts.get(category, 0)}+{account_counts.get(category, 0)}")
    for category in sorted(set(hr_counts) | set(account_counts)):
        print(f"{category:13} hr={hr_counts.get(category, 0):3} "
              f"accounts={account_counts.get(category, 0):2}")
    for problem in problems:
        print("MISMATCH", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
