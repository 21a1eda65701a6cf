"""The Summary sheet: what the run is, how many of each category, what is planned, the decisions
for whole categories, and (in the evidence) who approved, who pushed, what verification found.

Two charts: what needs action (changes, and rows a person must look at) apart from what needs
none, so 758,000 people in sync never squash the 40 leavers into an invisible bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from recon.core.categories import BY_NAME, CATEGORIES, GROUP_CATEGORIES, order_key
from recon.core.config import Policy
from recon.core.limits import limit_checks
from recon.io.workbook_cells import Book
from recon.io.workbook_changes import APPROVE, DIGEST_LABEL, REJECT

CATEGORY_DECISIONS = "Decide a whole category"
DECISION_HEADERS = ("Category", "Ops", "Decision", "Comment")
KIND_COLOURS = {"change": "#2F6DB5", "person": "#D9822B", "nothing": "#A7ADB4"}


@dataclass(frozen=True)
class SummaryFacts:
    """What the Summary says beyond the run: the part reviewed here and the evidence."""

    part: str = ""  # "" for a workbook of the whole plan
    scope_counts: pd.Series | None = None  # ops per category in this workbook
    shown_ops: int = 0
    full_lists: str = ""
    evidence: bool = False
    approval: Any = None
    decisions: pd.DataFrame | None = None
    push: pd.DataFrame | None = None
    journal: dict[str, str] = field(default_factory=dict)
    verification: pd.DataFrame | None = None
    parts: pd.DataFrame | None = None  # the index of a split review: file, part, ops


def utc(text: Any) -> datetime | str:
    """An ISO timestamp as a naive UTC datetime (Excel has no time zones), else the text."""
    try:
        moment = datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return "" if text is None else str(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def category_rows(ops: pd.DataFrame) -> list[tuple[str, int]]:
    """(category, ops) of the ops a workbook decides, in display order."""
    counts = ops["category"].astype(str).value_counts()
    names = sorted(counts.index, key=lambda n: (order_key(n), list(GROUP_CATEGORIES).index(n)
                                                if n in GROUP_CATEGORIES else 99, n))
    return [(name, int(counts[name])) for name in names]


class _Rows:
    """The Summary's rows, written top to bottom (a streamed sheet goes forward only)."""

    def __init__(self, book: Book, ws: Any) -> None:
        self.book, self.ws, self.row = book, ws, 0

    def cells(self, *values: Any, styles: tuple[tuple[str, ...], ...] = ()) -> int:
        for col, value in enumerate(values):
            style = styles[col] if col < len(styles) else ()
            if value is not None or style:
                self.book.put(self.ws, self.row, col, value, *style)
        self.row += 1
        return self.row - 1

    def section(self, title: str) -> None:
        self.row += 1
        self.cells(title, styles=(("section",),))

    def pair(self, label: str, value: Any, *style: str) -> None:
        self.cells(label, value, styles=(("label",), (*style, "left")))

    def header(self, *titles: str) -> None:
        self.ws.set_row(self.row, 20)
        self.cells(*titles, styles=tuple(("header",) for _ in titles))


