"""Reading reviewed workbooks back: decisions become an ``Approval``, edits are refused.

Every displayed cell of the Changes sheet is derived again from the plan and the run's names
(``change_table``, the writer's own function) and compared with what comes back; any difference
— an op or attribute row added, deleted or copied, an edited Before, After, Category, Action or
Person — is refused (``PlanError``) naming the cell: file, sheet, cell, column. Only Decision and
Comment are the reviewer's. Rows may be re-sorted or filtered: lines are matched by their
number. The Summary's whole-category decisions are checked the same way (category and count)
and apply to every op of the category in that workbook without its own decision.

Each decision is kept as a record: approve or reject, the comment, the approver, the time, the
workbook's name and sha256 (and who saved it last in Excel, when).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl.utils import get_column_letter

from recon.core.approve import APPROVE as APPROVED
from recon.core.approve import REJECT as REJECTED
from recon.core.approve import Approval, Decision, Reviewed, utc_now
from recon.core.views import Names
from recon.errors import InputError, PlanError
from recon.io.workbook_changes import (
    APPROVE,
    CHANGES,
    DIGEST_LABEL,
    EDITABLE,
    EVIDENCE_KIND,
    HEADER_ROW,
    HEADERS,
    REJECT,
    REVIEW_KIND,
    SCOPE,
    WHOLE_PLAN,
    PlanLike,
    change_table,
    scope_digest,
)
from recon.io.workbook_summary import CATEGORY_DECISIONS, DECISION_HEADERS, category_rows

#: Frame column of each displayed header, in sheet order.
SOURCES = ("number", "person", "category", "action", "attribute", "before", "after", None, None,
           "risk", "hr_key", "user_name", "target_id", "short_id", "op_id")
CHOICES = {APPROVE.casefold(): APPROVED, REJECT.casefold(): REJECTED, "": ""}


def read_approvals(paths: str | Path | Sequence[str | Path], plan: PlanLike, *, approver: str,
                   reconciliation: Any = None, identities: pd.DataFrame | None = None,
                   groups: pd.DataFrame | None = None, note: str = "") -> Approval:
    """The decisions of one or more reviewed workbooks as an approval bound to ``plan``.

    The names the sheets show come from ``reconciliation`` (or ``identities`` and ``groups``,
    as a run folder holds them). A workbook of another plan, an evidence workbook, an edited
    cell, a decision other than Approve/Reject/blank, or one op decided in two workbooks is
    refused (``PlanError``), naming the file and cell."""
    if not approver.strip():
        raise PlanError("an approval needs the approver's name")
    if reconciliation is not None:
        identities = reconciliation.identities
        groups = getattr(getattr(reconciliation, "groups", None), "groups", None)
    if identities is None:
        raise PlanError("reading a reviewed workbook needs the run's identities (the names it "
                        "shows are checked): pass reconciliation= or identities=")
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    names = Names.of(identities, groups, plan.ops)
    at, who = utc_now(), approver.strip()
    decided: dict[str, tuple[Decision, str]] = {}
    reviewed: list[Reviewed] = []
    for file in files:
        one, facts = _read_one(file, plan, names, who, at)
        for decision in one:
            if decision.op_id in decided:
                raise PlanError(f"{file.name}: op {decision.op_id[:12]} is also in "
                                f"{decided[decision.op_id][1]}: pass each part once")
            decided[decision.op_id] = (decision, file.name)
        reviewed.append(facts)
    decisions = tuple(d for d, _ in decided.values() if d.decision)
    approved = {d.op_id for d in decisions if d.decision == APPROVED}
    ordered = tuple(str(i) for i in plan.ops["op_id"] if i in approved)
    source = "workbook:" + ",".join(f.name for f in files)
    return Approval(plan.digest, ordered, who, at, note=note, source=source,
                    decisions=decisions, reviewed=tuple(reviewed))


@dataclass(frozen=True)
class _Sheets:
    scope: list[tuple[Any, ...]]
    changes: list[tuple[Any, ...]]
    summary: list[tuple[Any, ...]]
    saved_by: str
    saved_at: str


def _load(file: Path) -> _Sheets:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(file, read_only=True, data_only=False)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise InputError(f"cannot read workbook ({error})", file=str(file)) from error
    try:
        missing = [n for n in (CHANGES, SCOPE, "Summary") if n not in wb.sheetnames]
        if missing:
            raise PlanError(f"{file.name} has no {missing[0]} sheet: not a recon review "
                            "workbook (an index report.xlsx lists the workbooks to review)")
        sheets = [list(wb[n].iter_rows(values_only=True)) for n in (SCOPE, CHANGES, "Summary")]
        props = wb.properties
        saved = props.modified
        if saved is not None and saved.tzinfo is None:
            saved = saved.replace(tzinfo=UTC)
        return _Sheets(sheets[0], sheets[1], sheets[2], saved_by=str(props.lastModifiedBy or ""),
                       saved_at=saved.isoformat(timespec="seconds") if saved else "")
    finally:
        wb.close()


def _text(value: Any) -> str:
    """A cell's value as the writer's text: None is empty, a whole number has no decimals."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_one(file: Path, plan: PlanLike, names: Names, who: str, at: str
              ) -> tuple[list[Decision], Reviewed]:
    sheets = _load(file)
    facts = {_text(r[0]): _text(r[1]) if len(r) > 1 else "" for r in sheets.scope[:6] if r}
    if facts.get("Workbook") == EVIDENCE_KIND:
        raise PlanError(f"{file.name} is an evidence workbook (what was decided and pushed), "
                        "not a review to approve from")
    if facts.get("Workbook") != REVIEW_KIND:
        raise PlanError(f"{file.name}: its {SCOPE} sheet was changed: not a recon review workbook")
    digest = facts.get(DIGEST_LABEL, "")
    if digest != plan.digest:
        raise PlanError(
            f"{file.name} is the workbook of plan {digest[:12]}, not of this plan "
            f"{plan.digest[:12]} (another run): review the current workbook")
    scope = _scope(file, sheets.scope, facts, plan)
    try:
        max_rows = int(facts.get("Rows per sheet", ""))
    except ValueError as error:
        raise PlanError(f"{file.name}: its {SCOPE} sheet was changed") from error
    expected, _ = change_table(plan, names, scope, max_rows)
    own = _check_changes(file.name, sheets.changes, expected, plan.digest)
    in_scope = plan.ops if scope is None else plan.ops[plan.ops["op_id"].isin(scope)]
    whole = _check_categories(file.name, sheets.summary, in_scope)
    sha = hashlib.sha256(file.read_bytes()).hexdigest()
    decisions: list[Decision] = []
    for op_id, category in zip(in_scope["op_id"].astype(str), in_scope["category"].astype(str),
                               strict=True):
        choice, comment, via = *own.get(op_id, ("", "")), "op"
        if not choice and category in whole:
            (choice, comment), via = whole[category], "category"
        if choice:
            decisions.append(Decision(op_id, choice, comment, who, at, file.name, sha, via))
    return decisions, Reviewed(file.name, sha, sheets.saved_by, sheets.saved_at)


