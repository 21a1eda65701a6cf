"""The auditor workbooks: a run rendered for people who review in Excel, and the evidence after.

``write_workbook`` renders a reconciliation and its plan as one .xlsx file an auditor can read
without help: a Summary, the **Changes** sheet (one numbered row per op, then what it writes;
Decision and Comment are the reviewer's) and one sheet per category of people. With an
approval, push results or a verification it is the **evidence** workbook: decisions recorded
("Rejected by A. Auditor — comment"), every push attempt, verification, nothing editable.
``read_approvals`` (``recon.io.workbook_read``) turns a reviewed workbook back into an
``Approval`` and refuses any edited cell.

``write_review`` is what ``recon reconcile`` writes: one workbook while the plan fits one
reviewable sheet, else one per part (``review.split_by``: category, or a column such as
department or manager: one workbook per reviewer) and an index, report.xlsx. A sheet holds at
most ``review.max_rows_per_sheet`` rows; the run folder's CSVs hold every row, and the
workbook says so.

Only what a reviewer needs about a person is written (name, HR key, user name, the changed
values); never a token, a config secret or an ETag.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from datetime import date
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from recon.core.arrow import text_in
from recon.core.config import Policy, Review
from recon.core.views import Names, label
from recon.errors import OutputError
from recon.io.workbook_cells import Book, Column, formula_safe, write_table
from recon.io.workbook_changes import (
    PlanLike,
    change_table,
    label_of,
    write_changes,
    write_scope,
)
from recon.io.workbook_evidence import evidence_table, frame_of, write_evidence
from recon.io.workbook_read import read_approvals
from recon.io.workbook_summary import SummaryFacts, category_rows, write_summary

__all__ = ["read_approvals", "write_review", "write_workbook"]

DEFAULT_MAX_ROWS = Review().max_rows_per_sheet
FULL_LISTS = "identities.csv, diffs.csv and plan.json in the run folder"


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
    """``recon.core.results.Reconciliation``; ``desired``, ``quality``, ``groups`` if there."""

    @property
    def identities(self) -> pd.DataFrame: ...
    @property
    def diffs(self) -> pd.DataFrame: ...
    @property
    def meta(self) -> RunMetaLike: ...


def names_of(reconciliation: Any, plan: PlanLike) -> Names:
    groups = getattr(getattr(reconciliation, "groups", None), "groups", None)
    return Names.of(reconciliation.identities, groups, plan.ops)


# ---- the sheets of people ---------------------------------------------------------------------

def _identity_sheets(book: Book, reconciliation: Any, names: Names, max_rows: int,
                     people: pd.DataFrame | None) -> None:
    ids, diffs = _numbered(reconciliation.identities), _numbered(reconciliation.diffs)
    if people is not None:  # a part: only the people its ops are about
        hr_rows = set(people["hr_row"].dropna().tolist())
        accounts = people["target_id"].dropna().astype(str)
        ids = ids[ids["hr_row"].isin(hr_rows).to_numpy(dtype=bool)
                  | text_in(ids["target_id"], accounts)]
        diffs = diffs[diffs["hr_row"].isin(hr_rows)]
    desired = getattr(reconciliation, "desired", None)
    row, key, person = Column("HR row", "hr_row", 9), Column("HR key", "hr_key", 12), Column(
        "Person", "display_name", 24)
    user, account = Column("User name", "user_name", 26), Column("Account id", "target_id", 34)
    category, reason = Column("Category", "category", 13), Column("Reason", "reason")

    def table(title: str, frame: pd.DataFrame, columns: list[Column], note: str,
              where: str = "identities.csv", total: int | None = None) -> None:
        write_table(book, title, frame, columns, note, max_rows=max_rows, full_list=where,
                    frozen_columns=3 if columns[0].source == "hr_row" else 1, total=total)

    where_category = ids.groupby("category", sort=False).indices  # once, not per sheet

    def pick(*categories: str) -> pd.DataFrame:
        at = np.sort(np.concatenate([where_category.get(c, np.array([], dtype=int))
                                     for c in categories]))
        chosen: pd.DataFrame = ids.iloc[at].copy()
        for column in ("hire_date", "termination_date"):  # the dates of the rows picked only
            if isinstance(desired, pd.DataFrame) and column in desired:
                chosen[column] = chosen["hr_row"].map(desired[column]).astype("datetime64[ns]")
            else:
                chosen[column] = pd.Series(pd.NaT, index=chosen.index, dtype="datetime64[ns]")
        return chosen

    drift = diffs[diffs["category"].isin(["drift", "link", "rehire"])]
    drift_total = len(drift)
    drift = drift.iloc[:max_rows].copy()  # names for the rows shown only
    drift["display_name"] = drift["hr_row"].map(names.people["display_name"])
    drift["attribute"] = drift["attribute"].astype("string").map(label_of, na_action="ignore")
    manager = drift["attribute"].fillna("").str.lower().str.endswith(":manager")
    for side in ("before", "after"):
        text = drift[side].astype("string")
        chosen = manager & text.notna()
        drift[side] = text.mask(chosen, text[chosen].map(names.manager))
    table("Drift", drift, [
        row, key, person, category, Column("Attribute", "attribute", 24),
        Column("Target has", "before", 26), Column("HR says", "after", 26), account],
        "One row per attribute that differs between HR and the account (drift, link, rehire); "
        "managers by name.", "diffs.csv", drift_total)
    table("Joiners", pick("joiner", "future_hire"), [
        row, key, person, user, category, Column("Hire date", "hire_date", 12), reason],
        "Active workers in scope without an account: joiners are created; future hires wait.")
    table("Leavers", pick("leaver"), [
        row, key, person, user, account, Column("Termination date", "termination_date", 13),
        Column("Matched by", "matched_by", 16), reason],
        "Inactive workers whose account is still active: the leaver policy disables them.")
    table("Rehires", pick("rehire"), [
        row, key, person, user, account, Column("Hire date", "hire_date", 12),
        Column("Changed attributes", "changed_attributes"), reason],
        "Active workers whose account is disabled: the account is enabled again.")
    table("Orphans", pick("orphan", "excluded"), [
        Column("Display name", "display_name", 24), category, account, user, reason],
        "Accounts with no HR row (orphans: reported, not changed) and accounts excluded by rule.")
    table("Conflicts", pick("conflict"), [row, key, person, user, account, reason],
          "Ambiguous matches: nothing is planned; a person decides which account belongs to whom.")
    invalid = pick("invalid")
    quality = getattr(getattr(reconciliation, "quality", None), "invalid", None)
    for column in ("rule", "column"):
        named = pd.Series(dtype="string")
        if isinstance(quality, pd.DataFrame) and not quality.empty and column in quality:
            named = _joined(quality[column])
        invalid = invalid.assign(**{column: invalid["hr_row"].map(named).astype("string")})
    table("Invalid rows", invalid, [row, key, person, Column("Rule", "rule", 16),
                                    Column("Column", "column", 18), reason],
          "HR rows that failed a data-quality rule: quarantined, nothing planned; fix them in HR.",
          "invalid.csv")
    _group_sheets(book, getattr(reconciliation, "groups", None), names, max_rows, people)


def _group_sheets(book: Book, groups: Any, names: Names, max_rows: int,
                  people: pd.DataFrame | None) -> None:
    """Groups and membership changes (recon.core.groups), when the config has ``groups:``."""
    if groups is None:
        return
    category, reason = Column("Category", "category", 16), Column("Reason", "reason")
    write_table(book, "Groups", groups.groups, [
        Column("Group", "group", 22), category, Column("Desired members", "desired_members", 10),
        Column("Current members", "current_members", 10), Column("To add", "to_add", 8),
        Column("To remove", "to_remove", 8), reason, Column("Group id", "target_id", 34)],
        "Every desired and target group: created when missing, members changed when managed; "
        "unmanaged groups are left alone, groups are never deleted.", max_rows=max_rows,
        full_list="groups.csv", frozen_columns=1)
    members = groups.memberships[~groups.memberships["category"].isin(["member_ok"])].copy()
    if people is not None:
        members = members[text_in(members["member_id"], people["target_id"].dropna())
                          | pd.to_numeric(members["hr_row"], errors="coerce").isin(
                              people["hr_row"].dropna().tolist())]
    members["hr_row"] = pd.to_numeric(members["hr_row"], errors="coerce").astype("Int64")
    write_table(book, "Group members", members, [
        Column("Group", "group", 22), Column("Person", "display_name", 24), category,
        Column("User name", "user_name", 26), Column("HR row", "hr_row", 8),
        Column("HR key", "hr_key", 12), Column("Account category", "account_category", 14),
        reason, Column("Account id", "member_id", 34)],
        "Members to add and to remove (leavers leave every managed group), and members "
        "reported or left alone.", max_rows=max_rows, full_list="memberships.csv",
        frozen_columns=2)


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with ``hr_row`` as nullable integers (a run folder reads it as text)."""
    if frame["hr_row"].dtype == "Int64":
        return frame
    return frame.assign(hr_row=pd.to_numeric(frame["hr_row"], errors="coerce").astype("Int64"))


