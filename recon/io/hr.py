"""Read HR extracts (CSV or XLSX) into a frame of strings.

Everything is read as text first and nothing is coerced silently: dates, numbers and statuses
are interpreted later, where the config says how. The reader finds the header row below report
banners by looking for the configured key column, sniffs the delimiter, and falls back from
UTF-8 to cp1252 with a warning. Every error names the file, and the row and column if known.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.csv as pacsv  # type: ignore[import-untyped, unused-ignore]

from recon.core.config import Source
from recon.errors import InputError

HEADER_SCAN_ROWS = 50
DELIMITERS = ",;\t|"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted XLSX and legacy XLS
ZIP_MAGIC = b"PK\x03\x04"
UTF8_BOM = b"\xef\xbb\xbf"
# Bytes the fast CSV path leaves to the general one: NUL (binary), \x01 (its end-of-file
# marker), and the line breaks that str.splitlines() knows and CSV parsers do not (VT, FF,
# FS, GS, RS as bytes; NEL, LS, PS as UTF-8, each found after a cheap scan for its lead byte).
FAST_BLOCKING_BYTES = (b"\x00", b"\x01", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")
FAST_BLOCKING_CHARS = (
    (b"\xc2", b"\xc2\x85"), (b"\xe2", b"\xe2\x80\xa8"), (b"\xe2", b"\xe2\x80\xa9"))
END_MARK = "\x01recon: end of file\x01"
LINE_BREAK = re.compile(rb"\r\n|\r|\n")
NOT_BLANK = re.compile(rb"\S")
ASCII_NOT_SPACE = re.compile(rb"[^\s\x1c-\x1f\x80-\xff]")  # an ASCII byte str.isspace() refuses


@dataclass(frozen=True)
class HrExtract:
    """An HR file read as text: the frame (index ``hr_row``, 1-based data rows) and provenance."""

    frame: pd.DataFrame
    path: Path
    sha256: str
    header_row: int  # 1-based line (CSV) or sheet row (XLSX) of the header
    encoding: str = "utf-8"
    sheet: str | None = None
    # Cells a workbook stores as numbers, per column (a key among them may have lost its
    # leading zeros; the quality gate warns). CSV cells are all text.
    numbers: Mapping[str, int] = field(default_factory=dict)
    # Which reader read it (for benchmarks and notebooks): every path gives the same frame.
    reader: str = ""


def read_hr(source: Source, base_dir: Path | None = None) -> HrExtract:
    """Read the extract the config's ``source`` names; raise InputError on anything unreadable."""
    path = source.path if base_dir is None or source.path.is_absolute() else base_dir / source.path
    name = str(path)
    try:
        raw = path.read_bytes()
    except IsADirectoryError as error:
        raise InputError("is a folder, not an HR file", file=name) from error
    except OSError as error:
        raise InputError(f"cannot read HR file ({error.strerror})", file=name) from error
    if not NOT_BLANK.search(raw, 3 if raw.startswith(UTF8_BOM) else 0):
        raise InputError("the file is empty", file=name)
    digest = hashlib.sha256(raw).hexdigest()
    if raw.startswith(OLE_MAGIC):
        raise InputError(
            "looks like a password-protected or legacy (.xls) Excel file; "
            "save it as an unprotected .xlsx or .csv", file=name)
    if raw.startswith(ZIP_MAGIC) or path.suffix.lower() in {".xlsx", ".xlsm"}:
        frame, header_row, sheet, numbers, reader = _read_xlsx(raw, name, source)
        return HrExtract(_clean(frame, name), path, digest, header_row, "xlsx", sheet, numbers,
                         reader=reader)
    fast = _read_csv_fast(raw, name, source)
    if fast is not None:
        frame, header_row, encoding = fast
        return HrExtract(frame, path, digest, header_row, encoding, reader="pyarrow CSV")
    text, encoding = _decode(raw, name, source.encoding)
    if codecs.lookup(encoding).name not in {"utf-8", "utf-8-sig"}:
        # Another encoding (cp1252, UTF-16…): Python's codec decodes it, and the fast path
        # reads the same text as UTF-8, as the general path reads the decoded text.
        transcoded = _read_csv_fast(text.encode("utf-8"), name,
                                    source.model_copy(update={"encoding": "utf-8"}))
        if transcoded is not None:
            frame, header_row, _ = transcoded
            return HrExtract(frame, path, digest, header_row, encoding,
                             reader=f"pyarrow CSV ({encoding} → UTF-8)")
    frame, header_row = _read_csv(text, name, source)
    return HrExtract(_clean(frame, name), path, digest, header_row, encoding,
                     reader="csv module (general)")


