"""The rules of the data-quality gate: which expectations the config implies, over which columns.

``Suite.build`` turns the config into ``Rule`` objects — one Great Expectations expectation each,
with a function that words the reason for any failing row — and computes, vectorized, the derived
columns GX validates where it cannot express a check on the raw strings (dates in several formats,
manager references, expression results, over-long cells). ``recon.core.quality`` runs the suite.

Keys that lost their shape are warned about here too (rule ``key_shape``), outside GX: a key
column a workbook stores as numbers (``stored_as_numbers``), and keys that match the target's
anchor only after adding or removing leading zeros (``zero_padded_keys``, once the target is
read). Such a key is never written over the target's: a later rule's match to an account holding
another anchor is a conflict (recon.core.classify).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.arrow import arrow_text
from recon.core.config import Config, Reference
from recon.core.expressions import compile_expression, evaluate
from recon.core.key_shape import shape_of
from recon.core.mapping import parse_dates
from recon.core.same import normalized_array
from recon.core.scim import parse_path
from recon.errors import ConfigError

Severity = Literal["error", "warning"]

# Pragmatic address syntax (RFC 5322 dot-atom local part, DNS domain with at least one dot);
# [^...] classes exclude whitespace, so a value with an embedded newline fails.
EMAIL_REGEX = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}$"
)
SHOWN = 60  # characters of a cell value quoted in a reason
# No Entra or SCIM string attribute recon writes is longer (streetAddress: 1024); a longer cell
# is a broken export, not a value to push.
MAX_CELL_LENGTH = 1024


@dataclass(frozen=True)
class Rule:
    """One expectation of the suite and how its failing rows are described to a person."""

    rule: str
    column: str  # the HR column(s) the reason names
    severity: Severity
    expectation: str  # GX snake-case name, e.g. expect_column_values_to_be_unique
    kwargs: dict[str, Any]
    describe: Callable[[pd.Index], pd.Series]  # failing row labels -> one message per row
    user: bool = False
    columns: Callable[[pd.Index], pd.Series] | None = None  # when the column differs per row
    option: str = ""  # the config option that defined it (user expectations)


def _shown(values: pd.Series) -> pd.Series:
    """Cell values as they appear in a reason: quoted, one line, long values cut."""
    text = values.astype("string").fillna("").str.replace(r"[\x00-\x1f\x7f]", "?", regex=True)
    cut = text.str.len() > SHOWN
    text = text.where(~cut, text.str.slice(0, SHOWN) + "…")
    return "'" + text + "'"


def _constant(message: str) -> Callable[[pd.Index], pd.Series]:
    return lambda rows: pd.Series(message, index=rows, dtype="string")


def _valued(values: pd.Series, before: str, after: str) -> Callable[[pd.Index], pd.Series]:
    return lambda rows: before + _shown(values.loc[rows]) + after


def _per_value(values: pd.Series, transform: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """An element-wise ``transform`` computed once per distinct value (missing included), then
    spread over the rows: HR columns such as dates and statuses repeat a few values."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    once = transform(pd.Series(distinct, dtype=values.dtype))
    return pd.Series(once.array.take(codes), index=values.index, name=values.name)


def _is_in(values: pd.Series, candidates: pd.Series) -> np.ndarray:
    """``values.isin(candidates)`` for the non-missing values (missing ones: unspecified).

    For pyarrow-backed strings (where pandas' own isin builds a Python object per value), the
    few distinct values (manager keys) are hashed rather than all candidates (every key): the
    candidates found among them are the distinct values that are known.
    """
    if all(isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"
           for s in (values, candidates)):
        codes, distinct = pd.factorize(values)
        if len(distinct) == 0:
            return np.zeros(len(values), dtype=bool)
        each = pa.array(distinct.array)
        every = pa.array(candidates.array)
        present = pc.filter(every, pc.is_in(every, value_set=each))
        found = np.asarray(pc.is_in(each, value_set=present).to_numpy(zero_copy_only=False),
                           dtype=bool)
        return np.where(codes >= 0, found[codes], False)
    return np.asarray(values.astype(object).isin(candidates.astype(object)), dtype=bool)


def _sharing(keys: pd.Series, rows: pd.Index) -> pd.Series:
    """How many rows share the key of each of ``rows`` — which are *all* the rows whose key is
    not unique (GX's unexpected rows), so counting among them is counting in the column."""
    if isinstance(keys.dtype, pd.StringDtype) and keys.dtype.na_value is pd.NA:
        shared = keys.loc[rows]
        return shared.map(shared.value_counts(dropna=True))
    # a NaN-missing dtype maps the counts to floats when the column has gaps: keep that
    return keys.map(keys.value_counts(dropna=True)).loc[rows]


