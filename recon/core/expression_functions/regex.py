"""Replace, in all its documented forms, and the translation of .NET regular expressions.

Replace(source, oldValue, regexPattern, regexGroupName, replacementValue,
        replacementAttributeName, template) picks its behaviour from the arguments given:

- oldValue + replacementValue: every occurrence of oldValue in source is replaced (literal).
- oldValue + template: every occurrence of oldValue in template is replaced by source.
- regexPattern + replacementValue: regex replace; ``$1``/``${name}`` refer to groups.
- regexPattern + regexGroupName + replacementValue: in every match, only the named group's text
  is replaced.
- regexPattern + regexGroupName + replacementAttributeName: source if it has a value, otherwise
  the named group extracted from the replacement attribute.

Patterns are .NET syntax; named groups ``(?<name>...)``, ``\\k<name>`` and ``\\z`` are translated
to Python's dialect. The plain regex replace runs in pyarrow (RE2) when the pattern allows it;
lookarounds, back-references and group-span replacement run in Python once per distinct value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.expression_functions.kinds import TEXT, Value, text_scalar
from recon.core.expression_functions.values import (
    OMITTED,
    Arg,
    ArgInfo,
    ArgumentError,
    Env,
    call,
    delete_bytes,
    if_else,
    map_distinct,
    map_masked,
    to_text,
)

SOURCE, OLD, PATTERN, GROUP, REPLACEMENT, ATTRIBUTE, TEMPLATE = range(7)


def translate_pattern(pattern: str) -> str:
    """.NET regex syntax → Python ``re`` syntax (the constructs that differ)."""
    out: list[str] = []
    i = 0
    in_class = False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if not in_class and nxt == "k" and i + 2 < len(pattern) and pattern[i + 2] in "<'":
                close = ">" if pattern[i + 2] == "<" else "'"
                end = pattern.find(close, i + 3)
                if end > 0:
                    out.append(f"(?P={pattern[i + 3 : end]})")
                    i = end + 1
                    continue
            if nxt == "z" and not in_class:
                out.append(r"\Z")
                i += 2
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if i < len(pattern) and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < len(pattern) and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if pattern.startswith("(?<", i) and i + 3 < len(pattern) and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        if pattern.startswith("(?'", i):
            end = pattern.find("'", i + 3)
            if end > 0:
                out.append(f"(?P<{pattern[i + 3 : end]}>")
                i = end + 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def translate_replacement(replacement: str, regex: re.Pattern[str]) -> str:
    """.NET substitutions ($1, ${name}, $0, $&, $$) → a Python ``re`` template."""
    out: list[str] = []
    i = 0
    while i < len(replacement):
        ch = replacement[i]
        if ch == "\\":
            out.append("\\\\")
            i += 1
            continue
        if ch != "$" or i + 1 >= len(replacement):
            out.append(ch)
            i += 1
            continue
        nxt = replacement[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "&":
            out.append(r"\g<0>")
            i += 2
        elif nxt == "{":
            end = replacement.find("}", i + 2)
            name = replacement[i + 2 : end] if end > 0 else ""
            known = name in regex.groupindex or (name.isdigit() and int(name) <= regex.groups)
            if name and known:
                out.append(f"\\g<{name}>")
                i = end + 1
            else:
                out.append(ch)
                i += 1
        elif nxt.isdigit():
            j = i + 1
            while j < len(replacement) and replacement[j].isdigit():
                j += 1
            number = int(replacement[i + 1 : j])
            if number <= regex.groups:
                out.append(f"\\g<{number}>")
                i = j
            else:
                out.append(ch)
                i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _re2_replacement(template: str) -> str | None:
    r"""A Python template → RE2's (\1..\9 only); None when RE2 cannot express it."""
    out: list[str] = []
    for piece in re.split(r"(\\g<[^>]*>|\\\\)", template):
        if piece == "\\\\":
            out.append("\\\\")
        elif piece.startswith("\\g<"):
            name = piece[3:-1]
            if not name.isdigit() or int(name) > 9:
                return None
            out.append("\\" + name)
        else:
            out.append(piece)
    return "".join(out)


@dataclass(frozen=True, eq=False)
class ReplacePlan:
    mode: str  # literal | template | regex | group | fallback
    old: str | None = None
    regex: re.Pattern[str] | None = None
    group: str | None = None
    python_template: str | None = None
    re2_pattern: str | None = None
    re2_replacement: str | None = None
    # \d, \w, \s, \b mean more than ASCII in .NET: RE2 would differ on non-ASCII rows
    unicode_sensitive: bool = False
    # "[...]+" replaced by "": a byte table of ASCII characters to delete (see _deletion_table)
    deletion: np.ndarray | None = field(default=None, repr=False)
    deletion_covers_non_ascii: bool = False


