"""How the auditor workbook's cells look and stay safe: styles, text that never runs, tables.

Every value goes through ``column_values`` or ``styled``: text that a spreadsheet would execute
(``=``, ``+``, ``-``, ``@``, tab or CR first) or read as an error code is stored as an explicit
string with Excel's quote prefix, so HR data never becomes a formula, even when a reviewer edits
the cell later. Sheets are streamed in openpyxl's write-only mode: everything about a sheet's
layout (freeze, filter, widths, protection) is set before its first row goes out.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Sequence
from copy import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter

from recon.errors import OutputError

EXCEL_MAX_ROWS = 1_048_576  # rows per worksheet (Excel specifications and limits)

RISKY_START = re.compile(r"^[=+\-@\t\r]")

THIN = Side(style="thin", color="A6A6A6")


def font(*, size: float = 11, **style: Any) -> Font:
    """Excel's default face, named: an unnamed font falls back to a serif in other readers."""
    return Font(name="Calibri", size=size, **style)



HEADER_FONT = font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
TITLE_FONT = font(bold=True, size=14)
SECTION_FONT = font(bold=True, size=12, color="1F4E78")
LABEL_FONT = font(bold=True)
NOTE_FONT = font(italic=True, color="595959")
OP_FONT = font(bold=True)
ALARM_FONT = font(bold=True, color="C00000")
DETAIL_FONT = font(color="595959")
DETAIL_FILL = PatternFill("solid", fgColor="F2F2F2")
EDIT_FILL = PatternFill("solid", fgColor="FFF2CC")
EDIT_BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
UNLOCKED = Protection(locked=False)
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
CENTER = Alignment(horizontal="center")


@dataclass(frozen=True)
class Column:
    """One sheet column: its header, the frame column it shows, and a width in characters."""

    header: str
    source: str
    width: float | None = None  # None: fitted to the data
    hidden: bool = False  # kept for machines and cross-references, not for reading


# ---- cells ------------------------------------------------------------------------------------

_STYLES: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], tuple[Any, tuple[Any, ...]]]] = (
    weakref.WeakKeyDictionary())


def styled(ws: Any, value: Any, *, font: Font | None = None, fill: PatternFill | None = None,
           alignment: Alignment | None = None, unlocked: bool = False,
           border: Border | None = None, number_format: str | None = None) -> Any:
    """A cell with a style; each combination is resolved once per workbook, then copied.

    Resolving a style (hashing fonts and fills into the workbook's tables) costs far more than
    writing the cell, and a large Changes sheet styles hundreds of thousands of cells.
    """
    if isinstance(value, Cell):
        cell = value
    elif isinstance(value, str):
        cell = text_cell(ws, value)
    else:
        cell = WriteOnlyCell(ws, value)
    parts = (font, fill, alignment, border)
    key = (*map(id, parts), unlocked, number_format, bool(cell.quotePrefix),
           cell.number_format if number_format is None else None)
    known = _STYLES.setdefault(ws.parent, {})
    if key in known:
        cell._style = copy(known[key][0])
        return cell
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if alignment is not None:
        cell.alignment = alignment
    if border is not None:
        cell.border = border
    if unlocked:
        cell.protection = UNLOCKED
    if number_format is not None:
        cell.number_format = number_format
    known[key] = (copy(cell._style), parts)  # the parts stay alive, so their ids stay theirs
    return cell


def text_cell(ws: Any, text: str) -> Any:
    """A cell that holds ``text`` as text, whatever it starts with (no formula, no error code)."""
    cell = WriteOnlyCell(ws)
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", text)
    if RISKY_START.match(text) or text in ERROR_CODES:
        cell.data_type = "s"  # openpyxl made it a formula ("=...") or an error; it is text
        cell.quotePrefix = True  # and stays text if a reviewer edits it in Excel
    return cell


def formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text a spreadsheet would run as a formula gets Excel's quote prefix (CSV and formula
    injection): for files written without openpyxl's cells, such as CSV."""
    def cell(value: Any) -> Any:
        if isinstance(value, str) and RISKY_START.match(value):
            return "'" + value
        return value
    return frame.map(cell)


