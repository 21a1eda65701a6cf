"""The data-quality gate: a Great Expectations suite generated from the config.

HR extracts are messy — duplicate keys, impossible dates, a column renamed last week — and recon
must catch that before it plans a single change. ``check`` validates the HR frame with a Great
Expectations 1.x suite (ephemeral context: no project folder, no network) built from the config
and returns a ``QualityResult``: the rows to quarantine (category ``invalid``, with a reason naming
the rule and the column), the warnings (reported, not quarantined) and the validation result as
JSON-able data. ``gate`` then refuses the whole extract when it looks broken (a required column is
missing, or more than ``quality.max_invalid_share`` of the rows fail): planning from a broken file
would make mass changes, e.g. an empty status column would turn everyone into a leaver.

Great Expectations takes seconds to import, so it is imported lazily, once per process (and
without the modules it loads only for expectations recon does not run); code that never checks
quality (most unit tests) never pays for it. The rules live in ``recon.core.quality_rules``:
checks GX cannot express on the raw strings (dates in several formats, manager references,
expression results) are computed vectorized into derived columns that GX then validates, so that
every rule shows up in the one validation result. GX is handed only the columns the rules name.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
import threading
import types
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from importlib.machinery import ModuleSpec
from typing import Any

import pandas as pd

from recon.core.config import Config
from recon.core.quality_rules import (
    SHOWN,
    Rule,
    Suite,
    required_columns,
    stored_as_numbers,
)
from recon.errors import ConfigError, InputError, PlanError, QualityError

QUALITY_FORMAT = "recon.quality/1"

_SAMPLE = 20  # rows and values kept per rule in ``details``
_INVALID_COLUMNS = ["rule", "column", "reason"]
_WARNING_COLUMNS = ["hr_row", "rule", "column", "message"]


@dataclass(frozen=True)
class QualityResult:
    """Rows to quarantine, warnings to report, and the validation result (see architecture.md)."""

    invalid: pd.DataFrame  # index hr_row; rule, column, reason — one row per quarantined HR row
    warnings: pd.DataFrame  # hr_row, rule, column, message
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def reasons(self) -> pd.Series:
        return self.invalid["reason"]

    @property
    def missing_columns(self) -> list[dict[str, str]]:
        return list(self.details.get("missing_columns", []))


# --- Great Expectations, imported once -------------------------------------------------------


@dataclass
class _Gx:
    module: Any
    batch_definition: Any
    expectation_impl: Callable[[str], Any]


_GX: _Gx | None = None


# Modules GX imports at start-up but only calls inside expectations recon's suite does not use
# (KL divergence and KS tests, their charts, JSON-schema and Markdown rendering): loaded on first
# use instead, which saves about a second of CPU per run. A user expectation that needs one of
# them still gets it, loaded when it first runs.
_DEFERRED_MODULES = frozenset({"scipy.stats", "altair", "jsonschema", "mistune"})
# GX's Azure Blob Storage / Key Vault support: a data source recon never configures. When recon
# has not imported azure-identity itself (for Entra), GX sees it as absent instead of paying a
# fifth of its import time; recon's own later import of it is not affected.
_HIDDEN_FROM_GX = frozenset({"azure.identity"})


class _GxImportFinder(importlib.abc.MetaPathFinder):
    """Installed only while GX is imported: defers or hides the modules named above, for the
    thread importing GX alone (another thread may import at the same time)."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> ModuleSpec | None:
        if threading.get_ident() != self.thread:
            return None
        if fullname in _HIDDEN_FROM_GX:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        if fullname not in _DEFERRED_MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _import_gx() -> Any:
    finder = _GxImportFinder()
    sys.meta_path.insert(0, finder)
    try:
        import great_expectations as gx
    finally:
        sys.meta_path.remove(finder)
    return gx


def _gx() -> _Gx:
    """Import GX and build the ephemeral context once; later calls reuse it."""
    if _GX is None:
        with warnings.catch_warnings():  # GX's own deprecation noise is not the user's concern
            warnings.simplefilter("ignore")
            _make_gx()
    assert _GX is not None
    return _GX


@contextmanager
def prepared_alongside() -> Iterator[None]:
    """Run the block while a thread imports GX and makes its context: the block's reads run
    mostly outside the GIL, so most of the second GX takes is hidden behind them.

    Python's warning filters are one per process (``catch_warnings`` is not thread-safe): while
    the block runs, a warning raised outside recon's own modules is ignored, as GX's import
    noise is, and recon's own (an HR file read as cp1252) still reaches the user; the thread is
    waited for before the filters are restored. Should the thread fail, ``_gx`` meets the
    failure again, in the caller's thread, and reports it there."""
    if _GX is not None:
        yield
        return
    thread = threading.Thread(target=_prepare_quietly, name="recon: importing GX", daemon=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"(?!recon(\.|$))")
        thread.start()
        try:
            yield
        finally:
            thread.join()