_UNICODE_CLASSES = re.compile(r"\\[dDwWsSbB]|\\p|\(\?[a-zA-Z]*i")
_SINGLE_CLASS = re.compile(r"^\[(\^?)((?:[^\]\\]|\\.)+)\][+*]?$")


def _deletion_table(pattern: str) -> tuple[np.ndarray, bool] | None:
    """For a pattern that is one character class (``[()\\s-]+``, ``[^0-9]``) replaced by "",
    the bytes to delete; and whether that also decides non-ASCII characters exactly."""
    match = _SINGLE_CLASS.match(pattern)
    if not match:
        return None
    negated, body = match.group(1) == "^", match.group(2)
    try:
        members = re.compile(f"[{body}]")
    except re.error:
        return None
    table = np.zeros(256, dtype=bool)
    for byte in range(128):
        table[byte] = bool(members.fullmatch(chr(byte))) != negated
    # Escapes like \s or \w, \p{..} or literal non-ASCII characters also match non-ASCII text;
    # without them a class matches no non-ASCII character (so a negated one matches them all).
    pure_ascii = body.isascii() and not re.search(r"\\[dDwWsSpP]", body)
    table[128:] = negated
    return table, pure_ascii


def _given(infos: list[ArgInfo], position: int) -> bool:
    return position < len(infos) and not infos[position].omitted


def _constant_text(infos: list[ArgInfo], position: int, what: str) -> str:
    info = infos[position]
    if not info.constant:
        raise ArgumentError(f"{what} must be a constant string", position)
    return str(info.value)


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(translate_pattern(pattern))
    except re.error as error:
        raise ArgumentError(f"invalid regular expression {pattern!r}: {error}", PATTERN) from None


def prepare_replace(infos: list[ArgInfo]) -> ReplacePlan:
    if infos[SOURCE].omitted:
        raise ArgumentError("source may not be empty", SOURCE)
    old, pattern = _given(infos, OLD), _given(infos, PATTERN)
    group, value = _given(infos, GROUP), _given(infos, REPLACEMENT)
    attribute, template = _given(infos, ATTRIBUTE), _given(infos, TEMPLATE)
    if old and template:
        return ReplacePlan("template")
    if old and value:
        return ReplacePlan("literal")
    if pattern:
        regex = _compile(_constant_text(infos, PATTERN, "regexPattern"))
        group_name = _constant_text(infos, GROUP, "regexGroupName") if group else None
        if group_name is not None and group_name not in regex.groupindex and not (
            group_name.isdigit() and int(group_name) <= regex.groups
        ):
            raise ArgumentError(f"the pattern has no group named {group_name!r}", GROUP)
        if group_name is not None and attribute:
            return ReplacePlan("fallback", regex=regex, group=group_name)
        if group_name is not None and value:
            return ReplacePlan("group", regex=regex, group=group_name)
        if value:
            if infos[REPLACEMENT].constant:
                python_template = translate_replacement(str(infos[REPLACEMENT].value), regex)
                re2 = _re2_replacement(python_template)
                deletion = _deletion_table(regex.pattern) if python_template == "" else None
                return ReplacePlan(
                    "regex", regex=regex, python_template=python_template,
                    re2_pattern=regex.pattern, re2_replacement=re2,
                    unicode_sensitive=bool(_UNICODE_CLASSES.search(regex.pattern)),
                    deletion=None if deletion is None else deletion[0],
                    deletion_covers_non_ascii=bool(deletion and deletion[1]),
                )
            return ReplacePlan("regex", regex=regex)
    raise ArgumentError(
        "give oldValue with replacementValue or template, or regexPattern with "
        "replacementValue, or regexPattern, regexGroupName and replacementAttributeName"
    )


def _arg_text(args: list[Arg], position: int) -> Value:
    value = args[position]
    assert value is not OMITTED
    return to_text(value)


def _regex_replace(source: Value, plan: ReplacePlan) -> Value:
    assert plan.regex is not None and plan.python_template is not None
    regex, template = plan.regex, plan.python_template

    def exact(text: str) -> str:
        return regex.sub(template, text)

    if isinstance(source, pa.Array):
        fast: pa.Array | None = None
        exact_rows_only_ascii = plan.unicode_sensitive
        if plan.deletion is not None:
            fast = delete_bytes(source, plan.deletion)
            exact_rows_only_ascii = not plan.deletion_covers_non_ascii
        elif plan.re2_replacement is not None:
            try:
                fast = pc.replace_substring_regex(
                    source, pattern=plan.re2_pattern, replacement=plan.re2_replacement
                )
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                fast = None  # RE2 lacks the construct (lookaround, back-reference)
        if fast is not None:
            if not exact_rows_only_ascii:
                return fast
            # On non-ASCII rows \d, \w, \s differ between RE2 and .NET: redo those exactly.
            non_ascii = pc.invert(pc.string_is_ascii(source))
            return map_masked(source, non_ascii, exact, TEXT, fast)
    # Per distinct value: the pattern needs Python's regex engine.
    return map_distinct(source, exact, TEXT)


