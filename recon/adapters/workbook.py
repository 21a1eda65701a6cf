"""The auditor workbook: a run rendered for people who review in Excel, and their marks read back.

``write_workbook`` renders a reconciliation and its plan (and, after a push, the results and the
verification) as one .xlsx file that an auditor can read without help. The **Changes** sheet has
one numbered row per planned op followed by one row per attribute it writes; the auditor marks
the op row Approve or Reject. ``read_approvals`` turns those marks into an ``Approval`` bound to
the plan digest printed in the workbook, and refuses a workbook that is not the plan's own
rendering (another run, an edited op id, rows added or deleted), so that what is pushed is exactly
what the auditor saw.

Two safety rules hold for every cell written here:

* Text that a spreadsheet would execute (``=``, ``+``, ``-``, ``@``, tab or CR first) is stored as
  an explicit string with Excel's quote prefix: HR data never becomes a formula, even if a reviewer
  edits the cell later.
* Only what a reviewer needs about a person is written (name, HR key, user name, the changed
  values); never a token, a config secret or an ETag.

Sheets are written in openpyxl's write-only mode (streamed rows, no cell objects kept), so the
workbook of a 100,000-person run stays well inside a minute.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from recon.approve import Approval
from recon.errors import InputError, PlanError
from recon.normalize import ENTERPRISE, parse_path

CHANGES = "Changes"
DIGEST_LABEL = "Plan digest"
FULL_ID = "Op id (full)"  # hidden column: the id the reader checks; "Op id" shows its start
APPROVE, REJECT = "Approve", "Reject"
DECISION_RULE = (
    "Decide on each numbered op row (white, e.g. 7): choose Approve or Reject in the Decision "
    "column. The grey rows under it (7.1, 7.2 …) show each attribute the op writes, before → "
    "after; the op's decision covers all of them. Blank means not approved. Save the file and "
    "return it: recon refuses it if the plan changed or rows were added, deleted or edited."
)
CATEGORY_ORDER = (
    ("drift", "update the account (PATCH)"),
    ("link", "link the account, write its anchor attributes"),
    ("joiner", "create an account (POST)"),
    ("leaver", "disable the account (policy)"),
    ("rehire", "enable the account"),
    ("conflict", "none — a person decides"),
    ("invalid", "none — fix the HR row"),
    ("orphan", "account without HR row: reported"),
    ("excluded", "account excluded by rule: left alone"),
    ("future_hire", "none yet (hire date beyond the pre-hire window)"),
    ("departed", "none (inactive, no account)"),
    ("out_of_scope", "none (fails the scoping rule)"),
    ("in_sync", "none"),
)
_RISKY_START = re.compile(r"^[=+\-@\t\r]")

_THIN = Side(style="thin", color="A6A6A6")


def _font(*, size: float = 11, **style: Any) -> Font:
    """Excel's default face, named: an unnamed font falls back to a serif in other readers."""
    return Font(name="Calibri", size=size, **style)



HEADER_FONT = _font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
TITLE_FONT = _font(bold=True, size=14)
SECTION_FONT = _font(bold=True, size=12, color="1F4E78")
LABEL_FONT = _font(bold=True)
NOTE_FONT = _font(italic=True, color="595959")
OP_FONT = _font(bold=True)
ALARM_FONT = _font(bold=True, color="C00000")
DETAIL_FONT = _font(color="595959")
DETAIL_FILL = PatternFill("solid", fgColor="F2F2F2")
EDIT_FILL = PatternFill("solid", fgColor="FFF2CC")
EDIT_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
UNLOCKED = Protection(locked=False)
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
CENTER = Alignment(horizontal="center")


# ---- what the writer needs (the recon result objects satisfy these) ---------------------------

class RunMetaLike(Protocol):
    @property
    def as_of(self) -> date: ...
    @property
    def hr_file(self) -> str: ...
    @property
    def hr_sha256(self) -> str: ...
    @property
    def snapshot_source(self) -> str: ...
    @property
    def snapshot_digest(self) -> str: ...
    @property
    def config_digest(self) -> str: ...
    @property
    def generated_at(self) -> str: ...


class ReconciliationLike(Protocol):
    """``recon.reconcile.Reconciliation``; ``desired`` (dates) and ``quality`` are used if there."""

    @property
    def identities(self) -> pd.DataFrame: ...
    @property
    def diffs(self) -> pd.DataFrame: ...
    @property
    def meta(self) -> RunMetaLike: ...


class PlanLike(Protocol):
    @property
    def ops(self) -> pd.DataFrame: ...
    @property
    def digest(self) -> str: ...


class ApprovalLike(Protocol):
    @property
    def plan_digest(self) -> str: ...
    @property
    def op_ids(self) -> tuple[str, ...]: ...
    @property
    def approver(self) -> str: ...
    @property
    def approved_at(self) -> str: ...
    @property
    def note(self) -> str: ...
    @property
    def source(self) -> str: ...