def _prepare_quietly() -> None:
    with suppress(Exception):  # met again, and reported, by the check that needs GX
        _make_gx()


_MAKING = threading.Lock()


def _make_gx() -> None:
    """Import GX and make the context, once (the warning filters are the caller's)."""
    global _GX
    with _MAKING:
        if _GX is not None:
            return
        os.environ["GX_ANALYTICS_ENABLED"] = "false"  # before the import: no usage statistics
        gx = _import_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.expectations.registry import get_expectation_impl

        # Some GX modules set their logger to INFO; the CLI promises one line per problem.
        for name in [*logging.root.manager.loggerDict, "great_expectations"]:
            if name.startswith("great_expectations"):
                logging.getLogger(name).setLevel(logging.ERROR)
        # GX fingerprints every batch with an md5 of the whole frame (twice per validation): a
        # third of the run time on large extracts, for a batch marker recon never reads.
        from great_expectations.execution_engine import pandas_execution_engine

        pandas_execution_engine.HASH_THRESHOLD = 0
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("recon").add_dataframe_asset("hr_extract")
        _GX = _Gx(gx, asset.add_batch_definition_whole_dataframe("whole"), get_expectation_impl)


def _expectation(gx: _Gx, rule: Rule, number: int) -> Any:
    """Instantiate one GX expectation; a bad user definition is a config error, not a crash."""
    where = rule.option or f"quality rule {rule.rule}"
    try:
        implementation = gx.expectation_impl(rule.expectation)
    except Exception as error:
        raise ConfigError(f"{where}: unknown expectation {rule.expectation!r}") from error
    meta = {"recon_rule": number, "rule": rule.rule, "column": rule.column,
            "severity": rule.severity}
    try:
        return implementation(**rule.kwargs, meta=meta,
                              severity="critical" if rule.severity == "error" else "warning")
    except Exception as error:
        last = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        raise ConfigError(f"{where}: invalid options for {rule.expectation}: {last}") from error


# --- check -----------------------------------------------------------------------------------


def check(frame: pd.DataFrame, config: Config, *, file: str = "",
          numbers: Mapping[str, int] | None = None) -> QualityResult:
    """Validate the HR frame against the suite generated from ``config``.

    Returns the rows to quarantine and the warnings; it never raises for bad data (that is the
    gate's decision), only for a bad quality configuration. ``numbers`` says how many cells of
    each column a workbook stored as numbers (``HrExtract.numbers``): a key column among them
    is warned about (``key_shape``).
    """
    if frame.columns.duplicated().any():
        duplicated = frame.columns[frame.columns.duplicated()][0]
        raise InputError("duplicated column name in the header", file=file or "HR extract",
                         column=str(duplicated))
    needed = required_columns(config)
    present = {column for column in needed if column in frame.columns}
    missing = [{"column": c, "needed_by": o} for c, o in needed.items() if c not in present]
    suite = Suite(frame, config)
    suite.build(present)
    validation = _validate(frame, suite, [m["column"] for m in missing])
    result = _result(frame, suite, validation, missing, file)
    return with_warnings(result, stored_as_numbers(numbers or {}, config))


def with_warnings(result: QualityResult, rows: pd.DataFrame) -> QualityResult:
    """The result with more warning rows (hr_row, rule, column, message) appended."""
    if not len(rows):
        return result
    warns = (pd.concat([result.warnings, rows[_WARNING_COLUMNS]], ignore_index=True)
             if len(result.warnings) else rows[_WARNING_COLUMNS].reset_index(drop=True))
    details = {**result.details, "warning_rows": len(warns)}
    return replace(result, warnings=warns, details=details)


def _batch_frame(frame: pd.DataFrame, suite: Suite) -> pd.DataFrame:
    """The frame GX validates: the HR columns and derived columns the rules name.

    GX's pandas engine filters the *whole* batch frame (every column) once or twice per
    expectation, so unused columns cost time in proportion to their number while changing no
    result. A user expectation may look at the whole table (its columns, a row condition on any
    column), so with user expectations the batch keeps every HR column.
    """
    if any(rule.user for rule in suite.rules):
        return frame.assign(**suite.derived)
    named: dict[str, None] = {}
    for rule in suite.rules:
        for key in ("column", "column_A", "column_B"):
            if isinstance(rule.kwargs.get(key), str):
                named[rule.kwargs[key]] = None
    columns = {name: suite.derived[name] if name in suite.derived else frame[name]
               for name in named}
    return pd.DataFrame(columns, index=frame.index) if columns else frame.assign()


