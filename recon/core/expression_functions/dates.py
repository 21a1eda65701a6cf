"""Dates: CDate, DateAdd, DateDiff, FormatDateTime, Now, DateFromNum, NumFromDate.

Dates are kept as timestamp[us, UTC] between functions and shown as Entra shows them,
``M/d/yyyy h:mm:ss tt`` (e.g. ``6/29/2021 4:00:00 PM``). Offsets in the input are converted to
UTC (Entra's servers run in UTC). DateAdd/DateDiff follow Visual Basic's DateAdd/DateDiff, which
Entra's interval codes (yyyy, m, d, ww, h, n, s) come from. FormatDateTime understands .NET
custom and standard format strings and parses strictly, like DateTime.ParseExact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.expression_functions.calendar import (
    MICROS_PER_DAY,
    Parts,
    days_from_civil,
    days_in_month,
    lift,
    split_dates,
    unlift,
)
from recon.core.expression_functions.kinds import DATE, TEXT, Value, kind, text_scalar
from recon.core.expression_functions.values import (
    Arg,
    ArgInfo,
    ArgumentError,
    Env,
    call,
    if_else,
    to_integer,
    to_number,
    to_text,
)

_UNIT_MICROS = {"d": MICROS_PER_DAY, "ww": 7 * MICROS_PER_DAY, "h": 3_600_000_000,
                "n": 60_000_000, "s": 1_000_000}
INTERVALS = ("yyyy", "m", "d", "ww", "h", "n", "s")
FILETIME_EPOCH = 116_444_736_000_000_000  # 100 ns ticks from 1601-01-01 to 1970-01-01

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


# --- calendar arithmetic on numpy arrays ------------------------------------------------------


# --- parsing free-form dates (CDate) ----------------------------------------------------------

_DATE_WITH_OFFSET = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:?\d{2})$")
_FALLBACK_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
    "%m/%d/%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%d %B %Y", "%d %b %Y", "%B %d, %Y",
    "%b %d, %Y", "%Y%m%d",
)


def _parse_strings(values: list[str]) -> pa.Array:
    """Parse distinct date strings the way .NET DateTime.Parse (invariant culture) would."""
    raw = pd.Series(values, dtype=object).str.strip()
    iso = raw.str.replace(_DATE_WITH_OFFSET, r"\1T00:00:00\2", regex=True)
    parsed = pd.to_datetime(iso, format="ISO8601", utc=True, errors="coerce")
    for fmt in _FALLBACK_FORMATS:
        missing = parsed.isna()
        if not missing.any():
            break
        again = pd.to_datetime(raw[missing], format=fmt, utc=True, errors="coerce")
        parsed = parsed.where(~missing, again)
    return pa.array(parsed.astype("datetime64[us, UTC]"), DATE)


def parse_dates(value: Value) -> Value:
    """Text → timestamp; unparseable text becomes missing (Entra would fail the attribute)."""
    if isinstance(value, pa.Scalar):
        text = value.as_py()
        if text is None:
            return pa.scalar(None, DATE)
        return _parse_strings([str(text)])[0]
    if len(value) == 0:
        return pa.array([], DATE)
    encoded = pc.dictionary_encode(value)
    dictionary = encoded.dictionary.to_pylist()
    parsed = _parse_strings(dictionary) if dictionary else pa.array([], DATE)
    return parsed.take(encoded.indices)


def to_date(value: Value) -> Value:
    k = kind(value)
    if k == "date":
        return value
    if k == "null":
        return value.cast(DATE)
    if k == "number":  # a number is not a date (DateFromNum converts AD numbers)
        return pa.nulls(len(value), DATE) if isinstance(value, pa.Array) else pa.scalar(None, DATE)
    return parse_dates(to_text(value))


# --- functions --------------------------------------------------------------------------------


def cdate(env: Env, args: list[Arg], prepared: Any) -> Value:
    """CDate(expression): a UTC date from a date string."""
    return to_date(args[0])


def now(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Now(): the as-of time of the run (EvalContext.now) or the current UTC time."""
    return pa.scalar(env.now.astimezone(UTC).replace(tzinfo=None), pa.timestamp("us")).cast(DATE)


def prepare_interval(infos: list[ArgInfo]) -> str | None:
    info = infos[0]
    if info.omitted:
        raise ArgumentError("interval may not be empty", 0)
    if not info.constant:
        return None  # a column: checked per row
    interval = str(info.value)
    if interval not in INTERVALS:
        raise ArgumentError(
            f"interval {interval!r} is not one of {', '.join(repr(i) for i in INTERVALS)}", 0
        )
    return interval


