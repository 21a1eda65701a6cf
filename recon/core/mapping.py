"""HR frame → desired identities: evaluate the mapping expressions, status, dates and scope.

All of it is whole-column work: one expression evaluation per configured attribute, one date
parse per date column. The result is the desired frame of docs/architecture.md.
"""

from __future__ import annotations

from datetime import date, datetime, time

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.arrow import is_in
from recon.core.config import Config
from recon.core.expressions import EvalContext, evaluate, evaluate_predicate

EXCEL_EPOCH = pd.Timestamp("1899-12-30")
ISO_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y%m%d")


def parse_dates(values: pd.Series, date_format: str | None = None) -> pd.Series:
    """Dates from text: the configured format, then ISO, then Excel serial day numbers.

    Returns datetime64 values; NaT for missing cells and for text that is no date at all
    (the quality gate reports those).
    """
    text = values.astype("string").str.strip()
    formats = ([date_format] if date_format else []) + list(ISO_FORMATS)
    result = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    pending = text.notna().to_numpy(dtype=bool, copy=True)
    for fmt in _fixed_width_lead(formats):
        if not pending.any():
            break
        fixed = _parse_fixed_width(text, fmt)
        if fixed is None:
            break
        found, days = fixed
        keep = pending[found]  # a cell an earlier format read keeps that date
        rows = np.flatnonzero(found)[keep]
        result[rows] = days[keep]
        pending[rows] = False
    if pending.any():
        # Whatever the fixed-width parse did not settle goes through pandas, format by format.
        rest = np.flatnonzero(pending)
        result[rest] = _parse_dates_general(text.iloc[rest], formats).to_numpy()
    return pd.Series(result, index=values.index, dtype="datetime64[ns]")


def _parse_dates_general(text: pd.Series, formats: list[str]) -> pd.Series:
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    pending = text.notna()
    for fmt in formats:
        if not pending.any():
            break
        parsed = pd.to_datetime(text.where(pending), format=fmt, errors="coerce")
        # A date pandas cannot hold in nanoseconds (years before 1678 or after 2261) is no
        # usable date either: NaT, so the quality gate quarantines the row with its reason.
        parsed = parsed.where(parsed.between(pd.Timestamp.min, pd.Timestamp.max))
        parsed = parsed.astype("datetime64[ns]")
        hit = parsed.notna() & pending
        result = result.mask(hit, parsed)
        pending &= ~hit
    if pending.any():
        # Excel stores dates as days since 1899-12-30; accept plausible serials only.
        serial = pd.to_numeric(text.where(pending), errors="coerce")
        plausible = serial.between(1, 80_000) & pending
        # Plain floats: pandas converts a masked array's hidden values too, and a serial past
        # datetime64's range there (a typo such as 200000) would raise instead of being NaT.
        kept = serial.where(plausible).to_numpy(dtype="float64", na_value=np.nan)
        days = pd.Series(pd.to_timedelta(kept, unit="D"), index=serial.index)
        result = result.mask(plausible, EXCEL_EPOCH + days)
    return result


def _fixed_width_lead(formats: list[str]) -> list[str]:
    """The leading formats that numpy may parse one after the other, in order.

    The first always. A later one only while no earlier format could read its canonical cells:
    each earlier one needs a literal the later one lacks (``%m/%d/%Y`` needs '/', which
    ``2026-11-20`` has not), or has none while the later has one (``%Y%m%d`` reads digits
    only). So a workbook's ISO dates under a configured US format skip pandas' parse."""
    lead: list[str] = []
    literals: list[set[str]] = []
    for fmt in formats:
        layout = _fixed_width_layout(fmt)
        if layout is None:
            break
        own = {piece for piece, _ in layout if not piece.startswith("%")}
        if any(not (earlier - own) and (earlier or not own) for earlier in literals):
            break
        lead.append(fmt)
        literals.append(own)
    return lead or formats[:1]


FIXED_WIDTH_FIELDS = {"Y": 4, "m": 2, "d": 2}


def _fixed_width_layout(date_format: str) -> list[tuple[str, int]] | None:
    """(field or literal, width) pieces of a format made of %Y, %m, %d and punctuation only."""
    layout: list[tuple[str, int]] = []
    position = 0
    while position < len(date_format):
        char = date_format[position]
        if char == "%":
            field = date_format[position + 1: position + 2]
            if field not in FIXED_WIDTH_FIELDS:
                return None
            layout.append(("%" + field, FIXED_WIDTH_FIELDS[field]))
            position += 2
        elif char.isascii() and not char.isalnum() and not char.isspace():
            layout.append((char, 1))
            position += 1
        else:
            return None
    fields = sorted(piece for piece, _ in layout if piece.startswith("%"))
    return layout if fields == ["%Y", "%d", "%m"] else None


