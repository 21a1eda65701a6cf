"""The evidence sheets: per op, who decided what (and why), what the push did, whether it took.

"Push results" answers for every op of the plan: the decision as a sentence ("Rejected by
A. Auditor — check with HR first"; an op nobody decided says so), when the push sent it, its
result and every attempt (a first 412 stays visible), when verification read it back, whether it
took effect, and the account it wrote (the new id for a create). Failed, stale and
not-converged rows stand out. "Verification" lists what verify found, op by op.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from recon.core.views import Names
from recon.io.workbook_cells import Book, Column, write_table
from recon.io.workbook_changes import PlanLike, op_lines
from recon.io.workbook_summary import utc

BAD_STATUSES = ("failed", "stale")


def frame_of(value: Any) -> pd.DataFrame:
    """A result object's table: the frame itself, or its ``results`` frame."""
    if isinstance(value, pd.DataFrame):
        return value
    for name in ("results", "ops", "frame"):
        frame = getattr(value, name, None)
        if isinstance(frame, pd.DataFrame):
            return frame
    raise TypeError(f"cannot find a results table in {type(value).__name__}")


def decision_sentences(decisions: pd.DataFrame | None) -> pd.DataFrame:
    """op_id → "Approved by X — comment" / "Rejected by X — comment", and when."""
    if decisions is None or decisions.empty:
        return pd.DataFrame(columns=["sentence", "decided_at"], index=pd.Index([], name="op_id"))
    latest = decisions.drop_duplicates("op_id", keep="last").set_index("op_id")
    verb = latest["decision"].map({"approve": "Approved", "reject": "Rejected"}).fillna(
        latest["decision"].astype(str))
    how = latest["via"].map({"category": " (whole category)"}).fillna("")
    comment = latest["comment"].fillna("").astype(str)
    sentence = verb + " by " + latest["by"].fillna("").astype(str) + how + comment.where(
        comment == "", " — " + comment)
    return pd.DataFrame({"sentence": sentence, "decided_at": latest["at"].map(utc)})


def _changes_text(ops: pd.DataFrame, names: Names) -> list[str]:
    texts = []
    for op in cast(list[dict[str, Any]], ops.to_dict("records")):
        who, summary, lines = op_lines(op, names)
        if who:
            texts.append(summary)
            continue
        texts.append("; ".join(f"{a}: {b or '∅'} → {c or '∅'}" for a, b, c in lines))
    return texts


def evidence_table(plan: PlanLike, names: Names, decisions: pd.DataFrame | None,
                   push: pd.DataFrame | None, verification: pd.DataFrame | None,
                   max_rows: int | None = None) -> pd.DataFrame:
    """One row per op of the plan (the first ``max_rows``), as the Push results sheet shows it."""
    ops = plan.ops.reset_index(drop=True)
    numbers = np.arange(1, len(ops) + 1)
    if max_rows is not None and len(ops) > max_rows:
        ops, numbers = ops.iloc[:max_rows], numbers[:max_rows]
    rows = pd.to_numeric(ops["hr_row"], errors="coerce").astype("Int64")
    person = rows.map(names.people["display_name"]).astype("string").fillna(
        ops["target_id"].astype("string").map(names.accounts).astype("string"))
    group = ops["action"].astype(str).str.startswith("group_")
    group_names = pd.Series([names.group(str(t)) if str(a) != "group_create" else "" for t, a
                             in zip(ops["target_id"], ops["action"], strict=True)],
                            index=ops.index, dtype="string")
    created = ops["payload"].where(ops["action"] == "group_create").astype("string").str.extract(
        r'"displayName":\s*"([^"]*)"', expand=False)
    person = person.mask(group, group_names.mask(group_names == "", created))
    said = decision_sentences(decisions)
    table = pd.DataFrame({
        "number": numbers, "person": person, "category": ops["category"],
        "action": ops["action"], "changes": _changes_text(ops, names),
        "decision": ops["op_id"].map(said["sentence"]).fillna("Not decided"),
        "decided_at": ops["op_id"].map(said["decided_at"]), "hr_key": ops["hr_key"],
        "short_id": ops["op_id"].str.slice(0, 12), "op_id": ops["op_id"],
    })
    table["decided_at"] = pd.to_datetime(table["decided_at"], errors="coerce")
    bad = pd.Series(False, index=table.index)
    if push is not None:
        pushed = push.drop_duplicates("op_id", keep="last").set_index("op_id")
        for name in ("status", "attempts", "attempt_log", "error", "pushed_at", "account_id"):
            table[name] = ops["op_id"].map(pushed[name]) if name in pushed else pd.NA
        table["status"] = table["status"].astype("string").fillna("not pushed")
        table["attempt_log"] = table["attempt_log"].astype("string").fillna(
            pd.to_numeric(table["attempts"], errors="coerce").astype("Int64").astype("string"))
        table["pushed_at"] = pd.to_datetime(table["pushed_at"].map(
            lambda v: utc(v) if isinstance(v, str) else None), errors="coerce")
        bad |= table["status"].isin(BAD_STATUSES)
    checked = verification if verification is not None and "op_id" in verification else None
    if checked is not None:
        took = checked.drop_duplicates("op_id", keep="last").set_index("op_id")
        converged = ops["op_id"].map(took["converged"].astype(str).str.lower().isin(
            ["true", "1", "yes"]))
        table["took_effect"] = np.where(converged.isna(), "not verified",
                                        np.where(converged.fillna(False).astype(bool), "yes",
                                                 "no"))
        table["detail"] = ops["op_id"].map(took["detail"]) if "detail" in took else pd.NA
        table["verified_at"] = pd.to_datetime(
            ops["op_id"].map(took["verified_at"]).map(
                lambda v: utc(v) if isinstance(v, str) else None), errors="coerce") \
            if "verified_at" in took else pd.NaT
        if "account_id" in took:
            found = ops["op_id"].map(took["account_id"]).astype("string")
            table["account_id"] = found.fillna(table.get(
                "account_id", pd.Series(pd.NA, index=table.index)).astype("string"))
        bad |= table["took_effect"] == "no"
    if "account_id" not in table:
        table["account_id"] = ops["target_id"]
    account = table["account_id"].astype("string").fillna(ops["target_id"].astype("string"))
    table["account_id"] = account.mask(account == "")
    table["bad"] = bad
    return table


