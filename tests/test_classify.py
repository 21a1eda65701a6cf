"""Every category of DESIGN.md, from small tables of HR rows and accounts."""

from __future__ import annotations

import pandas as pd

from recon.workflows.reconcile import plan, reconcile
from tests.tables import accounts, config, hr

WORKERS = hr("""
| id  | status     | email              | first  | last    | title     | manager | hired      | ended      | in_scope | expected     |
| 1   | Active     | ann@x.org          | Ann    | Lee     | Engineer  | -       | 01/05/2020 | -          | True     | in_sync      |
| 2   | Active     | bob@x.org          | Bob    | Ray     | Director  | 1       | 01/05/2020 | -          | True     | drift        |
| 3   | Active     | cy@x.org           | Cy     | Poe     | Analyst   | -       | 01/05/2020 | -          | True     | link         |
| 4   | Active     | dee@x.org          | Dee    | Wu      | Analyst   | -       | 11/20/2026 | -          | True     | joiner       |
| 5   | Active     | eve@x.org          | Eve    | Li      | Analyst   | -       | 03/01/2027 | -          | True     | future_hire  |
| 6   | Terminated | fay@x.org          | Fay    | Oz      | Analyst   | -       | 01/05/2020 | 10/01/2026 | True     | leaver       |
| 7   | Active     | gus@x.org          | Gus    | Ito     | Analyst   | -       | 01/05/2020 | -          | True     | rehire       |
| 8   | Terminated | hal@x.org          | Hal    | Fox     | Analyst   | -       | 01/05/2020 | 10/01/2026 | True     | departed     |
| 9   | Active     | ida@x.org          | Ida    | Kim     | Intern    | -       | 01/05/2020 | -          | False    | out_of_scope |
| 10  | Active     | jo@x.org           | Jo     | Ng      | Analyst   | -       | 01/05/2020 | -          | True     | conflict     |
| -   | Active     | kai@x.org          | Kai    | Vo      | Analyst   | -       | 01/05/2020 | -          | True     | invalid      |
| 12  | Active     | lu@x.org           | Lu     | Ma      | Analyst   | -       | 01/05/2020 | 11/01/2026 | True     | leaver       |
| 13  | Terminated | mo@x.org           | Mo     | Al      | Analyst   | -       | 01/05/2020 | 10/01/2026 | True     | in_sync      |
| 14  | Leave      | ned@x.org          | Ned    | Bo      | Analyst   | -       | 01/05/2020 | -          | True     | in_sync      |
""")

TARGET = accounts("""
| id  | userName   | employeeNumber | active | first | last | title    | manager | is_service | expected |
| a1  | ANN@x.org  | 1              | true   | Ann   | Lee  | Engineer | -       | -          | -        |
| a2  | bob@x.org  | 2              | true   | Bob   | Ray  | Manager  | -       | -          | -        |
| a3  | cy@x.org   | -              | true   | Cy    | Poe  | Analyst  | -       | -          | -        |
| a6  | fay@x.org  | 6              | true   | Fay   | Oz   | Analyst  | -       | -          | -        |
| a7  | gus@x.org  | 7              | false  | Gus   | Ito  | Analyst  | -       | -          | -        |
| a9  | ida@x.org  | 9              | true   | Ida   | Kim  | Intern   | -       | -          | -        |
| a10 | jo@x.org   | -              | true   | Jo    | Ng   | Analyst  | -       | -          | conflict |
| b10 | JO@x.org   | -              | true   | Jo    | Ng   | Analyst  | -       | -          | conflict |
| a12 | lu@x.org   | 12             | true   | Lu    | Ma   | Analyst  | -       | -          | -        |
| a13 | mo@x.org   | 13             | false  | Mo    | Al   | Analyst  | -       | -          | -        |
| a14 | ned@x.org  | 14             | true   | Ned   | Bo   | Analyst  | -       | -          | -        |
| z1  | zed@x.org  | 99             | true   | Zed   | Zo   | Analyst  | -       | -          | orphan   |
| s1  | svc-backup | -              | true   | -     | -    | -        | -       | True     | excluded |
""")


def test_every_hr_row_gets_its_expected_category() -> None:
    result = reconcile(config(), WORKERS, TARGET)
    people = result.identities.dropna(subset=["hr_row"]).set_index("hr_row")
    expected = WORKERS.frame["expected"]
    got = people["category"].reindex(expected.index)
    mismatched = pd.DataFrame({"expected": expected, "got": got})[expected != got]
    assert mismatched.empty, mismatched


def test_every_account_appears_exactly_once() -> None:
    result = reconcile(config(), WORKERS, TARGET)
    ids = result.identities["target_id"].dropna()
    assert sorted(ids) == sorted(u["id"] for u in TARGET.resources)
    accounts_only = result.identities[result.identities["hr_row"].isna()]
    assert dict(zip(accounts_only["target_id"], accounts_only["category"], strict=True)) == {
        "a10": "conflict", "b10": "conflict", "z1": "orphan", "s1": "excluded",
    }


def test_drift_names_the_attribute_and_values() -> None:
    result = reconcile(config(), WORKERS, TARGET)
    drift = result.diffs[result.diffs["hr_key"] == "2"]
    assert set(drift["attribute"]) == {
        "title", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}
    title = drift[drift["attribute"] == "title"].iloc[0]
    assert (title["before"], title["after"]) == ("Manager", "Director")
    manager = drift[drift["attribute"].str.endswith("manager")].iloc[0]
    assert manager["after"] == "a1"  # the HR manager key resolved to the manager's account id