def _replace_group(text: str, regex: re.Pattern[str], group: str, replacement: str) -> str:
    key: str | int = int(group) if group.isdigit() else group
    pieces: list[str] = []
    last = 0
    for match in regex.finditer(text):
        start, end = match.span(key)
        if start < 0:
            continue
        pieces.append(text[last:start])
        pieces.append(replacement)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def replace(env: Env, args: list[Arg], plan: ReplacePlan) -> Value:
    args = list(args) + [OMITTED] * (7 - len(args))
    source = _arg_text(args, SOURCE)
    if plan.mode == "literal":
        old, new = _arg_text(args, OLD), _arg_text(args, REPLACEMENT)
        if isinstance(old, pa.Scalar) and isinstance(new, pa.Scalar):
            if not old.as_py():
                return source
            return call(pc.replace_substring, source, pattern=old.as_py(),
                        replacement=new.as_py() or "")
        return _per_row_replace(env, source, old, new)
    if plan.mode == "template":
        old, template = _arg_text(args, OLD), _arg_text(args, TEMPLATE)
        if isinstance(old, pa.Scalar) and isinstance(template, pa.Scalar) and old.as_py():
            parts = str(template.as_py() or "").split(old.as_py())
            pieces: list[Value] = []
            for i, part in enumerate(parts):
                if i:
                    pieces.append(source)
                pieces.append(text_scalar(part))
            return call(pc.binary_join_element_wise, *pieces, text_scalar(""))
        return _per_row_template(env, source, old, template)
    assert plan.regex is not None
    regex = plan.regex
    if plan.mode == "regex":
        replacement = _arg_text(args, REPLACEMENT)
        if plan.python_template is not None:
            return _regex_replace(source, plan)
        return _per_row_regex(env, source, replacement, regex)
    assert plan.group is not None
    group = plan.group
    if plan.mode == "group":
        replacement = _arg_text(args, REPLACEMENT)
        if isinstance(replacement, pa.Scalar):
            new = str(replacement.as_py() or "")
            # Per distinct value: only the group's span inside each match is replaced.
            return map_distinct(source, lambda s: _replace_group(s, regex, group, new), TEXT)
        return _per_row_group(env, source, replacement, regex, group)
    # fallback: the source when present, otherwise a group extracted from another attribute
    other = _arg_text(args, ATTRIBUTE)
    key: str | int = int(group) if group.isdigit() else group

    def extract(text: str) -> str | None:
        match = regex.search(text)
        return match.group(key) if match and match.group(key) is not None else None

    extracted = map_distinct(other, extract, TEXT)
    present = call(pc.fill_null, call(pc.not_equal, source, text_scalar("")), False)
    return if_else(present, source, extracted)


def _rows(env: Env, *values: Value) -> list[list[Any]]:
    return [
        v.to_pylist() if isinstance(v, pa.Array) else [v.as_py()] * env.n for v in values
    ]


def _per_row_replace(env: Env, source: Value, old: Value, new: Value) -> Value:
    # Row by row: oldValue/replacementValue are columns here, which no kernel accepts.
    out = [
        None if s is None else (s.replace(o, n or "") if o else s)
        for s, o, n in zip(*_rows(env, source, old, new), strict=True)
    ]
    return pa.array(out, TEXT)


def _per_row_template(env: Env, source: Value, old: Value, template: Value) -> Value:
    # Row by row: the template or oldValue is a column.
    out = [
        None if s is None or t is None else (t.replace(o, s) if o else t)
        for s, o, t in zip(*_rows(env, source, old, template), strict=True)
    ]
    return pa.array(out, TEXT)


def _per_row_regex(env: Env, source: Value, replacement: Value, regex: re.Pattern[str]) -> Value:
    # Row by row: the replacement is a column, translated for each row.
    out = [
        None if s is None or r is None else regex.sub(translate_replacement(r, regex), s)
        for s, r in zip(*_rows(env, source, replacement), strict=True)
    ]
    return pa.array(out, TEXT)


def _per_row_group(
    env: Env, source: Value, replacement: Value, regex: re.Pattern[str], group: str
) -> Value:
    # Row by row: the replacement is a column.
    out = [
        None if s is None else _replace_group(s, regex, group, r or "")
        for s, r in zip(*_rows(env, source, replacement), strict=True)
    ]
    return pa.array(out, TEXT)