def _scope(file: Path, rows: list[tuple[Any, ...]], facts: dict[str, str], plan: PlanLike
           ) -> pd.Index | None:
    if facts.get("Part") == WHOLE_PLAN:
        return None
    ids = [one for r in rows[7:] if r and _text(r[0]) for one in _text(r[0]).split()]
    if scope_digest(ids) != facts.get("Scope digest"):
        raise PlanError(f"{file.name}: its {SCOPE} sheet was changed (the ops of this part)")
    unknown = sorted(set(ids) - set(plan.ops["op_id"]))
    if unknown:
        raise PlanError(f"{file.name}: op {unknown[0][:12]} is not in the plan")
    return pd.Index(ids)


def _cell(file: str, row: int, header: str) -> str:
    letter = get_column_letter(HEADERS.index(header) + 1)
    return f"{file}, sheet {CHANGES}, cell {letter}{row} ({header})"


def _check_changes(file: str, rows: list[tuple[Any, ...]], expected: pd.DataFrame,
                   digest: str) -> dict[str, tuple[str, str]]:
    """Compare every checked cell; return op_id → (decision, comment) of the decided ops."""
    width = len(HEADERS)
    found_header = [_text(v) for v in (rows[HEADER_ROW] if len(rows) > HEADER_ROW else ())][
        :width]
    if found_header != list(HEADERS):
        raise PlanError(f"{file}, sheet {CHANGES}: the header row (row {HEADER_ROW + 1}) was "
                        "changed; return the workbook as recon wrote it")
    digest_row = list(rows[1]) + [None] * 3 if len(rows) > 1 else [None] * 3
    if [_text(digest_row[0]), _text(digest_row[2])] != [DIGEST_LABEL, digest]:
        raise PlanError(f"{file}, sheet {CHANGES}, cell C2 ({DIGEST_LABEL}) reads "
                        f"{_text(digest_row[2])!r}, not this plan's digest: an edited cell is "
                        "refused")
    data: list[tuple[int, list[str]]] = []
    for excel_row, row in enumerate(rows[HEADER_ROW + 1:], HEADER_ROW + 2):
        cells = [_text(row[i]) if i < len(row) else "" for i in range(width)]
        if any(cells) and cells[0] != "(no changes planned)":
            data.append((excel_row, cells))
    found = pd.DataFrame([c for _, c in data], columns=list(HEADERS), dtype=object)
    found["excel_row"] = [r for r, _ in data]
    numbers = expected["number"].tolist()
    position = {n: i for i, n in enumerate(numbers)}
    copied = found[found["#"].duplicated(keep="first")]
    if not copied.empty:
        first = copied.iloc[0]
        raise PlanError(f"{_cell(file, first['excel_row'], '#')}: line {first['#']} appears "
                        "twice (a copied or added row)")
    strangers = found[~found["#"].isin(numbers)]
    if not strangers.empty:
        first = strangers.iloc[0]
        raise PlanError(f"{_cell(file, first['excel_row'], '#')}: {first['#']!r} is not a line "
                        "of this plan's sheet (an added row, or an edited #)")
    if len(found) < len(expected):
        present = set(found["#"])
        gone = next(n for n in numbers if n not in present)
        what = expected.iloc[position[gone]]
        raise PlanError(f"{file}, sheet {CHANGES}: line {gone} ({what['attribute']} of op "
                        f"{gone.split('.')[0]}) is missing: rows were deleted")
    found = found.set_index(found["#"].map(position)).sort_index()
    for header, source in zip(HEADERS, SOURCES, strict=True):
        if source is None:
            continue
        differs = found[header].to_numpy() != expected[source].to_numpy()
        if differs.any():
            index = int(differs.argmax())
            at = int(found["excel_row"].to_numpy()[index])
            raise PlanError(
                f"{_cell(file, at, header)} reads {found[header].iat[index]!r} where the plan "
                f"shows {expected[source].iat[index]!r}: an edited cell is refused (only "
                f"{' and '.join(EDITABLE)} are yours)")
    return _decisions(file, found, expected)