def _fits(values: pd.Series) -> bool:
    """True when no cell can exceed MAX_CELL_LENGTH characters: UTF-8 text has no more
    characters than bytes, and pyarrow reads every cell's byte length off its offsets."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        most = pc.max(pc.binary_length(pa.array(values.array))).as_py()
        return most is None or most <= MAX_CELL_LENGTH
    return False


def _over_long(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.Series, pd.Series]:
    """Per row: the first of ``columns`` holding more than MAX_CELL_LENGTH characters (missing
    when none does), and the longest cell's length as text (computed for those rows only)."""
    bad = np.zeros(len(frame), dtype=bool)
    for column in columns:
        if not _fits(frame[column]):
            bad |= (frame[column].str.len() > MAX_CELL_LENGTH).fillna(False).to_numpy(bool)
    first = pd.Series(pd.NA, index=frame.index, dtype="string")
    longest = pd.Series(pd.NA, index=frame.index, dtype="string")
    if bad.any():
        lengths = pd.DataFrame({c: frame[c][bad].str.len() for c in columns}).fillna(0)
        too_long = lengths > MAX_CELL_LENGTH
        first[bad] = too_long.idxmax(axis=1).astype("string")
        longest[bad] = lengths.max(axis=1).astype("int64").astype("string")
    return first, longest


def _expression_columns(text: str) -> frozenset[str]:
    return frozenset(compile_expression(text).columns)


def required_columns(config: Config) -> dict[str, str]:
    """Every HR column the config reads, with the first config option that names it."""
    source = config.source
    needed: dict[str, str] = {}

    def need(column: str | None, option: str) -> None:
        if column is not None:
            needed.setdefault(column, option)

    need(source.key, "source.key")
    if source.status is not None:
        need(source.status.column, "source.status.column")
    need(source.hire_date, "source.hire_date")
    need(source.termination_date, "source.termination_date")
    need(source.manager_key, "source.manager_key")
    for column in source.email:
        need(column, "source.email")
    expressions: list[tuple[str, str]] = []
    if source.scope:
        expressions.append((source.scope, "source.scope"))
    for path, spec in config.attributes.items():
        text = spec.reference if isinstance(spec, Reference) else spec
        expressions.append((text, f"attributes.{path}"))
    expressions += [(rule.source, f"match[{i}].source") for i, rule in enumerate(config.match)]
    if config.groups is not None:
        for i, group in enumerate(config.groups.rules):
            expressions.append((group.name, f"groups.rules[{i}].name"))
            if group.when:
                expressions.append((group.when, f"groups.rules[{i}].when"))
    for text, option in expressions:
        for column in sorted(_expression_columns(text)):
            need(column, option)
    for i, user in enumerate(config.quality.expectations):
        for key in ("column", "column_A", "column_B"):
            if isinstance(user.get(key), str):
                need(user[key], f"quality.expectations[{i}]")
        for column in user.get("column_list") or []:
            if isinstance(column, str):
                need(column, f"quality.expectations[{i}]")
    return needed