def _constant_interval(args: list[Arg], prepared: str | None) -> str:
    if prepared is not None:
        return prepared
    value = args[0]
    if isinstance(value, pa.Scalar):
        interval = str(to_text(value).as_py())
        if interval in INTERVALS:
            return interval
    raise ArgumentError(f"interval must be one of {', '.join(INTERVALS)} given as a constant")


def _add_months(timestamps: pa.Array, months: np.ndarray, valid: np.ndarray) -> pa.Array:
    parts = split_dates(timestamps)
    total = parts.year * 12 + (parts.month - 1) + months
    year, month = np.floor_divide(total, 12), total % 12 + 1
    day = np.minimum(parts.day, days_in_month(year, month))
    shifted = Parts(year, month, day, parts.hour, parts.minute, parts.second, parts.micro,
                    parts.valid & valid)
    return shifted.to_timestamps()


def _numbers(value: Value, n: int, integral: bool) -> tuple[np.ndarray, np.ndarray]:
    number = to_number(value)
    if integral:
        number = to_integer(number)
    array = number if isinstance(number, pa.Array) else pa.repeat(number, n) if (
        number.is_valid) else pa.nulls(n, number.type)
    valid = pc.is_valid(array).to_numpy(zero_copy_only=False)
    values = np.nan_to_num(array.cast(pa.float64()).to_numpy(zero_copy_only=False))
    return values, valid


def date_add(env: Env, args: list[Arg], prepared: str | None) -> Value:
    """DateAdd(interval, value, dateTime): whole units for yyyy/m/d/ww (like VB), months keep
    the day or clamp it to the month's end."""
    interval = _constant_interval(args, prepared)
    dates = to_date(args[2])
    timestamps, lifted = lift(dates)
    if lifted and isinstance(args[1], pa.Array):
        timestamps, lifted = pa.repeat(timestamps[0], env.n), False
    n = len(timestamps)
    amount, valid = _numbers(args[1], n, integral=interval in ("yyyy", "m", "d", "ww"))
    if interval in ("yyyy", "m"):
        months = amount.astype(np.int64) * (12 if interval == "yyyy" else 1)
        return unlift(_add_months(timestamps, months, valid), lifted)
    micros = timestamps.cast(pa.int64()).to_numpy(zero_copy_only=False)
    ok = pc.is_valid(timestamps).to_numpy(zero_copy_only=False) & valid
    micros = np.where(ok, np.nan_to_num(micros.astype(np.float64)), 0).astype(np.int64)
    delta = np.round(amount * _UNIT_MICROS[interval]).astype(np.int64)
    result = pa.array(micros + delta, pa.int64(), mask=~ok).cast(DATE)
    return unlift(result, lifted)


def date_diff(env: Env, args: list[Arg], prepared: str | None) -> Value:
    """DateDiff(interval, date1, date2): date2 − date1 as Visual Basic counts it.

    yyyy and m count calendar boundaries; d, h, n, s truncate the elapsed time; ww counts
    Sunday-to-Sunday weeks. Positive when date2 is later.
    """
    interval = _constant_interval(args, prepared)
    first, second = to_date(args[1]), to_date(args[2])
    lifted = isinstance(first, pa.Scalar) and isinstance(second, pa.Scalar)
    n = 1 if lifted else env.n
    a = first if isinstance(first, pa.Array) else pa.repeat(first, n) if first.is_valid else (
        pa.nulls(n, DATE))
    b = second if isinstance(second, pa.Array) else pa.repeat(second, n) if (
        second.is_valid) else pa.nulls(n, DATE)
    pa_, pb = split_dates(a), split_dates(b)
    valid = pa_.valid & pb.valid
    if interval == "yyyy":
        result = pb.year - pa_.year
    elif interval == "m":
        result = (pb.year - pa_.year) * 12 + (pb.month - pa_.month)
    else:
        ma = np.where(pa_.valid, np.nan_to_num(a.cast(pa.int64()).to_numpy(zero_copy_only=False)
                                               .astype(np.float64)), 0).astype(np.int64)
        mb = np.where(pb.valid, np.nan_to_num(b.cast(pa.int64()).to_numpy(zero_copy_only=False)
                                              .astype(np.float64)), 0).astype(np.int64)
        if interval == "ww":
            # Move both back to their Sunday (1970-01-01 was a Thursday).
            def to_sunday(micros: np.ndarray) -> np.ndarray:
                weekday = (np.floor_divide(micros, MICROS_PER_DAY) + 4) % 7  # 0 = Sunday
                return micros - weekday * MICROS_PER_DAY  # type: ignore[no-any-return, unused-ignore]

            ma, mb = to_sunday(ma), to_sunday(mb)
        result = np.trunc((mb - ma) / _UNIT_MICROS[interval]).astype(np.int64)
    out = pa.array(result.astype(np.int64), pa.int64(), mask=~valid)
    return out[0] if lifted else out


