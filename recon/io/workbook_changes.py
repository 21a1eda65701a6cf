"""The Changes sheet and its way back: one numbered row per op, one row per attribute it writes.

The reviewer marks an op's own row Approve or Reject; ``read_approvals`` turns the marks into an
``Approval`` bound to the plan digest printed on the sheet, and refuses a workbook that is not this
plan's rendering (another run, an edited op id, rows added or deleted), so that what is pushed is
exactly what the reviewer saw. Both directions build the sheet's lines with ``change_lines`` from
the plan alone, which is what makes the comparison exact.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from recon.core.approve import Approval
from recon.core.scim import ENTERPRISE, child_path, parse_path
from recon.errors import InputError, PlanError
from recon.io.workbook_cells import (
    ALARM_FONT,
    DETAIL_FILL,
    DETAIL_FONT,
    EDIT_BORDER,
    EDIT_FILL,
    LABEL_FONT,
    NOTE_FONT,
    OP_FONT,
    WRAP_TOP,
    Column,
    column_values,
    finish_table,
    header_cells,
    styled,
)

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


class PlanLike(Protocol):
    @property
    def ops(self) -> pd.DataFrame: ...
    @property
    def digest(self) -> str: ...


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
            for sub, inner in value.items():
                yield child_path(key, sub), inner
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
        written = sorted(_flatten_user(body), key=lambda pair: _reading_order(pair[0]))
        return [(path, "", _show(value)) for path, value in written]
    operations = body.get("Operations", []) if isinstance(body, dict) else []
    after = _patch_after(operations, held)
    keys = [*held, *(k for k in after if k not in held)]
    return [(k, _show(held.get(k)) if k in held else "", _show(after.get(k))) for k in keys]


def _reading_order(path: str) -> int:
    """Who the account is first (userName, externalId, name), then the rest, ``active`` last."""
    lowered = path.lower()
    for rank, start in enumerate(("username", "externalid", "name.", "displayname")):
        if lowered.startswith(start):
            return rank
    return 9 if lowered == "active" else 5


def label_of(path: str) -> str:
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
            (f"{number}.{k}", False, str(op_id), label_of(attribute), old, new, position)
            for k, (attribute, old, new) in enumerate(changes, 1)
        )
    return pd.DataFrame(records, columns=[
        "number", "is_op", "op_id", "attribute", "before", "after", "position"])


def people_of(ops: pd.DataFrame, identities: pd.DataFrame) -> pd.DataFrame:
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


def _named(lines: pd.DataFrame, side: str, identities: pd.DataFrame) -> pd.Series:
    """Manager references with the manager's name beside the account id a reviewer cannot read."""
    values = lines[side]
    is_manager = lines["attribute"].str.lower().str.endswith(":manager") & (values != "")
    if not is_manager.any():
        return values
    accounts = identities.dropna(subset=["target_id", "display_name"])
    names = accounts.drop_duplicates("target_id").set_index("target_id")["display_name"]
    named = values[is_manager].map(names).astype("string")
    return values.mask(is_manager & named.reindex(values.index).notna(),
                       named.reindex(values.index) + " (" + values + ")")


CHANGE_COLUMNS = (
    Column("#", "number", 7), Column("Category", "category", 11), Column("Action", "action", 9),
    Column("Risk", "risk", 9), Column("Person", "person", 22), Column("HR key", "hr_key", 11),
    Column("User name", "user_name", 26), Column("Account id", "target_id", 14),
    Column("Attribute", "attribute", 30), Column("Before", "before", 24),
    Column("After", "after", 24), Column("Decision", "decision", 11),
    Column("Comment", "comment", 30), Column("Op id", "short_id", 16),
    Column(FULL_ID, "op_id", 66, hidden=True),
)


