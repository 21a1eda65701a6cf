"""The quality gate's fast paths give what the plain computations give (issue 9): derived columns
computed once per distinct value, over-long cells found from byte lengths, a narrow batch for
GX, and GX imported without the modules recon's suite never calls."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from recon.core import quality
from recon.core.config import Config, parse_config
from recon.core.mapping import parse_dates
from recon.core.quality import check
from recon.core.quality_rules import MAX_CELL_LENGTH, _is_in, _over_long, _per_value, _sharing

COLUMNS = ["Employee ID", "Worker Status", "Work Email", "Hire Date", "Termination Date",
           "Manager ID", "Title"]
ROWS = [
    ["E1", "Active", "a@example.com", "01/15/2020", None, None, "Engineer"],
    ["E2", " ACTIVE", "b@example.com", "2020-01-15", "12/31/2030", "E1", "Engineer"],
    ["E2", "Terminated", "not-an-address", "43845", "01/01/2019", "E404", "Manager"],
    [None, "Retired", "c@example.com", "31/31/2020", "01/15/2020", "E1", None],
    ["E5", None, "d@example.com", " 01/15/2020 ", "someday", "E2", "x" * (MAX_CELL_LENGTH + 1)],
    ["E6", "Leave of Absence", "x" * 2000, "01/15/2020", None, "E404", "y" * 3000],
    ["E7", "Active", "e@example.com", "2020-01-15T08:00:00", "", "", "Zoë"],
]


def frame(dtype: Any = "string") -> pd.DataFrame:
    data = pd.DataFrame(ROWS, columns=COLUMNS, dtype=dtype)
    data.index = pd.RangeIndex(1, len(data) + 1, name="hr_row")
    return data


def config(**changes: Any) -> Config:
    return parse_config({
        "source": {"path": "w.csv", "key": "Employee ID",
                   "status": {"column": "Worker Status", "active": ["Active", "Leave of Absence"],
                              "inactive": ["Terminated"]},
                   "hire_date": "Hire Date", "termination_date": "Termination Date",
                   "date_format": "%m/%d/%Y", "manager_key": "Manager ID",
                   "email": ["Work Email"]},
        "target": {"file": "s.json"},
        "attributes": {"userName": "[Work Email]", "title": "[Title]"},
        "match": [{"source": "[Employee ID]", "target": "externalId"}],
        **changes,
    }, base_dir=Path("."))


@pytest.mark.parametrize("dtype", ["string", "str", object])
def test_dates_parsed_once_per_distinct_value_equal_parsing_every_row(dtype: Any) -> None:
    values = pd.Series(["01/15/2020", None, "2020-01-15", "01/15/2020", "44927", "junk",
                        "2020-01-15", " 02/29/2020 ", None, "99999"] * 3, dtype=dtype,
                       index=pd.RangeIndex(5, 35, name="hr_row"))
    fast = _per_value(values, lambda distinct: parse_dates(distinct, "%m/%d/%Y"))
    pd.testing.assert_series_equal(fast, parse_dates(values, "%m/%d/%Y"), check_names=False)


def test_over_long_cells_name_the_first_column_and_the_longest_length() -> None:
    for dtype in ("string", "str", object):
        first, longest = _over_long(frame(dtype), ["Title", "Work Email"])
        assert first.dtype == "string"
        assert first.isna().tolist() == [True, True, True, True, False, False, True]
        assert (first[5], longest[5]) == ("Title", str(MAX_CELL_LENGTH + 1))
        assert (first[6], longest[6]) == ("Title", "3000")  # both too long: first listed wins


def test_key_sharing_counted_among_the_failing_rows_equals_counting_the_column() -> None:
    keys = pd.Series(["a", "b", "a", None, "c", "a", "b"], dtype="string")
    failing = pd.Index([0, 1, 2, 5, 6])  # every row whose key is shared
    expected = keys.map(keys.value_counts(dropna=True)).loc[failing]
    pd.testing.assert_series_equal(_sharing(keys, failing), expected)


@pytest.mark.parametrize("dtype", ["string", "str", object])
def test_manager_lookup_agrees_with_isin_on_every_present_value(dtype: Any) -> None:
    managers = pd.Series(["E1", None, "E2", "E9", "E1", "", "e1", None], dtype=dtype)
    keys = pd.Series(["E1", None, "E2", "E3", ""], dtype=dtype)
    present = managers.notna().to_numpy()
    expected = managers.astype(object).isin(keys.astype(object)).to_numpy()
    assert (_is_in(managers, keys)[present] == expected[present]).all()
    assert not _is_in(managers, keys.iloc[:0]).any()


def _details_without_batch_narrowing(monkeypatch: pytest.MonkeyPatch, data: pd.DataFrame,
                                     settings: Config) -> quality.QualityResult:
    monkeypatch.setattr(quality, "_batch_frame",
                        lambda frame, suite: frame.assign(**suite.derived))
    return check(data, settings, file="w.csv")


@pytest.mark.parametrize("dtype", ["string", object])
def test_the_narrow_batch_gives_the_result_of_the_whole_frame(
        dtype: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data, settings = frame(dtype), config()
    narrow = check(data, settings, file="w.csv")
    whole = _details_without_batch_narrowing(monkeypatch, data, settings)
    pd.testing.assert_frame_equal(narrow.invalid, whole.invalid)
    pd.testing.assert_frame_equal(narrow.warnings, whole.warnings)
    assert narrow.details == whole.details
    assert set(narrow.invalid.index) == {2, 3, 4, 5, 6, 7}  # E7: an empty-string date


def test_user_expectations_still_see_every_column_of_the_extract() -> None:
    expectations = [{"expectation": "expect_table_column_count_to_be_between",
                     "min_value": len(COLUMNS)}]
    result = check(frame(), config(quality={"expectations": expectations}))
    outcome = next(r for r in result.details["rules"]
                   if r["expectation"] == "expect_table_column_count_to_be_between")
    assert outcome["success"] and outcome["observed_value"] >= len(COLUMNS)
    assert not result.details["table_failures"]


def test_modules_deferred_or_hidden_while_gx_imports_still_work_afterwards() -> None:
    """jsonschema loads when a user expectation needs it; scipy and azure-identity import."""
    code = textwrap.dedent("""
        import sys
        from pathlib import Path
        import pandas as pd
        from recon.core.config import parse_config
        from recon.core.quality import check
        frame = pd.DataFrame({"Employee ID": ["E1", "E2"], "Tags": ['{"a": 1}', '{"b": 2}']},
                             dtype="string", index=pd.RangeIndex(1, 3, name="hr_row"))
        settings = parse_config({
            "source": {"path": "w.csv", "key": "Employee ID"}, "target": {"file": "s.json"},
            "attributes": {"externalId": "[Employee ID]"},
            "match": [{"source": "[Employee ID]", "target": "externalId"}],
            "quality": {"expectations": [{
                "expectation": "expect_column_values_to_match_json_schema", "column": "Tags",
                "json_schema": {"type": "object", "required": ["a"]}}]}}, base_dir=Path("."))
        result = check(frame, settings)
        assert list(result.invalid.index) == [2], result.invalid
        assert not any(type(f).__name__ == "_GxImportFinder" for f in sys.meta_path)
        import scipy.stats
        assert abs(scipy.stats.entropy([1, 1], [1, 1])) < 1e-12
        import azure.identity
        assert azure.identity.DefaultAzureCredential.__name__ == "DefaultAzureCredential"
        print("ok")
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("ok")
