"""The access review's files: one CSV per finding and one workbook with a sheet per finding.

The workbook is styled like the review workbooks (header style, widths, filters, frozen header,
dates as dates, text that never runs) and opens on a Provenance sheet: when it was made, from
what, and for each finding its full title, rows, and the CSV (with its sha256) holding it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from recon.io.workbook_cells import Book, Column, formula_safe, write_table

#: Sheet names for titles longer than Excel's 31 characters.
SHORT_TITLES = {"employee ids on several accounts": "Shared employee ids"}


def sheet_name(title: str, taken: set[str]) -> str:
    """A title as a sheet name: capitalised, at most 31 characters, cut at a word, unique."""
    name = SHORT_TITLES.get(title.lower(), title)
    name = re.sub(r"[\[\]:*?/\\]", " ", name).strip()
    name = name[:1].upper() + name[1:]
    if len(name) > 31:
        name = name[:31].rsplit(" ", 1)[0]
    base, number = name, 2
    while name.lower() in taken:
        name = f"{base[:28]} {number}"
        number += 1
    taken.add(name.lower())
    return name


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Date columns as dates (a finding may carry them as ISO text)."""
    shown = frame.copy()
    for column in shown.columns:
        if "date" in str(column).lower() and not pd.api.types.is_datetime64_any_dtype(
                shown[column]):
            parsed = pd.to_datetime(shown[column], errors="coerce", format="ISO8601")
            if parsed.notna().sum() == shown[column].notna().sum():
                shown[column] = parsed
    return shown


def write_access_review(findings: Mapping[str, pd.DataFrame], folder: str | Path,
                        stem: str = "access_review",
                        provenance: Mapping[str, Any] | None = None) -> list[Path]:
    """One CSV per finding and one workbook with a sheet per finding, for an access review.

    ``provenance`` (e.g. the run's HR file, snapshot and their digests) is listed first on the
    Provenance sheet."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    listing = []
    taken: set[str] = {"provenance"}
    names = {title: sheet_name(title, taken) for title in findings}
    for title, frame in findings.items():
        slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
        csv = out / f"{stem}_{slug}.csv"
        formula_safe(frame).to_csv(csv, index=False, encoding="utf-8-sig")
        written.append(csv)
        listing.append((names[title], title, len(frame), csv.name,
                        hashlib.sha256(csv.read_bytes()).hexdigest()))
    workbook = out / f"{stem}.xlsx"
    book = Book(workbook)
    facts = pd.DataFrame(
        [("Generated at (UTC)", datetime.now(UTC).replace(tzinfo=None, microsecond=0)),
         ("Made by", f"recon {version('recon')}"),
         *((str(k), v) for k, v in (provenance or {}).items())],
        columns=["what", "value"])
    write_table(book, "Provenance", facts.astype({"value": object}), [
        Column("What", "what", 28), Column("Value", "value", 70)],
        "Access review: where these findings come from. Every finding has its sheet and its "
        "CSV file (the full list, formulas made inert).")
    table = pd.DataFrame(listing, columns=["sheet", "finding", "rows", "csv", "sha256"])
    ws = book.wb.get_worksheet_by_name("Provenance")
    start = len(facts) + 4
    book.put(ws, start - 1, 0, "Findings", "section")
    for col, text in enumerate(("Sheet", "Finding", "Rows", "CSV file", "CSV sha256")):
        book.put(ws, start, col, text, "header")
    for offset, row in enumerate(table.itertuples(index=False), start + 1):
        for col, value in enumerate(row):
            book.put(ws, offset, col, value, *(("count",) if col == 2 else ()))
    for col, width in ((2, 12), (3, 44), (4, 66)):
        ws.set_column(col, col, width)
    for title, frame in findings.items():
        shown = _typed(frame)
        columns = [Column(str(c)[:1].upper() + str(c)[1:], str(c),
                          12 if pd.api.types.is_datetime64_any_dtype(shown[c]) else None)
                   for c in shown.columns]
        write_table(book, names[title], shown, columns,
                    f"{title[:1].upper() + title[1:]}: {len(frame):,} rows.", frozen_columns=1)
    book.close()
    written.append(workbook)
    return written