class Suite:
    """Builds the rules and the derived columns they need over one HR frame."""

    def __init__(self, frame: pd.DataFrame, config: Config) -> None:
        self.frame = frame
        self.config = config
        self.derived: dict[str, pd.Series] = {}
        self.rules: list[Rule] = []

    def add(self, rule: str, hr_column: str, expectation: str,
            describe: Callable[[pd.Index], pd.Series], severity: Severity = "error",
            **kwargs: Any) -> None:
        self.rules.append(Rule(rule, hr_column, severity, expectation, kwargs, describe))

    def derive(self, name: str, values: pd.Series) -> str:
        column = f"recon:{name}"
        self.derived[column] = values
        return column

    def build(self, present: set[str]) -> None:
        source = self.config.source
        frame = self.frame
        if source.key in present:
            key = source.key
            self.add("key_not_null", key, "expect_column_values_to_not_be_null",
                     _constant(f"key_not_null: column {key!r} is empty"), column=key)
            self.add("key_unique", key, "expect_column_values_to_be_unique",
                     lambda rows: f"key_unique: column {key!r} value "
                     + _shown(frame[key].loc[rows]) + " is shared by "
                     + _sharing(frame[key], rows).astype("string") + " rows", column=key)
        for column in source.email:
            if column in present:
                self.add("email_syntax", column, "expect_column_values_to_match_regex",
                         _valued(frame[column], f"email_syntax: column {column!r} value ",
                                 " is not an e-mail address"), column=column, regex=EMAIL_REGEX)
        self._expression_emails(present)
        if source.status is not None and source.status.column in present:
            self._status(source.status.column)
        parsed = {name: self._dates(name, column) for name, column in
                  (("hire_date", source.hire_date), ("termination_date", source.termination_date))
                  if column is not None and column in present}
        if len(parsed) == 2:
            hire, end = source.hire_date, source.termination_date
            self.add("hire_before_termination", f"{hire}; {end}",
                     "expect_column_pair_values_a_to_be_greater_than_b",
                     lambda rows: f"hire_before_termination: column {hire!r} "
                     + _shown(frame[hire].loc[rows]) + f" is after column {end!r} "
                     + _shown(frame[end].loc[rows]),
                     column_A=parsed["termination_date"], column_B=parsed["hire_date"],
                     or_equal=True, ignore_row_if="either_value_is_missing")
        if source.manager_key and {source.manager_key, source.key} <= present:
            manager = frame[source.manager_key]
            known = _is_in(manager, frame[source.key])
            unknown = self.derive("unknown manager", manager.where(~known))
            self.add("manager_exists", source.manager_key, "expect_column_values_to_be_null",
                     _valued(manager, f"manager_exists: column {source.manager_key!r} value ",
                             " is not the key of any worker"), severity="warning", column=unknown)
        self._lengths(sorted(present))
        for index, spec in enumerate(self.config.quality.expectations):
            self._user(index, spec)

    def _lengths(self, columns: list[str]) -> None:
        """One rule for every column the config reads: the first over-long cell of each row."""
        if not columns:
            return
        first, longest = _over_long(self.frame, columns)
        offending = self.derive("over-long column", first)
        self.rules.append(Rule(
            "value_length", ", ".join(columns), "error", "expect_column_values_to_be_null",
            {"column": offending},
            lambda rows: "value_length: column '" + first.loc[rows] + "' holds "
            + longest.loc[rows] + f" characters (more than {MAX_CELL_LENGTH})",
            columns=lambda rows: first.loc[rows]))

    def _expression_emails(self, present: set[str]) -> None:
        """userName and emails values must be addresses: check what the expression yields."""
        for path, spec in self.config.expression_attributes().items():
            if not (path.lower() == "username" or path.lower().startswith("emails")):
                continue
            columns = _expression_columns(spec)
            checked = set(self.config.source.email)
            if not columns or not columns <= present or columns <= checked:
                continue  # nothing to evaluate, or its columns already get email_syntax
            column = ", ".join(sorted(columns))
            values = evaluate(spec, self.frame)
            derived = self.derive(path, values)
            self.add("email_syntax", column, "expect_column_values_to_match_regex",
                     _valued(values, f"email_syntax: {path} from column {column!r} would be ",
                             ", not an e-mail address"), column=derived, regex=EMAIL_REGEX)

    def _status(self, column: str) -> None:
        status = self.config.source.status
        assert status is not None
        self.add("status_not_null", column, "expect_column_values_to_not_be_null",
                 _constant(f"status_not_null: column {column!r} is empty"), column=column)
        if status.inactive is not None:
            # Compared as the mapping compares them: trimmed and case-insensitive.
            allowed = [*status.active, *status.inactive]
            folded = self.derive(f"{column} casefolded", _per_value(
                self.frame[column], lambda v: v.astype("string").str.strip().str.casefold()))
            self.add("status_in_set", column, "expect_column_values_to_be_in_set",
                     _valued(self.frame[column], f"status_in_set: column {column!r} value ",
                             f" is not one of {', '.join(allowed)}"),
                     column=folded, value_set=sorted({v.strip().casefold() for v in allowed}))

    def _dates(self, name: str, column: str) -> str:
        fmt = self.config.source.date_format
        parsed = _per_value(self.frame[column], lambda values: parse_dates(values, fmt))
        raw = self.frame[column]
        unparseable = self.derive(f"unparseable {column}", raw.where(parsed.isna()))
        expected = f"{fmt}, " if fmt else ""
        self.add("date_parseable", column, "expect_column_values_to_be_null",
                 _valued(raw, f"date_parseable: column {column!r} value ",
                         f" is not a date ({expected}ISO 8601 or an Excel serial number)"),
                 column=unparseable)
        return self.derive(f"{name} as date", parsed)

    def _user(self, index: int, spec: dict[str, Any]) -> None:
        where = f"quality.expectations[{index}]"
        options = dict(spec)
        name = options.pop("expectation", None)
        severity = options.pop("severity", "error")
        rule = str(options.pop("rule", name))
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: 'expectation' (a Great Expectations name) is required")
        if severity not in ("error", "warning"):
            raise ConfigError(f"{where}: severity must be 'error' or 'warning', not {severity!r}")
        column = str(options.get("column") or options.get("column_A") or "")
        values = self.frame[column] if column in self.frame.columns else None
        describe = (_valued(values, f"{rule}: column {column!r} value ", f" fails {name}")
                    if values is not None else _constant(f"{rule}: fails {name}"))
        self.rules.append(Rule(rule, column, severity, name, options, describe, user=True,
                                option=where))


