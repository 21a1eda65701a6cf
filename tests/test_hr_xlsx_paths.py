"""HR workbooks: fastexcel (column-wise, Arrow) and python-calamine (cell by cell), the fast
readers, give what openpyxl (the general one) gives.

Small workbooks as Excel users make them — banners, blank rows, numbers where text was meant
(an Employee ID that lost its leading zeros), dates with and without a time, booleans, empty
columns, styled but empty cells past the last column — are read every way and compared:
the frame, the header row, the sheet and the count of numeric cells per column.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.styles import PatternFill

from recon.core.config import Source
from recon.errors import InputError
from recon.io import hr
from recon.io.hr import read_hr

SOURCE = Source(path=Path("w.xlsx"), key="Employee ID")

TEXT = st.text(alphabet=st.sampled_from(list("aZ0 7-é’ßİ\u0301漢")), max_size=6)
CELL = st.one_of(
    st.none(), TEXT, st.sampled_from(["004524", "  x  ", "", "True", "1.0"]),
    st.integers(min_value=-10**6, max_value=10**9),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
    st.sampled_from([4524.0, 0.1, 1e-7, 123456789.5]),
    st.dates(min_value=date(1950, 1, 1), max_value=date(2060, 12, 31)),
    st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2060, 12, 31)).map(
        lambda moment: moment.replace(microsecond=0)),
    st.booleans())


def no_arrow(raw: bytes, name: str, source: Source) -> None:
    return None


def both_ways(path: Path, monkeypatch: pytest.MonkeyPatch, source: Source = SOURCE
              ) -> tuple[object, object]:
    """(fastexcel's extract, openpyxl's); python-calamine's is checked against openpyxl's too."""
    source = source.model_copy(update={"path": path})
    arrow = read_hr(source)
    with monkeypatch.context() as patch:
        patch.setattr(hr, "_arrow_sheets", no_arrow)
        patch.setattr(hr, "SHEET_CHUNK_ROWS", 2)  # rows become columns two at a time
        cells = read_hr(source)
    with monkeypatch.context() as patch:
        patch.setattr(hr, "_arrow_sheets", no_arrow)
        patch.setattr(hr, "_calamine_sheets", lambda raw, source: None)
        general = read_hr(source)
    assert cells.reader == "calamine"
    assert_same(cells, general)
    return arrow, general


def assert_same(fast: hr.HrExtract, general: hr.HrExtract) -> None:
    # fastexcel hands a sheet it cannot vouch for (a number Python spells with an exponent)
    # to python-calamine.
    assert fast.reader in {"fastexcel (Arrow)", "calamine"}
    assert general.reader == "openpyxl (general)"
    pd.testing.assert_frame_equal(fast.frame, general.frame)
    assert (fast.header_row, fast.sheet, dict(fast.numbers)) == (
        general.header_row, general.sheet, dict(general.numbers))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(banner=st.integers(0, 3), width=st.integers(1, 4),
       rows=st.lists(st.lists(CELL, min_size=0, max_size=5), min_size=1, max_size=6),
       styled_past_end=st.booleans())
def test_the_fast_readers_read_every_workbook_as_openpyxl_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, banner: int, width: int,
        rows: list[list[object]], styled_past_end: bool) -> None:
    book = Workbook()
    sheet = book.active
    for _ in range(banner):
        sheet.append(["Workers report — confidential"])
    sheet.append(["Employee ID", *[f"Column {n}" for n in range(1, width)]])
    keyed = [[f"E{n}", *row] for n, row in enumerate(rows)]
    for row in keyed:
        sheet.append(row)
    if styled_past_end:
        sheet.cell(row=banner + 1, column=width + 3).fill = PatternFill("solid", fgColor="FFFF00")
    path = tmp_path / "w.xlsx"
    book.save(path)
    fast, general = both_ways(path, monkeypatch)
    event(f"read by {fast.reader}")  # type: ignore[attr-defined]
    assert_same(fast, general)  # type: ignore[arg-type]


def test_a_key_saved_as_a_number_is_counted_on_both_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    book = Workbook()
    book.active.append(["Employee ID", "Hire Date"])
    book.active.append([4524, datetime(2026, 1, 5)])
    book.active.append(["004525", date(2026, 1, 6)])
    book.active.append([None, None])
    book.save(tmp_path / "w.xlsx")
    fast, general = both_ways(tmp_path / "w.xlsx", monkeypatch)
    assert_same(fast, general)  # type: ignore[arg-type]
    assert fast.frame["Employee ID"].tolist() == ["4524", "004525"]  # type: ignore[attr-defined]
    assert dict(fast.numbers) == {"Employee ID": 1}  # type: ignore[attr-defined]
    assert fast.reader == "fastexcel (Arrow)"  # type: ignore[attr-defined]


def test_errors_read_the_same_on_both_paths(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["nothing here"])
    book.create_sheet("Empty").append(["Employee ID"])
    book.save(tmp_path / "w.xlsx")
    for source, wanted in (
            (SOURCE.model_copy(update={"sheet": "Workers"}), "no sheet named 'Workers'"),
            (SOURCE, "the sheet has a header but no data rows")):
        messages = []
        for refuse in (0, 1, 2):
            with monkeypatch.context() as patch:
                if refuse:
                    patch.setattr(hr, "_arrow_sheets", no_arrow)
                if refuse == 2:
                    patch.setattr(hr, "_calamine_sheets", lambda raw, source: None)
                with pytest.raises(InputError) as raised:
                    read_hr(source.model_copy(update={"path": tmp_path / "w.xlsx"}))
            messages.append(str(raised.value))
        assert messages[0] == messages[1] == messages[2] and wanted in messages[0]


def test_a_workbook_calamine_cannot_read_goes_to_openpyxl(tmp_path: Path) -> None:
    """A file named .xlsx that is no workbook: openpyxl's one clear line, no traceback."""
    (tmp_path / "w.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match=r"not a readable \.xlsx workbook"):
        read_hr(SOURCE.model_copy(update={"path": tmp_path / "w.xlsx"}))


@pytest.mark.parametrize("first_cell", ["A1", "C1", "A3", "C4"])
def test_a_sheet_that_starts_right_of_or_below_a1_reads_the_same_both_ways(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first_cell: str) -> None:
    """calamine's rows and fastexcel's columns start at the used range; the frame and the
    header row are A1's."""
    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

    letter, row = coordinate_from_string(first_cell)
    column = column_index_from_string(letter)
    book = Workbook()
    for offset, values in enumerate([["Employee ID", "Name"], ["E1", "Ann"], [4524, None],
                                     [None, None], ["E3", date(2026, 1, 5)]]):
        for shift, value in enumerate(values):
            book.active.cell(row=row + offset, column=column + shift, value=value)
    book.save(tmp_path / "w.xlsx")
    fast, general = both_ways(tmp_path / "w.xlsx", monkeypatch)
    assert_same(fast, general)  # type: ignore[arg-type]
    assert fast.header_row == row  # type: ignore[attr-defined]


def test_fastexcel_spells_numbers_dates_and_booleans_as_python_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fastexcel's own text of a number is rounded (123.0000000001 reads "123", a subnormal
    "0"); the numbers are read again as doubles and spelled as the cell readers spell them."""
    book = Workbook()
    book.active.append(["Employee ID", "Value"])
    values: list[object] = [123.0000000001, 0.30000000000000004, 2.2250738585e-313, 1e21, -0.0,
                            1e-05, 4524, 99999999999999.98, True, False, "true", "00123",
                            date(2026, 1, 5), datetime(2026, 1, 5, 13, 45)]
    for number, value in enumerate(values):
        book.active.append([number, value])
    book.save(tmp_path / "w.xlsx")
    fast, general = both_ways(tmp_path / "w.xlsx", monkeypatch)
    assert fast.reader == "fastexcel (Arrow)"  # type: ignore[attr-defined]
    assert_same(fast, general)  # type: ignore[arg-type]
    spelled = fast.frame["Value"].tolist()  # type: ignore[attr-defined]
    assert [spelled[0], *spelled[3:6]] == ["123.0000000001", "1000000000000000000000", "0",
                                           "1e-05"]
    assert spelled[8:] == ["True", "False", "true", "00123", "2026-01-05", "2026-01-05T13:45:00"]
    assert dict(fast.numbers) == {"Employee ID": 14, "Value": 8}  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [datetime(2026, 1, 5, 13, 45, 30, 500000),
                                   datetime(1899, 12, 31, 12, 0)])
def test_a_time_python_spells_its_own_way_goes_cell_by_cell(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: datetime) -> None:
    """A fraction of a second, or a time of day alone: fastexcel hands the sheet over."""
    book = Workbook()
    book.active.append(["Employee ID", "When"])
    book.active.append(["E1", value])
    book.save(tmp_path / "w.xlsx")
    fast, general = both_ways(tmp_path / "w.xlsx", monkeypatch)
    assert fast.reader == "calamine"  # type: ignore[attr-defined]
    assert_same(fast, general)  # type: ignore[arg-type]


def test_text_that_spells_a_date_and_time_reads_as_that_date_on_the_arrow_path(
        tmp_path: Path) -> None:
    """The one difference between the readers, and why: fastexcel spells a date cell as
    ``2026-01-05 00:00:00``, as a text cell spelling the same would read, so both read as the
    date (``2026-01-05``); the cell readers keep such text as it is. The mapping reads either
    as the same date."""
    book = Workbook()
    book.active.append(["Employee ID", "Hire Date"])
    book.active.append(["E1", "2026-01-05 00:00:00"])
    book.active.append(["E2", datetime(2026, 1, 5)])
    book.save(tmp_path / "w.xlsx")
    extract = read_hr(SOURCE.model_copy(update={"path": tmp_path / "w.xlsx"}))
    assert extract.reader == "fastexcel (Arrow)"
    assert extract.frame["Hire Date"].tolist() == ["2026-01-05", "2026-01-05"]
