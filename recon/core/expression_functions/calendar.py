"""Calendar arithmetic on numpy arrays, and dates shown as Entra shows them.

A date is split into civil fields (year … microsecond) without Python per value; the result is
rendered ``M/d/yyyy h:mm:ss tt``, the format of Entra's CDate, DateAdd and Now.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.expression_functions.kinds import DATE, TEXT, Value, text_scalar

MICROS_PER_DAY = 86_400_000_000


def days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468  # type: ignore[no-any-return, unused-ignore]


def days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    table = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    days = table[np.clip(month, 1, 12) - 1]
    return days + ((month == 2) & leap)  # type: ignore[no-any-return, unused-ignore]


@dataclass
class Parts:
    """A date split into numpy int64 columns; ``valid`` marks rows that hold a date."""

    year: np.ndarray
    month: np.ndarray
    day: np.ndarray
    hour: np.ndarray
    minute: np.ndarray
    second: np.ndarray
    micro: np.ndarray
    valid: np.ndarray

    def to_timestamps(self, offset_minutes: np.ndarray | None = None) -> pa.Array:
        valid = (
            self.valid
            & (self.month >= 1) & (self.month <= 12)
            & (self.day >= 1) & (self.day <= days_in_month(self.year, self.month))
            & (self.hour >= 0) & (self.hour <= 23)
            & (self.minute >= 0) & (self.minute <= 59)
            & (self.second >= 0) & (self.second <= 59)
            & (self.year >= 1) & (self.year <= 9999)
        )
        days = days_from_civil(self.year, self.month, self.day)
        micros = (
            days * MICROS_PER_DAY
            + self.hour * 3_600_000_000
            + self.minute * 60_000_000
            + self.second * 1_000_000
            + self.micro
        )
        if offset_minutes is not None:
            micros = micros - offset_minutes * 60_000_000
        return pa.array(micros, pa.int64(), mask=~valid).cast(DATE)


def split_dates(timestamps: pa.Array) -> Parts:
    micros = timestamps.cast(pa.int64()).to_numpy(zero_copy_only=False)
    valid = pc.is_valid(timestamps).to_numpy(zero_copy_only=False)
    micros = np.where(valid, np.nan_to_num(micros.astype(np.float64)), 0).astype(np.int64)
    days = np.floor_divide(micros, MICROS_PER_DAY)
    rest = micros - days * MICROS_PER_DAY
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return Parts(
        year=year, month=month, day=day,
        hour=rest // 3_600_000_000, minute=(rest // 60_000_000) % 60,
        second=(rest // 1_000_000) % 60, micro=rest % 1_000_000, valid=valid,
    )


def lift(value: Value) -> tuple[pa.Array, bool]:
    if isinstance(value, pa.Scalar):
        return pa.array([value.as_py()], value.type), True
    return value, False


def unlift(result: pa.Array, lifted: bool) -> Value:
    return result[0] if lifted else result


def format_entra_datetime(value: Value) -> Value:
    """timestamp → ``M/d/yyyy h:mm:ss tt`` (the format of CDate, DateAdd and Now)."""
    timestamps, lifted = lift(value)
    parts = split_dates(timestamps)
    hour12 = np.where(parts.hour % 12 == 0, 12, parts.hour % 12)
    mask = ~parts.valid

    def txt(numbers: np.ndarray, width: int = 1) -> pa.Array:
        out = pa.array(numbers, pa.int64(), mask=mask).cast(TEXT)
        return pc.utf8_lpad(out, width=width, padding="0") if width > 1 else out

    ampm = pa.array(np.where(parts.hour < 12, "AM", "PM"), TEXT, mask=mask)
    result = pc.binary_join_element_wise(
        txt(parts.month), text_scalar("/"), txt(parts.day), text_scalar("/"), txt(parts.year),
        text_scalar(" "), txt(hour12), text_scalar(":"), txt(parts.minute, 2), text_scalar(":"),
        txt(parts.second, 2), text_scalar(" "), ampm, text_scalar(""),
    )
    return unlift(result, lifted)