def _decode(raw: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("is a binary file, not a CSV or XLSX extract", file=name)
    if not encoding and raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"  # Excel's "Unicode text" export
    candidates = [encoding] if encoding else ["utf-8-sig", "cp1252", "latin-1"]
    for candidate in candidates:
        try:
            text = raw.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
        if not encoding and candidate != "utf-8-sig":
            line = _first_bad_utf8_line(raw)
            if _has_utf8_text(raw):
                # Some lines are UTF-8 and others not: reading it all as cp1252 would silently
                # garble the UTF-8 names (and plan updates that rename people).
                raise InputError(f"mixed encodings: line {line} is not UTF-8 but other lines "
                                 "are; save the whole file as UTF-8", file=name)
            message = f"{name}: not valid UTF-8 (first at line {line}); read as {candidate}"
            warnings.warn(message, stacklevel=3)  # once: the CLI prints it as "warning: …"
        return text, candidate
    raise InputError(f"cannot decode as {encoding}", file=name)


def _has_utf8_text(raw: bytes) -> bool:
    """True when some line holds non-ASCII text that is valid UTF-8."""
    for line in raw.split(b"\n"):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        return True
    return False


def _first_bad_utf8_line(raw: bytes) -> int:
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return 0


def _sniff_delimiter(lines: list[str], source: Source) -> str:
    if source.delimiter:
        return source.delimiter
    key_lines = [line for line in lines if source.key in line] or lines
    sample = "\n".join(key_lines[:5])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _find_header(rows: list[list[str]], key: str) -> int | None:
    """Index of the first row holding the key column's name (report banners sit above it)."""
    wanted = key.strip().casefold()
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if any(cell.strip().lstrip("\ufeff").casefold() == wanted for cell in row):
            return index
    return None


def _check_header(header: list[str], name: str, key: str, row: int) -> list[str]:
    columns = [cell.strip().lstrip("\ufeff") for cell in header]
    duplicated = [c for c, n in Counter(c for c in columns if c).items() if n > 1]
    if duplicated:
        raise InputError("duplicated column name in the header", file=name, row=row,
                         column=duplicated[0])
    for position, column in enumerate(columns, start=1):
        if not column:
            columns[position - 1] = f"(column {position})"
    if key not in columns:
        near = next((c for c in columns if c.casefold() == key.strip().casefold()), None)
        hint = (f" (it has {near!r}: source.key names the column exactly, case included)"
                if near else "")
        raise InputError(f"key column not found in the header{hint}", file=name, row=row,
                         column=key)
    return columns


def _check_quotes(body: str, delimiter: str, name: str, header_line: int) -> None:
    """Refuse a quote that opens and never closes: the rest of the file would be one cell.

    An even number of quote characters cannot leave a quote open, so the strict re-parse that
    finds the row only runs when the count is odd.
    """
    if body.count('"') % 2 == 0:
        return
    reader = csv.reader(io.StringIO(body), delimiter=delimiter, strict=True)
    records, started = 0, 0
    try:
        for _ in reader:
            records, started = records + 1, reader.line_num
    except csv.Error as error:
        raise InputError(
            f"a quote opens on line {header_line + started + 1} and is never closed "
            f"({_first_line(error)})", file=name, row=records + 1) from error


def _read_csv(text: str, name: str, source: Source) -> tuple[pd.DataFrame, int]:
    # The csv module's default cell limit (128 KiB) would turn one huge cell into a misleading
    # parse error; the quality gate reports oversized values per row instead.
    csv.field_size_limit(max(csv.field_size_limit(), 256 * 1024 * 1024))
    head = text.splitlines()[:HEADER_SCAN_ROWS]
    delimiter = _sniff_delimiter(head, source)
    try:
        head_rows = list(csv.reader(head, delimiter=delimiter))
    except csv.Error as error:
        raise InputError(f"cannot parse the header: {error}", file=name) from error
    header_index = _find_header(head_rows, source.key)
    if header_index is None:
        other = _sniff_other_delimiter(head, source.key, delimiter)
        hint = f" (the file seems to use {other!r} as delimiter)" if other else ""
        raise InputError(
            f"key column not found in the first {HEADER_SCAN_ROWS} rows{hint}",
            file=name, column=source.key)
    header_line = header_index + 1
    columns = _check_header(head_rows[header_index], name, source.key, header_line)
    body = "\n".join(text.splitlines()[header_index + 1:])
    _check_quotes(body, delimiter, name, header_line)
    if not body.strip():
        raise InputError("the file has a header but no data rows", file=name, row=header_line)
    regular = _read_regular(body, delimiter, len(columns))
    if regular is not None:
        regular.columns = pd.Index(columns)
        return regular, header_line
    try:
        frame = pd.read_csv(
            io.StringIO(body), sep=delimiter, header=None, dtype=str, keep_default_na=False,
            na_filter=False, engine="python", skip_blank_lines=True,
            on_bad_lines=_bad_line(name, len(columns), header_line),
        )
    except InputError as error:
        if error.row is None:  # pandas does not tell the handler which row it is on
            raise InputError(str(error).removeprefix(f"{name}: "), file=name,
                             row=_first_long_record(body, delimiter, len(columns))) from error
        raise
    except (csv.Error, pd.errors.ParserError) as error:
        row = _error_row(str(error))
        raise InputError(f"cannot parse: {_first_line(error)}", file=name,
                         row=row) from error
    if frame.shape[1] > len(columns):
        extra = frame.iloc[:, len(columns):].fillna("").apply(lambda c: c.str.strip() != "")
        rows = extra.any(axis=1)
        if rows.any():
            number = int(rows.to_numpy().argmax()) + 1
            raise InputError(
                f"a data row has more fields than the header's {len(columns)} "
                "(an unquoted delimiter or a broken quote?)", file=name, row=number)
        frame = frame.iloc[:, : len(columns)]
    for position in range(frame.shape[1], len(columns)):
        frame[position] = ""
    frame.columns = pd.Index(columns)
    return frame, header_line


def _read_csv_fast(raw: bytes, name: str,
                   source: Source) -> tuple[pd.DataFrame, int, str] | None:
    """The cleaned frame of a plain UTF-8 CSV read by pyarrow (multi-threaded), or None.

    It gives the frame that ``_clean(_read_csv(...))`` gives, without decoding the whole file
    into Python text or making a Python object per cell. Whatever it is not sure about (other
    encodings, odd line breaks, an odd number of quotes, rows whose width is not the header's,
    invalid UTF-8, any header problem) returns None, and the general path reads the file and
    words the error or warning exactly as before.
    """
    encoding = _fast_encoding(source.encoding)
    if encoding is None or raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    if any(byte in raw for byte in FAST_BLOCKING_BYTES) or any(
            lead in raw and char in raw for lead, char in FAST_BLOCKING_CHARS):
        return None
    lines = _head_lines(raw, encoding)
    if lines is None:
        return None
    head = lines[:HEADER_SCAN_ROWS]
    delimiter = source.delimiter or ""
    if delimiter and delimiter not in DELIMITERS:
        return None
    csv.field_size_limit(max(csv.field_size_limit(), 256 * 1024 * 1024))
    try:
        delimiter = _sniff_delimiter(head, source)
        head_rows = list(csv.reader(head, delimiter=delimiter))
        header_index = _find_header(head_rows, source.key)
        if header_index is None:
            return None
        columns = _check_header(head_rows[header_index], name, source.key, header_index + 1)
    except (csv.Error, InputError, TypeError):
        return None
    width = len(columns)
    offset = _line_end(raw, header_index)
    if delimiter not in DELIMITERS or width < 2 or offset is None:
        return None
    quotes = raw.count(b'"', offset)
    if quotes % 2 or raw.startswith(UTF8_BOM, offset) or _blank_body(raw, offset):
        return None
    # A quote left open at the end of the file would swallow the marker row: then the last
    # row is not the marker and the general path reports the quote.
    names = [str(position) for position in range(width)]
    data = b"".join((memoryview(raw)[offset:],
                     f"\n{END_MARK}{delimiter * (width - 1)}\n".encode()))
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=quotes > 0),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()),
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    del data
    rows = table.num_rows - 1
    end = table.slice(rows).to_pylist()
    if rows < 1 or end != [{names[0]: END_MARK, **{n: "" for n in names[1:]}}]:
        return None
    table = table.slice(0, rows).combine_chunks()
    carriage_returns = quotes > 0 and b"\r" in raw
    frame = pd.DataFrame(
        {column: pd.arrays.ArrowStringArray(_clean_cells(table.column(position),
                                                         carriage_returns))
         for position, column in enumerate(columns)},
        index=pd.RangeIndex(1, rows + 1, name="hr_row"))
    return frame, header_index + 1, encoding


