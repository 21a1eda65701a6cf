"""The auditor's round trip as evidence: every displayed cell is checked, decisions are records.

The hand-made run of tests/test_workbook.py; the reviewer edits the workbook with openpyxl as
they would in Excel, and recon refuses what was not theirs to change, naming the cell.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pandas as pd
import pytest

from recon.core.approve import Approval
from recon.errors import PlanError
from recon.io.journal import Journal
from recon.io.plan_files import read_approval, write_approval
from recon.io.run import push_results_from_journal
from recon.io.workbook import read_approvals, write_review, write_workbook
from tests.test_workbook import (
    CREATE,
    DISABLE,
    ENABLE,
    HR_CSV,
    PATCH,
    PLAN,
    RUN,
    TARGET,
    UPDATE,
    Plan,
    column,
    decide,
    header_row,
    op,
    op_row,
)

RECON = Path(sys.executable).parent / "recon"


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return write_workbook(tmp_path / "report.xlsx", RUN, PLAN)


def edit(path: Path, row: int, header: str, value: Any, sheet: str = "Changes") -> str:
    """Change one cell as a reviewer would; returns its address."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    cell = ws.cell(row, column(ws, header))
    cell.value = value
    wb.save(path)
    return str(cell.coordinate)


# ---- every displayed cell is checked ------------------------------------------------------------

@pytest.mark.parametrize(("header", "value"), [
    ("Person", "Chief Executive Officer"), ("Category", "drift"), ("Action", "update"),
    ("Attribute", "title"), ("Risk", "low"), ("HR key", "E999"), ("User name", "x@acme.io"),
    ("Account id", "u-9"), ("Op id", "000000000000"),
])
def test_an_edited_op_row_cell_is_refused_naming_it(workbook: Path, header: str,
                                                    value: str) -> None:
    address = edit(workbook, op_row(openpyxl.load_workbook(workbook)["Changes"], 4), header,
                   value)
    with pytest.raises(PlanError, match=rf"report\.xlsx, sheet Changes, cell {address} "
                                        rf"\({header}\) reads '{value}'"):
        read_approvals(workbook, PLAN, approver="auditor", reconciliation=RUN)


@pytest.mark.parametrize(("header", "value"), [
    ("After", "Chief Executive Officer"), ("Before", "Intern"), ("Attribute", "department"),
    ("Category", "drift"), ("Action", "update"), ("Person", "Ada Lovelace"),
    ("HR key", "E001"),  # an attribute row leaves it empty: filling it is an edit too
])
def test_an_edited_attribute_row_cell_is_refused_naming_it(workbook: Path, header: str,
                                                           value: str) -> None:
    ws = openpyxl.load_workbook(workbook)["Changes"]
    address = edit(workbook, op_row(ws, 3) + 2, header, value)  # 3.2: title of the rehire
    with pytest.raises(PlanError, match=rf"cell {address} \({header}\) reads '{value}' where "
                                        r"the plan shows"):
        read_approvals(workbook, PLAN, approver="auditor", reconciliation=RUN)


def test_the_new_title_of_an_approved_joiner_cannot_be_changed(workbook: Path) -> None:
    ws = openpyxl.load_workbook(workbook)["Changes"]
    decide(workbook, {1: "Approve"})
    address = edit(workbook, op_row(ws, 1) + 3, "After", "Chief Executive Officer")
    with pytest.raises(PlanError, match=rf"cell {address} \(After\) reads 'Chief Executive "
                                        r"Officer' where the plan shows 'Link'"):
        read_approvals(workbook, PLAN, approver="auditor", reconciliation=RUN)