def _joined(values: pd.Series) -> pd.Series:
    """HR row → its values joined with "; " (a row may break several rules: name them all)."""
    rows = pd.to_numeric(pd.Series(values.index), errors="coerce").astype("Int64").to_numpy()
    pairs = pd.DataFrame({"row": rows, "value": values.astype("string").to_numpy()}).dropna()
    pairs = pairs.drop_duplicates()
    single = pairs.drop_duplicates("row", keep=False)
    joined = pd.Series(single["value"].to_numpy(), index=single["row"].to_numpy(),
                       dtype="string")
    several = pairs[pairs["row"].duplicated(keep=False)]  # rare: few rows break two rules
    extra = {row: "; ".join(group["value"].astype(str))
             for row, group in several.groupby("row", sort=False)}
    return pd.concat([joined, pd.Series(extra, dtype="string")]) if extra else joined


# ---- one workbook -----------------------------------------------------------------------------

def _push_of(push_results: Any, plan: PlanLike) -> tuple[pd.DataFrame | None, dict[str, str]]:
    """Push results with their history from the journal when it is known and there."""
    if push_results is None:
        return None, {}
    from recon.io.run import journal_facts, push_results_from_journal

    journal = getattr(push_results, "journal_path", None)
    frame = frame_of(push_results)
    if journal and Path(journal).is_file() and not getattr(push_results, "dry_run", False):
        history = push_results_from_journal(journal, plan)  # type: ignore[arg-type]
        extra = history.drop(columns=[c for c in history.columns
                                      if c in frame.columns and c != "op_id"])
        return frame.merge(extra, on="op_id", how="left"), journal_facts(journal)
    return frame, {}