KEY_SHAPE = "key_shape"
WARNING_COLUMNS = ["hr_row", "rule", "column", "message"]


def warning_rows(column: str, messages: list[str]) -> pd.DataFrame:
    """Table-level warnings (no hr_row) of the key_shape rule, one per message."""
    return pd.DataFrame({
        "hr_row": pd.array([pd.NA] * len(messages), dtype="Int64"),
        "rule": pd.array([KEY_SHAPE] * len(messages), dtype="string"),
        "column": pd.array([column] * len(messages), dtype="string"),
        "message": pd.array(messages, dtype="string")}, columns=WARNING_COLUMNS)


def key_columns(config: Config) -> list[str]:
    """The HR columns that hold keys: the key, the manager key, the match rules' sources."""
    columns = [config.source.key, *([config.source.manager_key] if config.source.manager_key
                                    else [])]
    for rule in config.match:
        columns += sorted(_expression_columns(rule.source))
    return list(dict.fromkeys(columns))


def stored_as_numbers(numbers: Mapping[str, int], config: Config) -> pd.DataFrame:
    """A warning per key column that a workbook stores as numbers in some rows (Excel drops
    the leading zeros of a number: Employee ID 004524 becomes 4524)."""
    parts = [warning_rows(column, [
        f"{KEY_SHAPE}: column {column!r} is stored as numbers in {numbers[column]} rows of the "
        "workbook: leading zeros are lost there (format the column as Text)"])
        for column in key_columns(config) if numbers.get(column)]
    return (pd.concat(parts, ignore_index=True) if parts else warning_rows("", []))


def zero_padded_keys(
    desired: pd.DataFrame, current: pd.DataFrame, pairs: pd.DataFrame, config: Config,
) -> pd.DataFrame:
    """A warning when HR keys that the first match rule did not find match the target's anchor
    after adding or removing leading zeros (HR 4524, target 004524): the extract lost, or the
    target kept, a shape. ``current`` holds the accounts match saw; vectorised."""
    if not config.match or not len(desired) or not len(current):
        return warning_rows("", [])
    rule = config.match[0]
    unfound = np.ones(len(desired), dtype=bool)
    unfound[desired.index.get_indexer(pd.Index(pairs["hr_row"][pairs["rule"] == 0]))] = False
    open_rows = np.flatnonzero(unfound)
    ours = normalized_array(rule.target, arrow_text(desired["match_0"].astype("string"))
                            .take(pa.array(open_rows))).drop_null()
    if not len(ours):
        return warning_rows("", [])
    theirs = normalized_array(rule.target, arrow_text(current[rule.target].astype("string")))
    theirs = theirs.drop_null()
    shaped = shape_of(ours)
    # Hash the few open keys, not the target's many: the target values that are an open key's
    # shape, and the shapes of target values with a leading or trailing zero that are one.
    plain = theirs.filter(pc.is_in(theirs, value_set=shaped))
    odd = theirs.filter(pc.or_(pc.starts_with(theirs, "0"), pc.ends_with(theirs, "0")))
    reshaped = shape_of(odd)
    kept = pc.is_in(reshaped, value_set=shaped)
    originals = pa.concat_arrays([plain, odd.filter(kept)])
    at = pc.index_in(shaped, value_set=pa.concat_arrays([plain, reshaped.filter(kept)]))
    hits = np.flatnonzero(at.is_valid().to_numpy(zero_copy_only=False))
    if not len(hits):
        return warning_rows("", [])
    first = int(hits[0])
    example = originals[at[first].as_py()].as_py()
    column = ", ".join(sorted(_expression_columns(rule.source))) or rule.source
    label = parse_path(rule.target).attribute
    return warning_rows(column, [
        f"{KEY_SHAPE}: column {column!r}: {len(hits)} keys match the target's {label} only "
        f"after adding or removing leading zeros (e.g. HR {ours[first].as_py()}, target "
        f"{example}); they are not linked over the target's value (check how the extract was "
        "saved: Excel drops leading zeros)"])
