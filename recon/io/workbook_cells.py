"""How the workbooks' cells look and stay safe: formats, text that never runs, plain tables.

Workbooks are written with XlsxWriter in constant-memory mode (each row streamed to disk once
written; a sheet's layout — widths, freeze, filter, outline — set before its rows) and read back
with openpyxl. Every value goes through ``Book.put``: text is always written as text
(``write_string``; the workbook is opened with ``strings_to_formulas`` off), and text that a
spreadsheet would execute when a reviewer edits the cell (``=``, ``+``, ``-``, ``@``, tab or CR
first) also gets Excel's quote prefix. ``RISKY_START`` and ``formula_safe`` are that one guard,
for CSV files too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter  # type: ignore[import-untyped, unused-ignore]

from recon.errors import OutputError

EXCEL_MAX_ROWS = 1_048_576  # rows per worksheet (Excel specifications and limits)
EXCEL_MAX_TEXT = 32_767  # characters per cell
RISKY_START = re.compile(r"^[=+\-@\t\r]")
RISKY_FIRST = frozenset("=+-@\t\r")  # the same guard, for one character
#: Characters XML 1.0 cannot hold (what openpyxl strips too): never written, never compared.
ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")

BLUE, GREY, RED = "#1F4E78", "#595959", "#C00000"
STYLES: dict[str, dict[str, Any]] = {
    "header": {"bold": True, "font_color": "#FFFFFF", "bg_color": BLUE, "text_wrap": True,
               "valign": "vcenter", "border": 1, "border_color": "#A6A6A6"},
    "title": {"bold": True, "font_size": 14},
    "section": {"bold": True, "font_size": 12, "font_color": BLUE},
    "label": {"bold": True},
    "note": {"italic": True, "font_color": GREY},
    "wrapnote": {"italic": True, "font_color": GREY, "text_wrap": True, "valign": "top"},
    "op": {"bold": True},
    "alarm": {"bold": True, "font_color": RED},
    "bad": {"bg_color": "#F8CBAD", "font_color": "#9C0006"},
    "good": {"font_color": "#006100"},
    "detail": {"font_color": GREY, "bg_color": "#F2F2F2"},
    "edit": {"bg_color": "#FFF2CC", "border": 1, "border_color": "#A6A6A6", "locked": False},
    "detail_edit": {"bg_color": "#F2F2F2", "border": 1, "border_color": "#D9D9D9",
                    "locked": False},
    "center": {"align": "center"},
    "left": {"align": "left"},
    "date": {"num_format": "yyyy-mm-dd", "align": "left"},
    "stamp": {"num_format": "yyyy-mm-dd hh:mm:ss", "align": "left"},
    "count": {"num_format": "#,##0", "align": "center"},
}


def clean(text: str) -> str:
    """Text as a cell holds it: no XML-illegal characters, at most Excel's 32,767 characters."""
    text = ILLEGAL.sub("", text)
    return text if len(text) <= EXCEL_MAX_TEXT else text[:EXCEL_MAX_TEXT]


def clean_series(values: pd.Series) -> pd.Series:
    """``clean`` over a column of text ("" for missing)."""
    text = values.astype("string").fillna("")
    if text.str.contains(ILLEGAL.pattern, regex=True).any():
        text = text.str.replace(ILLEGAL.pattern, "", regex=True)
    return text.str.slice(0, EXCEL_MAX_TEXT)


def formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text a spreadsheet would run as a formula gets Excel's quote prefix (CSV and formula
    injection): for files written without the workbook's cells, such as CSV."""
    def cell(value: Any) -> Any:
        if isinstance(value, str) and RISKY_START.match(value):
            return "'" + value
        return value
    return frame.map(cell)


@dataclass(frozen=True)
class Column:
    """One sheet column: its header, the frame column it shows, and a width in characters."""

    header: str
    source: str
    width: float | None = None  # None: fitted to the data
    hidden: bool = False  # kept for machines and cross-references, not for reading