def _validate(frame: pd.DataFrame, suite: Suite, missing: list[str]) -> Any:
    gx = _gx()
    expectations = gx.module.ExpectationSuite(name="recon_quality")
    for column in missing:
        expectations.add_expectation(gx.module.expectations.ExpectColumnToExist(
            column=column, meta={"rule": "required_column", "column": column}))
    for number, rule in enumerate(suite.rules):
        expectations.add_expectation(_expectation(gx, rule, number))
    # An unnamed index makes GX list the failing row labels directly (and fast); the labels are
    # the hr_row numbers.
    data = _batch_frame(frame, suite)
    data.index = frame.index.rename(None)
    batch = gx.batch_definition.get_batch(batch_parameters={"dataframe": data})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return batch.validate(expectations, result_format={
            "result_format": "COMPLETE", "partial_unexpected_count": _SAMPLE,
            "return_unexpected_index_query": False})


def _json_safe(value: Any) -> Any:
    """Plain JSON types only; NaN and infinities (GX percentages of nothing) become null."""
    return json.loads(json.dumps(value, default=str), parse_constant=lambda _: None)


def _cut(value: Any) -> Any:
    text = value if isinstance(value, str) else None
    return text[:SHOWN] + "…" if text is not None and len(text) > SHOWN else value


def _result(frame: pd.DataFrame, suite: Suite, validation: Any,
            missing: list[dict[str, str]], file: str) -> QualityResult:
    invalid_parts: list[pd.DataFrame] = []
    warning_parts: list[pd.DataFrame] = []
    rules_json: list[dict[str, Any]] = []
    table_failures: list[dict[str, Any]] = []
    numbered = {int((outcome.expectation_config.meta or {}).get("recon_rule", -1)): outcome
                for outcome in validation.results}  # required_column (-1): see missing_columns
    for number, rule in enumerate(suite.rules):
        outcome = numbered[number]
        result = outcome.result or {}
        exception = (outcome.exception_info or {}).get("exception_message")
        if exception and (outcome.exception_info or {}).get("raised_exception"):
            error = ConfigError if rule.user else PlanError
            line = str(exception).strip().splitlines() or [""]
            raise error(f"{rule.option or 'quality rule ' + rule.rule} ({rule.expectation}) "
                        f"could not run: {line[-1]}")
        rows = pd.Index(result.get("unexpected_index_list") or [], dtype=frame.index.dtype)
        rules_json.append({
            "rule": rule.rule, "column": rule.column, "severity": rule.severity,
            "expectation": rule.expectation,
            "kwargs": {k: v for k, v in rule.kwargs.items() if k != "value_set" or len(v) < 50},
            "success": bool(outcome.success),
            "element_count": result.get("element_count"),
            "unexpected_count": result.get("unexpected_count", len(rows)),
            "unexpected_percent": result.get("unexpected_percent"),
            "observed_value": _cut(result.get("observed_value")),
            "sample_rows": [int(r) if isinstance(r, int) else str(r) for r in rows[:_SAMPLE]],
            "sample_values": [_cut(v) for v in (result.get("partial_unexpected_list") or [])
                              [:_SAMPLE]],
        })
        if outcome.success:
            continue
        if rows.empty:
            failure = {"rule": rule.rule, "column": rule.column, "severity": rule.severity,
                       "message": f"{rule.rule}: {rule.expectation} failed"
                       + (f" on column {rule.column!r}" if rule.column else "")
                       + (f" (observed {_cut(result.get('observed_value'))!r})"
                          if result.get("observed_value") is not None else "")}
            table_failures.append(failure)
            if rule.severity == "warning":
                warning_parts.append(pd.DataFrame({
                    "hr_row": pd.array([pd.NA], dtype="Int64"), "rule": [rule.rule],
                    "column": [rule.column], "message": [failure["message"]]}))
            continue
        rows = rows.unique()
        messages = rule.describe(rows).astype("string")
        columns = (rule.columns(rows).to_numpy() if rule.columns is not None else rule.column)
        part = pd.DataFrame({"rule": rule.rule, "column": columns,
                             "reason": messages.to_numpy()}, index=rows)
        (invalid_parts if rule.severity == "error" else warning_parts).append(
            part if rule.severity == "error" else
            part.rename(columns={"reason": "message"}).rename_axis("hr_row").reset_index())
    invalid = _combine(invalid_parts, frame.index)
    warns = (pd.concat(warning_parts, ignore_index=True)[_WARNING_COLUMNS] if warning_parts
             else pd.DataFrame({c: pd.Series(dtype="string") for c in _WARNING_COLUMNS}))
    details = {
        "format": QUALITY_FORMAT,
        "file": file,
        "rows": len(frame),
        "invalid_rows": len(invalid),
        "warning_rows": len(warns),
        "success": bool(validation.success) and not missing,
        "missing_columns": missing,
        "table_failures": table_failures,
        "rules": rules_json,
        "great_expectations": {"version": str(_gx().module.__version__),
                               "statistics": dict(validation.statistics or {})},
    }
    return QualityResult(invalid=invalid, warnings=warns, details=_json_safe(details))


