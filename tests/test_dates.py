"""Dates pandas cannot hold (before 1678, after 2261) are bad cells, never a crash."""

from __future__ import annotations

import pandas as pd

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