def _fast_encoding(configured: str | None) -> str | None:
    """The codec the fast path decodes the head with (as ``_decode`` would), or None."""
    if not configured:
        return "utf-8-sig"
    try:
        codec = codecs.lookup(configured).name
    except LookupError:
        return None
    return configured if codec in {"utf-8", "utf-8-sig"} else None


def _head_lines(raw: bytes, encoding: str) -> list[str] | None:
    """``raw.decode(encoding).splitlines()`` for at least the first HEADER_SCAN_ROWS lines.

    Decodes a growing prefix cut after a newline, so that its lines are whole; None when the
    prefix is not valid in the encoding (the general path words that).
    """
    limit = 1 << 16
    while True:
        end = len(raw) if limit >= len(raw) else raw.rfind(b"\n", 0, limit) + 1
        if end > 0:
            try:
                lines = raw[:end].decode(encoding).splitlines()
            except UnicodeDecodeError:
                return None
            if end == len(raw) or len(lines) > HEADER_SCAN_ROWS:
                return lines
        limit *= 4


def _line_end(raw: bytes, index: int) -> int | None:
    """Byte offset just past line ``index`` (0-based, as str.splitlines() counts), or None."""
    for number, found in enumerate(LINE_BREAK.finditer(raw)):
        if number == index:
            return found.end()
    return None