def write_summary(book: Book, reconciliation: Any, plan: Any, facts: SummaryFacts,
                  policy: Policy | None = None) -> None:
    ws = book.sheet("Summary")
    ws.set_column(0, 0, 30)
    ws.set_column(1, 1, 22)
    ws.set_column(2, 2, 50)
    ws.set_column(3, 3, 24)
    ws.set_column(4, 4, 3)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_paper(9)
    out = _Rows(book, ws)
    meta = reconciliation.meta
    title = ("Identity reconciliation — evidence of approval, push and verification"
             if facts.evidence else "Identity reconciliation — review workbook")
    out.cells(title, styles=(("title",),))
    out.cells("What was planned, who decided, what the push did and whether it took effect. "
              "Nothing in this workbook is editable." if facts.evidence else
              "Decide on the Changes sheet, op by op, or below for a whole category; the other "
              "sheets list the people behind each category.", styles=(("note",),))
    out.section("Run")
    out.pair("As-of date", meta.as_of)
    out.pair("HR file", Path(meta.hr_file).name)
    out.pair("HR file sha256", meta.hr_sha256)
    out.pair("Snapshot source", meta.snapshot_source)
    out.pair("Snapshot digest", meta.snapshot_digest)
    out.pair("Config digest", meta.config_digest)
    out.pair(DIGEST_LABEL, plan.digest)
    out.pair("Generated at (UTC)", utc(meta.generated_at))
    if facts.part or facts.full_lists:
        out.section("This workbook")
        if facts.part:
            out.pair("Part of the review", facts.part)
        scope = int(facts.scope_counts.sum()) if facts.scope_counts is not None else 0
        if not facts.evidence:
            out.pair("Ops to decide here", f"{scope:,} of the plan's {len(plan.ops):,}")
        if facts.shown_ops < scope and not facts.evidence:
            out.pair("Shown on Changes", f"{facts.shown_ops:,} (the first of each category); "
                     "decide the rest for their whole category below")
        if facts.full_lists:
            out.pair("Every row is in", facts.full_lists)
    if facts.parts is not None:
        _parts(out, facts.parts)
    first = _categories(out, reconciliation)
    _planned(out, plan, reconciliation, policy)
    if not facts.evidence and facts.scope_counts is not None and len(facts.scope_counts):
        _decide_categories(out, facts.scope_counts)
    if facts.evidence:
        _evidence(out, plan, facts)
    _charts(book, ws, first)


def _parts(out: _Rows, parts: pd.DataFrame) -> None:
    out.section("Review workbooks (one per reviewer)")
    out.cells("The plan is split so every sheet stays reviewable; decide in each workbook "
              "and pass them all to recon approve --workbook.", styles=(("note",),))
    out.header("Workbook", "Ops", "Part")
    for file, ops, part in zip(parts["file"], parts["ops"], parts["part"], strict=True):
        out.cells(str(file), int(ops), str(part), styles=((), ("count",), ()))


def _categories(out: _Rows, reconciliation: Any) -> tuple[int, int, int]:
    """The rows per category; returns the rows of the needs-action and no-action blocks."""
    out.section("Rows per category")
    out.header("Category", "Rows", "Meaning")
    counts = reconciliation.identities["category"].value_counts()
    known = [c for c in CATEGORIES]
    start = out.row
    split = start
    for category in known:
        if category.kind == "nothing" and split == start:
            split = out.row
        out.cells(category.name, int(counts.get(category.name, 0)), category.meaning,
                  styles=((), ("count",), ("note",)))
    for name in sorted(set(counts.index) - set(BY_NAME)):
        out.cells(str(name), int(counts[name]), "", styles=((), ("count",)))
    end = out.row
    out.cells("total", int(counts.sum()), styles=(("label",), ("label", "count")))
    return start, split, end


def _planned(out: _Rows, plan: Any, reconciliation: Any, policy: Policy | None) -> None:
    out.section("Planned operations")
    out.header("Action", "Ops", "Risk")
    ops = plan.ops
    if len(ops):
        sizes = ops.groupby(["action", "risk"], sort=True).size()
        for (action, risk), size in zip(sizes.index.tolist(), sizes.tolist(), strict=True):
            out.cells(str(action), int(size), str(risk), styles=((), ("count",)))
    out.cells("all ops", len(ops), styles=(("label",), ("label", "count")))
    if policy is None:
        return
    out.section("Safety limits per push (policy)")
    out.header("Limit", "Planned", "Allowed")
    accounts = len(getattr(reconciliation, "current", ()))
    for check in limit_checks(ops, policy, (lambda: accounts) if accounts else None):
        style = ("alarm",) if not check.ok else ()
        out.cells(check.what, check.count, check.allowed,
                  "over the limit: approving all of them will be refused" if not check.ok
                  else None, styles=(style, (*style, "count"), (*style, "count"), style))


