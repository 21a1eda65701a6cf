"""The HR reader: what real extracts look like, and one clear line for what cannot be read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from recon.adapters.hr import read_hr
from recon.config import Source
from recon.errors import InputError
from recon.mapping import parse_dates

SOURCE = Source(path=Path("x.csv"), key="Employee ID")


def write(tmp_path: Path, name: str, data: bytes) -> Source:
    (tmp_path / name).write_bytes(data)
    return SOURCE.model_copy(update={"path": tmp_path / name})


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_sniffs_the_delimiter(tmp_path: Path, delimiter: str) -> None:
    text = delimiter.join(["Employee ID", "Name", "Title"]) + "\n"
    text += delimiter.join(["1", "Zoë", "Engineer"]) + "\n"
    extract = read_hr(write(tmp_path, "w.csv", text.encode()))
    assert list(extract.frame.columns) == ["Employee ID", "Name", "Title"]
    assert extract.frame.loc[1, "Name"] == "Zoë"


def test_bom_banners_spaces_and_empty_cells(tmp_path: Path) -> None:
    text = ("Workers report,,\nGenerated 2026-11-15,,\n,,\n"
            " Employee ID , Name ,Title\n 7 ,  José  ,\n8,Ann,Boss\n")
    extract = read_hr(write(tmp_path, "w.csv", b"\xef\xbb\xbf" + text.encode()))
    assert extract.header_row == 4
    assert list(extract.frame.index) == [1, 2]
    assert extract.frame.loc[1, "Employee ID"] == "7"
    assert extract.frame.loc[1, "Name"] == "José"
    assert pd.isna(extract.frame.loc[1, "Title"])


def test_values_stay_text(tmp_path: Path) -> None:
    extract = read_hr(write(tmp_path, "w.csv", b"Employee ID,Zip\n007,02134\n"))
    assert extract.frame.loc[1, "Employee ID"] == "007"
    assert extract.frame.loc[1, "Zip"] == "02134"


def test_cp1252_falls_back_with_a_warning(tmp_path: Path) -> None:
    source = write(tmp_path, "w.csv", "Employee ID,Name\n1,Müller\n".encode("cp1252"))
    with pytest.warns(UserWarning, match="not valid UTF-8"):
        extract = read_hr(source)
    assert extract.frame.loc[1, "Name"] == "Müller"


def test_xlsx_named_sheet_banner_and_dates(tmp_path: Path) -> None:
    from datetime import datetime

    book = Workbook()
    book.active.title = "Notes"
    sheet = book.create_sheet("Workers")
    sheet.append(["HR extract — confidential"])
    sheet.append([])
    sheet.append(["Employee ID", "Hire Date", "Salary"])
    sheet.append([1001, datetime(2026, 11, 20), 5000.0])
    book.save(tmp_path / "w.xlsx")
    extract = read_hr(SOURCE.model_copy(update={"path": tmp_path / "w.xlsx", "sheet": "Workers"}))
    assert extract.header_row == 3
    assert extract.frame.loc[1].tolist() == ["1001", "2026-11-20", "5000"]


def test_dates_in_the_configured_format_iso_and_excel_serials() -> None:
    values = pd.Series(["11/20/2026", "2026-11-20", "46346", "31/02/2026", None], dtype="string")
    parsed = parse_dates(values, "%m/%d/%Y")
    assert [d.date().isoformat() if pd.notna(d) else None for d in parsed] == [
        "2026-11-20", "2026-11-20", "2026-11-20", None, None]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"Employee ID,Name,Name\n1,a,b\n", "duplicated column name"),
        (b"Worker,Name\n1,a\n", "key column not found"),
        (b"Employee ID,Name\n", "no data rows"),
        (b"\x00\x01\x02binary\x00", "binary"),
        (b"Employee ID;Name\n1;a\n", ""),
        (b"Employee ID,Name\n1,a,b,c\n", "more fields than the header"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "password-protected"),
    ],
)
def test_unreadable_files_give_one_clear_line(tmp_path: Path, content: bytes,
                                              fragment: str) -> None:
    source = write(tmp_path, "bad.csv", content)
    if not fragment:
        read_hr(source)  # a semicolon file is fine: the delimiter is sniffed
        return
    with pytest.raises(InputError, match=fragment) as caught:
        read_hr(source)
    assert "bad.csv" in str(caught.value)
    assert "\n" not in str(caught.value)