@dataclass(frozen=True)
class Column:
    """One sheet column: its header, the frame column it shows, and a width in characters."""

    header: str
    source: str
    width: float | None = None  # None: fitted to the data


# ---- cells ------------------------------------------------------------------------------------

def _styled(ws: Any, value: Any, *, font: Font | None = None, fill: PatternFill | None = None,
            alignment: Alignment | None = None, unlocked: bool = False,
            border: Border | None = None, number_format: str | None = None) -> Any:
    if isinstance(value, Cell):
        cell = value
    elif isinstance(value, str):
        cell = _text_cell(ws, value)
    else:
        cell = WriteOnlyCell(ws, value)
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if alignment is not None:
        cell.alignment = alignment
    if border is not None:
        cell.border = border
    if unlocked:
        cell.protection = UNLOCKED
    if number_format is not None:
        cell.number_format = number_format
    return cell


def _text_cell(ws: Any, text: str) -> Any:
    """A cell that holds ``text`` as text, whatever it starts with (no formula, no error code)."""
    cell = WriteOnlyCell(ws)
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", text)
    if _RISKY_START.match(text) or text in ERROR_CODES:
        cell.data_type = "s"  # openpyxl made it a formula ("=...") or an error; it is text
        cell.quotePrefix = True  # and stays text if a reviewer edits it in Excel
    return cell


