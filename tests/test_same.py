"""One rule for "the same value" (recon.core.same): its table of cases, its scalar and vectorised
forms giving the same answers, and classify and verify agreeing on random pairs of values."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.core.approve import Approval
from recon.core.plan import Plan, patch_operation
from recon.core.same import normalized, normalized_column, same
from recon.core.scim import ENTERPRISE, PATCH_OP, set_path
from recon.core.snapshot import Snapshot
from recon.io.config_file import load_config
from recon.workflows.reconcile import plan, reconcile
from recon.workflows.verify import verify
from tests.plans import op_row, plan_of
from tests.test_compare_fast_paths import SPECIAL

WORK = 'emails[type eq "work"].value'
MANAGER = f"{ENTERPRISE}:manager"
NUMBER = f"{ENTERPRISE}:employeeNumber"

# | path | one value | another value | same? |  (RFC 7643 §2.1, §4.1.1, §4.1.2; DESIGN "Comparison")
CASES = [
    ("title", "Engineer", " Engineer\u00a0", True),           # trimmed, also U+00A0
    ("title", "Senior  Engineer", "Senior Engineer", False),   # inner white space kept
    ("name.givenName", "Zoë", "Zoe\u0308", True),             # NFC
    ("name.familyName", "McDonald", "Mcdonald", False),        # a case fix is an update
    ("userName", "Ann.Lee@Example.COM", "ann.lee@example.com", True),  # not case-exact
    (WORK, "ANN@x.org ", "ann@x.org", True),
    ("userName", "straße@x.org", "strasse@x.org", False),      # lower-cased, not case-folded
    ("userName", "STRASSE@x.org", "strasse@x.org", True),
    ("userName", "ΟΔΥΣΣΕΥΣ@x.org", "οδυσσευσ@x.org", True),   # pyarrow's lower: no final sigma
    ("title", "", None, True),                                 # empty is absent
    ("title", " \t", None, True),
    ("title", "x", None, False),
    ("active", None, True, True),                              # absent is active
    ("active", "False", False, True),
    ("active", " NO ", "0", True),
    ("active", "yes", True, True),
    ("active", "", True, True),
    ("title", True, "True", True),                             # a JSON boolean as text
    ("title", True, "true", False),
    ("externalId", 4524, "4524", True),                        # numbers as text
    ("externalId", 4524, "004524", False),
    (MANAGER, {"value": "a1"}, "a1", True),                    # a reference by its id
    (MANAGER, {"value": "a1"}, {"value": "A1"}, False),
]


@pytest.mark.parametrize(("path", "one", "other", "expected"), CASES)
def test_the_table_of_cases(path: str, one: Any, other: Any, expected: bool) -> None:
    assert same(path, one, other) is expected
    assert same(path, other, one) is expected
    first, second = (None if pd.isna(v) else v for v in
                     normalized_column(path, pd.Series([one, other], dtype=object)))
    assert (first == second) is expected


# Letters where Python's str.lower and pyarrow's utf8_lower part ways (U+0130, final sigma, a
# letter newer than Python 3.11's Unicode 14 database), and a few that fold to ASCII.
ODD_LETTERS = "\u0130\u03a3\u03c2\ua7cb\u212a\u017f\u00df\u1e9e"
TEXT = st.text(alphabet=st.sampled_from(SPECIAL + ODD_LETTERS), max_size=6)
VALUES = st.one_of(st.none(), TEXT, st.text(max_size=4), st.booleans(),
                   st.integers(-10**6, 10**20), st.sampled_from(["False", " no", "0", "TRUE"]),
                   TEXT.map(lambda text: {"value": text}))
PATHS = st.sampled_from(["title", "userName", WORK, "active", MANAGER, "name.givenName"])


@settings(max_examples=150, deadline=None)
@given(PATHS, st.lists(VALUES, max_size=12))
def test_the_scalar_and_vectorised_forms_agree(path: str, values: list[Any]) -> None:
    """Every value gets the same answer alone (push, verify) or in a column (classify, match),
    and a normalized value normalizes to itself."""
    one_by_one = [normalized(path, value) for value in values]
    column = normalized_column(path, pd.Series(values, dtype=object))
    assert [None if pd.isna(v) else v for v in column] == one_by_one
    texts = [v for v in values if v is None or isinstance(v, str)]
    as_strings = normalized_column(path, pd.Series(texts, dtype="string"))
    assert [None if pd.isna(v) else v for v in as_strings] == [
        normalized(path, value) for value in texts]
    assert [normalized(path, v) for v in one_by_one] == one_by_one


# ---- classify and verify ------------------------------------------------------------------

# Each attribute: (HR column, SCIM path). The HR row and its one account get random values;
# match is by employeeNumber, which is fixed.
ATTRIBUTES = {"title": "title", "first": "name.givenName", "dept": f"{ENTERPRISE}:department",
              "login": "userName", "mail": WORK}
CONFIG = f"""
as_of: 2026-11-15
source: {{path: hr.csv, key: id}}
target: {{file: snapshot.json}}
attributes:
  {NUMBER}: "[id]"