def test_rows_may_be_sorted_and_approve_filled_down(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Changes"]
    first = header_row(ws) + 1
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=first)]
    rows.sort(key=lambda r: (str(r[2]), str(r[0])))  # sorted by category, as a filter would
    for offset, values in enumerate(rows):
        for col, value in enumerate(values, 1):
            ws.cell(first + offset, col).value = value
    wb.save(workbook)
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Changes"]
    for row in range(first, ws.max_row + 1):  # Approve filled down over the leaver and its line
        if ws.cell(row, column(ws, "Category")).value == "leaver":
            ws.cell(row, column(ws, "Decision")).value = "Approve"
    wb.save(workbook)
    assert read_approvals(workbook, PLAN, approver="a", reconciliation=RUN).op_ids == (DISABLE,)


def test_a_whole_category_is_decided_on_the_summary(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Summary"]
    start = next(r for r in range(1, ws.max_row + 1)
                 if ws.cell(r, 1).value == "Decide a whole category")
    rows = {ws.cell(r, 1).value: r for r in range(start + 3, start + 8)}
    assert [ws.cell(rows["leaver"], c).value for c in (1, 2)] == ["leaver", 1]
    ws.cell(rows["drift"], 3).value = "Approve"
    ws.cell(rows["joiner"], 3).value = "Approve"
    ws.cell(rows["joiner"], 4).value = "all joiners of the week"
    wb.save(workbook)
    decide(workbook, {1: "Reject"})  # its own decision wins over the category's
    approval = read_approvals(workbook, PLAN, approver="a", reconciliation=RUN)
    assert approval.op_ids == (UPDATE,)
    by_op = {d.op_id: d for d in approval.decisions}
    assert (by_op[UPDATE].decision, by_op[UPDATE].via) == ("approve", "category")
    assert (by_op[CREATE].decision, by_op[CREATE].via) == ("reject", "op")


def test_an_edited_category_on_the_summary_is_refused(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Summary"]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "leaver"
               and ws.cell(r, 3).value is None)  # the decision table's, not the counts'
    ws.cell(row, 1).value = "drift"
    wb.save(workbook)
    with pytest.raises(PlanError, match=rf"sheet Summary, cell A{row} \(Category\) reads "
                                        r"'drift' where the plan shows 'leaver'"):
        read_approvals(workbook, PLAN, approver="a", reconciliation=RUN)


# ---- decisions are records ----------------------------------------------------------------------

def test_a_rejection_keeps_its_comment_the_approver_the_time_and_the_file(
        workbook: Path, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Changes"]
    ws.cell(op_row(ws, 4), column(ws, "Decision")).value = "Reject"
    ws.cell(op_row(ws, 4), column(ws, "Comment")).value = "check with HR first"
    ws.cell(op_row(ws, 2), column(ws, "Decision")).value = "Approve"
    wb.save(workbook)
    approval = read_approvals(workbook, PLAN, approver="A. Auditor", reconciliation=RUN)
    write_approval(approval, tmp_path / "approval.json")
    saved = json.loads((tmp_path / "approval.json").read_text())
    assert saved["format"] == "recon.approval/2" and saved["op_ids"] == [UPDATE]
    rejected = next(d for d in saved["decisions"] if d["op_id"] == DISABLE)
    import hashlib
    assert rejected == {"op_id": DISABLE, "decision": "reject", "comment": "check with HR first",
                        "by": "A. Auditor", "at": approval.approved_at,
                        "workbook": "report.xlsx", "via": "op",
                        "workbook_sha256": hashlib.sha256(workbook.read_bytes()).hexdigest()}
    assert read_approval(tmp_path / "approval.json") == approval
    evidence = write_workbook(tmp_path / "evidence.xlsx", RUN, PLAN, approval=approval)
    ws = openpyxl.load_workbook(evidence)["Push results"]
    grace = next(r for r in range(1, ws.max_row + 1)
                 if ws.cell(r, column(ws, "Person")).value == "Grace Hopper")
    assert ws.cell(grace, column(ws, "Decision")).value == (
        "Rejected by A. Auditor — check with HR first")


def test_an_approval_of_format_1_is_still_read(tmp_path: Path) -> None:
    file = tmp_path / "approval.json"
    file.write_text(json.dumps({
        "format": "recon.approval/1", "plan_digest": PLAN.digest, "op_ids": [UPDATE],
        "approver": "x", "approved_at": "2026-11-15T10:00:00+00:00", "note": "n",
        "source": "cli"}))
    approval = read_approval(file)
    assert approval.op_ids == (UPDATE,) and approval.decisions == ()
    assert approval.decision_table()[["op_id", "decision", "by"]].values.tolist() == [
        [UPDATE, "approve", "x"]]


def test_the_journal_keeps_every_attempt_and_its_time(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    plan = SimpleNamespace(ops=PLAN.ops)
    monkeypatch.setenv("RECON_PUSHED_BY", "Ops On Call (scheduler)")  # recon push --by
    with Journal(tmp_path / "journal.sqlite") as journal:
        journal.start_run(PLAN.digest, target="http://127.0.0.1:1/v2")
        first = journal.begin(DISABLE, action="disable", method="PATCH", path="/Users/u-3")
        journal.finish(first, outcome="stale", http_status=412, final=False)
        second = journal.begin(DISABLE, action="disable", method="PATCH", path="/Users/u-3")
        journal.finish(second, outcome="succeeded", http_status=200, resource_id="u-3")
        journal.end_run()
    frame = push_results_from_journal(tmp_path / "journal.sqlite", plan)  # type: ignore[arg-type]
    row = frame.set_index("op_id").loc[DISABLE]
    assert row["attempt_log"] == "1: 412 stale → 2: 200 succeeded"
    assert row["status"] == "succeeded" and row["account_id"] == "u-3"
    assert row["pushed_at"] <= row["finished_at"]
    pushed = SimpleNamespace(results=frame, journal_path=str(tmp_path / "journal.sqlite"))
    path = write_workbook(tmp_path / "evidence.xlsx", RUN, PLAN, push_results=pushed)
    wb = openpyxl.load_workbook(path)
    ws = wb["Push results"]
    grace = next(r for r in range(1, ws.max_row + 1)
                 if ws.cell(r, column(ws, "Person")).value == "Grace Hopper")
    assert ws.cell(grace, column(ws, "Attempts (HTTP status, outcome)")).value == (
        "1: 412 stale → 2: 200 succeeded")
    assert ws.cell(grace, column(ws, "Pushed at (UTC)")).is_date
    summary = wb["Summary"]
    pairs = {summary.cell(r, 1).value: summary.cell(r, 2).value
             for r in range(1, summary.max_row + 1)}
    assert pairs["Journal file"] == "journal.sqlite" and len(pairs["Journal sha256"]) == 64
    assert pairs["Target"] == "http://127.0.0.1:1/v2"
    assert pairs["Pushed by"] == "Ops On Call (scheduler)"


# ---- readable for a person ----------------------------------------------------------------------

def test_group_ops_name_the_group_and_its_members(tmp_path: Path) -> None:
    groups = pd.DataFrame({"category": ["group_drift"], "group": ["dept-Security"],
                           "target_id": ["g-1"], "desired_members": [1], "current_members": [2],
                           "to_add": [1], "to_remove": [2], "reason": [""]})
    run = SimpleNamespace(**{**RUN.__dict__, "groups": SimpleNamespace(
        groups=groups, memberships=pd.DataFrame(columns=[
            "category", "group", "group_id", "member_id", "hr_key", "hr_row", "user_name",
            "display_name", "account_category", "reason"]))})
    add = op("group_add", "PATCH", "g-1", "E001", 1, "member_missing",
             {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members",
                                                  "value": [{"value": "u-1"}]}]},
             {"members": {"absent": ["u-1"]}}, "low")
    remove = op("group_remove", "PATCH", "g-1", "", 0, "member_extra",
                {"schemas": [PATCH], "Operations": [
                    {"op": "remove", "path": 'members[value eq "u-3"]'},
                    {"op": "remove", "path": 'members[value eq "u-4"]'}]},
                {"members": {"present": ["u-3", "u-4"]}}, "medium")
    ops = pd.DataFrame([add, remove])
    ops["hr_row"] = pd.array([1, None], dtype="Int64")
    plan = Plan(ops, "e" * 64)
    path = write_workbook(tmp_path / "r.xlsx", run, plan)
    ws = openpyxl.load_workbook(path)["Changes"]
    lines = [[ws.cell(r, column(ws, h)).value for h in ("#", "Person", "Attribute", "Before",
                                                        "After")]
             for r in range(header_row(ws) + 1, ws.max_row + 1)]
    assert lines == [
        ["1", "dept-Security", "dept-Security: add Ada Lovelace", None, None],
        ["1.1", "dept-Security", "add member", None, "Ada Lovelace (ada@acme.io)"],
        ["2", "dept-Security", "dept-Security: remove 2 members", None, None],
        ["2.1", "dept-Security", "remove member", "Grace Hopper (gh@acme.io)", None],
        ["2.2", "dept-Security", "remove member", "Alan Turing (at@acme.io)", None]]
    assert read_approvals(path, plan, approver="a", reconciliation=run).op_ids == ()


# ---- at any scale -------------------------------------------------------------------------------

def test_a_large_review_shows_what_fits_and_the_summary_decides_the_rest(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "report.xlsx", RUN, PLAN, max_rows=10)
    ws = openpyxl.load_workbook(path)["Changes"]
    shown = {ws.cell(r, 1).value for r in range(header_row(ws) + 1, ws.max_row + 1)}
    assert "1" not in shown and {"2", "3", "4"} <= shown  # the joiner's 6 lines did not fit
    assert "shows 3 of the 4 ops" in ws.cell(1, 1).value
    wb = openpyxl.load_workbook(path)
    summary = wb["Summary"]
    row = next(r for r in range(1, summary.max_row + 1) if summary.cell(r, 1).value == "joiner"
               and summary.cell(r, 3).value is None)
    summary.cell(row, 3).value = "Approve"
    wb.save(path)
    assert read_approvals(path, PLAN, approver="a", reconciliation=RUN).op_ids == (CREATE,)


def test_a_review_split_by_category_is_one_workbook_per_part(tmp_path: Path) -> None:
    from recon.core.config import Review

    files = write_review(tmp_path, RUN, PLAN, review=Review(split_by="category"))
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "report.xlsx", "review/01-drift.xlsx", "review/02-joiner.xlsx", "review/03-leaver.xlsx",
        "review/04-rehire.xlsx"]
    index = openpyxl.load_workbook(files[0])
    assert "Changes" not in index.sheetnames
    with pytest.raises(PlanError, match="has no Changes sheet"):
        read_approvals(files[0], PLAN, approver="a", reconciliation=RUN)
    decide(files[3], {4: "Approve"})
    decide(files[4], {3: "Reject"})
    approval = read_approvals(files[1:], PLAN, approver="a", reconciliation=RUN)
    assert approval.op_ids == (DISABLE,)
    assert {d.op_id: d.decision for d in approval.decisions} == {DISABLE: "approve",
                                                                 ENABLE: "reject"}
    assert [r.file for r in approval.reviewed] == [f.name for f in files[1:]]
    with pytest.raises(PlanError, match="also in"):
        read_approvals([files[3], files[3]], PLAN, approver="a", reconciliation=RUN)


