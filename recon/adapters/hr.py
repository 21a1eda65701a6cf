"""Read HR extracts (CSV or XLSX) into a frame of strings.

Everything is read as text first and nothing is coerced silently: dates, numbers and statuses
are interpreted later, where the config says how. The reader finds the header row below report
banners by looking for the configured key column, sniffs the delimiter, and falls back from
UTF-8 to cp1252 with a warning. Every error names the file, and the row and column if known.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from recon.config import Source
from recon.errors import InputError

log = logging.getLogger(__name__)

HEADER_SCAN_ROWS = 50
DELIMITERS = ",;\t|"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted XLSX and legacy XLS
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class HrExtract:
    """An HR file read as text: the frame (index ``hr_row``, 1-based data rows) and provenance."""

    frame: pd.DataFrame
    path: Path
    sha256: str
    header_row: int  # 1-based line (CSV) or sheet row (XLSX) of the header
    encoding: str = "utf-8"
    sheet: str | None = None


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
    if not raw.removeprefix(b"\xef\xbb\xbf").strip():
        raise InputError("the file is empty", file=name)
    digest = hashlib.sha256(raw).hexdigest()
    if raw.startswith(OLE_MAGIC):
        raise InputError(
            "looks like a password-protected or legacy (.xls) Excel file; "
            "save it as an unprotected .xlsx or .csv", file=name)
    if raw.startswith(ZIP_MAGIC) or path.suffix.lower() in {".xlsx", ".xlsm"}:
        frame, header_row, sheet = _read_xlsx(raw, name, source)
        return HrExtract(_clean(frame, name), path, digest, header_row, "xlsx", sheet)
    text, encoding = _decode(raw, name, source.encoding)
    frame, header_row = _read_csv(text, name, source)
    return HrExtract(_clean(frame, name), path, digest, header_row, encoding)


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
            warnings.warn(message, stacklevel=3)
            log.warning(message)
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
        raise InputError("key column not found in the header", file=name, row=row, column=key)
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


def _read_xlsx(raw: bytes, name: str, source: Source) -> tuple[pd.DataFrame, int, str]:
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
        if source.sheet is not None:
            if source.sheet not in workbook.sheetnames:
                raise InputError(
                    f"no sheet named {source.sheet!r} (sheets: {', '.join(workbook.sheetnames)})",
                    file=name)
            candidates = [source.sheet]
        else:
            candidates = list(workbook.sheetnames)
        for sheet_name in candidates:
            sheet = workbook[sheet_name]
            rows = [[_excel_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            header_index = _find_header(rows, source.key)
            if header_index is None:
                continue
            columns = _check_header(rows[header_index], name, source.key, header_index + 1)
            data = [row[: len(columns)] + [""] * (len(columns) - len(row))
                    for row in rows[header_index + 1:]]
            data = [row for row in data if any(cell.strip() for cell in row)]
            if not data:
                raise InputError("the sheet has a header but no data rows", file=name,
                                 row=header_index + 1)
            return pd.DataFrame(data, columns=columns, dtype=str), header_index + 1, sheet_name
    finally:
        workbook.close()
    raise InputError(
        f"no sheet has a header row with the key column in its first {HEADER_SCAN_ROWS} rows",
        file=name, column=source.key)


def _clean(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Strip every cell, make empty cells missing, number the data rows from 1."""
    frame = frame.astype("string")
    frame = frame.apply(lambda column: column.str.strip())
    frame = frame.mask(frame == "")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="hr_row")
    if frame.empty:
        raise InputError("the file has no data rows", file=name)
    return frame