def date_from_num(env: Env, args: list[Arg], prepared: Any) -> Value:
    """DateFromNum(value): an AD large-integer date (100 ns ticks since 1601) → date."""
    ticks = to_integer(args[0])
    micros = call(pc.divide, call(pc.subtract, ticks, pa.scalar(FILETIME_EPOCH)), pa.scalar(10))
    return call(pc.cast, micros, DATE)


def num_from_date(env: Env, args: list[Arg], prepared: Any) -> Value:
    """NumFromDate(value): a date → AD large integer (as accountExpires expects)."""
    dates = to_date(args[0])
    micros = call(pc.cast, dates, pa.int64())
    return call(pc.add, call(pc.multiply, micros, pa.scalar(10)), pa.scalar(FILETIME_EPOCH))


# --- .NET date format strings (FormatDateTime) ------------------------------------------------

_SPECIFIERS = set("yMdHhmsfFtzK")
_STANDARD = {  # invariant culture
    "d": "MM/dd/yyyy", "D": "dddd, dd MMMM yyyy", "f": "dddd, dd MMMM yyyy HH:mm",
    "F": "dddd, dd MMMM yyyy HH:mm:ss", "g": "MM/dd/yyyy HH:mm", "G": "MM/dd/yyyy HH:mm:ss",
    "M": "MMMM dd", "m": "MMMM dd", "o": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "O": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK", "r": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
    "R": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", "s": "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
    "t": "HH:mm", "T": "HH:mm:ss", "u": "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
    "U": "dddd, dd MMMM yyyy HH:mm:ss", "y": "yyyy MMMM", "Y": "yyyy MMMM",
}


@dataclass(frozen=True)
class Token:
    letter: str  # "" for a literal
    count: int = 0
    literal: str = ""


def tokenize_format(fmt: str) -> list[Token]:
    """A .NET date format string → tokens (specifier runs and literals)."""
    if len(fmt) == 1 and fmt in _STANDARD:
        fmt = _STANDARD[fmt]
    tokens: list[Token] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            i += 1
            ch = fmt[i]
            if ch in _SPECIFIERS:
                tokens.append(Token(ch, 1))
                i += 1
                continue
        if ch in _SPECIFIERS:
            j = i
            while j < len(fmt) and fmt[j] == ch:
                j += 1
            tokens.append(Token(ch, j - i))
            i = j
        elif ch == "\\" and i + 1 < len(fmt):
            tokens.append(Token("", literal=fmt[i + 1]))
            i += 2
        elif ch in "'\"":
            end = fmt.find(ch, i + 1)
            end = len(fmt) if end < 0 else end
            tokens.append(Token("", literal=fmt[i + 1 : end]))
            i = end + 1
        else:
            tokens.append(Token("", literal=ch))
            i += 1
    return tokens


def _names_pattern(names: list[str]) -> str:
    return "(?i:" + "|".join(names) + ")"


def _token_pattern(token: Token) -> str:
    c, k = token.letter, token.count
    if not c:
        return re.escape(token.literal)
    if c == "y":
        return {1: r"\d{1,2}", 2: r"\d{2}", 3: r"\d{3,4}"}.get(k, rf"\d{{{k}}}")
    if c == "M":
        if k >= 4:
            return _names_pattern(MONTHS)
        if k == 3:
            return _names_pattern([m[:3] for m in MONTHS])
        return r"\d{1,2}" if k == 1 else r"\d{2}"
    if c == "d":
        if k >= 4:
            return _names_pattern(DAYS)
        if k == 3:
            return _names_pattern([d[:3] for d in DAYS])
        return r"\d{1,2}" if k == 1 else r"\d{2}"
    if c in "Hhms":
        return r"\d{1,2}" if k == 1 else r"\d{2}"
    if c == "f":
        return rf"\d{{{k}}}"
    if c == "F":
        return rf"\d{{0,{k}}}"
    if c == "t":
        return "(?i:A|P)" if k == 1 else "(?i:AM|PM)"
    if c == "z":
        return {1: r"[+-]\d{1,2}", 2: r"[+-]\d{2}"}.get(k, r"[+-]\d{2}:\d{2}")
    if c == "K":
        return r"(?:Z|[+-]\d{2}:\d{2})?"
    raise ArgumentError(f"unsupported format specifier {c * k!r}")  # pragma: no cover


