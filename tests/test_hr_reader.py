"""The HR reader: what real extracts look like, and one clear line for what cannot be read."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pytest
from openpyxl import Workbook

from recon.core import mapping
from recon.core.config import Source
from recon.core.mapping import parse_dates
from recon.errors import InputError
from recon.io import hr
from recon.io.hr import read_hr

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


# The fast CSV path (pyarrow) must give exactly the frame of the general path (the csv module
# and pandas), and leave everything it is not sure about to the general path.


def general_path(raw: bytes, source: Source) -> tuple[pd.DataFrame, int]:
    """What read_hr makes of a CSV when the fast path declines."""
    text, _ = hr._decode(raw, "x.csv", source.encoding)
    frame, header_row = hr._read_csv(text, "x.csv", source)
    return hr._clean(frame, "x.csv"), header_row


def assert_same_frame(fast: pd.DataFrame, general: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(fast, general, check_exact=True)
    assert fast.index.name == general.index.name == "hr_row"
    for column in general.columns:
        assert fast[column].dtype == general[column].dtype
        assert pa.array(fast[column].array).type == pa.array(general[column].array).type


FAST = {
    "quoted commas, newlines and quotes": (
        b'Employee ID,Name,Note\n1,"Doe, Jane","line 1\nline 2"\n2,Bob,"say ""hi"""\n'),
    "BOM": b"\xef\xbb\xbfEmployee ID,Name\n1,Ann\n2,Bob\n",
    "CRLF, a quoted CRLF and a quoted CR": (
        b'Employee ID,Name,Note\r\n1,"a\r\nb","c\rd"\r\n2,e,f\r\n'),
    "CR line ends": b"Employee ID,Name\r1,a\r2,b\r",
    "empty and whitespace-only cells": b"Employee ID,Name,Title\n1,,  \n2, x ,\t\n3,\" \",\n",
    "unicode whitespace": "Employee ID,Name\n1,\u00a0Zoë\u3000\n2,\u2003 \n".encode(),
    "blank lines": b"Employee ID,Name\n\n1,a\n\n\n2,b\n\n",
    "banners above the header": b"Workers report,\nGenerated 2026-11-15,\n\nEmployee ID,Name\n1,a\n",
    "unnamed column": b"Employee ID,,Name\n1,x,a\n2,,b\n",
    "no final line end": b"Employee ID,Name\n1,a\n2,b",
    "quotes inside an unquoted cell": b'Employee ID,Name\n1,ab"c"d\n2,"x"y\n',
    "semicolons": "Employee ID;Name;Title\n7;José;Ing, Sr\n".encode(),
    "only delimiters in a row": b"Employee ID,Name\n1,a\n,\n2,b\n",
}


@pytest.mark.parametrize("raw", FAST.values(), ids=FAST.keys())
def test_the_fast_path_reads_odd_files_as_the_general_path(tmp_path: Path, raw: bytes) -> None:
    source = write(tmp_path, "x.csv", raw)
    fast = hr._read_csv_fast(raw, "x.csv", source)
    assert fast is not None, "the fast path should take this file"
    frame, header_row = general_path(raw, source)
    assert_same_frame(fast[0], frame)
    assert fast[1] == header_row
    extract = read_hr(source)
    assert_same_frame(extract.frame, frame)
    assert extract.encoding == "utf-8-sig"


DECLINED = {
    "duplicated header": b"Employee ID,Name,Name\n1,a,b\n",
    "cp1252": "Employee ID,Name\n1,Müller\n".encode("cp1252"),
    "invalid UTF-8 below the header": b"Employee ID,Name\n1,a\n2,\xff\n",
    "mixed encodings": "Employee ID,Name\n1,Zoë\n".encode() + "2,Müller\n".encode("cp1252"),
    "a row too long": b"Employee ID,Name\n1,a\n2,b,c\n",
    "trailing delimiters": b"Employee ID,Name\n1,a,\n2,b,\n",
    "a row too short": b"Employee ID,Name,Title\n1,a,x\n2,b\n",
    "a quote left open (odd count)": b'Employee ID,Name\n1,"a\n2,b\n',
    "a quote left open (even count)": b'Employee ID,Name\n1,a"b\n2,"c\n',
    "a whitespace-only line": b"Employee ID,Name\n1,a\n   \n2,b\n",
    "a line separator in a cell": "Employee ID,Name\n1,a\u2028b\n2,c\x0cd\n".encode(),
    "a NUL byte late in the file": b"Employee ID,Name\n" + b"1,a\n" * 2000 + b"2,b\x00\n",
    "header only": b"Employee ID,Name\n",
    "whitespace below the header": b"Employee ID,Name\n \t\n",
    "one column": b"Employee ID\n1\n  \n2\n",
    "UTF-16": "Employee ID,Name\n1,a\n".encode("utf-16"),
}


