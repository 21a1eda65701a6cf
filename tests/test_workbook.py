"""The auditor workbook: what a reviewer sees, and how their decisions come back as an approval.

The run below is small and hand-made: Ada's title drifted, a joiner whose HR name is a formula,
Grace left, Alan came back, plus an invalid row, a conflict, an orphan and a service account.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pandas as pd
import pytest

from recon.core.approve import Approval
from recon.errors import PlanError
from recon.io.workbook import read_approvals, write_workbook

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
DEPARTMENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
FORMULA = '=HYPERLINK("http://x","y")'


@dataclass(frozen=True)
class Meta:
    as_of: date = date(2026, 11, 15)
    hr_file: str = "/data/exports/workers.csv"
    hr_sha256: str = "a" * 64
    snapshot_source: str = "http://127.0.0.1:8000/v2"
    snapshot_digest: str = "b" * 64
    config_digest: str = "c" * 64
    generated_at: str = "2026-11-15T08:30:00+00:00"


@dataclass(frozen=True)
class Quality:
    invalid: pd.DataFrame


@dataclass(frozen=True)
class Run:
    identities: pd.DataFrame
    diffs: pd.DataFrame
    desired: pd.DataFrame
    quality: Quality
    meta: Meta = field(default_factory=Meta)


@dataclass(frozen=True)
class Plan:
    ops: pd.DataFrame
    digest: str


def table(text: str) -> pd.DataFrame:
    """A pipe-delimited table; empty cells are missing values."""
    lines = [line.strip() for line in text.strip().splitlines()]
    header = [h.strip() for h in lines[0].split("|")]
    rows = [[c.strip() or None for c in line.split("|")] for line in lines[1:]]
    return pd.DataFrame(rows, columns=header, dtype="string")


IDENTITIES = table(f"""
category | hr_key | hr_row | target_id | reason                    | display_name    | user_name
drift    | E001   | 1      | u-1       |                           | Ada Lovelace    | ada@acme.io
joiner   | E002   | 2      |           |                           | {FORMULA}       | hy@acme.io
leaver   | E003   | 3      | u-3       | terminated 2026-10-31     | Grace Hopper    | gh@acme.io
rehire   | E004   | 4      | u-4       |                           | Alan Turing     | at@acme.io
in_sync  | E005   | 5      | u-5       |                           | Edsger Dijkstra | ed@acme.io
invalid  | E006   | 6      |           | Work Email: not an e-mail | Barbara Liskov  |
conflict | E007   | 7      |           | ambiguous: u-7a u-7b      | Ken Thompson    | ken@acme.io
conflict |        |        | u-7a      | candidate of E007         | Ken T.          | ken@acme.io
conflict |        |        | u-7b      | candidate of E007         | K. Thompson     | kt@acme.io
orphan   |        |        | u-9       | no HR row                 | Old Contractor  | old@acme.io
excluded |        |        | svc-1     | exclusion rule            | Backup Service  | svc-backup
""").assign(
    matched_by=lambda f: f["target_id"].where(f["hr_row"].notna() & f["target_id"].notna())
    .notna().map({True: "employeeNumber", False: None}).astype("string"),
    changed_attributes=pd.Series(
        [f"title;{DEPARTMENT}", None, None, "title", *[None] * 7], dtype="string"),
)

DIFFS = table(f"""
hr_key | hr_row | target_id | category | attribute   | before   | after
E001   | 1      | u-1       | drift    | title       | Engineer | Senior Engineer
E001   | 1      | u-1       | drift    | {DEPARTMENT} | R&D      | +Research
E004   | 4      | u-4       | rehire   | title       | Intern   | Fellow
""")

DESIRED = pd.DataFrame(
    {"hire_date": pd.to_datetime(["2020-01-06", "2026-11-20", "2019-03-01", "2026-11-01",
                                  "2018-05-05", None, "2021-02-02"]),
     "termination_date": pd.to_datetime([None, None, "2026-10-31", None, None, None, None])},
    index=pd.Index(range(1, 8), name="hr_row"))

INVALID = pd.DataFrame({"rule": ["email"], "column": ["Work Email"],
                        "reason": ["Work Email: not an e-mail"]},
                       index=pd.Index([6], name="hr_row"))


def op(action: str, method: str, target_id: str, hr_key: str, hr_row: int, category: str,
       payload: Any, before: dict[str, Any], risk: str) -> dict[str, Any]:
    path = f"/Users/{target_id}" if target_id else "/Users"
    body = {"action": action, "method": method, "path": path, "target_id": target_id,
            "hr_key": hr_key, "payload": payload, "before": before}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return {"op_id": hashlib.sha256(canonical.encode()).hexdigest(), "action": action,
            "method": method, "path": path, "target_id": target_id, "hr_key": hr_key,
            "hr_row": hr_row, "category": category, "payload": json.dumps(payload),
            "before": json.dumps(before), "etag": 'W/"1"', "risk": risk, "match": ""}


def patch(*operations: tuple[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH],
            "Operations": [{"op": "replace", "path": p, "value": v} for p, v in operations]}


def make_plan() -> Plan:
    joiner = {"schemas": [USER], "userName": "hyper@example.com",
              "name": {"givenName": FORMULA, "familyName": "Link"},
              "emails": [{"type": "work", "value": "hyper@example.com"}], "active": True}
    ops = pd.DataFrame([
        op("create", "POST", "", "E002", 2, "joiner", joiner, {}, "low"),
        op("update", "PATCH", "u-1", "E001", 1, "drift",
           patch(("title", "Senior Engineer"), (DEPARTMENT, "+Research")),
           {"title": "Engineer", DEPARTMENT: "R&D"}, "low"),
        op("enable", "PATCH", "u-4", "E004", 4, "rehire",
           patch(("active", True), ("title", "Fellow")), {"title": "Intern", "active": False},
           "medium"),
        op("disable", "PATCH", "u-3", "E003", 3, "leaver", patch(("active", False)),
           {"active": True}, "high"),
    ])
    ops["hr_row"] = ops["hr_row"].astype("Int64")
    digest = hashlib.sha256("\n".join(sorted(ops["op_id"])).encode()).hexdigest()
    return Plan(ops, digest)


RUN = Run(IDENTITIES, DIFFS, DESIRED, Quality(INVALID))
PLAN = make_plan()
CREATE, UPDATE, ENABLE, DISABLE = PLAN.ops["op_id"]


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return write_workbook(tmp_path / "report.xlsx", RUN, PLAN)


def header_row(ws: Any) -> int:
    return next(r for r in range(1, 6) if ws.cell(r, 1).value in ("#", "HR row", "Category", "Display name"))


def column(ws: Any, header: str) -> int:
    row = header_row(ws)
    return next(c for c in range(1, ws.max_column + 1) if ws.cell(row, c).value == header)


def op_row(ws: Any, number: int) -> int:
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == str(number))


def decide(path: Path, decisions: dict[int, str], out: Path | None = None) -> Path:
    """What a reviewer does: pick a decision on some op rows and save."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Changes"]
    for number, decision in decisions.items():
        ws.cell(op_row(ws, number), column(ws, "Decision")).value = decision
    target = out or path
    wb.save(target)
    return target