@dataclass(frozen=True)
class DateFormat:
    text: str
    tokens: tuple[Token, ...]
    pattern: str  # anchored, every group named g0, g1, ...
    groups: tuple[tuple[str, Token], ...]


def compile_format(fmt: str, position: int) -> DateFormat:
    if not fmt:
        raise ArgumentError("the format may not be empty", position)
    tokens = tokenize_format(fmt)
    pieces: list[str] = []
    groups: list[tuple[str, Token]] = []
    for token in tokens:
        if not token.letter:
            pieces.append(re.escape(token.literal))
            continue
        name = f"g{len(groups)}"
        groups.append((name, token))
        pieces.append(f"(?P<{name}>{_token_pattern(token)})")
    return DateFormat(fmt, tuple(tokens), "^" + "".join(pieces) + "$", tuple(groups))


@dataclass(frozen=True)
class FormatPlan:
    source: DateFormat
    target: DateFormat


def prepare_format(infos: list[ArgInfo]) -> FormatPlan:
    for position, what in ((2, "inputFormat"), (3, "outputFormat")):
        if infos[position].omitted or not infos[position].constant:
            raise ArgumentError(f"{what} must be a constant string", position)
    if not infos[1].omitted and not infos[1].constant:
        raise ArgumentError("dateTimeStyles must be a constant", 1)
    return FormatPlan(
        compile_format(str(infos[2].value), 2), compile_format(str(infos[3].value), 3)
    )


