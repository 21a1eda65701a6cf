"""Reports of a run folder: the evidence workbook, the auditor's approval, the quality report.

``recon report``, ``recon approve --workbook`` and ``recon quality`` are one call each here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from recon.core.approve import Approval, check_approval
from recon.core.quality import QualityResult, check, gate
from recon.errors import OutputError
from recon.io.config_file import load_config
from recon.io.hr import read_hr
from recon.io.plan_files import read_approval, read_plan, write_approval
from recon.io.quality_report import write_quality
from recon.io.run import journal_facts, push_results_from_journal, read_identities, read_run
from recon.io.workbook import read_approvals, write_workbook

REVIEW_FILE = "report.xlsx"  # written by reconcile, reviewed and marked by people
REPORT_FILE = "evidence.xlsx"  # written by recon report after a push


def report_command(run_dir: str | Path, journal: str | Path | None = None, *,
                   approval: str | Path | None = None, out: str | Path | None = None) -> Path:
    """``recon report --run DIR [--journal FILE]``: write DIR/evidence.xlsx from the run folder.

    Never over the review workbook (DIR/report.xlsx, which may be the auditor's marked copy).
    The approval is ``approval`` or DIR/approval.json if there is one (refused if it is for
    another plan); the push results come from the journal, the verification from
    DIR/verification.csv (op_id, converged, detail) if present. Hire and termination dates are
    not kept in the run folder; the workbook that ``reconcile`` writes from memory has them.
    """
    folder = Path(run_dir)
    target = Path(out) if out else folder / REPORT_FILE
    if target.resolve() == (folder / REVIEW_FILE).resolve():
        raise OutputError(f"{target}: that is the run's review workbook (perhaps the auditor's "
                          f"marked copy); write the evidence to another file, e.g. "
                          f"{folder / REPORT_FILE}")
    run, plan = read_run(folder)
    approval_file = Path(approval) if approval else folder / "approval.json"
    approved = None
    if approval or approval_file.is_file():
        approved = read_approval(approval_file)
        check_approval(plan, approved)
    if journal is None and (folder / "journal.sqlite").is_file():
        journal = folder / "journal.sqlite"
    results = push_results_from_journal(journal, plan) if journal else None
    facts = journal_facts(journal) if journal else None
    verification_file = folder / "verification.csv"
    checked = (pd.read_csv(verification_file, dtype={"op_id": "string"})
               if verification_file.is_file() else None)
    return write_workbook(target, run, plan, approval=approved, push_results=results,
                          verification=checked, journal=facts)


def approve_from_workbook(plan_file: str | Path, workbook: str | Path | list[Path], *,
                          approver: str, out: str | Path, note: str = "") -> Approval:
    """``recon approve --plan PLAN --workbook FILE [--workbook FILE …] --approver NAME --out
    APPROVAL``: the names the workbooks show are checked against the run folder of the plan
    (identities.csv beside plan.json). A folder stands for every workbook in it."""
    plan = read_plan(plan_file)
    identities, groups = read_identities(Path(plan_file).parent)
    given = workbook if isinstance(workbook, list) else [Path(workbook)]
    files: list[Path] = []
    for one in given:
        files += sorted(one.glob("*.xlsx")) if one.is_dir() else [one]
    approval = read_approvals(files, plan, approver=approver, identities=identities,
                              groups=groups, note=note)
    check_approval(plan, approval)
    write_approval(approval, Path(out))
    return approval



def quality_command(config_path: str | os.PathLike[str],
                    out_dir: str | os.PathLike[str]) -> tuple[QualityResult, list[Path]]:
    """``recon quality``: check the configured extract, write quality.json/html, then gate.

    The report is written before the gate runs, so that a refused extract can still be read.
    """
    config = load_config(config_path)
    extract = read_hr(config.source, config.base_dir)
    result = check(extract.frame, config, file=str(extract.path), numbers=extract.numbers)
    files = write_quality(result, out_dir)
    gate(result, len(extract.frame), config)
    return result, files

