"""The Changes sheet: one numbered row per op, then one row per attribute (or member) it writes.

Every displayed cell is derived from the plan and the run's names (``change_table``), and the
reader (``recon.io.workbook_read``) derives the same table again to check a returned workbook
cell by cell: what is pushed is exactly what the reviewer saw. Only Decision and Comment are
the reviewer's. Attribute rows are an Excel outline group under their op row (they collapse),
and their Decision cells take the op's decision too, so Approve can be filled down a range.

A sheet holds at most ``max_rows`` lines (``review.max_rows_per_sheet``): a larger scope shows
the first ops of each category that fit, and says that every op is in the run folder's CSVs
and can be decided for its whole category on the Summary.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
import pandas as pd

from recon.core.arrow import text_in
from recon.core.categories import order_key
from recon.core.scim import ENTERPRISE, child_path, parse_path
from recon.core.views import Names
from recon.io.workbook_cells import Book, Column, clean, clean_series, finish_table, header

CHANGES = "Changes"
DIGEST_LABEL = "Plan digest"
FULL_ID = "Op id (full)"  # hidden column: the id the reader checks; "Op id" shows its start
APPROVE, REJECT = "Approve", "Reject"
DECISION_RULE = (
    "Decide on each numbered op row (e.g. 7): Approve or Reject in the Decision column, and a "
    "Comment if you like. The grey rows under it (7.1, 7.2 …) show what the op writes, "
    "before → after; they collapse with the [–] buttons at the left, and the op's decision "
    "covers them. Blank: not approved (a whole category can be decided on the Summary). Every "
    "other cell is checked against the plan when the file comes back: an edited cell is refused."
)

#: The sheet's columns. The first nine fit a 1366-pixel screen; # and Person stay frozen.
CHANGE_COLUMNS = (
    Column("#", "number", 6), Column("Person", "person", 26),
    Column("Category", "category", 15), Column("Action", "action", 13),
    Column("Attribute", "attribute", 24), Column("Before", "before", 27),
    Column("After", "after", 27), Column("Decision", "decision", 11),
    Column("Comment", "comment", 26), Column("Risk", "risk", 9),
    Column("HR key", "hr_key", 12), Column("User name", "user_name", 26),
    Column("Account id", "target_id", 34), Column("Op id", "short_id", 14),
    Column(FULL_ID, "op_id", 66, hidden=True),
)
HEADERS = tuple(c.header for c in CHANGE_COLUMNS)
#: Columns the reviewer may edit; every other one is checked.
EDITABLE = ("Decision", "Comment")
#: Columns an attribute row leaves empty (the op row above says them once).
OP_ONLY = ("risk", "hr_key", "user_name", "target_id", "short_id")
HEADER_ROW = 2  # 0-based: the rule, the digest, then the header


class PlanLike(Protocol):
    @property
    def ops(self) -> pd.DataFrame: ...
    @property
    def digest(self) -> str: ...


# ---- what an op writes, as a reviewer reads it ------------------------------------------------

def _show(value: Any) -> str:
    """An attribute value as text (a reference by its id, JSON for anything structured)."""
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


def _is_manager(label: str) -> bool:
    return label.lower().endswith(":manager")


def op_changes(method: str, payload: str, before: str) -> list[tuple[str, str, str]]:
    """(attribute, before, after) for every attribute a user op writes, read from the op."""
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


def _members(action: str, payload: dict[str, Any]) -> list[str]:
    """The member ids a group op adds or removes."""
    found: list[str] = []
    for operation in payload.get("Operations", []):
        if action == "group_add":
            found += [str(v.get("value")) for v in operation.get("value") or []
                      if isinstance(v, dict)]
        else:
            parsed = parse_path(str(operation.get("path", "")))
            if parsed.filter_value is not None:
                found.append(parsed.filter_value)
    return found


def op_lines(op: dict[str, Any], names: Names) -> tuple[str, str, list[tuple[str, str, str]]]:
    """(who, summary, [(attribute, before, after)]) of one op, names instead of ids.

    ``who`` is the group's name for a group op ("" for a user op: the person comes from the
    identities); ``summary`` fills the op row's Attribute cell ("3 attributes",
    "dept-Security: add Ines Muñoz")."""
    action = str(op["action"])
    payload = json.loads(str(op["payload"])) if op["payload"] else {}
    if action == "group_create":
        name = str(payload.get("displayName", ""))
        return name, f"create group {name}", [("displayName", "", name)]
    if action in ("group_add", "group_remove"):
        group = names.group(str(op["target_id"]))
        members = _members(action, payload)
        verb = "add" if action == "group_add" else "remove"
        whom = names.account(members[0]) if len(members) == 1 else f"{len(members)} members"
        lines = [(f"{verb} member", "", names.member(m)) if verb == "add"
                 else (f"{verb} member", names.member(m), "") for m in members]
        return group, f"{group}: {verb} {whom}", lines
    changes = [(label_of(attribute), old, new) for attribute, old, new in op_changes(
        str(op["method"]), str(op["payload"] or ""), str(op["before"] or ""))]
    changes = [(a, names.manager(o) if o and _is_manager(a) else o,
                names.manager(n) if n and _is_manager(a) else n) for a, o, n in changes]
    return "", f"{len(changes)} attribute{'s' if len(changes) != 1 else ''}", changes


# ---- which ops a sheet shows, and the table it shows -------------------------------------------

class _Records:
    """Ops as dicts, made one at a time when asked for (a scope may hold 100,000 ops)."""

    def __init__(self, ops: pd.DataFrame) -> None:
        self.columns = {str(c): ops[c].to_numpy(dtype=object) for c in ops.columns}

    def __getitem__(self, position: int) -> dict[str, Any]:
        return {name: values[position] for name, values in self.columns.items()}


def shown_positions(ops: pd.DataFrame, names: Names, max_rows: int) -> tuple[np.ndarray, dict[
        int, tuple[str, str, list[tuple[str, str, str]]]]]:
    """Positions (in ``ops``) of the ops the sheet shows, and their lines.

    Every op when all lines fit in ``max_rows``; otherwise each category (in display order)
    gets an equal share of the rows, filled with its first ops in plan order."""
    records = _Records(ops)
    lines: dict[int, tuple[str, str, list[tuple[str, str, str]]]] = {}
    total = 0
    for position in range(len(ops)):
        lines[position] = op_lines(records[position], names)
        total += 1 + len(lines[position][2])
        if total > max_rows:
            break
    if total <= max_rows:
        return np.arange(len(ops)), lines
    categories = sorted(dict.fromkeys(str(c) for c in ops["category"]), key=order_key)
    queues = {c: deque(np.flatnonzero((ops["category"] == c).to_numpy(dtype=bool)).tolist())
              for c in categories}
    chosen: list[int] = []
    left = max_rows
    # First an equal share for each category, then what is left, category by category: each
    # shows its first ops in plan order, so a reader derives the same selection.
    shares = {c: max(max_rows // len(categories), 1) for c in categories}
    for round_ in (0, 1):
        for category in categories:
            queue = queues[category]
            used = 0
            while queue:
                position = queue[0]
                one = lines.get(position) or op_lines(records[position], names)
                size = 1 + len(one[2])
                if size > left or (round_ == 0 and used + size > shares[category]):
                    break
                lines[position] = one
                chosen.append(queue.popleft())
                used += size
                left -= size
    keep = np.array(sorted(chosen), dtype=int)
    return keep, {int(p): lines[int(p)] for p in keep}


def change_table(plan: PlanLike, names: Names, scope: pd.Index | None = None,
                 max_rows: int = 1_000_000) -> tuple[pd.DataFrame, int]:
    """The Changes sheet's lines: each shown op, then its attribute rows; and how many ops the
    scope holds. Every cell as the sheet shows it (text, "" for empty), plus ``is_op``.

    ``scope`` (op ids) narrows the plan to a review part; the op number is the op's place in
    the whole plan, so it reads the same in every part and in plan.json."""
    ops = plan.ops.reset_index(drop=True)
    numbers = np.arange(1, len(ops) + 1)
    posts = ops["method"].to_numpy() == "POST"
    creates = {f"bulkId:{str(one)[:32]}": f"(made by op {n})"
               for n, one in zip(numbers[posts], ops["op_id"][posts], strict=True)}
    if scope is not None:
        inside = text_in(ops["op_id"], pd.Series(scope))
        ops, numbers = ops[inside].reset_index(drop=True), numbers[inside]
    positions, lines = shown_positions(ops, names, max_rows)
    shown = ops.iloc[positions]  # names looked up for the ops the sheet shows only
    rows = pd.to_numeric(shown["hr_row"], errors="coerce").astype("Int64")
    accounts = shown["target_id"].astype(object)
    person = rows.map(names.people["display_name"]).astype("string").fillna(
        accounts.map(names.accounts).astype("string"))
    user = rows.map(names.people["user_name"]).astype("string").fillna(
        accounts.map(names.users).astype("string"))
    records: list[tuple[Any, ...]] = []
    ops_at = _Records(ops)
    for place, position in enumerate(positions.tolist()):
        op = ops_at[position]
        who, summary, changes = lines[position]
        number = int(numbers[position])
        shown_person = who or _text(person.iat[place])
        op_id, category, action = str(op["op_id"]), str(op["category"]), str(op["action"])
        records.append((str(number), True, shown_person, category, action, summary, "", "",
                        _text(op["risk"]), _text(op["hr_key"]), _text(user.iat[place]),
                        creates.get(_text(op["target_id"]), _text(op["target_id"])), op_id[:12],
                        op_id))
        records.extend((f"{number}.{k}", False, shown_person, category, action, attribute,
                        old, new, "", "", "", "", "", op_id)
                       for k, (attribute, old, new) in enumerate(changes, 1))
    table = pd.DataFrame(records, columns=[
        "number", "is_op", "person", "category", "action", "attribute", "before", "after",
        "risk", "hr_key", "user_name", "target_id", "short_id", "op_id"])
    for column in table.columns:
        if column != "is_op":
            table[column] = clean_series(table[column].astype(object).map(str)).astype(object)
    return table, len(ops)


def _text(value: Any) -> str:
    return "" if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(
        value)) else str(value)


# ---- writing ----------------------------------------------------------------------------------

def write_changes(book: Book, plan: PlanLike, table: pd.DataFrame, scope_ops: int, *,
                  decisions: pd.DataFrame | None = None, evidence: bool = False,
                  full_list: str = "") -> None:
    """The Changes sheet from ``change_table``'s lines.

    ``decisions`` (op_id → decision "approve"/"reject", comment) pre-fills Decision and Comment:
    an evidence workbook shows what was decided, locked."""
    ws = book.sheet(CHANGES)
    shown_ops = int(table["is_op"].sum())
    finish_table(ws, CHANGE_COLUMNS, [c.width or 12 for c in CHANGE_COLUMNS], HEADER_ROW,
                 len(table), frozen_columns=2)
    ws.outline_settings(True, False, True, False)  # the [–] button on the op row, above
    rule = DECISION_RULE
    if shown_ops < scope_ops:
        rule += (f" This sheet shows {shown_ops:,} of the {scope_ops:,} ops of this workbook "
                 f"(the first of each category); every op is in {full_list or 'plan.json'}; "
                 "decide the others for their whole category on the Summary.")
    if evidence:
        rule = ("Evidence: each op as it was reviewed, with the decision recorded in the "
                "approval. Nothing here can be edited; the Push results sheet says what the "
                "push did and whether the change took effect.")
    ws.set_row(0, 62)
    ws.merge_range(0, 0, 0, 8, rule, book.format("wrapnote"))
    book.put(ws, 1, 0, DIGEST_LABEL, "label")
    ws.merge_range(1, 2, 1, 6, plan.digest, book.format("left"))
    header(book, ws, HEADER_ROW, HEADERS)
    if table.empty:
        book.put(ws, HEADER_ROW + 1, 0, "(no changes planned)", "note")
        return
    decided: dict[str, tuple[str, str]] = {}
    if decisions is not None and not decisions.empty:
        latest = decisions.drop_duplicates("op_id", keep="last")
        decided = {str(i): (APPROVE if d == "approve" else REJECT, clean(str(c or "")))
                   for i, d, c in zip(latest["op_id"], latest["decision"], latest["comment"],
                                      strict=True)}
    if not evidence:
        last = HEADER_ROW + len(table)
        column = HEADERS.index("Decision")
        ws.data_validation(HEADER_ROW + 1, column, last, column, {
            "validate": "list", "source": [APPROVE, REJECT], "ignore_blank": True,
            "error_title": "Decision", "error_message": f"Choose {APPROVE}, {REJECT} or blank.",
            "input_title": "Decision", "input_message": "Approve or Reject this op."})
    else:
        ws.protect("", {"autofilter": True, "format_columns": True, "sort": False})
    _rows(book, ws, table, decided, evidence)


def _rows(book: Book, ws: Any, table: pd.DataFrame, decided: dict[str, tuple[str, str]],
          evidence: bool) -> None:
    columns = [table[c.source].tolist() if c.source in table else None for c in CHANGE_COLUMNS]
    is_op = table["is_op"].to_numpy(dtype=bool)
    ids = table["op_id"].tolist()
    decision_at, comment_at = HEADERS.index("Decision"), HEADERS.index("Comment")
    risk_at = HEADERS.index("Risk")
    bold = {HEADERS.index("Person"), HEADERS.index("Action"), 0}
    put = book.text  # the table's text is clean already
    detail = book.format("detail")
    edit, detail_edit = ("edit",) if not evidence else (), ("detail_edit",) if not evidence else (
        "detail",)
    for index in range(len(table)):
        at = HEADER_ROW + 1 + index
        chosen, comment = decided.get(ids[index], (None, None))
        if is_op[index]:
            for col, values in enumerate(columns):
                if col == decision_at:
                    put(ws, at, col, chosen, *edit)
                elif col == comment_at:
                    put(ws, at, col, comment or None, *edit)
                elif values is not None:
                    value = values[index] or None
                    style = ("op",) if col in bold else ()
                    if col == risk_at and value in ("high", "critical"):
                        style = ("alarm",)
                    put(ws, at, col, value, *style)
        else:  # grey up to the last visible column, not across the whole row
            ws.set_row(at, None, None, {"level": 1})
            for col, values in enumerate(columns[:-1]):
                if col == decision_at:
                    put(ws, at, col, chosen if evidence else None, *detail_edit)
                else:
                    text = values[index] if values is not None else None
                    if text:
                        put(ws, at, col, text, "detail")
                    else:
                        ws.write_blank(at, col, None, detail)
            put(ws, at, len(columns) - 1, ids[index])


# ---- the scope: which ops a workbook decides (a hidden sheet the reader checks) ---------------

SCOPE = "Scope"
REVIEW_KIND, EVIDENCE_KIND = "recon review workbook", "recon evidence workbook"
WHOLE_PLAN = "the whole plan"
SCOPE_IDS_PER_CELL = 400


def scope_digest(op_ids: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(op_ids).encode("utf-8")).hexdigest()


def write_scope(book: Book, plan: PlanLike, part: str, op_ids: list[str] | None, max_rows: int,
                *, evidence: bool) -> None:
    """What the reader needs besides the plan: the kind of workbook, the plan digest, the rows a
    sheet shows at most, and the op ids of this part (none listed: the whole plan)."""
    ws = book.sheet(SCOPE)
    ws.hide()
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 70)
    ids = op_ids or []
    facts = [("Workbook", EVIDENCE_KIND if evidence else REVIEW_KIND),
             (DIGEST_LABEL, plan.digest), ("Rows per sheet", str(max_rows)),
             ("Part", part if op_ids is not None else WHOLE_PLAN),
             ("Scope digest", scope_digest(ids) if op_ids is not None else "")]
    for row, (label, value) in enumerate(facts):
        book.put(ws, row, 0, label, "label")
        book.put(ws, row, 1, value)
    book.put(ws, len(facts) + 1, 0, "Op ids", "header")
    # 400 ids to a cell (a cell holds 32,767 characters): a 100,000-op part is 250 cells.
    for offset, start in enumerate(range(0, len(ids), SCOPE_IDS_PER_CELL), len(facts) + 2):
        ws.write_string(offset, 0, " ".join(ids[start:start + SCOPE_IDS_PER_CELL]))
    ws.protect("", {})