def test_conflict_names_its_candidates() -> None:
    result = reconcile(config(), WORKERS, TARGET)
    row = result.identities[result.identities["hr_key"] == "10"].iloc[0]
    assert pd.isna(row["target_id"])
    assert "a10" in row["reason"] and "b10" in row["reason"]


def test_cosmetic_differences_are_in_sync() -> None:
    workers = hr("""
    | id | status | email          | first       | last  | hired      |
    | 1  | Active | ann@x.org      | Zoë         | Lee   | 01/05/2020 |
    | 2  | Active | bob@x.org      | José        | Ray   | 01/05/2020 |
    """)
    target = accounts("""
    | id | userName    | employeeNumber | active | first        | last  |
    | a1 | Ann@X.org   | 1              | true   | Zoe\u0308    | Lee   |
    | a2 | bob@x.org   | 2              | true   |  José        | Ray   |
    """)
    result = reconcile(config(), workers, target)
    assert list(result.identities["category"]) == ["in_sync", "in_sync"]


def test_a_case_fix_in_a_name_is_drift() -> None:
    workers = hr("""
    | id | status | email     | first | last     | hired      |
    | 1  | Active | ann@x.org | Ann   | McDonald | 01/05/2020 |
    """)
    target = accounts("""
    | id | userName  | employeeNumber | active | first | last     |
    | a1 | ann@x.org | 1              | true   | Ann   | Mcdonald |
    """)
    result = reconcile(config(), workers, target)
    assert list(result.identities["category"]) == ["drift"]


def test_duplicate_keys_are_invalid_and_their_account_is_a_conflict() -> None:
    workers = hr("""
    | id | status | email     | first | last | hired      |
    | 1  | Active | ann@x.org | Ann   | Lee  | 01/05/2020 |
    | 1  | Active | al@x.org  | Al    | Lee  | 01/05/2020 |
    """)
    target = accounts("""
    | id | userName  | employeeNumber | active |
    | a1 | ann@x.org | 1              | true   |
    """)
    result = reconcile(config(quality={"max_invalid_share": 1}), workers, target)
    assert list(result.identities["category"]) == ["invalid", "invalid", "conflict"]


def test_the_first_rule_that_matches_wins() -> None:
    workers = hr("""
    | id | status | email     | first | last | hired      |
    | 1  | Active | ann@x.org | Ann   | Lee  | 01/05/2020 |
    """)
    # a1 matches by employeeNumber, a2 only by e-mail: the e-mail rule is never tried.
    target = accounts("""
    | id | userName  | employeeNumber | active | first | last |
    | a1 | ann1@x.org| 1              | true   | Ann   | Lee  |
    | a2 | ann@x.org | -              | true   | Ann   | Lee  |
    """)
    result = reconcile(config(), workers, target)
    assert list(result.identities["category"]) == ["drift", "orphan"]
    assert result.identities.iloc[0]["matched_by"] == "employeeNumber"


def test_reasons_say_why_a_worker_is_inactive() -> None:
    result = reconcile(config(), WORKERS, TARGET)
    reasons = result.identities.set_index("hr_key")["reason"]
    assert reasons["6"] == "inactive in HR (terminated 2026-10-01), account active"
    assert reasons["8"] == "inactive in HR (terminated 2026-10-01), no account"


def test_a_link_only_fills_an_empty_anchor() -> None:
    """A fallback match (e-mail ↔ userName) whose account holds another non-empty employee
    number is a conflict, not a link: an HR export saved through Excel turned 004524 into 4524,
    and writing it would overwrite the account's rightful identity. The reason names both values;
    the account gets a conflict row of its own and nothing is planned for it. A departed worker
    matched that way is not disabled either."""
    workers = hr("""
    | id   | status     | email         | first  | last | hired      | ended      |
    | 4524 | Active     | ingrid@x.org  | Ingrid | Sjö  | 01/05/2020 | -          |
    | 31   | Active     | cy@x.org      | Cy     | Poe  | 01/05/2020 | -          |
    | 66   | Terminated | fay@x.org     | Fay    | Oz   | 01/05/2020 | 10/01/2026 |
    """)
    target = accounts("""
    | id | userName     | employeeNumber | active | first  | last |
    | a1 | ingrid@x.org | 004524         | true   | Ingrid | Sjö  |
    | a3 | cy@x.org     | -              | true   | Cy     | Poe  |
    | a6 | FAY@x.org    | 6              | true   | Fay    | Oz   |
    """)
    cfg = config()
    result = reconcile(cfg, workers, target)
    rows = result.identities.set_index(result.identities["hr_key"].fillna(
        result.identities["target_id"]))
    assert rows.loc["4524", "category"] == "conflict"
    assert pd.isna(rows.loc["4524", "target_id"])
    assert rows.loc["4524", "reason"] == (
        "matched by userName only, to account a1: account holds employeeNumber 004524, "
        "HR says 4524")
    assert rows.loc["a1", "category"] == "conflict"
    assert rows.loc["a1", "reason"] == (
        "matched by userName to HR row 1 only: account holds employeeNumber 004524, HR says 4524")
    assert rows.loc["31", "category"] == "link"
    assert rows.loc["66", "category"] == "conflict"
    assert "account holds employeeNumber 6, HR says 66" in rows.loc["66", "reason"]
    ops = plan(result, cfg).ops
    assert ops[["action", "target_id"]].values.tolist() == [["link", "a3"]]
