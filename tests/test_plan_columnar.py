"""build_plan assembles ops column-wise; the general path (one dict per op) is the spec for it.

Every case compares the two: the same frame (values and column types), the same digest and the
same plan.json, for the inputs of the domain tables and for values that need JSON escaping,
missing values, several payload shapes, duplicate accounts and every policy.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from recon.core.config import Config
from recon.core.plan import Plan, plan_digest
from recon.core.plan_build import _general_plan, build_plan
from recon.core.plan_columnar import columnar_ops as _columnar_ops
from recon.core.scim import ENTERPRISE
from recon.io.plan_files import _read_general, read_plan, write_plan
from recon.workflows.reconcile import reconcile
from tests.tables import accounts, config, hr
from tests.test_classify import TARGET, WORKERS

DAY = date(2026, 11, 15)
MANAGER = f"{ENTERPRISE}:manager"
NUMBER = f"{ENTERPRISE}:employeeNumber"
EMAIL = 'emails[type eq "work"].value'


def general(identities: pd.DataFrame, diffs: pd.DataFrame, wanted: pd.DataFrame,
            current: pd.DataFrame, cfg: Config) -> Plan:
    return _general_plan(identities, diffs, wanted, current, cfg, "s" * 64, DAY)


def assert_same(fast: Plan, slow: Plan, tmp_path: Path) -> None:
    pd.testing.assert_frame_equal(fast.ops, slow.ops, check_exact=True)
    assert list(fast.ops.dtypes) == list(slow.ops.dtypes)
    assert fast.digest == slow.digest
    write_plan(fast, tmp_path / "fast.json")
    write_plan(slow, tmp_path / "slow.json")
    assert (tmp_path / "fast.json").read_bytes() == (tmp_path / "slow.json").read_bytes()
    assert read_plan(tmp_path / "fast.json").digest == fast.digest
    assert_read_same(tmp_path / "fast.json")


def assert_read_same(file: Path) -> None:
    """read_plan gives what the general reader gives, frame and types included."""
    read, general_read = read_plan(file), _read_general(file)
    pd.testing.assert_frame_equal(read.ops, general_read.ops, check_exact=True)
    assert list(read.ops.dtypes) == list(general_read.ops.dtypes)
    assert (read.digest, read.snapshot_digest, read.as_of) == (
        general_read.digest, general_read.snapshot_digest, general_read.as_of)


def both(identities: pd.DataFrame, diffs: pd.DataFrame, wanted: pd.DataFrame,
         current: pd.DataFrame, cfg: Config, tmp_path: Path, *, columnar: bool = True) -> Plan:
    made = _columnar_ops(identities, diffs, wanted, current, cfg)
    assert (made is not None) == columnar
    fast = build_plan(identities, diffs, wanted, current, cfg, "s" * 64, DAY)
    assert_same(fast, general(identities, diffs, wanted, current, cfg), tmp_path)
    return fast


@pytest.mark.parametrize(("leavers", "orphans"), [
    ("disable", "report"), ("delete", "delete"), ("none", "disable"), ("disable", "delete"),
])
def test_the_domain_tables_under_every_policy(leavers: str, orphans: str,
                                              tmp_path: Path) -> None:
    cfg = config(policy={"leavers": leavers, "orphans": orphans, "max_deletes": 10})
    r = reconcile(cfg, WORKERS, TARGET)
    fast = both(r.identities, r.diffs, r.wanted, r.current, cfg, tmp_path)
    assert len(fast.ops)


def strings(values: list[Any]) -> pd.Series:
    return pd.Series(values, dtype="string")


def frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Joiners with odd values and missing ones, drift/link/rehire with diffs, leavers,
    orphans (one without an HR key), an account listed twice in the snapshot."""
    identities = pd.DataFrame({
        "category": strings(["joiner", "joiner", "joiner", "drift", "link", "rehire", "rehire",
                             "leaver", "orphan", "orphan", "in_sync", "drift"]),
        "hr_key": strings(["j1", 'j"2', None, "d1", "l1", "r1", "r2", "v1", None, "o2", "s1",
                           "d2"]),
        "hr_row": pd.array([1, 2, 3, 4, 5, 6, 7, 8, None, None, 11, 12], dtype="Int64"),
        "target_id": strings(["", "", "", "t-d1", "t-l1", "t-r1", "t-r2", "t-v1", "t-o1",
                              "t\\o2", "t-s1", "t-d2"]),
    })
    wanted = pd.DataFrame({
        "userName": strings(["a@x", 'quo"te\\back@x', "c@x"]),
        "externalId": strings(["1", None, "3"]),
        "name.givenName": strings(["Zoë", "tab\there\nnew", None]),
        "name.familyName": strings([None, "Ó Súilleabháin", "\u2028\x7f\x01"]),
        EMAIL: strings(["a@x", None, "c@x"]),
        'addresses[type eq "work"].locality': strings(["Köln", "Paris", None]),
        MANAGER: strings(["m1", None, "m3"]),
        NUMBER: strings(["1", "2", None]),
    }, index=pd.Index([1, 2, 3], name="hr_row"))
    diffs = pd.DataFrame({
        "hr_key": strings(["d1", "d1", "d1", "l1", "r1", "r1", "v1", "d2"]),
        "hr_row": pd.array([4, 4, 4, 5, 6, 6, 8, 12], dtype="Int64"),
        "target_id": strings(["t-d1", "t-d1", "t-d1", "t-l1", "t-r1", "t-r1", "t-v1", "t-d2"]),
        "category": strings(["drift"] * 3 + ["link", "rehire", "rehire", "leaver", "drift"]),
        "attribute": strings(["title", "userName", EMAIL, NUMBER, "active", "title", "active",
                              MANAGER]),
        "before": strings(['Old "title"', "old@x", None, None, "False", "Intern", "True",
                           "m0"]),
        "after": strings(["New\\title\n", "new@x", "new@x", "7", "True", "Fellow", "False",
                          None]),
    })
    current = pd.DataFrame({
        "target_id": strings(["t-d1", "t-l1", "t-r1", "t-r2", "t-v1", "t-o1", "t\\o2", "t-s1",
                              "t-d1", "t-d2"]),
        "etag": strings(['W/"1"', None, 'W/"3"', 'W/"4"', 'W/"5"', 'W/"6"', None, 'W/"8"',
                         'W/"9"', 'W/"10"']),
        "active": [True, True, False, False, True, True, False, True, True, True],
    })
    return identities, diffs, wanted, current


