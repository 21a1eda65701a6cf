"""Small random runs, the shapes a new user's everyday data takes: a hypothesis strategy.

A run is an HR extract (tests.tables' columns and config) and a target's users, built from
templates, one per category: 0 to a few rows of each, sometimes one category alone, sometimes
an account or two only; some HR columns entirely empty; names with non-ASCII and NFD text;
numbers in text columns (and JSON numbers on the target side); cosmetic differences (case of
e-mail values, white space, Unicode form) that must stay in sync. Each template says what
classify must make of it, so a run carries its expected categories.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from recon.core.scim import ENTERPRISE
from tests.tables import HR_COLUMNS

#: HR-row templates (expected HR category) and account-only ones (expected account category).
PEOPLE = ["in_sync", "drift", "link", "link_clash", "joiner", "future_hire", "leaver",
          "leaver_done", "rehire", "departed", "out_of_scope", "conflict", "invalid"]
ACCOUNTS = ["orphan", "excluded"]
EXPECTED = {"link_clash": "conflict", "leaver_done": "in_sync"}
BLANKABLE = ["title", "first", "last", "manager"]

LETTERS = "abcXYZéøßĞİŁŒΣω王ñ"
NFD_PIECES = ["e\u0301", "o\u0308", "A\u030a", "n\u0303"]
NUMBERS_IN_TEXT = ["007", "42", "1.50", "1e3", "True", "2024-01-01", "-0", "0"]
NAME = st.one_of(
    st.text(alphabet=st.sampled_from(LETTERS + " ,;'\"-"), min_size=1, max_size=8),
    st.lists(st.sampled_from([*NFD_PIECES, *LETTERS]), min_size=1, max_size=4).map("".join),
    st.sampled_from(NUMBERS_IN_TEXT),
).filter(lambda text: bool(text.strip()))


@dataclass
class Run:
    workers: list[dict[str, str | None]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    expected_people: list[str] = field(default_factory=list)   # per HR row, in order
    expected_accounts: dict[str, str] = field(default_factory=dict)  # account id -> category
    bom: bool = False
    newline: str = "\n"
    delimiter: str = ","

    def hr_bytes(self) -> bytes:
        text = io.StringIO()
        writer = csv.writer(text, delimiter=self.delimiter, lineterminator=self.newline)
        writer.writerow(HR_COLUMNS)
        for worker in self.workers:
            writer.writerow(["" if worker[c] is None else worker[c] for c in HR_COLUMNS])
        return (b"\xef\xbb\xbf" if self.bom else b"") + text.getvalue().encode("utf-8")

    def snapshot_lines(self) -> bytes:
        return b"".join(json.dumps(user, ensure_ascii=False).encode() + b"\n"
                        for user in self.users)


def spelled(draw: st.DrawFn, text: str) -> str:
    """The same value as a target may hold it: padded, another Unicode form."""
    return draw(st.sampled_from([text, f" {text}", f"{text}\u00a0",
                                 unicodedata.normalize("NFD", text)]))


def json_value(draw: st.DrawFn, text: str) -> Any:
    """Digits without a leading zero sometimes come back as a JSON number."""
    if text.isdigit() and not text.startswith("0") and draw(st.booleans()):
        return int(text)
    return spelled(draw, text)


@st.composite
def runs(draw: st.DrawFn, alone: str | None = None) -> Run:
    """A random run; with ``alone``, 1 to 3 rows of that template and nothing else."""
    if alone is None and draw(st.booleans()):
        alone = draw(st.sampled_from([*PEOPLE, *ACCOUNTS]))
    if alone is not None:
        counts = dict.fromkeys([*PEOPLE, *ACCOUNTS], 0)
        counts[alone] = draw(st.integers(1, 3))
    else:
        few = st.sampled_from([0, 0, 0, 1, 1, 2, 3])
        counts = {name: draw(few) for name in [*PEOPLE, *ACCOUNTS]}
    blank = set(draw(st.lists(st.sampled_from(BLANKABLE), unique=True, max_size=4)))
    run = Run(bom=draw(st.booleans()), newline=draw(st.sampled_from(["\n", "\r\n"])),
              delimiter=draw(st.sampled_from([",", ";"])))
    number = 0
    referable: list[tuple[str, str]] = []  # (HR key, account id) of workers paired 1:1

    def worker(category: str) -> tuple[dict[str, str | None], dict[str, Any] | None]:
        nonlocal number
        number += 1
        key = draw(st.sampled_from([f"{100 + number}", f"00{number}", f"E{number}"]))
        email = draw(st.sampled_from([f"w{number}@x.org", f"W{number}@X.org"]))
        row: dict[str, str | None] = {
            "id": key, "status": "Active", "email": email,
            "first": draw(NAME), "last": draw(NAME), "title": draw(NAME),
            "manager": None, "hired": "01/05/2020", "ended": None, "in_scope": "True"}
        if referable and draw(st.booleans()):
            row["manager"] = draw(st.sampled_from(referable))[0]
        elif draw(st.integers(0, 4)) == 0:
            row["manager"] = "999999"  # points to no worker: reported, never written
        for column in blank:
            row[column] = None
        account: dict[str, Any] = {"id": f"t{number}",
                                   "userName": spelled(draw, email.lower() if draw(
                                       st.booleans()) else email.upper())}
        if draw(st.booleans()):
            account["active"] = draw(st.sampled_from([True, "True", "true"]))
        # An HR column emptied for the run leaves the account's value alone (never written).
        names = {k: json_value(draw, str(row[c])) if row[c] is not None else draw(NAME)
                 for k, c in (("givenName", "first"), ("familyName", "last"))
                 if row[c] is not None or draw(st.booleans())}
        if names:
            account["name"] = names
        if row["title"] is not None:
            account["title"] = json_value(draw, row["title"])
        elif draw(st.booleans()):
            account["title"] = draw(NAME)
        enterprise: dict[str, Any] = {"employeeNumber": json_value(draw, key)}
        manager = next((t for k, t in referable if k == row["manager"]), None)
        if manager is not None:
            enterprise["manager"] = {"value": manager}
        account[ENTERPRISE] = enterprise
        account["externalId"] = key
        return row, account

    for category in PEOPLE:
        for _ in range(counts[category]):
            row, account = worker(category)
            if category == "drift":
                changeable = [c for c in ("title", "first", "last") if row[c] is not None]
                if changeable:
                    changed = draw(st.sampled_from(changeable))
                    assert account is not None
                    if changed == "title":
                        account["title"] = f"{row['title']}x"
                    else:
                        part = "givenName" if changed == "first" else "familyName"
                        account.setdefault("name", {})[part] = f"{row[changed]}x"
                else:
                    account["userName"] = f"old{number}@x.org"
            elif category == "link":
                account.pop(ENTERPRISE)
                account.pop("externalId")
            elif category == "link_clash":
                account[ENTERPRISE]["employeeNumber"] = f"X{row['id']}"
                account.pop("externalId")
            elif category in {"joiner", "departed", "invalid"}:
                account = None
                if category == "departed":
                    row.update(status="Terminated", ended="10/01/2026")
                if category == "invalid":
                    row["id"] = None
            elif category == "future_hire":
                account, row["hired"] = None, "03/01/2027"
            elif category in {"leaver", "leaver_done"}:
                row.update(status="Terminated", ended="10/01/2026")
                account["active"] = category == "leaver" or draw(
                    st.sampled_from([False, "False", "false"]))
            elif category == "rehire":
                account["active"] = draw(st.sampled_from([False, "False"]))
                if row["title"] is not None and draw(st.integers(0, 2)) == 0:
                    account["title"] = f"{row['title']}x"  # rehire plus drift
            elif category == "out_of_scope":
                row["in_scope"] = "False"
                if draw(st.booleans()):
                    account = None
            elif category == "conflict":
                account.pop(ENTERPRISE)
                account.pop("externalId")
                twin = {**account, "id": f"t{number}b",
                        "userName": str(account["userName"]).strip().upper()}
                run.users.append(twin)
                run.expected_accounts[str(twin["id"])] = "conflict"
                run.expected_accounts[str(account["id"])] = "conflict"
            if category == "link_clash":
                run.expected_accounts[str(account["id"])] = "conflict"
            run.workers.append(row)
            run.expected_people.append(EXPECTED.get(category, category))
            if account is not None:
                run.users.append(account)
            if category in {"in_sync", "drift"} and row["id"] is not None:
                assert account is not None
                referable.append((str(row["id"]), str(account["id"])))
    if not run.workers:  # an HR file needs a row: a worker who left, without an account
        row, _ = worker("departed")
        row.update(status="Terminated", ended="10/01/2026")
        run.workers.append(row)
        run.expected_people.append("departed")
    for category in ACCOUNTS:
        for _ in range(counts[category]):
            number += 1
            user: dict[str, Any] = {"id": f"t{number}", "userName": f"gone{number}@x.org",
                                    ENTERPRISE: {"employeeNumber": f"9{number:05d}"}}
            if category == "excluded":
                user.update(userName=f"svc-{number}", is_service="True")
            if draw(st.booleans()):
                user["active"] = draw(st.sampled_from([True, False, "False"]))
            run.users.append(user)
            run.expected_accounts[str(user["id"])] = category
    draw(st.randoms()).shuffle(run.users)
    return run
