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

import contextlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment

from recon.core.categories import CATEGORIES
from recon.core.config import Policy
from recon.core.limits import limit_checks
from recon.errors import OutputError
from recon.io.workbook_cells import (
    ALARM_FONT,
    CENTER,
    LABEL_FONT,
    NOTE_FONT,
    SECTION_FONT,
    TITLE_FONT,
    Column,
    header_cells,
    styled,
    write_table,
)
from recon.io.workbook_changes import (
    DIGEST_LABEL,
    PlanLike,
    change_lines,
    label_of,
    people_of,
    read_approvals,
    write_changes,
)

__all__ = ["read_approvals", "write_workbook"]

CATEGORY_ORDER = tuple((category.name, category.action) for category in CATEGORIES)

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
    """``recon.core.results.Reconciliation``; ``desired`` (dates) and ``quality`` if there."""

    @property
    def identities(self) -> pd.DataFrame: ...
    @property
    def diffs(self) -> pd.DataFrame: ...
    @property
    def meta(self) -> RunMetaLike: ...


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
    drift["attribute"] = drift["attribute"].astype("string").map(label_of, na_action="ignore")
    write_table(wb, "Drift", drift, [
        row, key, person, category, account, Column("Attribute", "attribute"),
        Column("Target has", "before"), Column("HR says", "after")],
        "One row per attribute that differs between HR and the account (drift, link, rehire).")
    write_table(wb, "Joiners", pick("joiner", "future_hire"), [
        row, key, person, user, category, Column("Hire date", "hire_date", 12), reason],
        "Active workers in scope without an account: joiners are created; future hires wait.")
    write_table(wb, "Leavers", pick("leaver"), [
        row, key, person, user, account, Column("Termination date", "termination_date", 13),
        Column("Matched by", "matched_by"), reason],
        "Inactive workers whose account is still active: the leaver policy disables them.")
    write_table(wb, "Rehires", pick("rehire"), [
        row, key, person, user, account, Column("Hire date", "hire_date", 12),
        Column("Changed attributes", "changed_attributes"), reason],
        "Active workers whose account is disabled: the account is enabled again.")
    write_table(wb, "Orphans", pick("orphan", "excluded"), [
        category, account, user, Column("Display name", "display_name"), reason],
        "Accounts with no HR row (orphans: reported, not changed) and accounts excluded by rule.")
    write_table(wb, "Conflicts", pick("conflict"), [
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
    write_table(wb, "Invalid rows", invalid, [
        row, key, person, Column("Rule", "rule"), Column("Column", "column"), reason],
        "HR rows that failed a data-quality rule: quarantined, nothing planned; fix them in HR.")
    _group_sheets(wb, getattr(reconciliation, "groups", None))


def _group_sheets(wb: Workbook, groups: Any) -> None:
    """Groups and membership changes (recon.core.groups), when the config has ``groups:``."""
    if groups is None:
        return
    category, reason = Column("Category", "category", 14), Column("Reason", "reason")
    write_table(wb, "Groups", groups.groups, [
        Column("Group", "group"), category, Column("Group id", "target_id"),
        Column("Desired members", "desired_members", 10),
        Column("Current members", "current_members", 10), Column("To add", "to_add", 8),
        Column("To remove", "to_remove", 8), reason],
        "Every desired and target group: created when missing, members changed when managed; "
        "unmanaged groups are left alone, groups are never deleted.")
    write_table(wb, "Group members", groups.memberships[
        ~groups.memberships["category"].isin(["member_ok"])], [
        Column("Group", "group"), category, Column("HR row", "hr_row", 8),
        Column("HR key", "hr_key"), Column("Person", "display_name"),
        Column("User name", "user_name"), Column("Account id", "member_id"),
        Column("Account category", "account_category"), reason],
        "Members to add and to remove (leavers leave every managed group), and members "
        "reported or left alone.")


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
               + detail["after"].replace("", "∅")).groupby(detail["op_id"]).agg("; ".join)
    people = people_of(ops, identities)
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
    evidence["approved_at"] = pd.to_datetime(evidence["approved"].map(
        {"yes": approval.approved_at if approval else None, "no": None}), utc=True,
        errors="coerce").dt.tz_localize(None)
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
    evidence["short_id"] = evidence["op_id"].str.slice(0, 12)
    columns += [Column("Op id", "short_id", 14), Column("Op id (full)", "op_id", 66, hidden=True)]
    write_table(wb, "Push results", evidence, columns,
                 "Every planned op: who approved it, what it changes, what the push did and "
                 "whether verification found the change in the target.")
    if checked is not None and "op_id" not in checked:
        write_table(wb, "Verification", checked, [Column(str(n), str(n)) for n in checked.columns])
    elif checked is not None:
        shown = checked.assign(short_id=checked["op_id"].astype("string").str.slice(0, 12))
        headers = [Column("Op id", "short_id", 14), *(
            Column(str(name).replace("_", " ").capitalize(), str(name))
            for name in checked.columns if name != "op_id"),
            Column("Op id (full)", "op_id", 66, hidden=True)]
        write_table(wb, "Verification", shown, headers,
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
                   approval: ApprovalLike | None, push_results: Any, verification: Any,
                   policy: Policy | None = None) -> None:
    ws = wb.create_sheet("Summary")
    meta = reconciliation.meta
    stamp = "yyyy-mm-dd hh:mm:ss"
    rows: list[list[Any]] = []

    def section(title: str) -> None:
        rows.append([])
        rows.append([styled(ws, title, font=SECTION_FONT)])

    def pair(label: str, value: Any, number_format: str | None = None) -> None:
        rows.append([styled(ws, label, font=LABEL_FONT),
                     styled(ws, value, number_format=number_format,
                             alignment=Alignment(horizontal="left"))])

    rows.append([styled(ws, "Identity reconciliation — review workbook", font=TITLE_FONT)])
    rows.append([styled(ws, "Review and decide on the Changes sheet; the other sheets list "
                         "every person by category.", font=NOTE_FONT)])
    section("Run")
    pair("As-of date", meta.as_of, "yyyy-mm-dd")
    pair("HR file", Path(str(meta.hr_file)).name)
    pair("HR file sha256", meta.hr_sha256)
    source = str(meta.snapshot_source)  # a URL as it is; a file by its name, not our folders
    pair("Target", source if "://" in source else Path(source).name)
    pair("Snapshot digest", meta.snapshot_digest)
    pair(DIGEST_LABEL, plan.digest)
    pair("Config digest", meta.config_digest)
    pair("Generated at (UTC)", _utc(meta.generated_at), stamp)
    pair("Workbook written at (UTC)", datetime.now(UTC).replace(tzinfo=None, microsecond=0), stamp)

    section("Rows per category")
    counts = reconciliation.identities["category"].value_counts()
    rows.append(header_cells(ws, ["Category", "Rows", "What recon does"]))
    rows[-1][1].alignment = CENTER
    first = len(rows) + 1
    known = [name for name, _ in CATEGORY_ORDER]
    extra = [(str(c), "") for c in counts.index if c not in known]
    for name, meaning in (*CATEGORY_ORDER, *extra):
        rows.append([name, styled(ws, int(counts.get(name, 0)), alignment=CENTER), meaning])
    last = len(rows)
    rows.append([styled(ws, "total", font=LABEL_FONT),
                 styled(ws, int(counts.sum()), font=LABEL_FONT, alignment=CENTER)])

    section("Planned operations")
    rows.append(header_cells(ws, ["Action", "Ops", "Risk"]))
    rows[-1][1].alignment = CENTER
    ops = plan.ops
    if len(ops):
        sizes = ops.groupby(["action", "risk"], sort=True).size()
        for (action, risk), size in zip(sizes.index.tolist(), sizes.tolist(), strict=True):
            rows.append([str(action), styled(ws, int(size), alignment=CENTER), str(risk)])
    rows.append([styled(ws, "all ops", font=LABEL_FONT),
                 styled(ws, len(ops), font=LABEL_FONT, alignment=CENTER)])
    if policy is not None:
        section("Safety limits per push (policy)")
        rows.append(header_cells(ws, ["Limit", "Planned", "Allowed"]))
        accounts = len(getattr(reconciliation, "current", ()))
        for check in limit_checks(ops, policy, (lambda: accounts) if accounts else None):
            over = not check.ok
            font = ALARM_FONT if over else None
            rows.append([styled(ws, check.what, font=font),
                         styled(ws, check.count, font=font, alignment=CENTER),
                         styled(ws, check.allowed, font=font, alignment=CENTER),
                         styled(ws, "over the limit: approving all of them will be refused"
                                if over else "", font=font)])

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
    policy: Policy | None = None,
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
    try:
        _write_summary(wb, reconciliation, plan, approval, push_results, verification, policy)
        write_changes(wb, plan, reconciliation.identities, approved)
        _identity_sheets(wb, reconciliation)
        if push_results is not None or verification is not None or approval is not None:
            _evidence_sheets(wb, plan, reconciliation.identities, approval, push_results,
                             verification)
    except OutputError as error:  # nothing is saved: no half workbook is left behind
        _discard(wb)
        raise OutputError(f"{file}: {error}") from error
    wb.save(file)
    return file


def _discard(wb: Workbook) -> None:
    """Finish and delete the sheets a write-only workbook has streamed to temporary files (left
    to the garbage collector, their XML writers close out of order and complain)."""
    for sheet in wb.worksheets:
        with contextlib.suppress(Exception):
            sheet.close()
        writer = getattr(sheet, "_writer", None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.cleanup()