def write_changes(wb: Workbook, plan: PlanLike, identities: pd.DataFrame,
                   approved: set[str]) -> None:
    ws = wb.create_sheet(CHANGES)
    lines = change_lines(plan)
    ops = plan.ops.reset_index(drop=True)
    people = people_of(ops, identities).iloc[lines["position"].to_numpy()].reset_index(drop=True)
    taken = ops.iloc[lines["position"].to_numpy()].reset_index(drop=True)
    table = pd.DataFrame({
        "number": lines["number"], "category": taken["category"], "action": taken["action"],
        "risk": taken["risk"], "person": people["display_name"], "hr_key": taken["hr_key"],
        "user_name": people["user_name"], "target_id": taken["target_id"],
        "attribute": lines["attribute"], "before": _named(lines, "before", identities),
        "after": _named(lines, "after", identities),
        "short_id": lines["op_id"].str.slice(0, 12), "op_id": lines["op_id"],
    })
    header_row = 3
    finish_table(ws, CHANGE_COLUMNS, [c.width or 12 for c in CHANGE_COLUMNS], header_row,
                  len(table))
    ws.row_dimensions[1].height = 48
    last_letter = get_column_letter(len(CHANGE_COLUMNS) - 1)
    ws.merged_cells.add(f"A1:{last_letter}1")
    ws.merged_cells.add("A2:C2")
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

    _shade(ws, header_row + 1, last_row)

    ws.append([styled(ws, DECISION_RULE, font=NOTE_FONT, alignment=WRAP_TOP)])
    ws.append([styled(ws, DIGEST_LABEL, font=LABEL_FONT), None, None, plan.digest])
    ws.append(header_cells(ws, (c.header for c in CHANGE_COLUMNS)))
    columns = [column_values(ws, table[c.source]) if c.source in table
               else [None] * len(table) for c in CHANGE_COLUMNS]
    decision = [c.source for c in CHANGE_COLUMNS].index("decision")
    is_op = lines["is_op"].to_numpy(dtype=bool)
    chosen = table["op_id"].isin(list(approved)).to_numpy(dtype=bool)
    for index, row in enumerate(zip(*columns, strict=True)):
        if is_op[index]:  # only an op row can be edited, and only in Decision and Comment
            choice = APPROVE if chosen[index] else None
            row = (*row[:decision],
                   styled(ws, choice, fill=EDIT_FILL, border=EDIT_BORDER, unlocked=True),
                   styled(ws, None, fill=EDIT_FILL, border=EDIT_BORDER, unlocked=True),
                   *row[decision + 2:])
        ws.append(row)
    if table.empty:
        ws.append([styled(ws, "(no changes planned)", font=NOTE_FONT)])


def _shade(ws: Any, first: int, last: int) -> None:
    """Attribute rows grey, op rows' action and person bold, high risk red: by rule, not per cell.

    Three conditional formats cost nothing per row, where styling every cell of a 100,000-person
    run's Changes sheet would take most of the time spent writing it.
    """
    detail = f'ISNUMBER(FIND(".",$A{first}))'
    end = get_column_letter(len(CHANGE_COLUMNS) - 1)
    ws.conditional_formatting.add(
        f"A{first}:{end}{last}", FormulaRule(formula=[detail], font=DETAIL_FONT, fill=DETAIL_FILL))
    risk = get_column_letter(_column_index(CHANGE_COLUMNS, "Risk"))
    ws.conditional_formatting.add(f"{risk}{first}:{risk}{last}", FormulaRule(
        formula=[f'AND(NOT({detail}),OR(${risk}{first}="high",${risk}{first}="critical"))'],
        font=ALARM_FONT))
    letters = [get_column_letter(_column_index(CHANGE_COLUMNS, h)) for h in ("Action", "Person")]
    bold = " ".join(f"{col}{first}:{col}{last}" for col in letters)
    ws.conditional_formatting.add(bold, FormulaRule(formula=[f"NOT({detail})"], font=OP_FONT))


def _column_index(columns: Sequence[Column], header: str) -> int:
    return next(i for i, c in enumerate(columns, 1) if c.header == header)


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