def _blank_body(raw: bytes, offset: int) -> bool:
    """True when the text after the header is only whitespace, as str.strip() sees it."""
    if ASCII_NOT_SPACE.search(raw, offset):
        return False
    try:
        return not raw[offset:].decode("utf-8").strip()
    except UnicodeDecodeError:
        return True  # not the fast path's to word


def _clean_cells(column: pa.ChunkedArray, carriage_returns: bool) -> pa.ChunkedArray:
    """What ``_read_csv`` and ``_clean`` make of one column's cells, in pyarrow.

    The general path reads the body re-joined from str.splitlines(), so a quoted cell's line
    breaks are all "\n"; then every cell is stripped and an empty one becomes missing.
    """
    if carriage_returns and _may_hold(column, ord("\r")):
        column = pc.replace_substring(pc.replace_substring(column, "\r\n", "\n"), "\r", "\n")
    column = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.large_string()), column)


def _may_hold(column: pa.ChunkedArray, byte: int) -> bool:
    """False when no cell of a string column holds the (ASCII) byte; scans the data buffers."""
    return any(
        bool((np.frombuffer(chunk.buffers()[2], dtype=np.uint8) == byte).any())
        for chunk in column.chunks if chunk.buffers()[2] is not None)


def _read_regular(body: str, delimiter: str, width: int) -> pd.DataFrame | None:
    """The body through pandas' C parser when every row fits the header, else None.

    The C parser is ~5× faster than the python one but cannot say which row is wrong;
    anything irregular (too many fields, a parse error) goes to the python engine, which
    reads it the same way and names the row.
    """
    try:
        frame = pd.read_csv(
            io.StringIO(body), sep=delimiter, header=None, dtype=str, keep_default_na=False,
            na_filter=False, engine="c", skip_blank_lines=True,
        )
    except (pd.errors.ParserError, csv.Error, ValueError):
        return None
    return frame if frame.shape[1] == width else None