def _field(extracted: pa.Array, name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    column = pc.struct_field(extracted, name)
    valid = pc.is_valid(column).to_numpy(zero_copy_only=False)
    return column.to_numpy(zero_copy_only=False), valid


def parse_with_format(values: pa.Array, fmt: DateFormat, now: datetime) -> pa.Array:
    """ParseExact over a whole column: one RE2 pass, then integer arithmetic."""
    n = len(values)
    trimmed = pc.utf8_trim_whitespace(values)
    if not fmt.groups:
        matched = pc.equal(trimmed, text_scalar(fmt.text))
        return pa.nulls(n, DATE) if not pc.any(matched).as_py() else pc.if_else(
            matched, pa.scalar(datetime(now.year, now.month, now.day), DATE), pa.scalar(None, DATE)
        )
    extracted = pc.extract_regex(trimmed, pattern=fmt.pattern)
    valid = pc.is_valid(extracted).to_numpy(zero_copy_only=False)
    zeros = np.zeros(n, dtype=np.int64)
    year, month, day = zeros + now.year, zeros + 1, zeros + 1
    hour, minute, second, micro = zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy()
    pm: np.ndarray | None = None
    offset: np.ndarray | None = None
    has_date = any(t.letter in "yMd" for _, t in fmt.groups)
    if not has_date:
        year, month, day = zeros + now.year, zeros + now.month, zeros + now.day
    for name, token in fmt.groups:
        column = pc.fill_null(pc.struct_field(extracted, name).cast(TEXT), text_scalar(""))
        c, k = token.letter, token.count
        if c == "M" and k >= 3:
            names = MONTHS if k >= 4 else [m[:3] for m in MONTHS]
            lowered = pa.array([m.lower() for m in names], TEXT)
            index = pc.index_in(pc.utf8_lower(column), value_set=lowered)
            month = pc.fill_null(index, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
            continue
        if c == "d" and k >= 3:
            continue  # day names are checked by the pattern, not used
        if c == "t":
            pm = pc.starts_with(pc.utf8_upper(column), "P").to_numpy(zero_copy_only=False)
            continue
        if c in "zK":
            text = pc.replace_substring(column, ":", "")
            sign = np.where(pc.starts_with(text, "-").to_numpy(zero_copy_only=False), -1, 1)
            digits = pc.utf8_slice_codeunits(text, 1)
            hours = _to_int(pc.utf8_slice_codeunits(digits, 0, 2))
            minutes = _to_int(pc.utf8_slice_codeunits(digits, 2, 4))
            offset = sign * (hours * 60 + minutes)
            continue
        number = _to_int(column)
        if c == "y":
            if k <= 2:
                number = np.where(number <= 49, 2000 + number, 1900 + number)
            year = number
        elif c == "M":
            month = number
        elif c == "d":
            day = number
        elif c in "Hh":
            hour = number
        elif c == "m":
            minute = number
        elif c == "s":
            second = number
        elif c in "fF":
            digits = pc.utf8_rpad(pc.utf8_slice_codeunits(column, 0, 6), width=6, padding="0")
            micro = _to_int(digits)
    if pm is not None:
        hour_ok = (hour >= 1) & (hour <= 12)
        valid &= hour_ok
        hour = np.where(pm, np.where(hour == 12, 12, hour + 12), np.where(hour == 12, 0, hour))
    parts = Parts(year, month, day, hour, minute, second, micro, valid)
    return parts.to_timestamps(offset)


def _to_int(column: pa.Array) -> np.ndarray:
    filled = pc.if_else(pc.equal(column, text_scalar("")), text_scalar("0"), column)
    return filled.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)  # type: ignore[no-any-return, unused-ignore]


def format_with(timestamps: pa.Array, fmt: DateFormat) -> pa.Array:
    """Render timestamps with a .NET format string, column at a time."""
    parts = split_dates(timestamps)
    mask = ~parts.valid

    def num(values: np.ndarray, width: int = 1) -> pa.Array:
        out = pa.array(values, pa.int64(), mask=mask).cast(TEXT)
        return pc.utf8_lpad(out, width=width, padding="0") if width > 1 else out

    def names(index: np.ndarray, table: list[str]) -> pa.Array:
        return pa.array(table, TEXT).take(pa.array(index, pa.int64(), mask=mask))

    weekday = (days_from_civil(parts.year, parts.month, parts.day) + 3) % 7  # 0 = Monday
    pieces: list[Any] = []
    for token in fmt.tokens:
        c, k = token.letter, token.count
        if not c:
            pieces.append(text_scalar(token.literal))
        elif c == "y":
            year = num(parts.year % 100, k) if k <= 2 else num(parts.year, k)
            pieces.append(year)
        elif c == "M":
            pieces.append(names(parts.month - 1, MONTHS if k >= 4 else [m[:3] for m in MONTHS])
                          if k >= 3 else num(parts.month, k))
        elif c == "d":
            pieces.append(names(weekday, DAYS if k >= 4 else [d[:3] for d in DAYS])
                          if k >= 3 else num(parts.day, k))
        elif c == "H":
            pieces.append(num(parts.hour, k))
        elif c == "h":
            pieces.append(num(np.where(parts.hour % 12 == 0, 12, parts.hour % 12), k))
        elif c == "m":
            pieces.append(num(parts.minute, k))
        elif c == "s":
            pieces.append(num(parts.second, k))
        elif c in "fF":
            digits = pc.utf8_rpad(num(parts.micro, 6), width=max(k, 6), padding="0")
            digits = pc.utf8_slice_codeunits(digits, 0, k)
            if c == "F":
                digits = pc.utf8_rtrim(digits, characters="0")
                if pieces and isinstance(pieces[-1], pa.Scalar) and pieces[-1].as_py() == ".":
                    pieces[-1] = if_else(pc.equal(digits, text_scalar("")), text_scalar(""),
                                         text_scalar("."))
            pieces.append(digits)
        elif c == "t":
            ampm = np.where(parts.hour < 12, "AM", "PM")
            pieces.append(pa.array([a[:k] for a in ampm] if k == 1 else ampm, TEXT, mask=mask))
        elif c == "z":
            pieces.append(text_scalar({1: "+0", 2: "+00"}.get(k, "+00:00")))
        elif c == "K":
            pieces.append(text_scalar("Z"))
    if not pieces:
        return pa.nulls(len(timestamps), TEXT)
    return pc.binary_join_element_wise(*pieces, text_scalar(""))


def format_date_time(env: Env, args: list[Arg], plan: FormatPlan) -> Value:
    """FormatDateTime(source, dateTimeStyles, inputFormat, outputFormat).

    The source is parsed strictly with inputFormat (surrounding white space allowed, offsets
    converted to UTC); a value that does not match gives a missing result.
    """
    source = to_text(args[0])
    values, lifted = lift(source)
    if values.type != TEXT:
        values = values.cast(TEXT)
    parsed = parse_with_format(values, plan.source, env.now)
    return unlift(format_with(parsed, plan.target), lifted)