def cells_of(path: Path) -> dict[str, list[tuple[object, ...]]]:
    book = openpyxl.load_workbook(path)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def test_a_split_review_written_by_two_processes_is_the_one_written_in_turn(
        tmp_path: Path) -> None:
    from recon.core.config import Review

    review = Review(split_by="category")
    alone = write_review(tmp_path / "one", RUN, PLAN, review=review)
    forked = write_review(tmp_path / "two", RUN, PLAN, review=review, processes=2)
    assert [f.relative_to(tmp_path / "two") for f in forked] == [
        f.relative_to(tmp_path / "one") for f in alone]
    for one, two in zip(alone, forked, strict=True):
        assert cells_of(one) == cells_of(two), one.name


def test_a_worker_s_refusal_is_raised_in_the_run_that_forked_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from recon.core.config import Review
    from recon.errors import OutputError
    from recon.io import workbook

    real = workbook.write_workbook

    def refuse_one(path: Path, *args: object, **kwargs: object) -> Path:
        if Path(path).name == "03-leaver.xlsx":
            raise OutputError("sheet 'Changes' would need 2,000,000 rows")
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(workbook, "write_workbook", refuse_one)
    with pytest.raises(OutputError, match="2,000,000 rows"):
        write_review(tmp_path, RUN, PLAN, review=Review(split_by="category"), processes=2)