def _first_long_record(body: str, delimiter: str, width: int) -> int | None:
    """The 1-based data row with more non-empty fields than the header (for the error)."""
    records = csv.reader(io.StringIO(body), delimiter=delimiter)
    for number, fields in enumerate((f for f in records if any(c.strip() for c in f)), start=1):
        if len(fields) > width and any(cell.strip() for cell in fields[width:]):
            return number
    return None


def _bad_line(name: str, width: int, header_line: int):  # type: ignore[no-untyped-def]
    def handler(fields: list[str]) -> list[str] | None:
        if len(fields) > width and not any(f.strip() for f in fields[width:]):
            return fields[:width]  # trailing delimiters are harmless
        raise InputError(
            f"a data row has {len(fields)} fields but the header has {width} "
            "(an unquoted delimiter or a broken quote?)", file=name)
    return handler


def _sniff_other_delimiter(lines: list[str], key: str, used: str) -> str | None:
    for delimiter in DELIMITERS:
        if delimiter == used:
            continue
        for row in csv.reader(lines, delimiter=delimiter):
            if any(cell.strip() == key for cell in row):
                return delimiter
    return None


def _error_row(message: str) -> int | None:
    for token in message.replace(",", " ").split():
        if token.isdigit():
            return int(token)
    return None


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _blank(column: pd.Series) -> np.ndarray:
    """Which cells hold nothing but white space (as ``str.strip()`` sees it)."""
    stripped = column.str.strip()
    return np.asarray((stripped == "").to_numpy(dtype=bool, na_value=True), dtype=bool)


