"""Dates pandas cannot hold (before 1678, after 2261) are bad cells, never a crash."""

from __future__ import annotations

from datetime import date

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.core import mapping
from recon.core.mapping import parse_dates
from recon.core.quality import check
from tests.test_quality import config, hr


def test_out_of_range_dates_parse_as_missing() -> None:
    text = pd.Series(["01/01/1500", "1500-01-01", "2999-12-31", "12/31/2261", "02/03/2024"],
                     dtype="string")
    parsed = parse_dates(text, "%m/%d/%Y")
    assert parsed.isna().tolist() == [True, True, True, False, False]
    assert parsed.dtype == "datetime64[ns]"


def test_a_hire_date_in_1500_quarantines_the_row_with_its_column() -> None:
    frame = hr("""
        E1 | Active | a@example.com | 01/01/1500 | |
        E2 | Active | b@example.com | 01/15/2020 | 2999-01-01 |
    """)
    result = check(frame, config(), file="workers.csv")
    assert dict(zip(result.invalid.index, result.invalid["rule"], strict=True)) == {
        1: "date_parseable", 2: "date_parseable"}
    assert result.invalid.loc[1, "reason"].startswith("date_parseable: column 'Hire Date'")
    assert result.invalid.loc[2, "reason"].startswith(
        "date_parseable: column 'Termination Date'")


# ---- the fixed-width fast path against pandas, format by format ------------------------------

FORMATS = [None, "%m/%d/%Y", "%d/%m/%Y", "%d-%m-%Y", "%Y-%d-%m", "%Y%m%d", "%d.%m.%Y",
           "%Y/%m/%d", "%d %b %Y"]


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(st.one_of(
           st.none(), st.text(alphabet="0123456789-/. ", min_size=6, max_size=11),
           st.builds(lambda day, fmt: day.strftime(fmt),
                     st.dates(min_value=date(1600, 1, 1), max_value=date(2300, 12, 31)),
                     st.sampled_from([f for f in FORMATS if f] + ["%Y-%m-%d"]))),
           min_size=1, max_size=8),
       date_format=st.sampled_from(FORMATS))
def test_dates_parse_as_pandas_parses_them_on_any_path(cells: list[str | None],
                                                       date_format: str | None) -> None:
    values = pd.Series(cells, dtype="string")
    formats = ([date_format] if date_format else []) + list(mapping.ISO_FORMATS)
    expected = mapping._parse_dates_general(values.str.strip(), formats)
    pd.testing.assert_series_equal(parse_dates(values, date_format), expected,
                                   check_exact=True, check_index=False)


def test_a_serial_past_the_calendar_beside_a_plausible_one_is_no_date_not_a_crash() -> None:
    """Found by the property test above: '200000' next to an Excel serial raised
    OutOfBoundsDatetime (pandas converted the masked-out value too)."""
    parsed = parse_dates(pd.Series(["0001.1", "200000", "45000"], dtype="string"))
    assert parsed.isna().tolist() == [False, True, False]
    assert str(parsed.iloc[2].date()) == "2023-03-15"
