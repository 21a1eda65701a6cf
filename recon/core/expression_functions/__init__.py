"""The functions of Entra's attribute-mapping language, implemented over pyarrow arrays.

Each entry of :data:`FUNCTIONS` says how many arguments a function takes, checks its constant
arguments once when the expression is compiled (``prepare``), and evaluates whole columns at a
time (``run``). Functions that Entra offers only for Active Directory or app-role sources are
listed in :data:`UNSUPPORTED` and rejected when an expression is compiled.

Modules, by concept: ``values`` (kinds and conversions), ``logic`` (IIF, Switch, comparisons,
null tests), ``text`` (string functions), ``regex`` (Replace and .NET regex translation),
``dates`` (CDate, DateAdd, DateDiff, FormatDateTime, .NET date formats), ``multivalue`` (Split,
Item, Count, Join of lists), ``generate`` (Guid, RandomString, SelectUniqueValue).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recon.core.expression_functions import dates, generate, logic, multivalue, regex, text
from recon.core.expression_functions.kinds import Value
from recon.core.expression_functions.values import Arg, ArgInfo, Env


@dataclass(frozen=True)
class Function:
    name: str
    min_args: int
    max_args: int | None
    run: Callable[[Env, list[Arg], Any], Value]
    prepare: Callable[[list[ArgInfo]], Any] | None = None
    optional: frozenset[int] = frozenset()  # positions below min_args that may be left empty
    top_level_only: bool = False
    per_row: bool = False  # a fresh value per row (random, or depends on the other rows)

    @property
    def costly(self) -> bool:
        """Slower per row than hashing the column: worth computing per distinct value."""
        return self.name in _COSTLY

    def arity_text(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.min_args == self.max_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"

    def required_positions(self, count: int) -> list[int]:
        return [i for i in range(min(self.min_args, count)) if i not in self.optional]


def _f(
    name: str, lo: int, hi: int | None, run: Callable[[Env, list[Arg], Any], Value],
    prepare: Callable[[list[ArgInfo]], Any] | None = None, optional: tuple[int, ...] = (),
    top_level_only: bool = False, per_row: bool = False,
) -> tuple[str, Function]:
    return name, Function(
        name, lo, hi, run, prepare, frozenset(optional), top_level_only, per_row
    )


_COSTLY = frozenset({
    "CDate", "ConvertToBase64", "ConvertToUTF8Hex", "DateAdd", "DateDiff", "DateFromNum",
    "FormatDateTime", "InStr", "Item", "NumFromDate", "PCase", "RemoveDuplicates", "Replace",
    "Split", "Word",
})

FUNCTIONS: dict[str, Function] = dict(
    [
        _f("Append", 2, 2, text.append, optional=(1,)),
        _f("BitAnd", 2, 2, logic.bit_and),
        _f("CBool", 1, 1, logic.cbool),
        _f("CDate", 1, 1, dates.cdate),
        _f("Coalesce", 1, None, logic.coalesce, optional=tuple(range(1, 64))),
        _f("ConvertToBase64", 1, 1, text.convert_to_base64),
        _f("ConvertToUTF8Hex", 1, 1, text.convert_to_utf8_hex),
        _f("Count", 1, 1, multivalue.count),
        _f("CStr", 1, 1, logic.cstr),
        _f("DateAdd", 3, 3, dates.date_add, dates.prepare_interval),
        _f("DateDiff", 3, 3, dates.date_diff, dates.prepare_interval),
        _f("DateFromNum", 1, 1, dates.date_from_num),
        _f("FormatDateTime", 4, 4, dates.format_date_time, dates.prepare_format, optional=(1,)),
        _f("Guid", 0, 0, generate.guid, per_row=True),
        _f("IgnoreFlowIfNullOrEmpty", 1, 1, logic.ignore_flow_if_null_or_empty),
        _f("IIF", 3, 3, logic.iif, logic.prepare_iif, optional=(1, 2)),
        _f("InStr", 2, 4, text.instr, text.prepare_instr),
        _f("IsNull", 1, 1, logic.is_null),
        _f("IsNullOrEmpty", 1, 1, logic.is_null_or_empty),
        _f("IsPresent", 1, 1, logic.is_present),
        _f("IsString", 1, 1, logic.is_string),
        _f("Item", 2, 2, multivalue.item),
        _f("Join", 2, None, multivalue.join, optional=tuple(range(1, 64))),
        _f("Left", 2, 2, text.left),
        _f("Mid", 3, 3, text.mid),
        _f("NormalizeDiacritics", 1, 1, text.normalize_diacritics),
        _f("Not", 1, 1, logic.not_),
        _f("Now", 0, 0, dates.now),
        _f("NumFromDate", 1, 1, dates.num_from_date),
        _f("PCase", 1, 2, text.pcase, text.prepare_pcase),
        _f("RandomString", 5, 6, generate.random_string, generate.prepare_random_string,
           per_row=True),
        _f("Redact", 1, 1, logic.redact),
        _f("RemoveDuplicates", 1, 1, multivalue.remove_duplicates),
        _f("Replace", 2, 7, regex.replace, regex.prepare_replace, optional=(1, 2, 3, 4, 5, 6)),
        _f("SelectUniqueValue", 2, None, generate.select_unique_value, top_level_only=True,
           per_row=True),
        _f("Split", 2, 2, multivalue.split, multivalue.prepare_split),
        _f("StripSpaces", 1, 1, text.strip_spaces),
        _f("Switch", 2, None, logic.switch, logic.prepare_switch, optional=tuple(range(1, 256))),
        _f("ToLower", 1, 2, text.to_lower, text.prepare_culture),
        _f("ToUpper", 1, 2, text.to_upper, text.prepare_culture),
        _f("Word", 3, 3, text.word, text.prepare_word),
    ]
)

UNSUPPORTED: dict[str, str] = {
    "AppRoleAssignmentsComplex": "it reads Entra app role assignments, not HR source data",
    "AssertiveAppRoleAssignmentsComplex": "it reads Entra app role assignments, not HR data",
    "SingleAppRoleAssignment": "it reads Entra app role assignments, not HR source data",
    "DefaultDomain": "it needs the tenant's default domain; write the domain as a \"string\"",
}

__all__ = ["FUNCTIONS", "UNSUPPORTED", "Function"]