""" + "".join(f'  {path!r}: "[{column}]"\n' for column, path in ATTRIBUTES.items()) + f"""
match:
  - {{source: "[id]", target: {NUMBER}}}
"""


def variant(text: str) -> st.SearchStrategy[str | None]:
    """Values near ``text``: itself, another case, NFD, padded, ß for ss, or something else."""
    import unicodedata

    return st.sampled_from([
        text, text.upper(), text.lower(), unicodedata.normalize("NFD", text), f" {text}\u3000",
        text.replace("ss", "ß"), text.replace("ß", "ss"), text.replace("s", "\u017f"), "", None,
        text + "x"])


# HR values: text without the CSV's own characters; addresses that pass the e-mail rule.
HR_TEXT = TEXT.filter(lambda t: not any(c in t for c in ',"\r\n'))
ADDRESS = st.from_regex(r"[A-Za-z0-9]{1,4}(ss|SS)?[a-z]{0,2}@(x|EX)\.org", fullmatch=True)


def pairs_of(values: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str | None]]:
    return values.flatmap(lambda text: st.tuples(st.just(text), variant(text)))


PAIRS = st.fixed_dictionaries({
    column: pairs_of(ADDRESS if column in {"login", "mail"} else HR_TEXT)
    for column in ATTRIBUTES})


def run(hr_values: dict[str, str], account: dict[str, Any], folder: Path) -> tuple[Any, Any]:
    rows = ["id," + ",".join(ATTRIBUTES), "7," + ",".join(
        f'"{hr_values[column]}"' for column in ATTRIBUTES)]
    (folder / "hr.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "recon.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(folder / "recon.yaml")
    return config, reconcile(config, target=Snapshot.of([account]))


def approved(the_plan: Plan) -> Approval:
    return Approval(the_plan.digest, tuple(the_plan.ops["op_id"]), "tests")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PAIRS)
def test_classify_and_verify_agree_on_random_pairs(
        pairs: dict[str, tuple[str, str | None]]) -> None:
    """For every attribute, verify calls an op writing the HR value converged exactly when
    classify found the account in sync for it; after the planned update is applied, verify
    calls it converged and classify finds the account in sync."""
    account: dict[str, Any] = {"id": "a7", "active": True}
    set_path(account, NUMBER, "7")
    for column, path in ATTRIBUTES.items():
        if pairs[column][1] is not None:
            set_path(account, path, pairs[column][1])
    with tempfile.TemporaryDirectory() as folder:
        config, result = run({c: pair[0] for c, pair in pairs.items()}, account, Path(folder))
        identity = result.identities.iloc[0]
        assert identity["category"] in {"in_sync", "drift"}, identity["reason"]
        changed = set(str(identity["changed_attributes"] or "").split(";")) - {""}
        # One op per attribute, each writing the HR value as the plan would.
        wanted = result.wanted.iloc[0]
        paths = [path for path in ATTRIBUTES.values() if pd.notna(wanted[path])]
        assert not changed - set(paths)  # an absent HR value is never written
        ops = plan_of([op_row("update", target_id="a7", hr_key=path, payload={
            "schemas": [PATCH_OP], "Operations": [patch_operation(
                path, str(wanted[path]), bool(pd.notna(result.current.iloc[0][path])))]})
            for path in paths])
        verdicts = verify(config, ops, approved(ops), Snapshot.of([account])).results
        converged = dict(zip(verdicts["hr_key"], verdicts["converged"], strict=True))
        assert {path for path in paths if not converged[path]} == changed
        the_plan = plan(result, config)
        if len(the_plan.ops):
            check = verify(config, the_plan, approved(the_plan), Snapshot.of([apply(account,
                                                                                   the_plan)]))
            assert check.results["converged"].all(), check.results["detail"].tolist()
            assert list(check.reconciliation.identities["category"]) == ["in_sync"]


def apply(account: dict[str, Any], the_plan: Plan) -> dict[str, Any]:
    """The account as a SCIM server leaves it after the plan's PATCH operations."""
    import copy
    import json

    changed = copy.deepcopy(account)
    for payload in the_plan.ops["payload"]:
        for operation in json.loads(str(payload))["Operations"]:
            if operation["op"] == "add" and isinstance(operation["value"], list):
                changed.setdefault(operation["path"], []).extend(operation["value"])
            else:
                set_path(changed, operation["path"], operation["value"])
    return changed