# ---- what the reviewer sees ---------------------------------------------------------------------

def test_the_workbook_has_one_sheet_per_view(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    assert wb.sheetnames == ["Summary", "Changes", "Drift", "Joiners", "Leavers", "Rehires",
                             "Orphans", "Conflicts", "Invalid rows", "Scope"]
    assert wb["Scope"].sheet_state == "hidden"  # what the reader checks besides the plan


def test_summary_names_the_run_and_charts_the_counts(workbook: Path) -> None:
    ws = openpyxl.load_workbook(workbook)["Summary"]
    pairs = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, ws.max_row + 1)}
    assert pairs["As-of date"] == datetime(2026, 11, 15)
    assert pairs["HR file"] == "workers.csv"  # the name, not the analyst's folders
    assert pairs["HR file sha256"] == "a" * 64
    assert pairs["Plan digest"] == PLAN.digest
    assert pairs["Generated at (UTC)"] == datetime(2026, 11, 15, 8, 30)
    assert pairs["drift"] == 1 and pairs["conflict"] == 3 and pairs["total"] == 11
    assert len(ws._charts) == 2  # what needs action apart from what needs none
    assert {chart.tagname for chart in ws._charts} == {"barChart"}


def test_changes_lists_each_op_then_each_attribute_it_writes(workbook: Path) -> None:
    ws = openpyxl.load_workbook(workbook)["Changes"]
    start = header_row(ws)
    lines = [(ws.cell(r, 1).value, ws.cell(r, column(ws, "Action")).value,
              ws.cell(r, column(ws, "Attribute")).value, ws.cell(r, column(ws, "Before")).value,
              ws.cell(r, column(ws, "After")).value) for r in range(start + 1, ws.max_row + 1)]
    assert ("4", "disable", "1 attribute", None, None) in lines
    assert ("4.1", "disable", "active", "true", "false") in lines
    assert ("2.1", "update", "title", "Engineer", "Senior Engineer") in lines
    assert ("2.2", "update", "enterprise:department", "R&D", "+Research") in lines
    assert ("1.2", "create", "name.givenName", None, FORMULA) in lines
    assert ws.cell(2, 1).value == "Plan digest" and ws.cell(2, 3).value == PLAN.digest