def _combine(parts: list[pd.DataFrame], index: pd.Index) -> pd.DataFrame:
    """One row per quarantined HR row: the rules, columns and reasons of every failure, joined."""
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype="string") for c in _INVALID_COLUMNS},
                             index=pd.Index([], dtype=index.dtype, name="hr_row"))
        return empty
    failed = pd.Index(pd.concat([part.index.to_series() for part in parts]).unique())
    combined = pd.DataFrame({c: pd.Series(pd.NA, index=failed, dtype="string")
                             for c in _INVALID_COLUMNS})
    for part in parts:
        aligned = part.reindex(failed).astype("string")
        for name in _INVALID_COLUMNS:
            so_far = combined[name]
            joined = (so_far + "; " + aligned[name]).where(so_far.notna(), aligned[name])
            combined[name] = joined.where(aligned[name].notna(), so_far)
    ordered = combined.loc[index.intersection(failed, sort=False)]
    ordered.index.name = "hr_row"
    return ordered


# --- gate ------------------------------------------------------------------------------------


def gate(result: QualityResult, total_rows: int, config: Config) -> None:
    """Refuse to plan from an extract that looks broken rather than merely messy.

    Raises ``QualityError`` (one line naming the file and column; exit 1) when a required column is
    missing, a required column is empty in every row (an empty status column would make everyone
    a leaver), a table-level expectation of severity error failed, the extract has no data rows,
    or more than ``quality.max_invalid_share`` of the rows fail.
    """
    file = str(result.details.get("file") or "HR extract")
    missing = result.missing_columns
    if missing:
        first = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise QualityError(f"{file}: column {first['column']!r}: required column is missing "
                        f"(named by {first['needed_by']}){more}; refusing to plan")
    for failure in result.details.get("table_failures", []):
        if failure.get("severity") == "error":
            raise QualityError(f"{file}: {failure['message']}; refusing to plan")
    if total_rows <= 0:
        raise QualityError(f"{file}: no data rows (only a header?); refusing to plan (every "
                           "account would look like an orphan)")
    share = len(result.invalid) / total_rows
    limit = config.quality.max_invalid_share
    if share > limit:
        for rule in ("key_not_null", "status_not_null"):
            outcome = next((r for r in result.details.get("rules", []) if r["rule"] == rule), None)
            if outcome is not None and outcome["unexpected_count"] == total_rows:
                raise QualityError(f"{file}: column {outcome['column']!r}: empty in every row; "
                                "refusing to plan (a broken extract would disable or create "
                                "everyone)")
        first_row = result.invalid.index[0]
        first_failure = result.invalid.iloc[0]
        raise QualityError(
            f"{file}: {len(result.invalid)} of {total_rows} rows ({share:.0%}) failed data quality,"
            f" more than quality.max_invalid_share ({limit:.0%}); refusing to plan. First: row "
            f"{first_row}, column {first_failure['column']!r}: {first_failure['reason']}")


# --- as data ---------------------------------------------------------------------------------


def quality_json(result: QualityResult) -> dict[str, Any]:
    """The validation result plus every quarantined row and warning, as JSON-able data."""
    invalid = result.invalid.rename_axis("hr_row").reset_index()
    return {
        **result.details,
        "invalid": _json_safe(invalid.astype(object).where(invalid.notna(), None)
                              .to_dict(orient="records")),
        "warnings": _json_safe(result.warnings.astype(object)
                                    .where(result.warnings.notna(), None).to_dict("records")),
    }



