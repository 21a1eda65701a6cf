"""Groups classified on integer codes give what the classification on text columns gave.

recon.core.groups compares a million memberships as integer codes; tests/reference_groups.py
is the classification as it was before (merges of text columns), kept as the oracle. Hypothesis
draws small lopsided inputs — one group or none, one HR row, groups without members, displayNames
that differ only in case, spaces or Unicode form, duplicate displayNames and ids, nested groups,
members whose account is gone, joiners, leavers, unmanaged groups, workers in several groups,
members that are not objects — and both must give the same frames, to the dtype and the row
order. The columnar snapshot reader must give the groups' columns that their dicts give.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.core import groups as coded
from recon.core.snapshot import Snapshot
from recon.core.snapshot_groups import GroupColumns
from recon.io.snapshots import read_snapshot, snapshot_document
from recon.workflows import reconcile as reconcile_module
from recon.workflows.reconcile import reconcile
from tests import reference_groups as reference
from tests.tables import accounts, config, hr
from tests.test_groups import ACCOUNTS, TARGET_GROUPS, WORKERS, group_config, group_resources

DEPARTMENTS = ["Sales", "sales", " Sales ", "Légal", "Le\u0301gal", "IT", "", None]
RULES = {
    "department": {"name": 'Join("", "dept-", [dept])'},
    "everyone": {"name": '"all-employees"'},
    "sales only": {"name": 'Join("", "DEPT-", [dept])', "when": '[dept] = "Sales"'},
    "teams": {"name": 'Split([teams], ";")'},
}
MANAGED = [["dept-*", "all-employees"]] * 4 + [["*"], ["dept-s*"], []]
HR_CATEGORIES = ["in_sync"] * 8 + ["drift"] * 2 + [
    "link", "rehire", "joiner", "leaver", "future_hire", "departed", "conflict", "invalid",
    "out_of_scope"]
ACCOUNT_CATEGORIES = ["orphan", "excluded", "conflict", "leaver", "out_of_scope"]
# Mostly names the rules derive; now and then the same name twice, or a name that differs
# only in case, spaces or Unicode form, an unmanaged one, none, or one that is not text.
GROUP_NAMES = ["dept-Sales"] * 3 + ["dept-IT"] * 2 + ["all-employees"] * 3 + [
    "DEPT-SALES", "dept-Légal", "dept-Le\u0301gal", " dept-IT ", "vpn-users", "", 5, None]
ODD_MEMBERS = ["a1", "a2", "a3", "x1", "x2", "gone", "g2", "hr_row:2", "hr_row:3", "", None,
               7, True]
TYPES = ["User"] * 4 + ["Group", "group", None, "", 0, "absent", "absent"]

WORKER = st.fixed_dictionaries({
    "dept": st.sampled_from(DEPARTMENTS),
    "teams": st.sampled_from(["Sales;IT", "IT", " ;x", "", None]),
    "active": st.sampled_from([True] * 5 + [False]),
    "in_scope": st.sampled_from([True] * 5 + [False]),
    "invalid": st.sampled_from([False] * 5 + [True]),
    "category": st.sampled_from(HR_CATEGORIES),
    "account": st.sampled_from(["own"] * 6 + ["shared", "none", "unlisted", "odd"]),
    "names": st.sampled_from([("ann", "Ann"), ("bob", None), (None, None)]),
})
ACCOUNT = st.fixed_dictionaries({
    "category": st.sampled_from(ACCOUNT_CATEGORIES),
    "id": st.sampled_from(["a1", "a2", "a3", "u1", "u2"]),  # u*: also an HR row's account
})


@st.composite
def members(draw: st.DrawFn, workers: int) -> Any:
    """Mostly the account of one of the workers (u<row>), else an orphan's, a gone one's..."""
    ids = [f"u{row}" for row in range(1, workers + 1)] * 3 + ODD_MEMBERS
    member: dict[str, Any] = {"value": draw(st.sampled_from(ids))}
    kind = draw(st.sampled_from(TYPES))
    if kind != "absent":
        member["type"] = kind
    return draw(st.sampled_from([member] * 5 + ["u1"]))  # not an object: skipped


def as_rules_have_it(name: Any, workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The accounts of the workers a group of that name has by the department rule (or all of
    them for all-employees): what a target that was in sync holds."""
    folded = str(name).strip().casefold()
    return [{"value": f"u{row}", "type": "User"}
            for row, worker in enumerate(workers, start=1)
            if folded == "all-employees" or folded == f"dept-{worker['dept'] or ''}".casefold()]