def _decisions(file: str, found: pd.DataFrame, expected: pd.DataFrame
               ) -> dict[str, tuple[str, str]]:
    own: dict[str, tuple[str, str]] = {}
    op_choice: dict[str, str] = {}
    for is_op, op_id, number, decision, comment, row in zip(
            expected["is_op"], expected["op_id"], expected["number"], found["Decision"],
            found["Comment"], found["excel_row"], strict=True):
        key = decision.strip().casefold()
        if key not in CHOICES:
            raise PlanError(f"{_cell(file, row, 'Decision')}: {decision!r} is not {APPROVE}, "
                            f"{REJECT} or blank")
        choice = CHOICES[key]
        if is_op:
            op_choice[op_id] = choice
            if choice or comment.strip():
                own[op_id] = (choice, comment.strip())
            continue
        if choice and choice != op_choice.get(op_id, ""):
            op_number = number.split(".")[0]
            raise PlanError(f"{_cell(file, row, 'Decision')}: {decision.strip()} on line "
                            f"{number} differs from op row {op_number}'s decision: a decision "
                            f"belongs on op row {op_number}")
        if comment.strip():
            choice_then, said = own.get(op_id, (op_choice.get(op_id, ""), ""))
            own[op_id] = (choice_then, "; ".join(t for t in (said, comment.strip()) if t))
    return {k: v for k, v in own.items() if v[0]}


def _check_categories(file: str, rows: list[tuple[Any, ...]], ops: pd.DataFrame
                      ) -> dict[str, tuple[str, str]]:
    """The Summary's whole-category decisions, after checking their categories and counts."""
    want = category_rows(ops)
    start = next((i for i, r in enumerate(rows) if r and _text(r[0]) == CATEGORY_DECISIONS),
                 None)
    if start is None:
        if want:
            raise PlanError(f"{file}, sheet Summary: the table {CATEGORY_DECISIONS!r} is gone")
        return {}
    header_at = start + 2
    got = [_text(v) for v in rows[header_at][:4]] if len(rows) > header_at else []
    if got != list(DECISION_HEADERS):
        raise PlanError(f"{file}, sheet Summary: the header of {CATEGORY_DECISIONS!r} (row "
                        f"{header_at + 1}) was changed")
    chosen: dict[str, tuple[str, str]] = {}
    for offset, (name, size) in enumerate(want):
        at = header_at + 1 + offset
        row = [_text(v) for v in rows[at][:4]] if len(rows) > at else ["", "", "", ""]
        row += [""] * (4 - len(row))
        for column, (value, should) in enumerate(zip(row[:2], (name, str(size)), strict=True)):
            if value != should:
                raise PlanError(f"{file}, sheet Summary, cell {get_column_letter(column + 1)}"
                                f"{at + 1} ({DECISION_HEADERS[column]}) reads {value!r} where "
                                f"the plan shows {should!r}: an edited cell is refused")
        key = row[2].strip().casefold()
        if key not in CHOICES:
            raise PlanError(f"{file}, sheet Summary, cell C{at + 1} (Decision): {row[2]!r} is "
                            f"not {APPROVE}, {REJECT} or blank")
        if CHOICES[key]:
            chosen[name] = (CHOICES[key], row[3].strip())
    return chosen
