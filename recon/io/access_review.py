"""The access review's files: one CSV per finding and one workbook with a sheet per finding."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from recon.io.workbook_cells import formula_safe


def write_access_review(findings: Mapping[str, pd.DataFrame], folder: str | Path,
                        stem: str = "access_review") -> list[Path]:
    """One CSV per finding and one workbook with a sheet per finding, for an access review."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    workbook = out / f"{stem}.xlsx"
    with pd.ExcelWriter(workbook, engine="openpyxl") as excel:
        for title, frame in findings.items():
            safe = formula_safe(frame)
            slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
            csv = out / f"{stem}_{slug}.csv"
            safe.to_csv(csv, index=False, encoding="utf-8-sig")
            written.append(csv)
            safe.to_excel(excel, sheet_name=title[:31], index=False)
    written.append(workbook)
    return written