def _parse_fixed_width(text: pd.Series, date_format: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Where ``date_format`` would parse a cell, its date, for cells in the canonical form.

    Canonical means exactly the format's width with ASCII digits (e.g. "11/20/2026" for
    "%m/%d/%Y"): every strptime reads those the same way, so numpy can do it for all rows at
    once. Returns (hit, datetime64[ns] values of the hits); cells that are not canonical or
    not a valid date within datetime64[ns]'s range are left to the general parse (None when
    the format or the storage does not suit).
    """
    layout = _fixed_width_layout(date_format)
    array = text.array
    if layout is None or not isinstance(array, pd.arrays.ArrowStringArray):
        return None
    width = sum(size for _, size in layout)
    cells = _one_chunk(array)
    candidates = np.flatnonzero(
        pc.fill_null(pc.equal(pc.binary_length(cells), width), False).to_numpy(
            zero_copy_only=False))
    hit = np.zeros(len(text), dtype=bool)
    if not len(candidates):
        return hit, np.empty(0, dtype="datetime64[ns]")
    offsets = np.frombuffer(cells.buffers()[1], dtype=np.int64)[cells.offset:]
    data = np.frombuffer(cells.buffers()[2], dtype=np.uint8)
    # One row per character position, one column per candidate cell; digits become 0-9.
    chars = data[np.arange(width)[:, None] + offsets[candidates][None, :]] - np.uint8(ord("0"))
    ok = np.ones(len(candidates), dtype=bool)
    numbers: dict[str, np.ndarray] = {}
    column = 0
    for piece, size in layout:
        if piece.startswith("%"):
            value = np.zeros(len(candidates), dtype=np.int64)
            for row in chars[column: column + size]:
                ok &= row <= 9
                value = value * 10 + row
            numbers[piece] = value
        else:
            ok &= chars[column] == np.uint8((ord(piece) - ord("0")) % 256)
        column += size
    year, month, day = numbers["%Y"], numbers["%m"], numbers["%d"]
    ok &= (year >= 1678) & (year <= 2261) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    first = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    dates = first.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    ok &= dates.astype("datetime64[M]") == first  # day 31 of a 30-day month rolls over
    hit[candidates[ok]] = True
    return hit, dates[ok].astype("datetime64[ns]")


def as_of_timestamp(as_of: date) -> pd.Timestamp:
    return pd.Timestamp(datetime.combine(as_of, time()))


def worker_active(frame: pd.DataFrame, config: Config, as_of: date,
                  terminated: pd.Series | None = None) -> pd.Series:
    """Active when the status maps to active and no termination date lies before as-of.

    ``terminated`` is the parsed termination date column when the caller has it already.
    """
    source = config.source
    active = pd.Series(True, index=frame.index)
    if source.status is not None:
        wanted = {value.strip().casefold() for value in source.status.active}
        active &= pd.Series(_casefold_in(frame[source.status.column], wanted),
                            index=frame.index)
    if source.termination_date:
        if terminated is None:
            terminated = parse_dates(frame[source.termination_date], source.date_format)
        active &= ~(terminated < as_of_timestamp(as_of)).fillna(False).astype(bool)
    return active


def _one_chunk(array: pd.arrays.ArrowStringArray) -> pa.Array:
    """The pyarrow array (one chunk) behind a pandas string array."""
    stored = pa.array(array)
    if isinstance(stored, pa.ChunkedArray):
        return stored.combine_chunks() if stored.num_chunks != 1 else stored.chunk(0)
    return stored


def _casefold_in(values: pd.Series, wanted: set[str]) -> np.ndarray:
    """Whether each stripped, casefolded cell is one of ``wanted`` (missing cells are not).

    A status column holds a handful of distinct values: casefold those, not every row.
    """
    text = values.astype("string").str.strip()
    array = text.array
    if isinstance(array, pd.arrays.ArrowStringArray):
        encoded = pc.dictionary_encode(_one_chunk(array))
        known = np.array([value.casefold() in wanted
                          for value in encoded.dictionary.to_pylist()], dtype=bool)
        if not len(known):
            return np.zeros(len(text), dtype=bool)
        indices = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)
        valid = encoded.indices.is_valid().to_numpy(zero_copy_only=False)
        return np.asarray(valid & known[indices], dtype=bool)
    return is_in(text.str.casefold(), sorted(wanted))


def desired_frame(frame: pd.DataFrame, config: Config, as_of: date,
                  context: EvalContext | None = None) -> pd.DataFrame:
    """One row per HR row (same index) with the columns of docs/architecture.md."""
    source = config.source
    context = context or EvalContext(now=datetime.combine(as_of, time()))
    desired = pd.DataFrame(index=frame.index)
    desired["hr_key"] = frame[source.key].astype("string")
    terminated = (
        parse_dates(frame[source.termination_date], source.date_format)
        if source.termination_date
        else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    )
    desired["worker_active"] = worker_active(frame, config, as_of,
                                             terminated if source.termination_date else None)
    desired["worker_status"] = (
        frame[source.status.column].astype("string") if source.status is not None
        else pd.Series(pd.NA, index=frame.index, dtype="string"))
    desired["hire_date"] = (
        parse_dates(frame[source.hire_date], source.date_format)
        if source.hire_date else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    )
    desired["termination_date"] = terminated
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