@st.composite
def target_groups(draw: st.DrawFn, workers: list[dict[str, Any]] | None = None
                  ) -> list[dict[str, Any]]:
    groups = []
    names = st.sampled_from(GROUP_NAMES)
    for number, name in enumerate(draw(st.one_of(  # mostly names the target holds once
            st.lists(names, max_size=4, unique_by=lambda name: str(name).strip().casefold()),
            st.lists(names, max_size=4, unique_by=lambda name: str(name).strip().casefold()),
            st.lists(names, max_size=4)))):
        group: dict[str, Any] = {"id": draw(st.sampled_from([f"g{number}"] * 4 + ["g1"]))}
        if name is not None:
            group["displayName"] = name
        meta = draw(st.sampled_from([{"version": f'W/"{number}"'}, {}, None, "v", "absent"]))
        if meta != "absent":
            group["meta"] = meta
        listed = draw(st.sampled_from(["as rules have it"] * 6 + ["list"] * 2 + [
            "empty", "null", "absent"]))
        if listed != "absent" and listed.startswith(("as", "list")):
            group["members"] = draw(st.lists(members(len(workers or [])), max_size=5))
            if listed.startswith("as"):
                group["members"] += as_rules_have_it(name, workers or [])
        elif listed != "absent":
            group["members"] = [] if listed == "empty" else None
        groups.append(group)
    return groups


def inputs(workers: list[dict[str, Any]], accounts: list[dict[str, Any]]) -> dict[str, Any]:
    """classify_groups' inputs as reconcile would hand them: the HR frame, the desired frame,
    the identities (one row per HR row, then the accounts without one), the accounts."""
    index = pd.RangeIndex(1, len(workers) + 1, name="hr_row")
    hr = pd.DataFrame({"dept": [w["dept"] for w in workers],
                       "teams": [w["teams"] for w in workers]}, index=index, dtype="string")
    desired = pd.DataFrame({"worker_active": [w["active"] for w in workers],
                            "in_scope": [w["in_scope"] for w in workers]}, index=index)
    invalid = pd.Index([row for row, w in zip(index, workers, strict=True) if w["invalid"]],
                       name="hr_row", dtype="int64")
    rows = []
    for row, worker in zip(index, workers, strict=True):
        account = {"own": f"u{row}", "shared": "u1", "none": None, "unlisted": f"x{row}",
                   "odd": f"hr_row:{row + 1}"}[worker["account"]]
        user_name, display_name = worker["names"]
        rows.append({"category": worker["category"], "hr_key": str(row * 10), "hr_row": row,
                     "target_id": account, "user_name": user_name,
                     "display_name": display_name})
    rows += [{"category": a["category"], "hr_key": None, "hr_row": None, "target_id": a["id"],
              "user_name": f"{a['id']}@x", "display_name": None} for a in accounts]
    identities = pd.DataFrame(rows, columns=["category", "hr_key", "hr_row", "target_id",
                                             "user_name", "display_name"])
    identities = identities.astype({column: "string" for column in identities.columns
                                    if column != "hr_row"})
    identities["hr_row"] = identities["hr_row"].astype("Int64")
    listed = identities["target_id"].dropna()
    account_ids = pd.Series(listed[~listed.str.startswith("x")].unique(), dtype="string",
                            name="target_id")
    return {"hr": hr, "desired": desired, "identities": identities, "invalid": invalid,
            "account_ids": account_ids}