def column_values(ws: Any, values: pd.Series) -> list[Any]:
    """Excel-ready values of one column: dates as dates, numbers as numbers, text made safe."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values):
        days = pd.to_datetime(values, utc=True).dt.tz_localize(None) if isinstance(
            values.dtype, pd.DatetimeTZDtype) else values
        if (days.dropna() == days.dropna().dt.normalize()).all():
            return [d.date() if not pd.isna(d) else None for d in days]
        return [d.to_pydatetime() if not pd.isna(d) else None for d in days]
    if pd.api.types.is_bool_dtype(values):  # a reader sees yes/no, not TRUE/FALSE or 1/0
        return list(values.astype(object).map({True: "yes", False: "no"}).where(
            values.notna(), None))
    if pd.api.types.is_numeric_dtype(values):
        return list(values.astype(object).where(values.notna(), None))
    text = values.astype("string").str.replace(ILLEGAL_CHARACTERS_RE, "", regex=True)
    out: list[Any] = list(text.astype(object).where(text.notna() & (text != ""), None))
    risky = (text.str.match(RISKY_START.pattern) | text.isin(list(ERROR_CODES))).fillna(False)
    for position in np.flatnonzero(risky.to_numpy(dtype=bool)):
        out[position] = text_cell(ws, str(out[position]))
    return out


def width_of(header: str, values: pd.Series) -> float:
    """Wide enough for the header and most values, never so wide a row leaves the screen."""
    if values.empty:
        return max(10.0, len(header) + 3.0)
    lengths = values.astype("string").str.len().fillna(0)
    typical = float(lengths.quantile(0.95)) if len(lengths) else 0.0
    return float(min(max(len(header) + 3, typical + 2, 8), 60))


# ---- tables -----------------------------------------------------------------------------------

def header_cells(ws: Any, headers: Iterable[str]) -> list[Any]:
    align = Alignment(wrap_text=True, vertical="center")
    return [styled(ws, h, font=HEADER_FONT, fill=HEADER_FILL, alignment=align) for h in headers]


def finish_table(ws: Any, columns: Sequence[Column], widths: Sequence[float],
                  header_row: int, rows: int) -> None:
    """Frozen header, filter over the whole table, widths, landscape print with repeated header.

    Refuses (``OutputError``) a table Excel could not open: a sheet holds 1,048,576 rows.
    """
    if header_row + rows > EXCEL_MAX_ROWS:
        raise OutputError(f"the {ws.title} sheet would need {header_row + rows:,} rows; Excel "
                          f"holds {EXCEL_MAX_ROWS:,} per sheet")
    last = get_column_letter(len(columns))
    ws.freeze_panes = f"A{header_row + 1}"
    ws.auto_filter.ref = f"A{header_row}:{last}{header_row + max(rows, 1)}"
    for index, (column, width) in enumerate(zip(columns, widths, strict=True), 1):
        ws.column_dimensions[get_column_letter(index)].width = width
        ws.column_dimensions[get_column_letter(index)].hidden = column.hidden
    ws.row_dimensions[header_row].height = 30  # room for a header that wraps
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def write_table(wb: Workbook, title: str, frame: pd.DataFrame, columns: Sequence[Column],
                 note: str = "") -> None:
    """A plain filterable sheet: optional note row, header row, one row per frame row."""
    ws = wb.create_sheet(title)
    header_row = 1
    widths = [c.width or width_of(c.header, frame[c.source]) for c in columns]
    header_row = 2 if note else 1
    finish_table(ws, columns, widths, header_row, len(frame))  # before the first row is out
    if note:
        ws.append([styled(ws, note, font=NOTE_FONT)])
    ws.append(header_cells(ws, (c.header for c in columns)))
    if frame.empty:
        ws.append([styled(ws, "(none)", font=NOTE_FONT)])
        return
    values = [column_values(ws, frame[c.source]) for c in columns]
    for row in zip(*values, strict=True):
        ws.append(row)