def write_evidence(book: Book, table: pd.DataFrame, total: int, *, full_list: str,
                   verification: pd.DataFrame | None) -> None:
    columns = [Column("#", "number", 7), Column("Person", "person", 24),
               Column("Category", "category", 15), Column("Action", "action", 13),
               Column("What changes (before → after)", "changes", 44),
               Column("Decision", "decision", 36), Column("Decided at (UTC)", "decided_at", 19)]
    if "status" in table:
        columns += [Column("Pushed at (UTC)", "pushed_at", 19), Column("Result", "status", 14),
                    Column("Attempts (HTTP status, outcome)", "attempt_log", 30),
                    Column("Error", "error", 30)]
    if "took_effect" in table:
        columns += [Column("Verified at (UTC)", "verified_at", 19),
                    Column("Took effect", "took_effect", 11)]
    columns += [Column("Account id", "account_id", 34), Column("HR key", "hr_key", 11),
                Column("Op id", "short_id", 14), Column("Op id (full)", "op_id", 66, hidden=True)]
    note = ("Every planned op: the decision, what the push did (every attempt), and whether "
            "verification found the change in the target. Red rows failed, were stale or did "
            "not take effect.")
    if len(table) < total:
        note += f" Showing the first {len(table):,} of {total:,} ops; every op is in {full_list}."
    write_table(book, "Push results", table, columns, note, frozen_columns=2, bad=table["bad"])
    book.wb.get_worksheet_by_name("Push results").protect(
        "", {"autofilter": True, "format_columns": True})
    if verification is None:
        return
    checked = verification.copy()
    if "op_id" not in checked:
        write_table(book, "Verification", checked,
                    [Column(str(n), str(n)) for n in checked.columns])
        return
    checked["short_id"] = checked["op_id"].astype("string").str.slice(0, 12)
    checked["converged"] = checked["converged"].astype(str).str.lower().isin(
        ["true", "1", "yes"])
    if "verified_at" in checked:
        checked["verified_at"] = pd.to_datetime(checked["verified_at"].map(
            lambda v: utc(v) if isinstance(v, str) else None), errors="coerce")
    shown = [Column("Op id", "short_id", 14), *(
        Column(str(name).replace("_", " ").capitalize(), str(name),
               19 if name == "verified_at" else None)
        for name in checked.columns if name not in ("op_id", "short_id")),
        Column("Op id (full)", "op_id", 66, hidden=True)]
    write_table(book, "Verification", checked, shown,
                "The target re-read after the push and reconciled again: approved work must "
                "converge.", bad=~checked["converged"])
