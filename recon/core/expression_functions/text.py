"""String functions: Append, Left, Mid, InStr, Word, StripSpaces, ToLower/ToUpper, PCase,
NormalizeDiacritics, ConvertToBase64, ConvertToUTF8Hex."""

from __future__ import annotations

import base64
import re
import unicodedata
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.expression_functions.kinds import TEXT, Value, null_text, text_scalar
from recon.core.expression_functions.values import (
    OMITTED,
    Arg,
    ArgInfo,
    ArgumentError,
    Env,
    call,
    map_distinct,
    map_masked,
    to_integer,
    to_text,
)


def _text(arg: Arg) -> Value:
    assert arg is not OMITTED
    return to_text(arg)


def append(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Append(source, suffix): a missing source stays missing; a missing suffix adds nothing."""
    source = _text(args[0])
    suffix = text_scalar("") if args[1] is OMITTED else call(
        pc.fill_null, _text(args[1]), text_scalar("")
    )
    return call(pc.binary_join_element_wise, source, suffix, text_scalar(""))


def strip_spaces(env: Env, args: list[Arg], prepared: Any) -> Value:
    """StripSpaces(source): removes every " " (only the space character, as Entra does)."""
    return call(pc.replace_substring, _text(args[0]), pattern=" ", replacement="")


# --- Left / Mid -------------------------------------------------------------------------------


def _per_row(function: Any, *values: Value, n: int) -> pa.Array:
    """Row by row, for the rare case where a count or position is itself a column."""
    columns = [v.to_pylist() if isinstance(v, pa.Array) else [v.as_py()] * n for v in values]
    return pa.array([function(*row) for row in zip(*columns, strict=True)], TEXT)


def _left_one(text: str | None, count: int | None) -> str | None:
    if count is None:
        return None
    text = text or ""
    if count < 0:
        return text
    return text[:count]


def left(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Left(String, NumChars): 0 gives "", a negative count the whole string, missing gives ""."""
    source = call(pc.fill_null, _text(args[0]), text_scalar(""))
    count = to_integer(args[1])
    if isinstance(count, pa.Array):
        return _per_row(_left_one, source, count, n=env.n)
    k = count.as_py()
    if k is None:
        return null_text()
    if k < 0:
        return source
    return call(pc.utf8_slice_codeunits, source, start=0, stop=k)


def _mid_one(text: str | None, start: int | None, length: int | None) -> str | None:
    if text is None or start is None or length is None:
        return None
    begin = max(start, 1) - 1
    return text[begin : begin + max(length, 0)]


def mid(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Mid(source, start, length): 1-based start; a length past the end stops at the end."""
    source = _text(args[0])
    start = to_integer(args[1])
    length = to_integer(args[2])
    if isinstance(start, pa.Array) or isinstance(length, pa.Array):
        return _per_row(_mid_one, source, start, length, n=env.n)
    s, k = start.as_py(), length.as_py()
    if s is None or k is None:
        return null_text()
    begin = max(s, 1) - 1
    return call(pc.utf8_slice_codeunits, source, start=begin, stop=begin + max(k, 0))


# --- InStr ------------------------------------------------------------------------------------


def prepare_instr(infos: list[ArgInfo]) -> bool:
    """Returns True for vbTextCompare (case-insensitive)."""
    if len(infos) < 4 or infos[3].omitted:
        return False
    info = infos[3]
    if not info.constant:
        raise ArgumentError("compareType must be vbTextCompare or vbBinaryCompare", 3)
    names = {"vbtextcompare": True, "vbbinarycompare": False, "1": True, "0": False}
    key = str(info.value).lower()
    if key not in names:
        raise ArgumentError(
            f"compareType must be vbTextCompare or vbBinaryCompare, not {info.value!r}", 3
        )
    return names[key]


def _instr_one(text: str | None, find: str | None, start: int | None, fold: bool) -> int | None:
    if text is None or find is None or start is None:
        return None
    if fold:
        text, find = text.lower(), find.lower()
    begin = max(start, 1) - 1
    found = text.find(find, begin)
    return found + 1 if found >= 0 else 0


def instr(env: Env, args: list[Arg], fold: bool) -> Value:
    """InStr(value1, value2, start, compareType): 1-based position of value2, 0 if absent."""
    haystack = _text(args[0])
    needle = _text(args[1])
    start_arg = args[2] if len(args) > 2 and args[2] is not OMITTED else pa.scalar(1)
    start = to_integer(start_arg)
    if (
        isinstance(needle, pa.Array)
        or isinstance(start, pa.Array)
        or isinstance(haystack, pa.Scalar)
    ):
        columns = [
            v.to_pylist() if isinstance(v, pa.Array) else [v.as_py()] * env.n
            for v in (haystack, needle, start)
        ]
        out = [_instr_one(h, f, s, fold) for h, f, s in zip(*columns, strict=True)]
        if isinstance(haystack, pa.Scalar) and not isinstance(needle, pa.Array) and not (
            isinstance(start, pa.Array)
        ):
            return pa.scalar(_instr_one(haystack.as_py(), needle.as_py(), start.as_py(), fold))
        return pa.array(out, pa.int64())
    s, find = start.as_py(), needle.as_py()
    if s is None or find is None:
        return pa.scalar(None, pa.int64())
    begin = max(s, 1) - 1
    text = call(pc.utf8_lower, haystack) if fold else haystack
    if fold:
        find = find.lower()
    tail = call(pc.utf8_slice_codeunits, text, start=begin) if begin else text
    position = pc.find_substring(tail, pattern=find)
    found = pc.greater_equal(position, 0)
    fast = pc.if_else(found, pc.add(position.cast(pa.int64()), begin + 1), 0).cast(pa.int64())
    # find_substring counts bytes; rows with non-ASCII text are recounted in characters.
    non_ascii = pc.invert(pc.string_is_ascii(haystack))
    result = map_masked(
        haystack, non_ascii, lambda h: _instr_one(h, find, s, fold), pa.int64(), fast
    )
    return result


# --- Word -------------------------------------------------------------------------------------


def prepare_word(infos: list[ArgInfo]) -> None:
    if not infos[2].constant:
        raise ArgumentError("Delimiters must be a constant string", 2)


def word(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Word(String, WordNumber, Delimiters): the Nth word (1-based) between any of the
    delimiter characters; runs of delimiters count as one. Missing string, a number below 1 or
    too few words give ""."""
    source = call(pc.fill_null, _text(args[0]), text_scalar(""))
    number = to_integer(args[1])
    delimiters = str(_text(args[2]).as_py() or "")
    if isinstance(number, pa.Array):
        def one(text: str, n: int | None) -> str | None:
            if n is None:
                return None
            words = [w for w in re.split(f"[{re.escape(delimiters)}]", text) if w] if (
                delimiters) else ([text] if text else [])
            return words[n - 1] if 1 <= n <= len(words) else ""

        return _per_row(one, source, number, n=env.n)
    n = number.as_py()
    if n is None:
        return null_text()
    if n < 1:
        return text_scalar("")
    if not delimiters:
        return source if n == 1 else text_scalar("")
    cls = "".join("\\" + c if c in "\\]^-[" else c for c in delimiters)
    pattern = f"^[{cls}]*(?:[^{cls}]+[{cls}]+){{{n - 1}}}(?P<w>[^{cls}]+)"
    if n > 1000:  # beyond RE2's repetition limit; no HR value has that many words
        return text_scalar("")
    extracted = call(pc.extract_regex, source, pattern=pattern)
    if isinstance(extracted, pa.Scalar):
        found = extracted.as_py()
        return text_scalar(found["w"] if found else "")
    words = pc.struct_field(extracted, [0])
    return pc.fill_null(words.cast(TEXT), text_scalar(""))


# --- case -------------------------------------------------------------------------------------

_PRIVATE = "\ue000"  # stands in for ß while upper-casing (.NET keeps ß, Arrow would make ẞ)


def prepare_culture(infos: list[ArgInfo]) -> str:
    if len(infos) < 2 or infos[1].omitted:
        return ""
    if not infos[1].constant:
        raise ArgumentError("culture must be a constant such as \"en-US\"", 1)
    culture = str(infos[1].value)
    if culture and not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", culture):
        raise ArgumentError(f"{culture!r} is not a culture name such as \"tr-TR\"", 1)
    return culture.split("-")[0].lower()


def _upper(value: Value, language: str = "") -> Value:
    if language in ("tr", "az"):
        value = call(pc.replace_substring, value, pattern="i", replacement="İ")
    if isinstance(value, pa.Array):
        sharp_s = bool(pc.any(pc.match_substring(value, pattern="ß")).as_py())
    else:
        sharp_s = "ß" in (value.as_py() or "")
    if not sharp_s:
        return call(pc.utf8_upper, value)
    protected = call(pc.replace_substring, value, pattern="ß", replacement=_PRIVATE)
    upper = call(pc.utf8_upper, protected)
    return call(pc.replace_substring, upper, pattern=_PRIVATE, replacement="ß")


def _lower(value: Value, language: str = "") -> Value:
    if language in ("tr", "az"):
        value = call(pc.replace_substring, value, pattern="I", replacement="ı")
        value = call(pc.replace_substring, value, pattern="İ", replacement="i")
    return call(pc.utf8_lower, value)


def to_lower(env: Env, args: list[Arg], language: str) -> Value:
    """ToLower(source, culture): invariant culture unless tr/az (dotless i) is given."""
    return _lower(_text(args[0]), language)


def to_upper(env: Env, args: list[Arg], language: str) -> Value:
    """ToUpper(source, culture): invariant culture (ß stays ß) unless tr/az is given."""
    return _upper(_text(args[0]), language)


# --- PCase ------------------------------------------------------------------------------------

# .NET TextInfo.ToTitleCase treats these Unicode categories as word separators.
_SEPARATOR_CATEGORIES = frozenset(
    ["Zs", "Zl", "Zp", "Cc", "Cf", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So"]
)


def _simple_upper(ch: str) -> str:
    upper = ch.upper()
    return upper if len(upper) == 1 else ch


def _simple_lower(ch: str) -> str:
    lower = ch.lower()
    return lower if len(lower) == 1 else ch


def title_case_dotnet(text: str) -> str:
    """PCase without separators: .NET ToTitleCase of the lower-cased text.

    A word starts at a letter; letters, digits, marks and apostrophes continue it; any separator
    category ends it.
    """
    text = "".join(_simple_lower(c) for c in text)
    out: list[str] = []
    in_word = False
    for ch in text:
        category = unicodedata.category(ch)
        if in_word:
            if category in _SEPARATOR_CATEGORIES and ch != "'":
                in_word = False
            out.append(ch)
        elif category.startswith("L"):
            out.append(_simple_upper(ch))
            in_word = True
        else:
            out.append(ch)
    return "".join(out)


def title_case_separators(text: str, separators: str) -> str:
    """PCase with wordSeparators: upper-case the first character after a separator."""
    out: list[str] = []
    start = True
    for ch in text:
        out.append(_simple_upper(ch) if start else _simple_lower(ch))
        start = ch in separators
    return "".join(out)


def prepare_pcase(infos: list[ArgInfo]) -> str | None:
    if len(infos) < 2 or infos[1].omitted:
        return None
    if not infos[1].constant:
        raise ArgumentError("wordSeparators must be a constant string", 1)
    return str(infos[1].value)


def pcase(env: Env, args: list[Arg], separators: str | None) -> Value:
    """PCase(source, wordSeparators): first letter of each word upper case, the rest lower.

    Arrow's title casing agrees with .NET except after digits, marks and apostrophes inside a
    word (and with explicit separators, after any other non-letter); only rows containing such
    a spot, or ß, are title-cased in Python.
    """
    source = _text(args[0])
    if separators is None:
        function: Any = title_case_dotnet
        tricky = r"[\p{N}\p{M}\p{Co}'ß]\p{L}|ß"
    else:
        function = lambda text: title_case_separators(text, separators)  # noqa: E731
        cls = "".join("\\" + c if c in "\\]^-[" else c for c in separators)
        tricky = f"[^\\p{{L}}{cls}]\\p{{L}}|ß" if cls else r"\P{L}\p{L}|ß"
        if separators and not all(
            unicodedata.category(c)[0] in "ZPSC" for c in separators
        ):
            # A letter or digit as a separator: Arrow's word rule cannot express it.
            return map_distinct(source, function, TEXT)
    if isinstance(source, pa.Scalar):
        return map_distinct(source, function, TEXT)
    fast = pc.utf8_title(pc.utf8_lower(source))
    return map_masked(source, pc.match_substring_regex(source, tricky), function, TEXT, fast)


# --- NormalizeDiacritics ----------------------------------------------------------------------

# Entra's documented table (FUNCS, NormalizeDiacritics). Characters outside it (đ, ķ, ņ, ...)
# are kept, as Entra keeps them.
_SINGLE = {
    "a": "äàâãåáąăāǟǡ", "A": "ÄÀÂÃÅÁĄĂĀǞǠ", "ae": "æǣ", "AE": "ÆǢ", "c": "çčć", "C": "ÇČĆ",
    "d": "ďḏ", "D": "ĎḎ", "e": "ëèéêęěėēḗḕ", "E": "ËÈÉÊĘĚĖĒḖḔ", "g": "ğḡ", "G": "ĞḠ",
    "i": "ïîìíıī", "I": "ÏÎÌÍİĪ", "l": "ľłḹḻ", "L": "ŁĽḸḺ", "n": "ñńňṉ", "N": "ÑŃŇṈ",
    "o": "öòőõôóōṓṑȫǭȭȱ", "O": "ÖÒŐÕÔÓŌṒṐȪǬȬȰ", "oe": "ø", "OE": "Ø", "r": "řṟṝ", "R": "ŘṞṜ",
    "ss": "ß", "s": "šśșş", "S": "ŠŚȘŞ", "t": "ťțṯ", "T": "ŤȚṮ", "u": "üùûúůűūǖṻ",
    "U": "ÜÙÛÚŮŰŪǕṺ", "y": "ÿýȳ", "Y": "ŸÝȲ", "z": "źžżẕ", "Z": "ŹŽŻẔ",
}
# Sequences with combining marks (no precomposed form), written as escapes to stay readable.
_MULTI = {
    "a": "\u0101\u0301 \u0101\u0300 \u0101\u0302 \u0101\u0303 \u0101\u0308 a\u0331 \u00e5\u0304",
    "A": "\u0100\u0301 \u0100\u0300 \u0100\u0302 \u0100\u0303 \u0100\u0308 A\u0331 \u00c5\u0304",
    "c": "c\u0304 c\u0331", "C": "C\u0304 C\u0331", "d": "d\u0304", "D": "D\u0304",
    "e": "\u0113\u0302 \u0113\u0303 \u00ea\u0304 e\u0331 \u00eb\u0304 e\u030a\u0304",
    "E": "\u0112\u0302 \u0112\u0303 \u00ca\u0304 E\u0331 \u00cb\u0304 E\u030a\u0304",
    "g": "g\u0331", "G": "G\u0331",
    "i": "\u012b\u0301 \u012b\u0300 \u012b\u0302 \u012b\u0303 i\u0331",
    "I": "\u012a\u0301 \u012a\u0300 \u012a\u0302 \u012a\u0303 I\u0331",
    "l": "l\u0304", "L": "L\u0304", "n": "n\u0304", "N": "N\u0304",
    "o": "\u014d\u0302 \u014d\u0303 \u014d\u0308 o\u0331",
    "O": "\u014c\u0302 \u014c\u0303 \u014c\u0308 O\u0331",
    "oe": "\u00f8\u0304 \u0153\u0304", "OE": "\u00d8\u0304 \u0152\u0304",
    "r": "r\u0304", "R": "R\u0304", "s": "s\u0304 s\u0331", "S": "S\u0304 S\u0331",
    "t": "t\u0304", "T": "T\u0304",
    "u": "\u016b\u0301 \u016b\u0300 \u016b\u0302 \u016b\u0303 u\u0307\u0304 \u1e73\u0304 u\u0331",
    "U": "\u016a\u0301 \u016a\u0300 \u016a\u0302 \u016a\u0303 U\u0307\u0304 \u1e72\u0304 U\u0331",
    "y": "\u0233\u0301 \u0233\u0300 \u0233\u0303 y\u0331",
    "Y": "\u0232\u0301 \u0232\u0300 \u0232\u0303 Y\u0331",
    "z": "z\u0304", "Z": "Z\u0304",
}
_TRANSLATE = str.maketrans({ch: plain for plain, chars in _SINGLE.items() for ch in chars})
_SEQUENCES = {
    unicodedata.normalize("NFC", seq): plain
    for plain, seqs in _MULTI.items()
    for seq in seqs.split()
}
_SEQUENCE_PATTERN = re.compile(
    "|".join(re.escape(s) for s in sorted(_SEQUENCES, key=len, reverse=True))
)
_COMBINING = re.compile("[\u0300-\u036f]")


def normalize_diacritics_one(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    if _COMBINING.search(text):
        text = _SEQUENCE_PATTERN.sub(lambda m: _SEQUENCES[m.group(0)], text)
    return text.translate(_TRANSLATE)


def _build_byte_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per code point below U+2000: replacement length (0 = keep), its 1-2 ASCII bytes, and
    whether the character is a combining mark (rows with marks take the exact path)."""
    size = 0x2000
    length = np.zeros(size, dtype=np.uint8)
    first = np.zeros(size, dtype=np.uint8)
    second = np.zeros(size, dtype=np.uint8)
    for plain, chars in _SINGLE.items():
        for ch in chars:
            code = ord(ch)
            length[code] = len(plain)
            first[code] = ord(plain[0])
            second[code] = ord(plain[1]) if len(plain) > 1 else 0
    marks = np.zeros(size, dtype=bool)
    marks[0x300:0x370] = True
    return length, np.stack([first, second]), marks


_REPLACEMENT_LENGTH, _REPLACEMENT_BYTES, _COMBINING_MARK = _build_byte_tables()


def _translate_utf8(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Entra's table applied to the UTF-8 bytes of a whole column with numpy.

    Every character of the table is 2 or 3 bytes and becomes 1 or 2 ASCII bytes, never more, so
    the bytes are patched in place and the surplus bytes dropped. Returns the new column and a
    row mask of rows with combining marks, which need the exact (Python) path.
    """
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
        values.offset : values.offset + len(values) + 1
    ]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]].copy()
    offsets = offsets - offsets[0]
    marked_rows = np.zeros(len(values), dtype=bool)
    dropped: list[np.ndarray] = []
    for width, lead_low, lead_high, mask in ((2, 0xC2, 0xDF, 0x1F), (3, 0xE0, 0xE1, 0x0F)):
        leads = np.flatnonzero((data >= lead_low) & (data <= lead_high))
        leads = leads[leads + width - 1 < len(data)]
        if not len(leads):
            continue
        code = (data[leads].astype(np.int64) & mask) << (6 * (width - 1))
        for k in range(1, width):
            code |= (data[leads + k].astype(np.int64) & 0x3F) << (6 * (width - 1 - k))
        inside = code < len(_REPLACEMENT_LENGTH)
        leads, code = leads[inside], code[inside]
        marks = leads[_COMBINING_MARK[code]]
        if len(marks):
            marked_rows[np.searchsorted(offsets, marks, side="right") - 1] = True
        length = _REPLACEMENT_LENGTH[code]
        replaced = length > 0
        leads, code, length = leads[replaced], code[replaced], length[replaced]
        data[leads] = _REPLACEMENT_BYTES[0, code]
        two = length == 2
        data[leads[two] + 1] = _REPLACEMENT_BYTES[1, code[two]]
        for k in range(1, width):
            dropped.append(leads[length <= k] + k)
    if dropped:
        gone = np.sort(np.concatenate(dropped), kind="stable")  # merges sorted runs
        keep = np.ones(len(data), dtype=bool)
        keep[gone] = False
        data = data[keep]
        offsets = offsets - np.searchsorted(gone, offsets)
    result = pa.LargeStringArray.from_buffers(
        len(values), pa.py_buffer(offsets), pa.py_buffer(data)
    )
    if values.null_count:
        result = pc.if_else(pc.is_valid(values), result, pa.scalar(None, TEXT))
    return result, marked_rows


def normalize_diacritics(env: Env, args: list[Arg], prepared: Any) -> Value:
    """NormalizeDiacritics(source): Entra's table (ä→a, æ→ae, ø→oe, ß→ss, ...).

    Characters outside the table (đ, ķ, ễ, ...) are kept, as Entra keeps them. The table is
    applied to the column's UTF-8 bytes in numpy; only rows with combining marks (letters
    written as letter + mark) go through the exact table in Python.
    """
    source = _text(args[0])
    if isinstance(source, pa.Scalar):
        return map_distinct(source, normalize_diacritics_one, TEXT)
    if pc.all(pc.fill_null(pc.string_is_ascii(source), True)).as_py():
        return source
    fast, marked = _translate_utf8(source)
    return map_masked(source, pa.array(marked), normalize_diacritics_one, TEXT, fast)


# --- encodings --------------------------------------------------------------------------------


def convert_to_base64(env: Env, args: list[Arg], prepared: Any) -> Value:
    """ConvertToBase64(source): base64 of the UTF-16LE bytes ("Unicode" in .NET).

    pyarrow has no UTF-16 encoder, so this runs once per distinct value in Python.
    """
    return map_distinct(
        _text(args[0]), lambda s: base64.b64encode(s.encode("utf-16-le")).decode("ascii"), TEXT
    )


def convert_to_utf8_hex(env: Env, args: list[Arg], prepared: Any) -> Value:
    """ConvertToUTF8Hex(source): upper-case hex of the UTF-8 bytes (once per distinct value)."""
    return map_distinct(_text(args[0]), lambda s: s.encode("utf-8").hex().upper(), TEXT)