def write_workbook(
    path: str | Path, reconciliation: ReconciliationLike, plan: PlanLike, *,
    approval: Any = None, push_results: Any = None, verification: Any = None,
    policy: Policy | None = None, max_rows: int = DEFAULT_MAX_ROWS,
    scope: list[str] | None = None, part: str = "", journal: dict[str, str] | None = None,
    parts: pd.DataFrame | None = None, names: Names | None = None,
) -> Path:
    """Write the review workbook (or, with an approval, push results or a verification, the
    evidence workbook) to ``path``.

    ``push_results`` is a ``PushResult`` (its journal adds every attempt and time) or a frame
    (op_id, status, attempts, http_status, error, and from ``recon.io.run`` pushed_at,
    attempt_log, account_id); ``verification`` a frame, or an object holding one, with
    ``op_id``, ``converged`` (and ``detail``, ``verified_at``, ``account_id``). ``scope`` (op
    ids) and ``part`` make the workbook of one part of a split review; ``parts`` makes the
    index of one (no Changes sheet).
    """
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    evidence = approval is not None or push_results is not None or verification is not None
    names = names or names_of(reconciliation, plan)
    decisions = approval.decision_table() if approval is not None else None
    push, facts_of_journal = _push_of(push_results, plan)
    checked = frame_of(verification) if verification is not None else None
    partial = file.with_name(file.name + ".part")
    book = Book(partial)
    try:
        scoped = plan.ops if scope is None else plan.ops[text_in(plan.ops["op_id"],
                                                                pd.Series(list(scope)))]
        table, total = (change_table(plan, names, pd.Index(scope) if scope is not None else None,
                                     max_rows) if parts is None else (pd.DataFrame(), 0))
        counts = pd.Series(dict(category_rows(scoped))) if parts is None else None
        where = file.name.replace(".xlsx", "") if evidence else ""
        full_list = (f"{where}-push-results.csv beside this workbook" if evidence else
                     FULL_LISTS)
        write_summary(book, reconciliation, plan, SummaryFacts(
            part=part, scope_counts=counts, shown_ops=int(table["is_op"].sum()) if len(
                table) else 0, full_lists=FULL_LISTS, evidence=evidence, approval=approval,
            decisions=decisions, push=push, journal=journal or facts_of_journal,
            verification=checked, parts=parts), policy)
        if parts is None:
            write_changes(book, plan, table, total, decisions=decisions, evidence=evidence,
                          full_list=FULL_LISTS)
        people = scoped if scope is not None else None
        _identity_sheets(book, reconciliation, names, max_rows, people)
        if evidence:
            ev = evidence_table(plan, names, decisions, push, checked, max_rows)
            write_evidence(book, ev, len(plan.ops), full_list=full_list, verification=checked)
            if len(ev) < len(plan.ops):
                everything = evidence_table(plan, names, decisions, push, checked)
                formula_safe(everything.drop(columns=["bad"])).to_csv(
                    file.with_name(f"{where}-push-results.csv"), index=False,
                    encoding="utf-8-sig")
        if parts is None:
            write_scope(book, plan, part, scope, max_rows, evidence=evidence)
    except OutputError as error:  # nothing is saved: no half workbook is left behind
        book.discard()
        partial.unlink(missing_ok=True)
        raise OutputError(f"{file}: {error}") from error
    except BaseException:
        book.discard()
        partial.unlink(missing_ok=True)
        raise
    book.close()
    partial.replace(file)
    return file