class Book:
    """An XlsxWriter workbook in constant-memory mode, with each format made once.

    Nothing reaches ``path`` until ``close``; ``discard`` drops a workbook half written (a
    refused sheet), so no half file is ever left behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.wb = xlsxwriter.Workbook(str(path), {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False, "default_date_format": "yyyy-mm-dd"})
        self._formats: dict[tuple[str, ...], Any] = {}

    def format(self, *names: str, quoted: bool = False) -> Any:
        """The format combining the named styles (None for none), optionally quote-prefixed."""
        key = (*names, "quoted") if quoted else names
        if not key:
            return None
        if key not in self._formats:
            props: dict[str, Any] = {}
            for name in names:
                props.update(STYLES[name])
            if quoted:
                props["quote_prefix"] = True
            self._formats[key] = self.wb.add_format(props)
        return self._formats[key]

    def sheet(self, title: str) -> Any:
        return self.wb.add_worksheet(title)

    def put(self, ws: Any, row: int, col: int, value: Any, *styles: str,
            cleaned: bool = False) -> None:
        """One cell: text stays text, dates are dates, numbers numbers, booleans yes/no.
        ``cleaned``: text is ``clean`` already (``column_values`` gave it)."""
        if value is None or value is pd.NA or value is pd.NaT or (
                isinstance(value, float) and np.isnan(value)):
            if styles:
                ws.write_blank(row, col, None, self.format(*styles))
        elif isinstance(value, str):
            text = value if cleaned else clean(value)
            ws.write_string(row, col, text, self.format(
                *styles, quoted=bool(RISKY_START.match(text))))
        elif isinstance(value, bool | np.bool_):
            ws.write_string(row, col, "yes" if value else "no", self.format(*styles))
        elif isinstance(value, datetime | date):
            moment = value if isinstance(value, datetime) else datetime(
                value.year, value.month, value.day)
            if moment.tzinfo is not None:
                moment = pd.Timestamp(moment).tz_convert("UTC").tz_localize(None).to_pydatetime()
            timed = isinstance(value, datetime) and (moment.hour, moment.minute,
                                                     moment.second) != (0, 0, 0)
            ws.write_datetime(row, col, moment, self.format(*styles, "stamp" if timed else "date"))
        elif isinstance(value, int | float | np.integer | np.floating):
            ws.write_number(row, col, float(value), self.format(*styles))
        else:
            self.put(ws, row, col, str(value), *styles)

    def text(self, ws: Any, row: int, col: int, value: str | None, *styles: str) -> None:
        """``put`` for text already ``clean``: only the quote prefix is decided here."""
        if not value:
            if styles:
                ws._write_blank(row, col, None, self.format(*styles))
            return
        ws._write_string(row, col, value, self.format(
            *styles, quoted=value[0] in RISKY_FIRST))

    def close(self) -> None:
        self.wb.close()

    def discard(self) -> None:
        """Forget the workbook: nothing is written to ``path``."""
        for ws in self.wb.worksheets():
            handle = getattr(ws, "row_data_fh", None)
            if handle is not None:
                handle.close()
        self.wb.fileclosed = True


def column_values(values: pd.Series) -> list[Any]:
    """Python values of one column, ready for ``Book.put``: dates as datetimes, numbers as
    numbers, booleans as yes/no, text cleaned; None for a missing value."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values):
        days = pd.to_datetime(values, utc=True).dt.tz_localize(None) if isinstance(
            values.dtype, pd.DatetimeTZDtype) else values
        return [None if pd.isna(d) else d.to_pydatetime() for d in days]
    if pd.api.types.is_bool_dtype(values):
        return list(values.astype(object).map({True: "yes", False: "no"}).where(
            values.notna(), None))
    if pd.api.types.is_numeric_dtype(values):
        return list(values.astype(object).where(values.notna(), None))
    text = clean_series(values)
    return list(text.astype(object).where(text != "", None))