def _decide_categories(out: _Rows, counts: pd.Series) -> None:
    out.section(CATEGORY_DECISIONS)
    out.cells("Approve or Reject here applies to every op of the category in this workbook "
              "that has no decision of its own on the Changes sheet.", styles=(("note",),))
    out.header(*DECISION_HEADERS)
    first = out.row
    for name, size in counts.items():
        out.cells(str(name), int(size), None, None,
                  styles=((), ("count",), ("edit",), ("edit",)))
    out.ws.data_validation(first, 2, out.row - 1, 2, {
        "validate": "list", "source": [APPROVE, REJECT], "ignore_blank": True,
        "input_title": "Whole category",
        "input_message": "Applies to every op of this category without its own decision."})


def _evidence(out: _Rows, plan: Any, facts: SummaryFacts) -> None:
    approval = facts.approval
    if approval is not None:
        out.section("Approval")
        decided = facts.decisions if facts.decisions is not None else pd.DataFrame()
        rejected = int((decided["decision"] == "reject").sum()) if len(decided) else 0
        out.pair("Approved by", approval.approver)
        out.pair("Approved at (UTC)", utc(approval.approved_at))
        out.pair("Note", approval.note or None)
        out.pair("Source", approval.source)
        out.pair("Approved ops", f"{len(approval.op_ids)} of {len(plan.ops)}")
        out.pair("Rejected ops", rejected)
        out.pair("Approval bound to plan", approval.plan_digest)
        for reviewed in getattr(approval, "reviewed", ()):
            out.pair("Reviewed workbook", reviewed.file)
            out.pair("  its sha256", reviewed.sha256)
            if reviewed.saved_by or reviewed.saved_at:
                out.pair("  last saved by, at (UTC)",
                         f"{reviewed.saved_by or '?'}, {reviewed.saved_at or '?'}")
    if facts.push is not None:
        out.section("Push")
        journal = facts.journal
        if journal:
            out.pair("Journal file", journal.get("file"))
            out.pair("Journal sha256", journal.get("sha256"))
            out.pair("Pushed by", journal.get("owner"))
            out.pair("Target", journal.get("target"))
            out.pair("Push started (UTC)", utc(journal.get("started_at")))
            out.pair("Push ended (UTC)", utc(journal.get("ended_at")))
        statuses = facts.push["status"].astype(str).value_counts()
        for status, size in statuses.items():
            bad = status in ("failed", "stale")
            out.pair(str(status), int(size), *(("alarm",) if bad else ()))
    if facts.verification is not None:
        out.section("Verification")
        checked = facts.verification
        if "verified_at" in checked and checked["verified_at"].notna().any():
            out.pair("Verified at (UTC)", utc(checked["verified_at"].dropna().iloc[0]))
        if "converged" in checked:
            took = checked["converged"].astype(str).str.lower().isin(["true", "1", "yes"])
            out.pair("Converged", int(took.sum()))
            out.pair("Not converged", int((~took).sum()), *(("alarm",) if (~took).any() else ()))


def _charts(book: Book, ws: Any, rows: tuple[int, int, int]) -> None:
    """Two bar charts beside the table: what needs action, and what needs none."""
    start, split, end = rows
    blocks = [("Needs action (blue: changes planned; orange: a person decides)", start, split),
              ("No action needed", split, end)]
    top = 2
    for title, first, stop in blocks:
        if stop <= first:
            continue
        chart = book.wb.add_chart({"type": "bar"})
        names = [c for c in CATEGORIES][first - start:stop - start] if stop - start <= len(
            CATEGORIES) else list(CATEGORIES)
        chart.add_series({
            "categories": ["Summary", first, 0, stop - 1, 0],
            "values": ["Summary", first, 1, stop - 1, 1],
            "data_labels": {"value": True, "num_format": "#,##0", "position": "outside_end"},
            "points": [{"fill": {"color": KIND_COLOURS[c.kind]}} for c in names],
            "gap": 40,
        })
        chart.set_title({"name": title, "name_font": {"size": 11, "bold": True}})
        chart.set_legend({"none": True})
        chart.set_y_axis({"reverse": True, "num_font": {"size": 10}})
        chart.set_x_axis({"major_gridlines": {"visible": False}, "num_format": "#,##0",
                          "num_font": {"size": 9}})
        height = 70 + 26 * (stop - first)
        chart.set_size({"width": 560, "height": height})
        ws.insert_chart(top, 5, chart)
        top += height // 20 + 2