@pytest.mark.parametrize("raw", DECLINED.values(), ids=DECLINED.keys())
def test_the_fast_path_leaves_unusual_files_to_the_general_path(tmp_path: Path,
                                                                raw: bytes) -> None:
    source = write(tmp_path, "x.csv", raw)
    assert hr._read_csv_fast(raw, "x.csv", source) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            frame, _ = general_path(raw, source)
        except InputError as error:
            with pytest.raises(InputError) as caught:
                read_hr(source)
            got = caught.value
            assert (got.row, got.column) == (error.row, error.column)
            assert str(got) == str(error).replace("x.csv", str(tmp_path / "x.csv"), 1)
            assert "\n" not in str(got)
            return
        assert_same_frame(read_hr(source).frame, frame)


def test_a_ragged_row_names_its_row_on_either_path(tmp_path: Path) -> None:
    raw = b"Employee ID,Name\n" + b"1,a\n" * 5000 + b"2,b,c\n"
    with pytest.raises(InputError, match=r"row 5001: a data row has 3 fields but the header"):
        read_hr(write(tmp_path, "x.csv", raw))


def test_the_fast_path_is_taken_for_a_configured_utf8_encoding(tmp_path: Path) -> None:
    raw = "Employee ID,Name\n1,Zoë\n".encode()
    source = write(tmp_path, "x.csv", raw).model_copy(update={"encoding": "UTF-8"})
    fast = hr._read_csv_fast(raw, "x.csv", source)
    assert fast is not None
    assert fast[2] == "UTF-8" == read_hr(source).encoding
    assert_same_frame(fast[0], general_path(raw, source)[0])


DATES = ["11/20/2026", "02/30/2026", "12/31/2261", "01/01/1678", "1/5/2026", "13/01/2026",
         "00/10/2026", "2026-11-20", "20261120", "46346", " 11/20/2026 ", "11-20-2026",
         "11/20/26", "٠١/٠٥/٢٠٢٠", "11/20/2026x", "", None, "20.11.2026", "2026/11/20",
         "2026-02-30", "1677-12-31", "2262-01-01", "20-11-2026", "2026-20-11", "2026.11.20",
         "20/11-2026", "2026-1-5"]


@pytest.mark.parametrize("date_format", ["%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d", None,
                                         "%Y/%m/%d", "%m/%d/%y", "%d %b %Y", "%d-%m-%Y",
                                         "%m-%d-%Y", "%Y-%d-%m", "%d/%m-%Y", "%Y.%m.%d"])
def test_fixed_width_dates_parse_as_pandas_parses_them(date_format: str | None) -> None:
    values = pd.Series(DATES * 3, index=pd.RangeIndex(1, 3 * len(DATES) + 1, name="hr_row"),
                       dtype="string")
    formats = ([date_format] if date_format else []) + list(mapping.ISO_FORMATS)
    expected = mapping._parse_dates_general(values.str.strip(), formats)
    pd.testing.assert_series_equal(parse_dates(values, date_format), expected, check_exact=True)


# Other encodings (cp1252, UTF-16): Python's codec decodes the file, and the fast path reads
# the decoded text as UTF-8; the frame is the general path's.

ENCODED = {
    "cp1252 names, quotes and CRLF": 'Employee ID,Name,Note\r\n1,"Müller, Jörg","€ 5"\r\n2,Zoë,"say ""hi"""\r\n'.encode("cp1252"),
    "cp1252 with banners and blank lines": "Workers report\n\nEmployee ID;Name\n1;Åsa\n\n2;Señor\n".encode("cp1252"),
    "cp1252 ellipsis (0x85 is not a line break here)": "Employee ID,Name\n1,a…b\n2,c\n".encode("cp1252"),
    "UTF-16 with a BOM": "Employee ID,Name\n1,Zoë\n2,Ἀθηνᾶ\n".encode("utf-16"),
    "latin-1 bytes cp1252 leaves undefined": b"Employee ID,Name\n1,a\x81b\n2,c\n",
}


@pytest.mark.parametrize("raw", ENCODED.values(), ids=ENCODED.keys())
def test_other_encodings_are_read_fast_as_the_general_path_reads_them(tmp_path: Path,
                                                                       raw: bytes) -> None:
    source = write(tmp_path, "x.csv", raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame, header_row = general_path(raw, source)
        extract = read_hr(source)
    assert extract.reader.startswith("pyarrow CSV (")
    assert_same_frame(extract.frame, frame)
    assert extract.header_row == header_row


def test_a_cp1252_file_still_warns_once(tmp_path: Path) -> None:
    source = write(tmp_path, "x.csv", "Employee ID,Name\n1,Müller\n2,b\n".encode("cp1252"))
    with pytest.warns(UserWarning, match="not valid UTF-8") as caught:
        extract = read_hr(source)
    assert len(caught) == 1
    assert (extract.encoding, extract.reader) == ("cp1252", "pyarrow CSV (cp1252 → UTF-8)")
