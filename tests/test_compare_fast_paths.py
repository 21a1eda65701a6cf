"""The shortcuts of normalize_values, match and classify give what the plain steps give."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.core.config import MatchRule
from recon.core.match import encode, match
from recon.core.same import normalize_values
from recon.core.scim import case_insensitive

# Code points where the shortcuts draw their lines: ASCII, Latin-1, U+0300 (combining marks),
# every white space character pyarrow trims, singletons (Kelvin, Ångström, EN QUAD), Hangul
# jamo that compose, dotted capital I, and a few ordinary letters.
SPECIAL = (
    "aAzZ09 \t\n\x0b\x0c\r\x1c\x1f\x85\xa0\u1680\u2000\u2001\u2002\u200a\u2028\u2029\u202f"
    "\u205f\u3000éÉøßÿ\u0130\u0131\u01c5\u02ff\u0300\u0301\u0308\u0327\u0344\u037e\u0387"
    "\u1100\u1161\u11a8\uac00\u212a\u212b\u2126\u1e9e\ufb01\U0001d15e;@."
)
TEXT = st.one_of(st.none(), st.text(alphabet=st.sampled_from(SPECIAL), max_size=6),
                 st.text(max_size=4))


def plain(values: pd.Series, fold_case: bool) -> pd.Series:
    """normalize_values' steps one after another, as pandas runs them (pyarrow's kernels)."""
    text = values.astype("string").str.normalize("NFC").str.strip()
    if fold_case:
        text = text.str.lower().str.normalize("NFC")
    return text.mask(text == "")


@settings(max_examples=60, deadline=None)
@given(st.lists(TEXT, max_size=30), st.booleans())
def test_normalize_values_is_nfc_strip_lower(values: list[str | None], fold: bool) -> None:
    series = pd.Series(values, dtype="string")
    got = normalize_values(series, fold_case=fold)
    pd.testing.assert_series_equal(got, plain(series, fold), check_exact=True)
    # A slice has an offset into its buffers.
    tail = series.iloc[len(series) // 3:]
    pd.testing.assert_series_equal(normalize_values(tail, fold_case=fold), plain(tail, fold))
    # classify and verify rely on this: a normalized value normalizes to itself
    pd.testing.assert_series_equal(normalize_values(got, fold_case=fold), got)


@settings(max_examples=40, deadline=None)
@given(st.lists(TEXT, max_size=20), st.lists(TEXT, max_size=20))
def test_encode_gives_equal_codes_to_equal_strings(
    left: list[str | None], right: list[str | None],
) -> None:
    (left_codes, right_codes), size = encode(pa.array(left, pa.large_string()),
                                             pa.array(right, pa.large_string()))
    values = [*left, *right]
    codes = [*left_codes, *right_codes]
    assert all((code == -1) == (value is None) for value, code in zip(values, codes, strict=True))
    assert all(0 <= code < size for code in codes if code != -1)
    for a, code_a in zip(values, codes, strict=True):
        for b, code_b in zip(values, codes, strict=True):
            if a is not None and b is not None:
                assert (a == b) == (code_a == code_b)


KEYS = st.sampled_from(["1", "2", "3", "A@x.org", "a@x.org ", "longer-than-seven-bytes", None])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(KEYS, KEYS), min_size=1, max_size=10),
       st.lists(st.tuples(KEYS, KEYS), max_size=10))
def test_match_is_the_merge_of_each_rule_in_turn(
    workers: list[tuple[str | None, str | None]], accounts: list[tuple[str | None, str | None]],
) -> None:
    rules = [MatchRule(source="[id]", target="employeeNumber"),
             MatchRule(source="[mail]", target="userName")]
    desired = pd.DataFrame({"match_0": [w[0] for w in workers],
                            "match_1": [w[1] for w in workers]}, dtype="string")
    desired.index = pd.RangeIndex(1, len(workers) + 1, name="hr_row")
    current = pd.DataFrame({"target_id": [f"t{n}" for n in range(len(accounts))],
                            "employeeNumber": [a[0] for a in accounts],
                            "userName": [a[1] for a in accounts]}, dtype="string")
    got = match(desired, current, rules)
    assert_pairs_are_the_merges(got, desired, current, rules)


def merged_pairs(desired: pd.DataFrame, current: pd.DataFrame,
                 rules: list[MatchRule]) -> pd.DataFrame:
    """The oracle: merges over normalized keys, first rule that finds anything wins."""
    remaining = desired.index
    found = []
    for number, rule in enumerate(rules):
        fold = case_insensitive(rule.target)
        left = pd.DataFrame({"hr_row": remaining, "key": normalize_values(
            desired.loc[remaining, f"match_{number}"], fold_case=fold).to_numpy()}).dropna()
        right = pd.DataFrame({"target_id": current["target_id"].to_numpy(), "key":
                              normalize_values(current[rule.target], fold_case=fold)
                              .to_numpy()}).dropna()
        pairs = left.merge(right, on="key")[["hr_row", "target_id"]].assign(rule=number)
        found.append(pairs)
        remaining = remaining.difference(pd.Index(pairs["hr_row"].unique()))
    expected = pd.concat(found, ignore_index=True)
    expected["clean"] = ((expected.groupby("hr_row")["target_id"].transform("size") == 1)
                         & (expected.groupby("target_id")["hr_row"].transform("size") == 1))
    return expected


def assert_pairs_are_the_merges(got: pd.DataFrame, desired: pd.DataFrame,
                                current: pd.DataFrame, rules: list[MatchRule]) -> None:
    def rows(frame: pd.DataFrame) -> list[tuple[int, str, int, bool]]:
        return sorted(zip(frame["hr_row"].astype(int), frame["target_id"].astype(str),
                          frame["rule"].astype(int), frame["clean"].astype(bool), strict=True))

    assert rows(got) == rows(merged_pairs(desired, current, rules))
    assert list(current["target_id"].loc[got["account"]]) == list(got["target_id"])