# ---- a review split into parts ------------------------------------------------------------------

def _split_values(reconciliation: Any, plan: PlanLike, split_by: str, names: Names
                  ) -> pd.Series:
    """The part of each op: its category, or the named column's value for its person."""
    ops = plan.ops
    if split_by == "category":
        return ops["category"].astype(str)
    desired = reconciliation.desired
    wanted = split_by.casefold()
    column = next((c for c in desired.columns if str(c).casefold() == wanted
                   or label(str(c)).casefold() == wanted), None)
    if column is None:
        raise OutputError(f"review.split_by {split_by!r} is no attribute of this run "
                          f"(use 'category' or an attribute such as department or manager)")
    values = desired[column].astype("string")
    if str(column).casefold().endswith(":manager"):  # a reference holds the manager's HR key
        by_key = reconciliation.identities.dropna(subset=["hr_key"]).drop_duplicates(
            "hr_key").set_index("hr_key")["display_name"].astype("string")
        values = values.map(by_key).fillna(values)
    rows = pd.to_numeric(ops["hr_row"], errors="coerce").astype("Int64")
    return rows.map(values).astype("string").fillna("(no person)").replace("", "(empty)")


class _Typed:
    """A reconciliation with its identities' and diffs' ``hr_row`` typed once."""

    def __init__(self, reconciliation: Any) -> None:
        self._of = reconciliation
        self.identities = _numbered(reconciliation.identities)
        self.diffs = _numbered(reconciliation.diffs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._of, name)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "part"


def write_review(folder: str | Path, reconciliation: ReconciliationLike, plan: PlanLike, *,
                 policy: Policy | None = None, review: Review | None = None,
                 processes: int = 1) -> list[Path]:
    """The review workbooks of a run: report.xlsx alone, or an index report.xlsx and one
    workbook per part under review/ (``review.split_by``, or by category when the plan has
    more ops than a sheet shows).

    ``processes`` > 1 writes the workbooks of a split review in this process and
    ``processes`` - 1 forked workers (Linux only; elsewhere, and for one workbook, they are
    written in turn): XlsxWriter is pure Python, so a second core shortens a million-person
    run's review (14–17 s → 10–12 s). The files are the same either way."""
    settings = review or Review()
    out = Path(folder)
    max_rows = settings.max_rows_per_sheet
    split_by = settings.split_by or ("category" if len(plan.ops) > max_rows else None)
    if split_by is None:
        return [write_workbook(out / "report.xlsx", reconciliation, plan, policy=policy,
                               max_rows=max_rows)]
    names = names_of(reconciliation, plan).warm()  # made once, before the worker forks
    typed = _Typed(reconciliation)  # hr_row typed once, not once per workbook
    reconciliation = typed
    parts = _split_values(reconciliation, plan, split_by, names)
    order = ([c for c, _ in category_rows(plan.ops)] if split_by == "category"
             else sorted(str(v) for v in parts.unique()))
    jobs: list[tuple[int, Callable[[], Path]]] = []
    listing = []
    for number, value in enumerate(order, 1):
        ids = plan.ops.loc[(parts == value).to_numpy(dtype=bool), "op_id"].astype(str).tolist()
        name = f"review/{number:02d}-{_slug(str(value))}.xlsx"
        label_text = f"{split_by} = {value}"
        jobs.append((len(ids), partial(write_workbook, out / name, reconciliation, plan,
                                       policy=policy, max_rows=max_rows, scope=ids,
                                       part=label_text, names=names)))
        listing.append((name, len(ids), label_text))
    index = pd.DataFrame(listing, columns=["file", "ops", "part"])
    # The index shows every person's sheets: as large as the largest parts together.
    jobs.insert(0, (len(reconciliation.identities), partial(
        write_workbook, out / "report.xlsx", reconciliation, plan, policy=policy,
        max_rows=max_rows, parts=index, names=names)))
    return _run_jobs(jobs, processes)