def width_of(header: str, values: pd.Series) -> float:
    """Wide enough for the header and most values, never so wide a row leaves the screen."""
    if values.empty:
        return max(10.0, len(header) + 3.0)
    lengths = values.astype("string").str.len().fillna(0)
    typical = float(lengths.quantile(0.95)) if len(lengths) else 0.0
    return float(min(max(len(header) + 3, typical + 2, 8), 60))


def check_size(title: str, rows: int) -> None:
    """Refuse (``OutputError``) a sheet Excel could not open: 1,048,576 rows at most."""
    if rows > EXCEL_MAX_ROWS:
        raise OutputError(f"the {title} sheet would need {rows:,} rows; Excel holds "
                          f"{EXCEL_MAX_ROWS:,} per sheet")


def finish_table(ws: Any, columns: Sequence[Column], widths: Sequence[float], header_row: int,
                 rows: int, *, frozen_columns: int = 0) -> None:
    """Frozen header (and first columns), filter over the whole table, widths, landscape print
    with the header repeated. ``header_row`` is 0-based. Called before the first row is out."""
    check_size(ws.name, header_row + 1 + rows)
    ws.freeze_panes(header_row + 1, frozen_columns)
    ws.autofilter(header_row, 0, header_row + max(rows, 1), len(columns) - 1)
    for index, (column, width) in enumerate(zip(columns, widths, strict=True)):
        ws.set_column(index, index, width, None, {"hidden": True} if column.hidden else None)
    ws.repeat_rows(header_row)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_paper(9)  # A4


def header(book: Book, ws: Any, row: int, headers: Sequence[str]) -> None:
    ws.set_row(row, 30)
    for col, text in enumerate(headers):
        book.put(ws, row, col, text, "header")


def write_table(book: Book, title: str, frame: pd.DataFrame, columns: Sequence[Column],
                note: str = "", *, max_rows: int | None = None, full_list: str = "",
                frozen_columns: int = 0, bad: pd.Series | None = None,
                total: int | None = None) -> None:
    """A plain filterable sheet: a note row, the header, one row per frame row.

    With ``max_rows`` a longer frame (``total`` rows, when it is cut already) shows its first
    rows and says how many there are and which file (``full_list``) holds every one. ``bad``
    marks rows that must stand out.
    """
    ws = book.sheet(title)
    total = len(frame) if total is None else total  # a frame cut already says its full length
    if max_rows is not None and total > max_rows:
        frame = frame.iloc[:max_rows]
        where = f"; every row is in {full_list}" if full_list else ""
        note = f"{note} Showing the first {max_rows:,} of {total:,} rows{where}.".strip()
    widths = [c.width or width_of(c.header, frame[c.source]) for c in columns]
    header_row = 1 if note else 0
    finish_table(ws, columns, widths, header_row, len(frame), frozen_columns=frozen_columns)
    if note:
        book.put(ws, 0, 0, note, "note")
    header(book, ws, header_row, [c.header for c in columns])
    if frame.empty:
        book.put(ws, header_row + 1, 0, "(none)", "note")
        return
    values = [column_values(frame[c.source]) for c in columns]
    flagged = (np.zeros(len(frame), dtype=bool) if bad is None
               else bad.reindex(frame.index).fillna(False).to_numpy(dtype=bool)).tolist()
    # Text (most cells) is written here, its format chosen from four; anything else by ``put``.
    # XlsxWriter's own ``_write_string``/``_write_blank``: the public methods only add the
    # parsing of "A1" cell names, for every cell.
    put, write_string, write_blank = book.put, ws._write_string, ws._write_blank
    formats = ((None, book.format(quoted=True)), (book.format("bad"),
                                                  book.format("bad", quoted=True)))
    for offset, row in enumerate(zip(*values, strict=True)):
        at = header_row + 1 + offset
        marked = flagged[offset]
        chosen = formats[marked]
        for col, value in enumerate(row):
            if value.__class__ is str:
                write_string(at, col, value, chosen[value[:1] in RISKY_FIRST])
            elif value is None:
                if marked:
                    write_blank(at, col, None, chosen[0])
            else:
                put(ws, at, col, value, *(("bad",) if marked else ()), cleaned=True)