def _excel_text(value: object) -> str:
    """A cell value as text: dates as ISO, whole floats without '.0', None as empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _read_xlsx(raw: bytes, name: str, source: Source
               ) -> tuple[pd.DataFrame, int, str, dict[str, int], str]:
    """(frame, header row, sheet, numeric cells per column, reader) of a workbook.

    fastexcel (calamine straight to Arrow) reads the sheet column-wise; a sheet it cannot vouch
    for goes to python-calamine, cell by cell; openpyxl, the general reader, takes any workbook
    calamine refuses and gives every error its wording. The cell readers hand their cells to
    ``_sheet_frame``; every path gives the same frame."""
    arrow = _arrow_sheets(raw, name, source)
    if arrow is not None:
        names, frame_of = arrow
        try:
            return (*_first_sheet_frame(names, frame_of, name, source), "fastexcel (Arrow)")
        except _HandedOver:
            pass
    fast = _calamine_sheets(raw, source)
    if fast is not None:
        names, cells_of = fast
        try:
            return (*_first_sheet_frame(
                names, lambda sheet: _sheet_frame(cells_of(sheet), name, source), name, source),
                "calamine")
        except _HandedOver:
            pass
    import zipfile

    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise InputError(f"not a readable .xlsx workbook ({_first_line(error)})",
                         file=name) from error
    try:
        return (*_first_sheet_frame(
            list(workbook.sheetnames),
            lambda sheet: _sheet_frame(workbook[sheet].iter_rows(values_only=True), name, source),
            name, source), "openpyxl (general)")
    finally:
        workbook.close()


class _HandedOver(Exception):
    """A fast reader cannot vouch for a sheet: the next one takes the workbook (fastexcel hands
    it to python-calamine, python-calamine to openpyxl)."""


def _calamine_sheets(raw: bytes, source: Source
                     ) -> tuple[list[str], Callable[[str], Iterable[Any]]] | None:
    """The sheet names and a reader of a sheet's cells through calamine; None when calamine
    cannot open the workbook (openpyxl then reads it, or says why it cannot)."""
    try:
        from python_calamine import CalamineWorkbook

        workbook = CalamineWorkbook.from_filelike(io.BytesIO(raw))
        names = list(workbook.sheet_names)
    except Exception:  # any refusal hands the workbook to openpyxl
        return None

    def cells_of(sheet: str) -> Iterable[Any]:
        """The sheet's rows from A1, converted as they are taken (``to_python`` would copy the
        whole sheet to pad it to A1, then hold every cell as a Python object at once)."""
        try:
            found = workbook.get_sheet_by_name(sheet)
            start = found.start
            rows = found.iter_rows() if start is not None else iter(())
        except Exception as error:
            raise _HandedOver from error
        if start is not None and start[1]:  # the used range starts right of column A
            return ([""] * start[1] + row for row in rows)
        return rows

    return names, cells_of


_SheetFrame = tuple[pd.DataFrame, int, dict[str, int]]


def _arrow_sheets(raw: bytes, name: str, source: Source
                  ) -> tuple[list[str], Callable[[str], _SheetFrame | None]] | None:
    """The sheet names and a reader of a sheet through fastexcel, column-wise in Arrow; None
    when fastexcel cannot open the workbook (python-calamine, then openpyxl, take it)."""
    try:
        import fastexcel

        names = list(fastexcel.read_excel(raw).sheet_names)
    except Exception:  # any refusal hands the workbook to the cell readers
        return None
    return names, lambda sheet: _arrow_sheet_frame(*_arrow_columns(raw, sheet), name, source)


#: A cell fastexcel spells as a date and time (``%Y-%m-%d %H:%M:%S``), as its text load gives a
#: workbook's date cells.
_DATETIME_TEXT = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$"


def _arrow_columns(raw: bytes, sheet: str) -> tuple[list[Any], list[Any]]:
    """A sheet's columns from A1, as text the way ``_excel_text`` spells each cell, and a mask
    per column of the cells stored as numbers. Raises ``_HandedOver`` for a sheet whose
    text this cannot vouch for (the cell readers take it).

    fastexcel gives one type per column per load, so the sheet is loaded twice, side by side
    (calamine parses without the GIL): once as text, once as booleans, where a value marks a
    number or a boolean cell. A date cell is null there and spelled ``2026-01-05 00:00:00`` in
    the text load; a text cell spelled exactly so reads as that date would (the one way this
    path differs from the cell readers; the mapping reads either as the same date). Columns
    holding numbers are loaded a third time, as doubles: fastexcel's text rounds them."""
    from concurrent.futures import ThreadPoolExecutor

    import fastexcel

    def text_load() -> Any:
        return fastexcel.read_excel(raw).load_sheet(
            sheet, header_row=None, skip_rows=0, dtypes="string", eager=True)

    try:
        with ThreadPoolExecutor(1) as pool:
            text_future = pool.submit(text_load)
            # Not eager: the sheet object says where the used range starts (column offset).
            loaded = fastexcel.read_excel(raw).load_sheet(
                sheet, header_row=None, skip_rows=0, dtypes="boolean")
            typed_batch = loaded.to_arrow()
            offset = loaded.selected_columns[0].absolute_index if loaded.selected_columns else 0
            del loaded  # calamine's cells, held until the sheet object goes
            text_batch = text_future.result()
    except Exception as error:
        raise _HandedOver from error
    if (text_batch.num_rows, text_batch.num_columns) != (typed_batch.num_rows,
                                                           typed_batch.num_columns):
        raise _HandedOver
    columns = range(text_batch.num_columns)
    valued: list[Any] = [None] * len(columns)  # per column: its number and boolean cells
    booleans: list[Any] = [None] * len(columns)
    none = pa.array(np.zeros(text_batch.num_rows, dtype=bool))
    masks = [none] * len(columns)
    for position in columns:
        marked = pc.is_valid(typed_batch.column(position))
        if pc.any(marked).as_py():
            text = text_batch.column(position)
            valued[position] = marked
            booleans[position] = pc.fill_null(pc.and_(marked, pc.or_(
                pc.equal(text, "true"), pc.equal(text, "false"))), False)
            masks[position] = pc.and_not(marked, booleans[position])
    counted = [position for position in columns if pc.any(masks[position]).as_py()]
    values: dict[int, Any] = {}
    if counted:
        # fastexcel's text of a number is rounded (123.0000000001 reads "123"): the columns
        # holding numbers are loaded a third time, as doubles, and spelled here.
        try:
            doubles = fastexcel.read_excel(raw).load_sheet(
                sheet, header_row=None, skip_rows=0, dtypes="float", use_columns=counted,
                eager=True)
        except Exception as error:
            raise _HandedOver from error
        values = dict(zip(counted, doubles.columns, strict=True))
    empty = pa.nulls(text_batch.num_rows, pa.large_string())
    texts: list[Any] = [empty] * offset
    for position in columns:
        texts.append(_spelled(text_batch.column(position), valued[position],
                              booleans[position], masks[position], values.get(position)))
    return texts, [none] * offset + masks