def _column_values(ws: Any, values: pd.Series) -> list[Any]:
    """Excel-ready values of one column: dates as dates, numbers as numbers, text made safe."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values):
        days = pd.to_datetime(values, utc=True).dt.tz_localize(None) if isinstance(
            values.dtype, pd.DatetimeTZDtype) else values
        return [d.date() if not pd.isna(d) else None for d in days]
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return list(values.astype(object).where(values.notna(), None))
    text = values.astype("string").str.replace(ILLEGAL_CHARACTERS_RE, "", regex=True)
    out: list[Any] = list(text.astype(object).where(text.notna() & (text != ""), None))
    risky = (text.str.match(_RISKY_START.pattern) | text.isin(list(ERROR_CODES))).fillna(False)
    for position in np.flatnonzero(risky.to_numpy(dtype=bool)):
        out[position] = _text_cell(ws, str(out[position]))
    return out


def _width(header: str, values: pd.Series) -> float:
    """Wide enough for the header and most values, never so wide a row leaves the screen."""
    if values.empty:
        return max(10.0, len(header) + 3.0)
    lengths = values.astype("string").str.len().fillna(0)
    typical = float(lengths.quantile(0.95)) if len(lengths) else 0.0
    return float(min(max(len(header) + 3, typical + 2, 8), 60))


# ---- tables -----------------------------------------------------------------------------------

def _header(ws: Any, headers: Iterable[str]) -> list[Any]:
    align = Alignment(wrap_text=True, vertical="center")
    return [_styled(ws, h, font=HEADER_FONT, fill=HEADER_FILL, alignment=align) for h in headers]


def _finish_table(ws: Any, columns: Sequence[Column], widths: Sequence[float],
                  header_row: int, rows: int) -> None:
    """Frozen header, filter over the whole table, widths, landscape print with repeated header."""
    last = get_column_letter(len(columns))
    ws.freeze_panes = f"A{header_row + 1}"
    ws.auto_filter.ref = f"A{header_row}:{last}{header_row + max(rows, 1)}"
    for index, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _write_table(wb: Workbook, title: str, frame: pd.DataFrame, columns: Sequence[Column],
                 note: str = "") -> None:
    """A plain filterable sheet: optional note row, header row, one row per frame row."""
    ws = wb.create_sheet(title)
    header_row = 1
    widths = [c.width or _width(c.header, frame[c.source]) for c in columns]
    header_row = 2 if note else 1
    _finish_table(ws, columns, widths, header_row, len(frame))  # before the first row is out
    if note:
        ws.append([_styled(ws, note, font=NOTE_FONT)])
    ws.append(_header(ws, (c.header for c in columns)))
    if frame.empty:
        ws.append([_styled(ws, "(none)", font=NOTE_FONT)])
        return
    values = [_column_values(ws, frame[c.source]) for c in columns]
    for row in zip(*values, strict=True):
        ws.append(row)


# ---- Changes: one row per op, then one per attribute it writes --------------------------------

def _show(value: Any) -> str:
    """An attribute value as a reviewer reads it (references by their id, JSON otherwise)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and set(value) == {"value"}:
        return _show(value["value"])
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _flatten_user(user: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """A SCIM User as (path, value) pairs in the config's path notation, for a create op."""
    for key, value in user.items():
        if key == "schemas":
            continue
        if isinstance(value, dict) and set(value) != {"value"}:
            joint = ":" if key.lower().startswith("urn:") else "."
            for sub, inner in value.items():
                yield f"{key}{joint}{sub}", inner
        elif isinstance(value, list) and value and all(isinstance(i, dict) for i in value):
            for item in value:
                kind = item.get("type")
                for sub, inner in item.items():
                    if sub in ("type", "primary"):
                        continue
                    yield (f'{key}[type eq "{kind}"].{sub}' if kind else f"{key}.{sub}"), inner
        else:
            yield key, value


def _patch_after(operations: list[dict[str, Any]], before: dict[str, Any]) -> dict[str, Any]:
    """The value each PatchOp operation writes, keyed like ``before`` (the op's own paths)."""
    after: dict[str, Any] = {}
    for operation in operations:
        path, value = operation.get("path"), operation.get("value")
        if path is None and isinstance(value, dict):
            after.update(dict(_flatten_user(value)))
        elif path in before or not (isinstance(value, list) and value):
            after[str(path)] = value
        else:  # "add" of a multi-valued item: map it back to the filtered path it fills
            for key in before:
                parsed = parse_path(key)
                if parsed.filter_attr is None or parsed.attribute.lower() != str(path).lower():
                    continue
                for item in value:
                    if (isinstance(item, dict)
                            and str(item.get(parsed.filter_attr)) == parsed.filter_value):
                        after[key] = item.get(parsed.sub or "value")
    return after


def op_changes(method: str, payload: str, before: str) -> list[tuple[str, str, str]]:
    """(attribute, before, after) for every attribute an op writes, read from the op itself.

    The op is the truth of what will be pushed, so the reviewer sees the plan's own values
    rather than a re-derivation.
    """
    body = json.loads(payload) if payload else None
    held: dict[str, Any] = json.loads(before) if before else {}
    if method == "DELETE":
        return [("account", "exists", "deleted")]
    if method == "POST" and isinstance(body, dict):
        return [(path, "", _show(value)) for path, value in _flatten_user(body)]
    operations = body.get("Operations", []) if isinstance(body, dict) else []
    after = _patch_after(operations, held)
    keys = [*held, *(k for k in after if k not in held)]
    return [(k, _show(held.get(k)) if k in held else "", _show(after.get(k))) for k in keys]


def _label(path: str) -> str:
    """A SCIM path as a reviewer reads it: the enterprise URN shortened to ``enterprise:``."""
    if path.lower().startswith(ENTERPRISE.lower() + ":"):
        return "enterprise:" + path[len(ENTERPRISE) + 1:]
    return path


def change_lines(plan: PlanLike) -> pd.DataFrame:
    """The Changes sheet's rows from the plan alone: each op, then its attribute rows.

    Columns ``number`` ("7" for an op row, "7.2" for its second attribute), ``is_op``, ``op_id``,
    ``attribute``, ``before``, ``after``, ``position`` (the op's row in ``plan.ops``). The reader
    rebuilds the same lines to check that a returned workbook is this plan's rendering.
    """
    ops = plan.ops
    records: list[tuple[str, bool, str, str, str, str, int]] = []
    columns = (ops["op_id"], ops["method"], ops["payload"].fillna(""), ops["before"].fillna(""))
    for position, (op_id, method, payload, before) in enumerate(zip(*columns, strict=True)):
        number = position + 1
        changes = op_changes(str(method), str(payload), str(before))
        summary = f"{len(changes)} attribute{'s' if len(changes) != 1 else ''}"
        records.append((str(number), True, str(op_id), summary, "", "", position))
        records.extend(
            (f"{number}.{k}", False, str(op_id), _label(attribute), old, new, position)
            for k, (attribute, old, new) in enumerate(changes, 1)
        )
    return pd.DataFrame(records, columns=[
        "number", "is_op", "op_id", "attribute", "before", "after", "position"])


def _people(ops: pd.DataFrame, identities: pd.DataFrame) -> pd.DataFrame:
    """Person name and user name of each op, from its HR row or (for accounts) its target id."""
    ids = identities.copy()
    ids["hr_row"] = pd.to_numeric(ids["hr_row"], errors="coerce").astype("Int64")
    by_row = ids.dropna(subset=["hr_row"]).drop_duplicates("hr_row").set_index("hr_row")
    by_target = ids[ids["hr_row"].isna()].dropna(subset=["target_id"])
    by_target = by_target.drop_duplicates("target_id").set_index("target_id")
    rows = pd.to_numeric(ops["hr_row"], errors="coerce").astype("Int64")
    out = pd.DataFrame(index=ops.index)
    for column in ("display_name", "user_name"):
        from_row = rows.map(by_row[column]).astype("string")
        from_target = ops["target_id"].map(by_target[column]).astype("string")
        out[column] = from_row.fillna(from_target)
    return out


CHANGE_COLUMNS = (
    Column("#", "number", 7), Column("Category", "category", 11), Column("Action", "action", 9),
    Column("Risk", "risk", 9), Column("Person", "person", 22), Column("HR key", "hr_key", 11),
    Column("User name", "user_name", 26), Column("Account id", "target_id", 14),
    Column("Attribute", "attribute", 30), Column("Before", "before", 24),
    Column("After", "after", 24), Column("Decision", "decision", 11),
    Column("Comment", "comment", 30), Column("Op id", "short_id", 16),
    Column(FULL_ID, "op_id", 66),
)


def _write_changes(wb: Workbook, plan: PlanLike, identities: pd.DataFrame,
                   approved: set[str]) -> None:
    ws = wb.create_sheet(CHANGES)
    lines = change_lines(plan)
    ops = plan.ops.reset_index(drop=True)
    people = _people(ops, identities).iloc[lines["position"].to_numpy()].reset_index(drop=True)
    taken = ops.iloc[lines["position"].to_numpy()].reset_index(drop=True)
    table = pd.DataFrame({
        "number": lines["number"], "category": taken["category"], "action": taken["action"],
        "risk": taken["risk"], "person": people["display_name"], "hr_key": taken["hr_key"],
        "user_name": people["user_name"], "target_id": taken["target_id"],
        "attribute": lines["attribute"], "before": lines["before"], "after": lines["after"],
        "short_id": lines["op_id"].str.slice(0, 12), "op_id": lines["op_id"],
    })
    header_row = 3
    _finish_table(ws, CHANGE_COLUMNS, [c.width or 12 for c in CHANGE_COLUMNS], header_row,
                  len(table))
    ws.row_dimensions[1].height = 48
    last_letter = get_column_letter(len(CHANGE_COLUMNS) - 1)
    ws.merged_cells.add(f"A1:{last_letter}1")
    ws.merged_cells.add("A2:C2")
    ws.column_dimensions[get_column_letter(len(CHANGE_COLUMNS))].hidden = True
    decision_col = get_column_letter(_column_index(CHANGE_COLUMNS, "Decision"))
    last_row = header_row + max(len(table), 1)
    rule = DataValidation(
        type="list", formula1=f'"{APPROVE},{REJECT}"', allow_blank=True, showErrorMessage=True,
        errorTitle="Decision", error=f"Choose {APPROVE}, {REJECT} or leave blank.",
        promptTitle="Decision", prompt="Approve or Reject this op (all its attribute rows).",
        showInputMessage=True,
    )
    rule.add(f"{decision_col}{header_row + 1}:{decision_col}{last_row}")
    ws.data_validations.append(rule)
    # Locked cells cannot be edited, but the reviewer may still filter and widen columns.
    ws.protection.sheet = True
    ws.protection.autoFilter = False
    ws.protection.formatColumns = False
    ws.protection.formatRows = False

    ws.append([_styled(ws, DECISION_RULE, font=NOTE_FONT, alignment=WRAP_TOP)])
    ws.append([_styled(ws, DIGEST_LABEL, font=LABEL_FONT), None, None, plan.digest])
    ws.append(_header(ws, (c.header for c in CHANGE_COLUMNS)))
    values = {c.source: _column_values(ws, table[c.source])
              for c in CHANGE_COLUMNS if c.source in table}
    is_op = lines["is_op"].to_numpy(dtype=bool)
    alarming = table["risk"].isin(["high", "critical"]).to_numpy(dtype=bool)
    for index in range(len(table)):
        ws.append(_change_row(ws, values, index, bool(is_op[index]), bool(alarming[index]),
                              table["op_id"].iat[index] in approved))
    if table.empty:
        ws.append([_styled(ws, "(no changes planned)", font=NOTE_FONT)])


def _change_row(ws: Any, values: dict[str, list[Any]], index: int, is_op: bool,
                alarming: bool, approved: bool) -> list[Any]:
    """An op row (bold, editable Decision and Comment) or an attribute row (grey, all locked)."""
    row: list[Any] = []
    for column in CHANGE_COLUMNS:
        if column.source in ("decision", "comment"):
            choice = APPROVE if approved and column.source == "decision" else None
            row.append(_styled(ws, choice, fill=EDIT_FILL, border=EDIT_BORDER, unlocked=True)
                       if is_op else _styled(ws, None, fill=DETAIL_FILL))
            continue
        value = values[column.source][index]
        if not is_op:
            row.append(_styled(ws, value, font=DETAIL_FONT, fill=DETAIL_FILL))
        elif column.source == "risk" and alarming:
            row.append(_styled(ws, value, font=ALARM_FONT))
        elif column.source in ("action", "person"):
            row.append(_styled(ws, value, font=OP_FONT))
        else:
            row.append(value)
    return row


def _column_index(columns: Sequence[Column], header: str) -> int:
    return next(i for i, c in enumerate(columns, 1) if c.header == header)


# ---- the other sheets -------------------------------------------------------------------------

def _identity_sheets(wb: Workbook, reconciliation: ReconciliationLike) -> None:
    ids = reconciliation.identities.copy()
    ids["hr_row"] = pd.to_numeric(ids["hr_row"], errors="coerce").astype("Int64")
    desired = getattr(reconciliation, "desired", None)
    for column in ("hire_date", "termination_date"):
        if isinstance(desired, pd.DataFrame) and column in desired:
            ids[column] = ids["hr_row"].map(desired[column]).astype("datetime64[ns]")
        else:
            ids[column] = pd.Series(pd.NaT, index=ids.index, dtype="datetime64[ns]")
    row, key, person = Column("HR row", "hr_row", 8), Column("HR key", "hr_key"), Column(
        "Person", "display_name")
    user, account = Column("User name", "user_name"), Column("Account id", "target_id")
    category, reason = Column("Category", "category", 12), Column("Reason", "reason")

    def pick(*names: str) -> pd.DataFrame:
        return ids[ids["category"].isin(names)]

    diffs = reconciliation.diffs
    drift = diffs[diffs["category"].isin(["drift", "link", "rehire"])].copy()
    drift["hr_row"] = pd.to_numeric(drift["hr_row"], errors="coerce").astype("Int64")
    names = ids.dropna(subset=["hr_row"]).drop_duplicates("hr_row").set_index("hr_row")
    drift["display_name"] = drift["hr_row"].map(names["display_name"])
    drift["attribute"] = drift["attribute"].astype("string").map(_label, na_action="ignore")
    _write_table(wb, "Drift", drift, [
        row, key, person, category, account, Column("Attribute", "attribute"),
        Column("Target has", "before"), Column("HR says", "after")],
        "One row per attribute that differs between HR and the account (drift, link, rehire).")
    _write_table(wb, "Joiners", pick("joiner", "future_hire"), [
        row, key, person, user, category, Column("Hire date", "hire_date", 12), reason],
        "Active workers in scope without an account: joiners are created; future hires wait.")
    _write_table(wb, "Leavers", pick("leaver"), [
        row, key, person, user, account, Column("Termination date", "termination_date", 13),
        Column("Matched by", "matched_by"), reason],
        "Inactive workers whose account is still active: the leaver policy disables them.")
    _write_table(wb, "Rehires", pick("rehire"), [
        row, key, person, user, account, Column("Hire date", "hire_date", 12),
        Column("Changed attributes", "changed_attributes"), reason],
        "Active workers whose account is disabled: the account is enabled again.")
    _write_table(wb, "Orphans", pick("orphan", "excluded"), [
        category, account, user, Column("Display name", "display_name"), reason],
        "Accounts with no HR row (orphans: reported, not changed) and accounts excluded by rule.")
    _write_table(wb, "Conflicts", pick("conflict"), [
        row, key, person, user, account, reason],
        "Ambiguous matches: nothing is planned; a person decides which account belongs to whom.")
    invalid = pick("invalid")
    quality = getattr(getattr(reconciliation, "quality", None), "invalid", None)
    if isinstance(quality, pd.DataFrame) and not quality.empty:
        rows = pd.to_numeric(pd.Series(quality.index), errors="coerce").astype("Int64")
        for column in ("rule", "column"):
            if column in quality:  # a row may break several rules: name them all
                named = quality[column].astype("string").groupby(rows.to_numpy()).agg(_join)
                invalid = invalid.assign(**{column: invalid["hr_row"].map(named)})
    for column in ("rule", "column"):
        if column not in invalid:
            invalid = invalid.assign(**{column: pd.Series(pd.NA, index=invalid.index,
                                                          dtype="string")})
    _write_table(wb, "Invalid rows", invalid, [
        row, key, person, Column("Rule", "rule"), Column("Column", "column"), reason],
        "HR rows that failed a data-quality rule: quarantined, nothing planned; fix them in HR.")


def _join(values: pd.Series) -> str:
    return "; ".join(dict.fromkeys(values.dropna().astype(str)))


def _frame_of(value: Any) -> pd.DataFrame:
    """A result object's table: the frame itself, or its ``results``/``ops`` frame."""
    if isinstance(value, pd.DataFrame):
        return value
    for name in ("results", "ops", "frame"):
        frame = getattr(value, name, None)
        if isinstance(frame, pd.DataFrame):
            return frame
    raise TypeError(f"cannot find a results table in {type(value).__name__}")


def _evidence_sheets(wb: Workbook, plan: PlanLike, identities: pd.DataFrame,
                     approval: ApprovalLike | None, push_results: Any, verification: Any) -> None:
    """Push results and Verification: per op, who approved, what changed, did it take effect."""
    ops = plan.ops.reset_index(drop=True)
    lines = change_lines(plan)
    detail = lines[~lines["is_op"]]
    summary = (detail["attribute"] + ": " + detail["before"].replace("", "∅") + " → "
               + detail["after"].replace("", "∅")).groupby(detail["op_id"]).agg("\n".join)
    people = _people(ops, identities)
    evidence = pd.DataFrame({
        "number": np.arange(1, len(ops) + 1), "op_id": ops["op_id"], "action": ops["action"],
        "category": ops["category"], "person": people["display_name"], "hr_key": ops["hr_key"],
        "user_name": people["user_name"], "target_id": ops["target_id"],
        "changes": ops["op_id"].map(summary),
    })
    approved = set(approval.op_ids) if approval is not None else set()
    evidence["approved"] = np.where(evidence["op_id"].isin(list(approved)), "yes", "no")
    evidence["approver"] = evidence["approved"].map(
        {"yes": approval.approver if approval else "", "no": ""})
    evidence["approved_at"] = evidence["approved"].map(
        {"yes": approval.approved_at if approval else "", "no": ""})
    columns = [Column("#", "number", 6), Column("Action", "action", 9),
               Column("Category", "category", 11), Column("Person", "person", 22),
               Column("HR key", "hr_key", 11), Column("User name", "user_name", 26),
               Column("Account id", "target_id", 14), Column("Before → after", "changes", 50),
               Column("Approved", "approved", 10), Column("Approved by", "approver", 16),
               Column("Approved at (UTC)", "approved_at", 20)]
    if push_results is not None:
        results = _frame_of(push_results)
        pushed = results.drop_duplicates("op_id", keep="last").set_index("op_id")
        for name in ("status", "attempts", "http_status", "error"):
            if name in pushed:
                evidence[name] = evidence["op_id"].map(pushed[name])
            else:
                evidence[name] = pd.NA
        evidence["status"] = evidence["status"].astype("string").fillna("not pushed")
        columns += [Column("Status", "status", 12), Column("Attempts", "attempts", 9),
                    Column("HTTP status", "http_status", 9), Column("Error", "error", 40)]
    checked = _frame_of(verification) if verification is not None else None
    if checked is not None and "op_id" in checked and "converged" in checked:
        took = checked.drop_duplicates("op_id", keep="last").set_index("op_id")["converged"]
        mapped = evidence["op_id"].map(took)
        evidence["took_effect"] = np.where(mapped.isna(), "not verified",
                                           np.where(mapped.fillna(False).astype(bool), "yes", "no"))
        columns.append(Column("Took effect", "took_effect", 12))
    columns.append(Column("Op id", "op_id", 18))
    _write_table(wb, "Push results", evidence, columns,
                 "Every planned op: who approved it, what it changes, what the push did and "
                 "whether verification found the change in the target.")
    if checked is not None:
        headers = [Column(str(name).replace("_", " ").capitalize(), str(name))
                   for name in checked.columns]
        _write_table(wb, "Verification", checked, headers,
            "The target re-read after the push and reconciled again: approved work must converge.")


# ---- Summary ----------------------------------------------------------------------------------

def _utc(text: str) -> datetime | str:
    """An ISO timestamp as a naive UTC datetime (Excel has no time zones), else the text."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _write_summary(wb: Workbook, reconciliation: ReconciliationLike, plan: PlanLike,
                   approval: ApprovalLike | None, push_results: Any, verification: Any) -> None:
    ws = wb.create_sheet("Summary")
    meta = reconciliation.meta
    stamp = "yyyy-mm-dd hh:mm:ss"
    rows: list[list[Any]] = []

    def section(title: str) -> None:
        rows.append([])
        rows.append([_styled(ws, title, font=SECTION_FONT)])

    def pair(label: str, value: Any, number_format: str | None = None) -> None:
        rows.append([_styled(ws, label, font=LABEL_FONT),
                     _styled(ws, value, number_format=number_format,
                             alignment=Alignment(horizontal="left"))])

    rows.append([_styled(ws, "Identity reconciliation — review workbook", font=TITLE_FONT)])
    rows.append([_styled(ws, "Review and decide on the Changes sheet; the other sheets list "
                         "every person by category.", font=NOTE_FONT)])
    section("Run")
    pair("As-of date", meta.as_of, "yyyy-mm-dd")
    pair("HR file", Path(str(meta.hr_file)).name)
    pair("HR file sha256", meta.hr_sha256)
    pair("Target", meta.snapshot_source)
    pair("Snapshot digest", meta.snapshot_digest)
    pair(DIGEST_LABEL, plan.digest)
    pair("Config digest", meta.config_digest)
    pair("Generated at (UTC)", _utc(meta.generated_at), stamp)
    pair("Workbook written at (UTC)", datetime.now(UTC).replace(tzinfo=None, microsecond=0), stamp)

    section("Rows per category")
    counts = reconciliation.identities["category"].value_counts()
    rows.append(_header(ws, ["Category", "Rows", "What recon does"]))
    rows[-1][1].alignment = CENTER
    first = len(rows) + 1
    known = [name for name, _ in CATEGORY_ORDER]
    extra = [(str(c), "") for c in counts.index if c not in known]
    for name, meaning in (*CATEGORY_ORDER, *extra):
        rows.append([name, _styled(ws, int(counts.get(name, 0)), alignment=CENTER), meaning])
    last = len(rows)
    rows.append([_styled(ws, "total", font=LABEL_FONT),
                 _styled(ws, int(counts.sum()), font=LABEL_FONT, alignment=CENTER)])

    section("Planned operations")
    rows.append(_header(ws, ["Action", "Ops", "Risk"]))
    rows[-1][1].alignment = CENTER
    ops = plan.ops
    if len(ops):
        sizes = ops.groupby(["action", "risk"], sort=True).size()
        for (action, risk), size in zip(sizes.index.tolist(), sizes.tolist(), strict=True):
            rows.append([str(action), _styled(ws, int(size), alignment=CENTER), str(risk)])
    rows.append([_styled(ws, "all ops", font=LABEL_FONT),
                 _styled(ws, len(ops), font=LABEL_FONT, alignment=CENTER)])

    if approval is not None:
        section("Approval")
        pair("Approved by", approval.approver)
        pair("Approved at (UTC)", _utc(approval.approved_at), stamp)
        pair("Note", approval.note)
        pair("Source", approval.source)
        pair("Approved ops", f"{len(approval.op_ids)} of {len(ops)}")
        pair("Approval bound to plan", approval.plan_digest)
    if push_results is not None:
        section("Push")
        statuses = _frame_of(push_results)["status"].value_counts()
        for status, size in statuses.items():
            pair(str(status), int(size))
    if verification is not None:
        section("Verification")
        checked = _frame_of(verification)
        if "converged" in checked:
            took = checked["converged"].fillna(False).astype(bool)
            pair("Converged", int(took.sum()))
            pair("Not converged", int((~took).sum()))

    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = "Rows per category"
    chart.legend = None
    chart.y_axis.title = "rows"
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.y_axis.majorGridlines = None
    chart.y_axis.number_format = "0"
    chart.y_axis.majorUnit = max(1, -(-int(counts.max() if len(counts) else 1) // 5))
    chart.x_axis.scaling.orientation = "maxMin"  # first category on top, as in the table
    chart.add_data(Reference(ws, min_col=2, min_row=first, max_row=last), titles_from_data=False)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.gapWidth = 40
    chart.width, chart.height = 15, 8.5
    ws.add_chart(chart, f"E{first - 1}")  # beside the table it draws

    # Digests are long text that flows over the empty cells to their right; counts stay close
    # to their category.
    for letter, width in (("A", 29), ("B", 20), ("C", 46), ("D", 3)):
        ws.column_dimensions[letter].width = width
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    for row in rows:
        ws.append(row)


# ---- entry point ------------------------------------------------------------------------------

def write_workbook(
    path: str | Path, reconciliation: ReconciliationLike, plan: PlanLike, *,
    approval: ApprovalLike | None = None, push_results: Any = None, verification: Any = None,
) -> Path:
    """Write the review workbook (and, with results, the evidence workbook) to ``path``.

    ``push_results`` is a ``PushResult`` (or its ``results`` frame: op_id, status, attempts,
    http_status, error); ``verification`` a frame, or an object holding one, with ``op_id`` and
    ``converged``. With an approval, its ops are pre-marked Approve and the Summary names who
    approved and when.
    """
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    approved = set(approval.op_ids) if approval is not None else set()
    _write_summary(wb, reconciliation, plan, approval, push_results, verification)
    _write_changes(wb, plan, reconciliation.identities, approved)
    _identity_sheets(wb, reconciliation)
    if push_results is not None or verification is not None or approval is not None:
        _evidence_sheets(wb, plan, reconciliation.identities, approval, push_results,
                         verification)
    wb.save(file)
    return file


# ---- reading the decisions back ---------------------------------------------------------------

def read_approvals(path: str | Path, plan: PlanLike, *, approver: str, note: str = "") -> Approval:
    """The ops marked Approve on the Changes sheet, as an approval bound to ``plan``.

    Rule (printed above the sheet): the decision is taken on an op's own numbered row and covers
    all its attribute rows. The workbook is refused (``PlanError``, naming what differs) unless it
    shows exactly this plan: same digest, the same ops and attribute rows, nothing added, removed
    or edited. A decision on an attribute row or a value other than Approve/Reject/blank is
    refused too, because guessing what a reviewer meant is not an approval.
    """
    from openpyxl import load_workbook

    if not approver.strip():
        raise PlanError("an approval needs the approver's name")
    file = Path(path)
    try:
        wb = load_workbook(file, read_only=True, data_only=False)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise InputError(f"cannot read workbook ({error})", file=str(file)) from error
    try:
        if CHANGES not in wb.sheetnames:
            raise PlanError(f"{file.name} has no {CHANGES} sheet: not a recon review workbook")
        rows = list(wb[CHANGES].iter_rows(values_only=True))
    finally:
        wb.close()
    found = _read_changes(rows, file.name)
    if found.digest != plan.digest:
        raise PlanError(
            f"{file.name} is the workbook of plan {found.digest[:12]}, not of this plan "
            f"{plan.digest[:12]} (another run): review the current workbook")
    _check_lines(found.lines, change_lines(plan), file.name)
    chosen = set(found.approved)
    ordered = tuple(str(i) for i in plan.ops["op_id"] if i in chosen)
    return Approval(plan.digest, ordered, approver.strip(), note=note,
                    source=f"workbook:{file.name}")


@dataclass(frozen=True)
class _Returned:
    digest: str
    lines: pd.DataFrame  # excel_row, number, op_id, attribute
    approved: list[str]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _read_changes(rows: list[tuple[Any, ...]], name: str) -> _Returned:
    """Locate the digest and the header by their labels, then read every line below them."""
    digest = next((next((_text(v) for v in r[1:] if _text(v)), "") for r in rows[:10]
                   if r and _text(r[0]) == DIGEST_LABEL), "")
    headers = [c.header for c in CHANGE_COLUMNS]
    start = next((i for i, r in enumerate(rows[:10]) if [_text(v) for v in r[:len(headers)]]
                  == headers), None)
    if not digest or start is None:
        raise PlanError(f"{name}: the {CHANGES} sheet lost its plan digest or header row")
    at = {h: i for i, h in enumerate(headers)}
    records: list[tuple[int, str, str, str]] = []
    approved: list[str] = []
    for offset, row in enumerate(rows[start + 1:], start + 2):
        cells = [_text(row[i]) if i < len(row) else "" for i in range(len(headers))]
        if not any(cells) or cells[0] == "(no changes planned)":
            continue
        number, op_id = cells[at["#"]], cells[at[FULL_ID]]
        decision = cells[at["Decision"]].casefold()
        records.append((offset, number, op_id, cells[at["Attribute"]]))
        if decision not in ("", APPROVE.casefold(), REJECT.casefold()):
            raise PlanError(f"{name} row {offset}: Decision {cells[at['Decision']]!r} is not "
                            f"{APPROVE}, {REJECT} or blank")
        if decision and "." in number:
            raise PlanError(f"{name} row {offset}: a decision belongs on op row "
                            f"{number.split('.')[0]}, not on its attribute row {number}")
        if decision == APPROVE.casefold():
            approved.append(op_id)
    lines = pd.DataFrame(records, columns=["excel_row", "number", "op_id", "attribute"])
    return _Returned(digest, lines, approved)


def _check_lines(found: pd.DataFrame, expected: pd.DataFrame, name: str) -> None:
    """Refuse unless the returned lines are the plan's lines, naming the first difference."""
    plan_ids = set(expected["op_id"])
    strangers = found[~found["op_id"].isin(list(plan_ids))]
    if not strangers.empty:
        first = strangers.iloc[0]
        raise PlanError(f"{name} row {first['excel_row']}: op id {first['op_id'][:16]!r} is not "
                        f"in the plan (edited or added row)")
    missing = plan_ids - set(found["op_id"])
    if missing:
        number = expected.loc[expected["op_id"].isin(list(missing)), "number"].iloc[0]
        raise PlanError(f"{name}: op {number} of the plan is missing from the workbook "
                        f"({len(missing)} op(s) deleted)")
    got = list(zip(found["number"], found["op_id"], found["attribute"], strict=True))
    want = list(zip(expected["number"], expected["op_id"], expected["attribute"], strict=True))
    for index, (one, other) in enumerate(zip(got, want, strict=False)):
        if one != other:
            raise PlanError(f"{name} row {found['excel_row'].iat[index]}: expected line "
                            f"{other[0]} ({other[2]}) of the plan, found {one[0]} ({one[2]})")
    if len(got) != len(want):
        raise PlanError(f"{name}: {len(got)} change rows where the plan has {len(want)} "
                        f"(rows added or deleted)")