def test_a_new_manager_is_shown_by_name_beside_the_account_id(tmp_path: Path) -> None:
    manager = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
    ops = pd.DataFrame([op("update", "PATCH", "u-1", "E001", 1, "drift",
                           patch((manager, {"value": "u-9"})), {manager: "u-5"}, "low")])
    path = write_workbook(tmp_path / "r.xlsx", RUN, Plan(ops, "d" * 64))
    assert read_approvals(path, Plan(ops, "d" * 64), approver="x", reconciliation=RUN).op_ids == ()
    ws = openpyxl.load_workbook(path)["Changes"]
    row = op_row(ws, 1) + 1
    assert ws.cell(row, column(ws, "Attribute")).value == "enterprise:manager"
    assert ws.cell(row, column(ws, "Before")).value == "Edsger Dijkstra (u-5)"
    assert ws.cell(row, column(ws, "After")).value == "Old Contractor (u-9)"


def test_decision_and_comment_are_marked_for_the_reviewer_and_attribute_rows_collapse(
        workbook: Path) -> None:
    ws = openpyxl.load_workbook(workbook)["Changes"]
    # Not protected: Excel collapses no outline on a protected sheet; every other cell is
    # checked when the file comes back instead.
    assert ws.protection.sheet is False
    row = op_row(ws, 3)
    editable = {ws.cell(header_row(ws), c).value for c in range(1, ws.max_column + 1)
                if not ws.cell(row, c).protection.locked}
    assert editable == {"Decision", "Comment"}
    assert ws.cell(row, column(ws, "Decision")).fill.fgColor.rgb.endswith("FFF2CC")
    assert ws.row_dimensions[row].outlineLevel == 0
    assert ws.row_dimensions[row + 1].outlineLevel == 1 and ws.row_dimensions[row + 2].outlineLevel == 1
    assert ws.freeze_panes == "C4"  # the header, # and Person stay in view


def test_decision_is_a_dropdown_of_approve_and_reject(workbook: Path) -> None:
    ws = openpyxl.load_workbook(workbook)["Changes"]
    (rule,) = ws.data_validations.dataValidation
    assert rule.type == "list" and rule.formula1 == '"Approve,Reject"' and rule.allow_blank
    letter = openpyxl.utils.get_column_letter(column(ws, "Decision"))
    assert str(rule.sqref) == f"{letter}4:{letter}{ws.max_row}"