def _spelled(text: Any, valued: Any, booleans: Any, numbers: Any, doubles: Any) -> Any:
    """One column of the text load as ``_excel_text`` spells each cell: ``valued`` marks the
    number and boolean cells (None: there are none), ``booleans`` and ``numbers`` which is
    which, ``doubles`` holds the numbers' values (None: no number cells)."""
    text = pc.cast(text, pa.large_string())
    if doubles is not None:
        found = pc.filter(doubles, numbers).to_numpy(zero_copy_only=False)
        whole = (found == np.floor(found)) & (np.abs(found) < 2.0**63)
        spelled = np.empty(len(found), dtype=object)
        spelled[whole] = found[whole].astype(np.int64).astype(str)
        # A fraction: Python spells it (repr), once per distinct value (an FTE column holds few).
        distinct, where = np.unique(found[~whole], return_inverse=True)
        spelled[~whole] = np.array([_excel_text(float(v)) for v in distinct],
                                   dtype=object)[where]
        text = pc.replace_with_mask(text, numbers, pa.array(spelled, pa.large_string()))
    if booleans is not None and pc.any(booleans).as_py():
        text = pc.if_else(booleans, pc.if_else(pc.equal(text, "true"), "True", "False"), text)
    dated = pc.match_substring_regex(text, _DATETIME_TEXT)
    if valued is not None:
        dated = pc.and_not(dated, valued)
    dated = pc.fill_null(dated, False)
    if pc.any(dated).as_py():
        spelled = pc.filter(text, dated)
        # A fraction of a second, or a time of day alone or a duration (calamine's 1899-12-31
        # and January 1900): Python spells those its own way.
        if pc.any(pc.greater(pc.utf8_length(spelled), 19)).as_py() or \
                pc.any(pc.less(spelled, "1900-02-01")).as_py():
            raise _HandedOver
        midnight = pc.ends_with(text, " 00:00:00")
        text = pc.if_else(dated, pc.if_else(midnight, pc.utf8_slice_codeunits(text, 0, 10),
                                            pc.replace_substring(text, " ", "T",
                                                                 max_replacements=1)), text)
    return text


def _arrow_sheet_frame(texts: list[Any], masks: list[Any], name: str,
                       source: Source) -> _SheetFrame | None:
    """``_sheet_frame`` for a sheet read column-wise (``_arrow_columns``)."""
    if not texts:
        return None
    head = [["" if value is None else value for value in row] for row in zip(
        *(text.slice(0, HEADER_SCAN_ROWS).to_pylist() for text in texts), strict=True)]
    header_index = _find_header(head, source.key)
    if header_index is None:
        return None
    columns = _check_header(head[header_index], name, source.key, header_index + 1)
    below = header_index + 1
    numbers = {column: count for column, mask in zip(columns, masks, strict=True)
               if (count := pc.sum(mask.slice(below)).as_py() or 0)}
    return _columns_frame(columns, [text.slice(below) for text in texts], head[header_index],
                          header_index, numbers, name)


def _first_sheet_frame(names: list[str], frame_of: Callable[[str], _SheetFrame | None],
                       name: str, source: Source
                       ) -> tuple[pd.DataFrame, int, str, dict[str, int]]:
    if source.sheet is not None:
        if source.sheet not in names:
            raise InputError(f"no sheet named {source.sheet!r} (sheets: {', '.join(names)})",
                             file=name)
        names = [source.sheet]
    for sheet_name in names:
        found = frame_of(sheet_name)
        if found is not None:
            frame, header_row, numbers = found
            return frame, header_row, sheet_name, numbers
    raise InputError(
        f"no sheet has a header row with the key column in its first {HEADER_SCAN_ROWS} rows",
        file=name, column=source.key)


#: Rows turned into columns at a time: a million-row sheet is never 16 million Python objects
#: at once.
SHEET_CHUNK_ROWS = 65_536