def test_a_worker_that_dies_is_an_error_naming_the_workbook_never_a_hang(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The forked worker killed mid-workbook (as the kernel kills a process out of memory)."""
    import os

    from recon.core.config import Review
    from recon.errors import OutputError
    from recon.io import workbook

    real, parent = workbook.write_workbook, os.getpid()

    def die_in_the_worker(path: Path, *args: object, **kwargs: object) -> Path:
        if os.getpid() != parent:
            os._exit(137)
        time.sleep(0.5)  # this process is slow: the worker surely claims a workbook
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(workbook, "write_workbook", die_in_the_worker)
    with pytest.raises(OutputError, match=r"review worker stopped \(exit code 137\) while "
                                          r"writing workbook \d+ of \d+"):
        write_review(tmp_path, RUN, PLAN, review=Review(split_by="category"), processes=2)


# ---- through the installed command -----------------------------------------------------------

CONFIG = """
as_of: 2026-11-15
source: {path: hr.csv, key: Employee ID, status: {column: Status, active: [Active]}}
target: {file: snapshot.json}
attributes: {userName: "[Email]", externalId: "[Employee ID]", name.givenName: "[First]",
             title: "[Title]"}
match: [{source: "[Employee ID]", target: externalId}]
"""


def recon(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RECON), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, check=False)


@pytest.mark.slow
def test_a_reject_with_a_comment_is_followed_to_the_evidence(tmp_path: Path) -> None:
    (tmp_path / "hr.csv").write_text(HR_CSV)
    (tmp_path / "snapshot.json").write_text(json.dumps(TARGET))
    (tmp_path / "recon.yaml").write_text(CONFIG)
    done = recon("reconcile", "--config", "recon.yaml", "--out", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    wb = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")
    ws = wb["Changes"]
    leavers = [r for r in range(header_row(ws) + 1, ws.max_row + 1)
               if ws.cell(r, column(ws, "Action")).value == "disable"
               and "." not in str(ws.cell(r, 1).value)]
    ws.cell(leavers[0], column(ws, "Decision")).value = "Reject"
    ws.cell(leavers[0], column(ws, "Comment")).value = "check with HR first"
    ws.cell(leavers[1], column(ws, "Decision")).value = "Approve"
    person = ws.cell(leavers[0], column(ws, "Person")).value
    wb.save(tmp_path / "run" / "reviewed.xlsx")

    ws.cell(leavers[1] + 1, column(ws, "After")).value = "true"  # and now an edited value
    wb.save(tmp_path / "tampered.xlsx")
    done = recon("approve", "--plan", "run/plan.json", "--workbook", "tampered.xlsx",
                 "--approver", "A. Auditor", "--out", "run/approval.json", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"sheet Changes, cell G{leavers[1] + 1} (After) reads 'true'" in done.stderr

    done = recon("approve", "--plan", "run/plan.json", "--workbook", "run/reviewed.xlsx",
                 "--approver", "A. Auditor", "--out", "run/approval.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "approved 1 and rejected 1" in done.stdout
    approval = json.loads((tmp_path / "run" / "approval.json").read_text())
    (rejected,) = [d for d in approval["decisions"] if d["decision"] == "reject"]
    assert rejected["comment"] == "check with HR first" and rejected["by"] == "A. Auditor"
    assert rejected["workbook"] == "reviewed.xlsx" and len(rejected["workbook_sha256"]) == 64

    done = recon("report", "--run", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "evidence.xlsx").is_file()
    ws = openpyxl.load_workbook(tmp_path / "run" / "evidence.xlsx")["Push results"]
    row = next(r for r in range(1, ws.max_row + 1)
               if ws.cell(r, column(ws, "Person")).value == person)
    assert ws.cell(row, column(ws, "Decision")).value == (
        "Rejected by A. Auditor — check with HR first")


def test_an_approval_is_refused_without_the_run_s_names(workbook: Path) -> None:
    with pytest.raises(PlanError, match="needs the run's identities"):
        read_approvals(workbook, PLAN, approver="a")


def test_approval_round_trips_with_decisions(tmp_path: Path) -> None:
    approval = Approval(PLAN.digest, (UPDATE,), "x")
    write_approval(approval, tmp_path / "a.json")
    assert read_approval(tmp_path / "a.json") == approval


def test_the_access_review_is_styled_and_says_where_it_comes_from(tmp_path: Path) -> None:
    from recon.io.access_review import write_access_review

    findings = {
        "leavers still enabled": pd.DataFrame({"hr_key": ["E3"], "who": ["=cmd|' /C calc'!A0"],
                                               "termination date": ["2026-10-31"]}),
        "employee ids on several accounts": pd.DataFrame({"account": ["a", "b"]}),
    }
    files = write_access_review(findings, tmp_path, provenance={"HR file": "workers.csv"})
    wb = openpyxl.load_workbook(files[-1])
    assert wb.sheetnames == ["Provenance", "Leavers still enabled", "Shared employee ids"]
    facts = {r[0]: r[1] for r in wb["Provenance"].iter_rows(values_only=True) if r[0]}
    assert facts["HR file"] == "workers.csv" and facts["Made by"].startswith("recon ")
    assert facts["Shared employee ids"] == "employee ids on several accounts"
    ws = wb["Leavers still enabled"]
    assert ws.freeze_panes == "B3" and ws.auto_filter.ref.startswith("A2:")
    assert ws.cell(2, 1).font.b and ws.column_dimensions["A"].width >= 8
    assert ws.cell(3, 3).value.year == 2026 and ws.cell(3, 3).is_date
    assert ws.cell(3, 2).data_type == "s" and ws.cell(3, 2).quotePrefix


def test_review_split_by_must_name_category_or_an_attribute() -> None:
    from recon.core.config import Config

    base = {"source": {"path": "hr.csv", "key": "id"}, "target": {"file": "s.json"},
            "attributes": {"userName": "[mail]",
                           "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
                           "department": "[dept]"},
            "match": [{"source": "[id]", "target": "userName"}]}
    assert Config.model_validate({**base, "review": {"split_by": "department"}}).review.split_by
    assert Config.model_validate(base).review.max_rows_per_sheet == 5_000
    with pytest.raises(ValueError, match=r"review\.split_by 'office' is neither 'category' nor"):
        Config.model_validate({**base, "review": {"split_by": "office"}})


def test_decision_and_comment_fit_a_1366_pixel_screen_with_person_frozen(workbook: Path) -> None:
    ws = openpyxl.load_workbook(workbook)["Changes"]
    letters = [openpyxl.utils.get_column_letter(c) for c in range(1, column(ws, "Comment") + 1)]
    pixels = sum(int(ws.column_dimensions[x].width * 7 + 5) for x in letters)
    assert pixels + 40 <= 1366  # row numbers and the scroll bar take the rest
    assert ws.freeze_panes == "C4" and ws.cell(3, 2).value == "Person"
    for header in ("Category", "Action"):  # "member_missing", "group_remove" read whole
        assert ws.column_dimensions[letters[column(ws, header) - 1]].width >= 13
