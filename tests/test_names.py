"""``recon.core.views.Names``: the names a reviewer reads instead of account, group and create
ids, checked against the plain dictionaries they stand for (small, lopsided identities)."""

from __future__ import annotations

import json

import pandas as pd

from recon.core.views import Names


def identities(rows: list[tuple[object, object, object, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["hr_row", "target_id", "display_name", "user_name"]
                        ).astype({"target_id": "string", "display_name": "string",
                                  "user_name": "string"})


def test_an_account_is_named_by_its_first_row_and_by_its_user_name_when_nameless() -> None:
    names = Names.of(identities([
        (1, "a1", "Ada Lovelace", "ada@example.com"),
        (2, "a1", "Someone Else", "else@example.com"),  # the same account: the first names it
        (None, "a2", None, "orphan@example.com"),  # no name: the user name stands in
        (3, None, "Joiner Person", "joiner@example.com"),  # no account yet
    ])).warm()
    assert names.account("a1") == "Ada Lovelace"
    assert names.account("a2") == "orphan@example.com"
    assert names.account("unknown") == "unknown"
    assert names.member("a1") == "Ada Lovelace (ada@example.com)"
    assert names.member("a2") == "orphan@example.com"
    assert names.manager("a1") == "Ada Lovelace (a1)"
    assert names.manager("unknown") == "unknown"
    assert names.people.loc[3, "display_name"] == "Joiner Person"
    assert list(names.people.index) == [1, 2, 3]


def test_groups_and_creates_are_named() -> None:
    groups = pd.DataFrame({"group": ["dept-Sales", "dept-Other", "dept-New"],
                           "target_id": ["g1", "g1", None]})
    ops = pd.DataFrame({
        "method": ["POST", "POST", "PATCH"], "hr_row": [3, 4, 1],
        "op_id": ["c" * 40, "d" * 40, "e" * 40],
        "match": [json.dumps({"userName": "joiner@example.com"}),
                  json.dumps({"displayName": "Named By Match", "userName": "x@example.com"}),
                  None]})
    names = Names.of(identities([(1, "a1", "Ada", "ada@example.com"),
                                 (3, None, "Joiner Person", "joiner@example.com"),
                                 (4, None, None, None)]), groups, ops)
    assert names.group("g1") == "dept-Sales"
    assert names.member("g1") == "group dept-Sales"
    assert names.group("nope") == "nope"
    assert names.account("bulkId:" + "c" * 32) == "Joiner Person (new)"
    assert names.member("bulkId:" + "d" * 32) == "Named By Match (new)"


def test_no_identities_names_nothing() -> None:
    names = Names.of(identities([]))
    assert names.account("a1") == "a1" and names.group("g1") == "g1"
    assert names.member("a1") == "a1"