def _sheet_frame(cells: Iterable[Any], name: str, source: Source) -> _SheetFrame | None:
    """A sheet's cells (rows of Python values) as the text frame, column by column: a column of
    text is taken as it is, and only cells of other types are turned into text one by one.
    None when no row in the first ``HEADER_SCAN_ROWS`` holds the key column."""
    rows = iter(cells)
    first = list(islice(rows, HEADER_SCAN_ROWS))
    head = [[_excel_text(v) for v in row] for row in first]
    header_index = _find_header(head, source.key)
    if header_index is None:
        return None
    columns = _check_header(head[header_index], name, source.key, header_index + 1)
    parts: list[list[Any]] = [[] for _ in columns]
    numbers: Counter[str] = Counter()
    body = chain(first[header_index + 1:], rows)
    while chunk := list(islice(body, SHEET_CHUNK_ROWS)):
        for position, values in enumerate(_sheet_columns(chunk, len(columns))):
            text, count = _column_text(values)
            parts[position].append(text)
            if count:
                numbers[columns[position]] += count
        del chunk
    texts = [pa.chunked_array(part, type=pa.large_string()).combine_chunks() for part in parts]
    return _columns_frame(columns, texts, head[header_index], header_index, dict(numbers), name)


def _columns_frame(columns: list[str], texts: list[Any], header: list[str], header_index: int,
                   numbers: dict[str, int], name: str) -> _SheetFrame:
    """The text frame of a sheet's columns below the header (Arrow text, None or blank where a
    cell is empty), blank rows and empty columns past the last named one dropped."""
    data = {column: pd.array(text, dtype=pd.ArrowDtype(pa.large_string())).astype("string")
            for column, text in zip(columns, texts, strict=True)}
    frame = pd.DataFrame(data, columns=columns)
    if len(frame):
        # A blank row is blank in every column: only rows whose first column is blank are
        # looked at further.
        blank = _blank(frame[columns[0]])
        for column in columns[1:]:
            at = np.flatnonzero(blank)
            if not len(at):
                break
            blank[at] = _blank(frame[column].iloc[at])
        frame = frame[~blank].reset_index(drop=True)
    # Columns past the last named one that hold nothing: a styled but empty column, which one
    # reader sees (the sheet's stated dimension) and the other does not (its cells).
    while len(columns) > 1 and not header[len(columns) - 1].strip() and \
            (frame[columns[-1]].fillna("").str.strip() == "").all():
        frame = frame.drop(columns=columns[-1])
        columns = columns[:-1]
    if frame.empty:
        raise InputError("the sheet has a header but no data rows", file=name,
                         row=header_index + 1)
    return frame, header_index + 1, numbers


def _column_text(values: Any) -> tuple[Any, int]:
    """A column's cells as Arrow text, and how many of them are numbers."""
    try:
        # A column of text (and empty cells) goes to Arrow in one call, checked there.
        return pa.array(values, type=pa.large_string()), 0
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    count = sum(map(_is_number, values)) if set(map(type, values)) & {int, float} else 0
    # Dates (a workbook's date cells) are the common other type: spelled out here.
    return pa.array([v if type(v) is str else v.isoformat() if type(v) is date
                     else _excel_text(v) for v in values], type=pa.large_string()), count


def _sheet_columns(rows: list[Any], width: int) -> list[Any]:
    """The cells of the rows below the header, column by column, cut or padded to ``width``.

    Rows of one length (calamine and openpyxl give a sheet's rows so) become one object array
    and are cut column-wise; transposing 16 million cells as tuples takes eight times longer."""
    if not rows:
        return [np.empty(0, dtype=object) for _ in range(width)]
    if len({len(row) for row in rows}) == 1:
        block = np.empty((len(rows), len(rows[0])), dtype=object)
        block[:] = rows
        if block.shape[1] < width:
            block = np.hstack([block, np.full((len(rows), width - block.shape[1]), None,
                                              dtype=object)])
        return [block[:, position] for position in range(width)]
    padded = [tuple(row[:width]) + (None,) * (width - len(row)) for row in rows]
    return [np.array(column, dtype=object) for column in zip(*padded, strict=True)]


def _clean(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Strip every cell, make empty cells missing, number the data rows from 1."""
    frame = frame.astype("string")
    frame = frame.apply(lambda column: column.str.strip())
    frame = frame.mask(frame == "")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="hr_row")
    if frame.empty:
        raise InputError("the file has no data rows", file=name)
    return frame