def test_every_table_is_filterable_with_a_frozen_header(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    for name in wb.sheetnames[1:-1]:
        ws = wb[name]
        start = header_row(ws)
        assert ws.freeze_panes[1:] == str(start + 1), name
        assert ws.auto_filter.ref.startswith(f"A{start}:"), name
        assert all(ws.column_dimensions[x].width >= 6 for x in "ABC"), name


def test_dates_are_dates(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    leavers = wb["Leavers"]
    cell = leavers.cell(header_row(leavers) + 1, column(leavers, "Termination date"))
    assert cell.value == datetime(2026, 10, 31) and cell.is_date
    joiners = wb["Joiners"]
    cell = joiners.cell(header_row(joiners) + 1, column(joiners, "Hire date"))
    assert cell.value == datetime(2026, 11, 20) and cell.number_format == "yyyy-mm-dd"


def test_a_worker_named_like_a_formula_stays_text(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    hits = [cell for ws in wb for row in ws.iter_rows() for cell in row
            if cell.value == FORMULA]
    assert {c.parent.title for c in hits} >= {"Changes", "Joiners"}
    assert all(c.data_type == "s" and c.quotePrefix for c in hits)
    assert not [c for ws in wb for row in ws.iter_rows() for c in row if c.data_type == "f"]
    research = [c for row in wb["Changes"].iter_rows() for c in row if c.value == "+Research"]
    assert research and all(c.data_type == "s" for c in research)


def test_invalid_rows_give_rule_column_and_reason(workbook: Path) -> None:
    ws = openpyxl.load_workbook(workbook)["Invalid rows"]
    row = header_row(ws) + 1
    assert [ws.cell(row, c).value for c in range(1, 7)] == [
        6, "E006", "Barbara Liskov", "email", "Work Email", "Work Email: not an e-mail"]


def test_no_token_or_etag_reaches_the_workbook(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "r.xlsx", RUN, PLAN)
    wb = openpyxl.load_workbook(path)
    text = " ".join(str(c.value) for ws in wb for row in ws.iter_rows() for c in row)
    assert 'W/"1"' not in text


# ---- decisions back to an approval ---------------------------------------------------------------

def test_approve_marks_become_exactly_those_op_ids(workbook: Path) -> None:
    decide(workbook, {2: "Approve", 3: "Reject", 4: "Approve"})
    approval = read_approvals(workbook, PLAN, approver="auditor@example.com", note="Q4 review",
                              reconciliation=RUN)
    assert set(approval.op_ids) == {UPDATE, DISABLE}
    assert approval.plan_digest == PLAN.digest
    assert approval.approver == "auditor@example.com" and approval.note == "Q4 review"
    assert approval.source == "workbook:report.xlsx"


def test_an_untouched_workbook_approves_nothing(workbook: Path) -> None:
    assert read_approvals(workbook, PLAN, approver="auditor", reconciliation=RUN).op_ids == ()


def test_a_decision_typed_in_lower_case_counts(workbook: Path) -> None:
    decide(workbook, {1: " approve "})
    assert read_approvals(workbook, PLAN, approver="auditor", reconciliation=RUN).op_ids == (CREATE,)


def test_a_decision_that_is_neither_approve_nor_reject_is_refused(workbook: Path) -> None:
    decide(workbook, {1: "Maybe"})
    with pytest.raises(PlanError, match="'Maybe' is not Approve, Reject or blank"):
        read_approvals(workbook, PLAN, approver="auditor", reconciliation=RUN)


def test_a_decision_on_an_attribute_row_is_refused(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Changes"]
    ws.cell(op_row(ws, 2) + 1, column(ws, "Decision")).value = "Approve"
    wb.save(workbook)
    with pytest.raises(PlanError, match=r"cell H\d+ \(Decision\): Approve on line 2\.1 differs "
                                        r"from op row 2's decision"):
        read_approvals(workbook, PLAN, approver="auditor", reconciliation=RUN)


def test_a_workbook_of_another_plan_is_refused(workbook: Path) -> None:
    other = Plan(PLAN.ops.iloc[:3], "f" * 64)
    with pytest.raises(PlanError, match=f"plan {PLAN.digest[:12]}, not of this plan ffffffffffff"):
        read_approvals(workbook, other, approver="auditor", reconciliation=RUN)


def test_an_edited_digest_is_refused(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    wb["Changes"].cell(2, 3).value = "0" * 64
    wb.save(workbook)
    with pytest.raises(PlanError, match=r"cell C2 \(Plan digest\) reads '0000"):
        read_approvals(workbook, PLAN, approver="auditor", reconciliation=RUN)


def test_an_edited_op_id_is_refused(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Changes"]
    ws.cell(op_row(ws, 4), column(ws, "Op id (full)")).value = "deadbeef" * 8
    ws.cell(op_row(ws, 4), column(ws, "Decision")).value = "Approve"
    wb.save(workbook)
    with pytest.raises(PlanError, match=r"cell O\d+ \(Op id \(full\)\) reads 'deadbeef"):
        read_approvals(workbook, PLAN, approver="auditor", reconciliation=RUN)


def test_an_added_row_is_refused(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Changes"]
    source = op_row(ws, 4)
    ws.append([ws.cell(source, c).value for c in range(1, ws.max_column + 1)])
    wb.save(workbook)
    with pytest.raises(PlanError, match=r"cell A\d+ \(#\): line 4 appears twice"):
        read_approvals(workbook, PLAN, approver="auditor", reconciliation=RUN)


def test_a_deleted_attribute_row_is_refused(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Changes"]
    ws.delete_rows(op_row(ws, 2) + 2)
    wb.save(workbook)
    with pytest.raises(PlanError, match=r"line 2\.2 \(enterprise:department of op 2\) is missing"):
        read_approvals(workbook, PLAN, approver="auditor", reconciliation=RUN)


def test_a_deleted_op_is_refused(workbook: Path) -> None:
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Changes"]
    ws.delete_rows(op_row(ws, 4), 2)
    wb.save(workbook)
    with pytest.raises(PlanError, match=r"line 4 \(1 attribute of op 4\) is missing"):
        read_approvals(workbook, PLAN, approver="auditor", reconciliation=RUN)


def test_an_approval_needs_an_approver(workbook: Path) -> None:
    with pytest.raises(PlanError, match="approver"):
        read_approvals(workbook, PLAN, approver="  ", reconciliation=RUN)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_decisions_survive_a_save_in_another_spreadsheet(workbook: Path, tmp_path: Path) -> None:
    decide(workbook, {2: "Approve", 3: "Reject", 4: "Approve"})
    subprocess.run(["soffice", "--headless", "--convert-to", "xlsx:Calc MS Excel 2007 XML",
                    "--outdir", str(tmp_path / "saved"), str(workbook)],
                   check=True, capture_output=True, timeout=180)
    approval = read_approvals(tmp_path / "saved" / workbook.name, PLAN, approver="auditor", reconciliation=RUN)
    assert set(approval.op_ids) == {UPDATE, DISABLE}


# ---- the evidence workbook after the push --------------------------------------------------------

def test_evidence_answers_who_approved_what_changed_and_whether_it_took(tmp_path: Path) -> None:
    approval = Approval(PLAN.digest, (UPDATE, DISABLE), "auditor@example.com",
                        "2026-11-15T10:00:00+00:00", "Q4 leavers", "workbook:report.xlsx")
    results = pd.DataFrame({
        "op_id": [UPDATE, DISABLE], "action": ["update", "disable"],
        "category": ["drift", "leaver"], "hr_key": ["E001", "E003"], "target_id": ["u-1", "u-3"],
        "status": ["succeeded", "stale"], "attempts": [1, 2], "http_status": [200, 412],
        "error": [None, "changed since the snapshot"]})
    verification = pd.DataFrame({"op_id": [UPDATE, DISABLE], "converged": [True, False],
                                 "verified_at": ["2026-11-15T11:00:00+00:00"] * 2})
    path = write_workbook(tmp_path / "evidence.xlsx", RUN, PLAN, approval=approval,
                          push_results=SimpleNamespace(results=results),  # a PushResult
                          verification=SimpleNamespace(results=verification))
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[-3:] == ["Push results", "Verification", "Scope"]
    ws = wb["Push results"]
    grace = next(r for r in range(1, ws.max_row + 1)
                 if ws.cell(r, column(ws, "Person")).value == "Grace Hopper")

    def cell(header: str, row: int = grace) -> Any:
        return ws.cell(row, column(ws, header)).value

    assert cell("Action") == "disable"
    assert cell("Decision") == "Approved by auditor@example.com"
    assert cell("Decided at (UTC)") == datetime(2026, 11, 15, 10, 0)
    assert cell("What changes (before → after)") == "active: true → false"
    assert (cell("Result"), cell("Attempts (HTTP status, outcome)")) == ("stale", "2")
    assert (cell("Took effect"), cell("Verified at (UTC)")) == ("no", datetime(2026, 11, 15, 11))
    assert ws.cell(grace, 1).fill.fgColor.rgb.endswith("F8CBAD")  # a stale row stands out
    joiner = next(r for r in range(1, ws.max_row + 1) if cell("Action", r) == "create")
    assert cell("Decision", joiner) == "Not decided" and cell("Result", joiner) == "not pushed"
    assert ws.protection.sheet is True
    summary = wb["Summary"]
    assert summary.cell(1, 1).value.endswith("evidence of approval, push and verification")
    pairs = {summary.cell(r, 1).value: summary.cell(r, 2).value
             for r in range(1, summary.max_row + 1)}
    assert pairs["Approved by"] == "auditor@example.com" and pairs["Note"] == "Q4 leavers"
    assert pairs["stale"] == 1 and pairs["Not converged"] == 1
    assert "Decide a whole category" not in pairs  # nothing to decide in the evidence
    changes = wb["Changes"]
    assert changes.protection.sheet is True
    assert changes.cell(op_row(changes, 4), column(changes, "Decision")).value == "Approve"
    assert not changes.data_validations.dataValidation
    with pytest.raises(PlanError, match="is an evidence workbook"):
        read_approvals(path, PLAN, approver="x", reconciliation=RUN)


# ---- through the CLI, on a real run folder ------------------------------------------------------

HR_CSV = """Employee ID,Status,Email,First,Title
1,Active,ann@x.org,Ann,Director
2,Active,bob@x.org,"=HYPERLINK(""http://x"",""y"")",Engineer
3,Terminated,cy@x.org,Cy,Analyst
4,Terminated,di@x.org,Di,Analyst
"""
TARGET = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Resources": [
    {"id": "a1", "userName": "ann@x.org", "externalId": "1", "title": "Manager", "active": True},
    {"id": "a3", "userName": "cy@x.org", "externalId": "3", "title": "Analyst", "active": True},
    {"id": "a4", "userName": "di@x.org", "externalId": "4", "title": "Analyst", "active": True},
]}
CONFIG = """
as_of: 2026-11-15
source: {path: hr.csv, key: Employee ID, status: {column: Status, active: [Active]}}
target: {file: snapshot.json}
attributes: {userName: "[Email]", externalId: "[Employee ID]", name.givenName: "[First]",
             title: "[Title]"}
match: [{source: "[Employee ID]", target: externalId}]
"""


def recon(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "recon.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    (tmp_path / "hr.csv").write_text(HR_CSV)
    (tmp_path / "snapshot.json").write_text(json.dumps(TARGET))
    (tmp_path / "recon.yaml").write_text(CONFIG)
    done = recon("reconcile", "--config", "recon.yaml", "--out", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path / "run"


@pytest.mark.slow
def test_reconcile_writes_the_workbook_and_approve_reads_it_back(run_folder: Path) -> None:
    plan = json.loads((run_folder / "plan.json").read_text())
    leavers = {op["op_id"] for op in plan["ops"] if op["action"] == "disable"}
    assert len(leavers) == 2
    wb = openpyxl.load_workbook(run_folder / "report.xlsx")
    ws = wb["Changes"]
    decision, action = column(ws, "Decision"), column(ws, "Action")
    for row in range(header_row(ws) + 1, ws.max_row + 1):
        if "." not in str(ws.cell(row, 1).value) and ws.cell(row, action).value == "disable":
            ws.cell(row, decision).value = "Approve"
    wb.save(run_folder / "reviewed.xlsx")
    done = recon("approve", "--plan", "run/plan.json", "--workbook", "run/reviewed.xlsx",
                 "--approver", "A. Auditor", "--out", "run/approval.json", cwd=run_folder.parent)
    assert done.returncode == 0, done.stderr
    approval = json.loads((run_folder / "approval.json").read_text())
    assert set(approval["op_ids"]) == leavers and approval["plan_digest"] == plan["digest"]
    assert approval["source"] == "workbook:reviewed.xlsx"

    done = recon("report", "--run", "run", "--out", "run/evidence.xlsx", cwd=run_folder.parent)
    assert done.returncode == 0, done.stderr
    evidence = openpyxl.load_workbook(run_folder / "evidence.xlsx")
    summary = evidence["Summary"]
    pairs = {summary.cell(r, 1).value: summary.cell(r, 2).value
             for r in range(1, summary.max_row + 1)}
    assert pairs["Approved by"] == "A. Auditor" and pairs["Approved ops"] == "2 of 4"
    names = [c.value for row in evidence["Changes"].iter_rows() for c in row
             if c.value == FORMULA]
    assert names  # the HR formula arrived as text


@pytest.mark.slow
def test_approve_refuses_the_workbook_of_another_run(run_folder: Path) -> None:
    (run_folder.parent / "hr.csv").write_text(HR_CSV.replace("Director", "VP"))
    done = recon("reconcile", "--config", "recon.yaml", "--out", "run2", cwd=run_folder.parent)
    assert done.returncode == 0, done.stderr
    done = recon("approve", "--plan", "run2/plan.json", "--workbook", "run/report.xlsx",
                 "--approver", "A. Auditor", "--out", "run2/approval.json", cwd=run_folder.parent)
    assert done.returncode == 2
    assert "another run" in done.stderr and "Traceback" not in done.stderr
    assert not (run_folder.parent / "run2" / "approval.json").exists()
