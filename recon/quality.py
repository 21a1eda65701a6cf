"""Data-quality gate (minimal built-in rules; the Great Expectations suite replaces this)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from recon.config import Config
from recon.errors import PlanError
from recon.mapping import unparseable_dates

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


@dataclass(frozen=True)
class QualityResult:
    invalid: pd.DataFrame
    warnings: pd.DataFrame
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def reasons(self) -> pd.Series:
        return self.invalid["reason"]


def check(frame: pd.DataFrame, config: Config, *, file: str = "") -> QualityResult:
    source = config.source
    failures: list[pd.DataFrame] = []

    def fail(mask: pd.Series, rule: str, column: str, reason: str) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            failures.append(pd.DataFrame(
                {"rule": rule, "column": column, "reason": reason}, index=frame.index[mask]))

    key = frame[source.key]
    fail(key.isna(), "key_not_null", source.key, f"{source.key} is empty")
    fail(key.duplicated(keep=False) & key.notna(), "key_unique", source.key,
         f"{source.key} is shared by several rows")
    if source.status is not None:
        fail(frame[source.status.column].isna(), "status_not_null", source.status.column,
             f"{source.status.column} is empty")
    for column in (source.hire_date, source.termination_date):
        if column:
            fail(unparseable_dates(frame[column], source.date_format), "date_parseable", column,
                 f"{column} is not a date")
    for column in source.email:
        fail(frame[column].notna() & ~frame[column].str.match(EMAIL).fillna(False), "email_syntax",
             column, f"{column} is not an e-mail address")
    invalid = pd.DataFrame(columns=["rule", "column", "reason"], index=pd.Index([], name="hr_row"))
    if failures:
        every = pd.concat(failures)
        invalid = every.groupby(level=0).agg({"rule": "; ".join, "column": "; ".join,
                                             "reason": "; ".join})
        invalid.index.name = "hr_row"
    warnings = pd.DataFrame(columns=["hr_row", "rule", "column", "message"])
    return QualityResult(invalid, warnings, {"file": file, "failed_rows": len(invalid)})


def gate(result: QualityResult, total_rows: int, config: Config) -> None:
    share = len(result.invalid) / total_rows if total_rows else 0.0
    if share > config.quality.max_invalid_share:
        raise PlanError(
            f"{len(result.invalid)} of {total_rows} HR rows ({share:.0%}) fail the quality "
            f"checks, more than the allowed {config.quality.max_invalid_share:.0%}: "
            "refusing to plan from a broken extract")