def assert_same(expected: Any, actual: Any) -> None:
    pd.testing.assert_frame_equal(actual.groups, expected.groups)
    pd.testing.assert_frame_equal(actual.memberships, expected.memberships)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), workers=st.lists(WORKER, min_size=1, max_size=7),
       accounts=st.lists(ACCOUNT, max_size=3),
       rules=st.lists(st.sampled_from(sorted(RULES)), min_size=1, max_size=3),
       managed=st.sampled_from(MANAGED))
def test_classify_groups_is_the_reference(data: st.DataObject, workers: list[dict[str, Any]],
                                          accounts: list[dict[str, Any]], rules: list[str],
                                          managed: list[str]) -> None:
    groups = data.draw(target_groups(workers))
    settings_ = config(groups={"rules": [RULES[rule] for rule in rules], "managed": managed})
    given_ = inputs(workers, accounts)
    arguments = (settings_, given_["hr"], given_["desired"], given_["identities"],
                 given_["invalid"], given_["account_ids"])
    assert_same(reference.classify_groups(*arguments, groups),
                coded.classify_groups(*arguments, GroupColumns.of(groups)))
    eligible = coded.eligible_workers(given_["desired"], given_["invalid"])
    pd.testing.assert_frame_equal(
        coded.desired_memberships(settings_.groups, given_["hr"], eligible),
        reference.desired_memberships(settings_.groups, given_["hr"], eligible))
    for mine, theirs in zip(coded.current_groups(groups), reference.current_groups(groups),
                            strict=True):
        pd.testing.assert_frame_equal(mine.reset_index(drop=True),
                                      theirs.reset_index(drop=True))


def test_the_hand_written_case_is_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/test_groups.py's tables through reconcile, which hands the groups over as columns:
    the reference, given their dicts, classifies them the same."""
    groups = group_resources(TARGET_GROUPS)
    compared = []

    def both(*arguments: Any) -> Any:
        assert isinstance(arguments[6], GroupColumns)
        actual = coded.classify_groups(*arguments)
        assert_same(reference.classify_groups(*arguments[:6], groups, *arguments[7:]), actual)
        compared.append(len(actual.memberships))
        return actual

    monkeypatch.setattr(reconcile_module, "classify_groups", both)
    for overrides in ({}, {"managed": ["*"]}, {"rules": [{"name": '"all-employees"'}]}):
        target = Snapshot.of(accounts(ACCOUNTS).resources, source="test", groups=groups)
        reconcile(group_config(**overrides), hr(WORKERS), target)
    assert len(compared) == 3 and min(compared) > 0


USERS = [{"id": "u1", "userName": "ann@x.com"}, {"id": "u2", "userName": "bob@x.com"}]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups=target_groups(), pages=st.booleans())
def test_groups_read_columnar_are_the_columns_of_their_dicts(
        groups: list[dict[str, Any]], pages: bool) -> None:
    document = snapshot_document(Snapshot.of(USERS, source="test", groups=groups))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "snapshot.json"
        if pages:  # the same groups split over two documents, one after another
            first = {**document, "groups": groups[:1]}
            second = {**document, "Resources": [], "groups": groups[1:]}
            path.write_text(json.dumps(first) + "\n" + json.dumps(second, indent=1))
        else:
            path.write_text(json.dumps(document, indent=1, ensure_ascii=False))
        taken = read_snapshot(path)
        columns = taken.group_columns
        assert taken.groups == groups  # the dicts: read again the general way
    objects = all(isinstance(m, dict) for g in groups for m in g.get("members") or [])
    assert (taken.users is not None) is objects  # a member that is not one: the general way
    assert columns is not None
    expected = GroupColumns.of(groups)
    pd.testing.assert_frame_equal(columns.groups, expected.groups)
    pd.testing.assert_frame_equal(columns.members, expected.members)
