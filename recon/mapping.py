"""HR frame → desired identities: evaluate the mapping expressions, status, dates and scope.

All of it is whole-column work: one expression evaluation per configured attribute, one date
parse per date column. The result is the desired frame of docs/architecture.md.
"""

from __future__ import annotations

from datetime import date, datetime, time

import numpy as np
import pandas as pd

from recon.config import Config
from recon.expressions import EvalContext, evaluate, evaluate_predicate
from recon.normalize import is_in

EXCEL_EPOCH = pd.Timestamp("1899-12-30")
ISO_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y%m%d")


def parse_dates(values: pd.Series, date_format: str | None = None) -> pd.Series:
    """Dates from text: the configured format, then ISO, then Excel serial day numbers.

    Returns datetime64 values; NaT for missing cells and for text that is no date at all
    (the quality gate reports those, see ``unparseable_dates``).
    """
    text = values.astype("string").str.strip()
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    formats = ([date_format] if date_format else []) + list(ISO_FORMATS)
    pending = text.notna()
    for fmt in formats:
        if not pending.any():
            break
        parsed = pd.to_datetime(text.where(pending), format=fmt, errors="coerce")
        hit = parsed.notna() & pending
        result = result.mask(hit, parsed)
        pending &= ~hit
    if pending.any():
        # Excel stores dates as days since 1899-12-30; accept plausible serials only.
        serial = pd.to_numeric(text.where(pending), errors="coerce")
        plausible = serial.between(1, 80_000) & pending
        days = pd.to_timedelta(serial.where(plausible), unit="D")
        result = result.mask(plausible, EXCEL_EPOCH + days)
    return result


def unparseable_dates(values: pd.Series, date_format: str | None = None) -> pd.Series:
    """True where a cell holds text that is not a date in any accepted form."""
    return values.notna() & parse_dates(values, date_format).isna()


def as_of_timestamp(as_of: date) -> pd.Timestamp:
    return pd.Timestamp(datetime.combine(as_of, time()))


def worker_active(frame: pd.DataFrame, config: Config, as_of: date) -> pd.Series:
    """Active when the status maps to active and no termination date lies before as-of."""
    source = config.source
    active = pd.Series(True, index=frame.index)
    if source.status is not None:
        status = frame[source.status.column].astype("string").str.strip().str.casefold()
        wanted = [value.strip().casefold() for value in source.status.active]
        active &= pd.Series(is_in(status, wanted), index=frame.index)
    if source.termination_date:
        terminated = parse_dates(frame[source.termination_date], source.date_format)
        active &= ~(terminated < as_of_timestamp(as_of)).fillna(False).astype(bool)
    return active


def desired_frame(frame: pd.DataFrame, config: Config, as_of: date,
                  context: EvalContext | None = None) -> pd.DataFrame:
    """One row per HR row (same index) with the columns of docs/architecture.md."""
    source = config.source
    context = context or EvalContext(now=datetime.combine(as_of, time()))
    desired = pd.DataFrame(index=frame.index)
    desired["hr_key"] = frame[source.key].astype("string")
    desired["worker_active"] = worker_active(frame, config, as_of)
    desired["worker_status"] = (
        frame[source.status.column].astype("string") if source.status is not None
        else pd.Series(pd.NA, index=frame.index, dtype="string"))
    desired["hire_date"] = (
        parse_dates(frame[source.hire_date], source.date_format)
        if source.hire_date else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    )
    desired["termination_date"] = (
        parse_dates(frame[source.termination_date], source.date_format)
        if source.termination_date
        else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    )
    desired["in_scope"] = (
        evaluate_predicate(source.scope, frame, context) if source.scope
        else pd.Series(True, index=frame.index)
    )
    for path, expression in config.expression_attributes().items():
        desired[path] = evaluate(expression, frame, context).astype("string")
    for path, expression in config.reference_attributes().items():
        desired[path] = evaluate(expression, frame, context).astype("string")
    for number, rule in enumerate(config.match):
        desired[f"match_{number}"] = evaluate(rule.source, frame, context).astype("string")
    return desired


def future_hires(desired: pd.DataFrame, as_of: date, prehire_days: int) -> pd.Series:
    horizon = as_of_timestamp(as_of) + pd.Timedelta(days=prehire_days)
    result = desired["hire_date"] > horizon
    return pd.Series(np.asarray(result.fillna(False), dtype=bool), index=desired.index)