def _run_jobs(jobs: list[tuple[int, Callable[[], Path]]], processes: int) -> list[Path]:
    """Each job's result, in order. With ``processes`` > 1 and fork available, this process and
    ``processes`` - 1 forked workers each take the next largest job as they become free, from
    one shared counter (one process fewer holds memory than a pool of workers would, and no
    worker waits for this process to hand it work). This process takes the largest first (the
    index, which reads every identity: a worker would copy those pages). A job's error is
    raised as it would be in turn: the first in order. A worker that dies (out of memory) is
    an error naming the workbook it was writing, never a hang."""
    processes = min(processes, len(jobs))
    if processes < 2 or sys.platform != "linux":
        return [job() for _, job in jobs]
    import multiprocessing

    context = multiprocessing.get_context("fork")
    order = sorted(range(len(jobs)), key=lambda at: -jobs[at][0])
    taken = context.Value("i", 1)  # this process writes the largest (order[0]) itself
    global _JOBS
    _JOBS = [job for _, job in jobs]
    outcomes: dict[int, Path | Exception] = {}
    workers = []
    try:
        _give_back_freed_memory()  # before the fork: the worker starts from what is in use
        for _ in range(processes - 1):
            reader, writer = context.Pipe(duplex=False)
            worker = context.Process(target=_work, args=(order, taken, writer), daemon=True)
            worker.start()
            writer.close()
            workers.append((worker, reader))
        for at in chain([order[0]], _claimed(order, taken)):
            try:
                outcomes[at] = _JOBS[at]()
            except Exception as error:
                outcomes[at] = error
        for worker, reader in workers:
            _collect(worker, reader, jobs, outcomes)
    finally:
        _JOBS = []
        for worker, reader in workers:
            reader.close()
            if worker.is_alive():
                worker.kill()
            worker.join()
    results: list[Path] = []
    for at in range(len(jobs)):
        outcome = outcomes[at]
        if isinstance(outcome, Exception):
            raise outcome
        results.append(outcome)
    return results


_JOBS: list[Callable[[], Path]] = []


def _claimed(order: list[int], taken: Any) -> Iterator[int]:
    """The jobs this process takes, largest first, each claimed from the shared counter."""
    while True:
        with taken.get_lock():
            position = taken.value
            taken.value = position + 1
        if position >= len(order):
            return
        yield order[position]


def _work(order: list[int], taken: Any, writer: Any) -> None:
    """A forked worker (which inherited ``_JOBS``): claim, write, report, until none is left."""
    for at in _claimed(order, taken):
        writer.send(("start", at, None))
        try:
            writer.send(("done", at, _JOBS[at]()))
        except Exception as error:
            try:
                writer.send(("failed", at, error))
            except Exception:  # an error that does not pickle: its type and words
                writer.send(("failed", at, RuntimeError(f"{type(error).__name__}: {error}")))
    writer.close()


def _collect(worker: Any, reader: Any, jobs: list[tuple[int, Callable[[], Path]]],
             outcomes: dict[int, Path | Exception]) -> None:
    """A worker's results, read until it ends; a job it started and never finished (it died)
    becomes an error naming the workbook."""
    from multiprocessing.connection import wait

    started: int | None = None
    while True:
        wait([reader, worker.sentinel])
        try:
            kind, at, value = reader.recv()
        except EOFError:
            break
        if kind == "start":
            started = at
        else:
            outcomes[at] = value
            started = None
    worker.join()
    if started is not None:
        outcomes[started] = OutputError(
            f"the review worker stopped (exit code {worker.exitcode}) while writing "
            f"workbook {started + 1} of {len(jobs)}; run again, or set review.split_by "
            f"to write smaller parts")


def _give_back_freed_memory() -> None:
    """Hand the heap's freed pages back to the system (glibc keeps them otherwise): at 1M
    people about 0.25 GiB that the process tree would go on counting while the review runs."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to give back
        ctypes.CDLL("libc.so.6").malloc_trim(0)