@pytest.mark.parametrize(("leavers", "orphans"), [
    ("disable", "report"), ("delete", "disable"), ("none", "delete"),
])
def test_escaping_missing_values_shapes_and_duplicate_accounts(leavers: str, orphans: str,
                                                               tmp_path: Path) -> None:
    identities, diffs, wanted, current = frames()
    if orphans == "disable":  # looks up each orphan's active flag: one row per account
        current = current.drop_duplicates("target_id", keep="last")
    cfg = config(policy={"leavers": leavers, "orphans": orphans, "max_deletes": 10})
    fast = both(identities, diffs, wanted, current, cfg, tmp_path)
    etags = dict(zip(fast.ops["target_id"], fast.ops["etag"], strict=True))
    assert etags["t-d1"] == 'W/"9"'  # the last snapshot row of an account wins


def test_nothing_to_do(tmp_path: Path) -> None:
    identities, diffs, wanted, current = frames()
    cfg = config()
    calm = identities[identities["category"] == "in_sync"]
    fast = build_plan(calm, diffs[:0], wanted, current, cfg, "s" * 64, DAY)
    assert_same(fast, general(calm, diffs[:0], wanted, current, cfg), tmp_path)
    assert len(fast.ops) == 0


def test_unusual_inputs_take_the_general_path(tmp_path: Path) -> None:
    identities, diffs, wanted, current = frames()
    cfg = config()
    numbers = wanted.assign(externalId=pd.array([1, 2, 3], dtype="Int64"))
    both(identities, diffs, numbers, current, cfg, tmp_path, columnar=False)
    # the filter attribute written by its own path: the payload's shape depends on the value
    odd = wanted.assign(**{'emails[type eq "work"].type': strings(["work", "home", None])})
    both(identities, diffs, odd, current, cfg, tmp_path, columnar=False)
    twice = identities.copy()
    twice.loc[11, "target_id"] = "t-d1"  # two people, one account
    both(twice, diffs, wanted, current, cfg, tmp_path, columnar=False)
    again = pd.concat([diffs, diffs[:1]], ignore_index=True)  # one attribute twice
    both(identities, again, wanted, current, cfg, tmp_path, columnar=False)


def test_plan_digest_is_the_same_for_lists_series_and_the_definition() -> None:
    ids = ["b" * 64, "a" * 64, "c" * 64]
    expected = plan_digest("s", sorted(ids))
    assert plan_digest("s", pd.Series(ids, dtype="string")) == expected
    assert plan_digest("s", ids) == expected
    assert plan_digest("s", []) == plan_digest("s", pd.Series([], dtype="string"))


def test_write_plan_handles_hand_built_frames(tmp_path: Path) -> None:
    identities, diffs, wanted, current = frames()
    the_plan = build_plan(identities, diffs, wanted, current, config(), "s" * 64, DAY)
    write_plan(the_plan, tmp_path / "typed.json")
    loose = the_plan.ops.astype(object)  # object columns: written value by value
    write_plan(Plan(loose, the_plan.digest, the_plan.snapshot_digest, DAY),
               tmp_path / "objects.json")
    assert (tmp_path / "typed.json").read_bytes() == (tmp_path / "objects.json").read_bytes()


@pytest.mark.parametrize("besides", ["an orphan", "a conflict"])
def test_a_rehire_alone_plans_one_enable_op(besides: str, tmp_path: Path) -> None:
    """A small company's quiet day: one rehire and nothing else to write. The column-wise
    builder once crashed here (no attribute to write made an untyped, null-typed pyarrow array:
    ``binary_join_element_wise`` has no kernel for it) and no run folder was written."""
    workers = hr("""
    | id | status | email     | first | last | hired      |
    | 7  | Active | gus@x.org | Gus   | Ito  | 01/05/2020 |
    | 10 | Active | jo@x.org  | Jo    | Ng   | 01/05/2020 |
    """)
    target = accounts("""
    | id  | userName  | employeeNumber | active | first | last |
    | a7  | gus@x.org | 7              | false  | Gus   | Ito  |
    | z1  | zed@x.org | 99             | true   | Zed   | Zo   |
    | a10 | jo@x.org  | 10             | true   | Jo    | Ng   |
    """ + ("| b10 | JO@x.org  | 10             | true   | Jo    | Ng   |"
           if besides == "a conflict" else ""))
    cfg = config()
    r = reconcile(cfg, workers, target)
    assert "rehire" in set(r.identities["category"])
    fast = both(r.identities, r.diffs, r.wanted, r.current, cfg, tmp_path)
    assert fast.ops[["action", "target_id", "before"]].values.tolist() == [
        ["enable", "a7", '{"active":false}']]
