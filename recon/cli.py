"""The command line: a thin shell over the library, for scheduled runs and for people.

Each command is one call into ``recon``; this module only parses options and renders results.
``main`` is the single place where an exception becomes one line on stderr and an exit code
(``EXIT_CODES``): no traceback for a user mistake, never exit 0 for work that did not succeed.
Mistakes are caught before any work: options, commands, categories, dates, config keys and the
config's attribute paths, each with the closest valid name.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from recon.console import StageLines, console, err, error, print_counts, say, tell, warn
from recon.errors import OutputError, ReconError

#: Exit code → (short meaning, when). The README and ``recon --help`` show them.
EXIT_CODES = {
    0: ("success", "everything asked for was done"),
    1: ("not fully done", "the work ran but did not fully succeed: an op failed, was stale or "
        "refused by a safety limit, verify found ops not converged, or the quality gate refused "
        "the extract"),
    2: ("usage or input mistake", "an unknown option, command or name, a bad date, an "
        "unreadable or invalid file or config: one line on stderr names it"),
    3: ("internal error", "a bug in recon: the traceback is shown"),
    130: ("interrupted", "Ctrl-C"),
}
EPILOG = "Exit codes: " + ", ".join(f"{code} {short}"
                                    for code, (short, _) in EXIT_CODES.items()) + "."

app = typer.Typer(
    name="recon", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None, epilog=EPILOG,
    help="Reconcile an HR extract with a SCIM or Entra target: check, plan, approve, push, "
         "verify.",
)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The YAML config file.")]
InsecureOption = Annotated[bool, typer.Option(
    help="Allow plain http to a non-loopback target (TLS checks stay on for https).")]
DeltaOption = Annotated[Path | None, typer.Option(
    help="Entra: keep Graph's users/delta link in this folder, so the next read fetches only "
         "what changed.")]
WaveOption = Annotated[str | None, typer.Option(
    help="One wave only: a name from the config's waves:, or a predicate such as "
         "'[Location] = \"Oslo\"'; the other waves' ops are reported, not planned.")]
QuietOption = Annotated[bool, typer.Option(
    "--quiet", "-q", help="Print only the result: no stage lines, no progress bars.")]


def parse_as_of(value: str | None) -> date | None:
    """``--as-of``, checked before any work is done."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as error:
        raise typer.BadParameter(f"{value!r} is not a date: write it as YYYY-MM-DD "
                                 f"(e.g. {date.today().isoformat()})",
                                 param_hint="'--as-of'") from error


# ---- reconcile, quality, snapshot --------------------------------------------------------------


@app.command("reconcile")
def reconcile_command(
    config: ConfigOption,
    out: Annotated[Path, typer.Option(
        help="A new run folder for identities.csv, diffs.csv, plan.json and report.xlsx.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="As-of date, YYYY-MM-DD.")] = None,
    overwrite: Annotated[bool, typer.Option(
        help="Replace a run already in --out (never one that holds an approval or journal).")]
    = False,
    insecure: InsecureOption = False,
    quiet: QuietOption = False,
    delta_state: DeltaOption = None,
    wave: WaveOption = None,
) -> None:
    """Classify every HR row and account, write the run folder, print counts per category."""
    from recon.io.config_file import load_config
    from recon.io.run import check_run_folder, write_outputs
    from recon.io.workbook import write_review
    from recon.workflows.reconcile import (
        check_config,
        hr_detail,
        plan,
        read_inputs,
        reconcile,
        target_detail,
    )
    from recon.workflows.waves import wave_rules

    day = parse_as_of(as_of)
    cfg = load_config(config)
    rules = wave_rules(cfg, wave)  # an unknown wave before any work
    check_run_folder(out, overwrite=overwrite)
    stages = StageLines(quiet=quiet)
    check_config(cfg, insecure=insecure)
    # A mistake in the HR file is reported before a long target read (read_inputs).
    hr, target, seconds = read_inputs(cfg, insecure=insecure,
                                      progress=not quiet and console.is_terminal,
                                      delta_state=delta_state)
    stages("read HR", hr_detail(hr), seconds[0])
    stages("read target", target_detail(target), seconds[1])
    result = reconcile(cfg, hr, target, as_of=day, stages=stages)
    del target
    started = datetime.now()
    the_plan = plan(result, cfg)
    stages("plan", f"{len(the_plan.ops):,} operations, digest {the_plan.digest[:16]}",
           (datetime.now() - started).total_seconds())
    waves = None
    if rules:
        from recon.workflows.waves import plan_waves

        started = datetime.now()
        waves = plan_waves(cfg, result, the_plan, hr, waves=rules)
        stages("waves", ", ".join(f"{row.wave} {row.ops:,} ops" for row in
                                  waves.summary().itertuples()),
               (datetime.now() - started).total_seconds())
        waves = waves.selecting(wave) if wave is not None else waves
        assert waves.plan is not None
        the_plan = waves.plan
    _preview_limits(the_plan, cfg, len(result.current))
    started = datetime.now()
    files = write_outputs(result, the_plan, out, overwrite=overwrite, waves=waves)
    stages("write", f"{len(files)} files in {out}", (datetime.now() - started).total_seconds())
    started = datetime.now()
    with _working(f"writing the review workbooks for {len(the_plan.ops):,} operations",
                  quiet=quiet):
        try:
            for number, written in enumerate(write_review(
                    out, result, the_plan, policy=cfg.policy, review=cfg.review,
                    processes=min(2, os.cpu_count() or 1))):
                files[f"review {number}" if number else "report"] = written
        except OutputError as too_large:  # the run folder is complete without it
            warn(f"not written: {too_large}. identities.csv, diffs.csv and plan.json hold "
                 "every row; approve with `recon approve --category`.")
    reviews = [path for name, path in files.items() if name.startswith(("review", "report"))]
    stages("workbook", f"{len(reviews)} review workbook{'s' if len(reviews) != 1 else ''}",
           (datetime.now() - started).total_seconds())
    if not quiet:
        print_counts({str(k): int(v) for k, v in result.counts().items()})
        if result.groups is not None:
            print_counts({str(k): int(v) for k, v in result.groups.member_counts().items()},
                         title="Group members")
    if waves is not None and waves.selected is not None:
        _report_wave(waves)
    say(f"plan: {len(the_plan.ops)} operations, digest {the_plan.digest[:16]} → {out}")


def _working(what: str, *, quiet: bool) -> contextlib.AbstractContextManager[object]:
    """A spinner with ``what`` on a terminal (long steps are never silent); nothing otherwise."""
    if quiet or not console.is_terminal:
        return contextlib.nullcontext()
    return console.status(what)


def _report_wave(waves: object) -> None:
    """What a wave's plan leaves to other waves, and what it needs from them."""
    from recon.core.waves import Waves

    assert isinstance(waves, Waves) and waves.selected is not None
    later = waves.later(waves.selected)
    if later:
        tell("later waves (not in this plan; waves.csv): "
             + ", ".join(f"{name} {count:,} ops" for name, count in later.items()))
    needs = waves.dependencies_of(waves.selected)
    for kind, count in needs["kind"].value_counts().items():
        warn(f"wave {waves.selected}: {count} {kind} dependenc{'y' if count == 1 else 'ies'} "
             "outside the wave (wave-dependencies.csv)")


def _preview_limits(the_plan: object, cfg: object, accounts: int) -> None:
    """Warn at plan time when approving every op would pass a safety limit."""
    from recon.core.config import Config
    from recon.core.limits import limit_checks
    from recon.core.plan import Plan

    assert isinstance(the_plan, Plan) and isinstance(cfg, Config)
    for check in limit_checks(the_plan.ops, cfg.policy, lambda: accounts):
        if not check.ok:
            warn(f"the plan holds {check.count:,g} {check.what}, over policy.{check.option} "
                 f"({check.allowed:g}): a push approving all of them will be refused. Approve "
                 "a smaller batch, or raise the limit knowingly.")


@app.command("quality")
def quality_command(
    config: ConfigOption,
    out: Annotated[Path, typer.Option(help="Folder for quality.json and quality.html.")],
) -> None:
    """Check the HR extract's data quality; exit 1 when recon would refuse to plan from it."""
    from recon.workflows.report import quality_command as check_and_report

    result, files = check_and_report(config, out)
    say(f"{result.details.get('rows', 0)} rows: {len(result.invalid)} quarantined, "
                  f"{len(result.warnings)} warnings → {', '.join(str(p) for p in files)}")


@app.command("snapshot")
def snapshot_command(
    config: ConfigOption,
    out: Annotated[Path, typer.Option(
        help="Where to write the snapshot: .json (with source, time and groups) or .jsonl "
             "(users only, one per line; read fastest).")],
    insecure: InsecureOption = False,
    quiet: QuietOption = False,
    delta_state: DeltaOption = None,
) -> None:
    """Read the target and write its users (with a timestamp and digest) to a file."""
    from recon.io.config_file import load_config
    from recon.io.snapshots import write_snapshot
    from recon.workflows.reconcile import check_config, snapshot

    cfg = load_config(config)
    check_config(cfg, insecure=insecure)
    taken = snapshot(cfg, insecure=insecure, progress=not quiet and console.is_terminal,
                     delta_state=delta_state)
    write_snapshot(taken, out)
    say(f"{taken.count} users from {taken.source}, digest {taken.digest[:16]}"
                  f" → {out}")


# ---- approve, push, verify, report -----------------------------------------------------------


@app.command("approve")
def approve_command(
    plan_file: Annotated[Path, typer.Option("--plan", help="plan.json of the run.")],
    out: Annotated[Path, typer.Option(help="Where to write approval.json.")],
    approver: Annotated[str, typer.Option(help="Who approves (name or e-mail).")],
    category: Annotated[list[str] | None, typer.Option(help="Approve a category's ops.")] = None,
    action: Annotated[list[str] | None, typer.Option(help="Approve an action's ops.")] = None,
    op: Annotated[list[str] | None, typer.Option(help="Approve one op id.")] = None,
    all_ops: Annotated[bool, typer.Option("--all", help="Approve every op.")] = False,
    note: Annotated[str, typer.Option(help="Why; kept with the approval.")] = "",
    workbook: Annotated[list[Path] | None, typer.Option(
        help="Approve what this reviewed workbook marks (repeat it, or name a folder, for the "
             "parts of a split review; alone: the workbooks' decisions are the approval).")]
    = None,
    wave: Annotated[str | None, typer.Option(
        help="Only this wave's ops (a wave the run's reconcile recorded in waves.json).")]
    = None,
) -> None:
    """Write an approval bound to the plan's digest."""
    from recon.core.approve import approve
    from recon.io.plan_files import read_plan, write_approval

    if wave is not None:
        _approve_wave(plan_file, out, approver, wave, note, workbook, category, action, op,
                      all_ops)
        return

    rules = [name for name, given in (("--category", category), ("--action", action),
                                      ("--op", op), ("--all", all_ops)) if given]
    if workbook is not None:
        if rules:
            raise typer.BadParameter(
                f"{rules[0]} cannot be combined with --workbook: the workbook's Decision "
                "column is the approval", param_hint="'--workbook'")
        from recon.workflows.report import approve_from_workbook

        marked = approve_from_workbook(plan_file, list(workbook), approver=approver, out=out,
                                       note=note)
        rejected = sum(1 for d in marked.decisions if d.decision == "reject")
        say(f"approved {len(marked.op_ids)} and rejected {rejected} operations marked in "
            f"{', '.join(w.name for w in workbook)} → {out}")
        return
    if not rules:
        raise typer.BadParameter("say what to approve: --category, --action, --op, --all or "
                                 "--workbook")
    the_plan = read_plan(plan_file)
    approval = approve(the_plan, approver=approver, categories=category or (),
                       actions=action or (), op_ids=op or (), everything=all_ops, note=note)
    write_approval(approval, out)
    say(f"approved {len(approval.op_ids)} of {len(the_plan.ops)} operations of plan "
                  f"{the_plan.digest[:16]} → {out}")


def _approve_wave(plan_file: Path, out: Path, approver: str, wave: str, note: str,
                  workbook: list[Path] | None, category: list[str] | None,
                  action: list[str] | None, op: list[str] | None, all_ops: bool) -> None:
    """``approve --wave``: the approval the rules or the workbooks give, narrowed to a wave."""
    from recon.core.approve import approve
    from recon.io.plan_files import read_plan, write_approval
    from recon.workflows.waves import approve_wave, read_workbook_approval

    rules = [name for name, given in (("--category", category), ("--action", action),
                                      ("--op", op), ("--all", all_ops)) if given]
    if workbook is not None and rules:
        raise typer.BadParameter(f"{rules[0]} cannot be combined with --workbook: the "
                                 "workbook's Decision column is the approval",
                                 param_hint="'--workbook'")
    if workbook is None and not rules:
        raise typer.BadParameter("say what to approve in the wave: --category, --action, --op, "
                                 "--all or --workbook")
    the_plan = read_plan(plan_file)
    if workbook is not None:
        given = read_workbook_approval(plan_file, list(workbook), the_plan, approver=approver,
                                       note=note)
    else:
        given = approve(the_plan, approver=approver, categories=category or (),
                        actions=action or (), op_ids=op or (), everything=all_ops, note=note)
    approval, waves = approve_wave(given, plan_file, wave, the_plan)
    write_approval(approval, out)
    left = len(given.op_ids) - len(approval.op_ids)
    if left:
        tell(f"{left} approved operations belong to other waves: not in this approval")
    say(f"approved {len(approval.op_ids)} of {len(waves.op_ids(wave))} operations of wave "
        f"{wave} (plan {the_plan.digest[:16]}) → {out}")


@app.command("push")
def push_command(
    config: ConfigOption,
    plan_file: Annotated[Path, typer.Option("--plan", help="plan.json of the run.")],
    approval_file: Annotated[Path, typer.Option("--approval", help="approval.json for it.")],
    journal: Annotated[Path, typer.Option(help="SQLite journal; reuse it to resume.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check everything, send nothing.")]
    = False,
    concurrency: Annotated[int | None, typer.Option(
        min=1, max=64, help="Parallel requests to a SCIM target (default 4).")] = None,
    max_disables: Annotated[int | None, typer.Option(help="Override the policy's limit.")]
    = None,
    max_deletes: Annotated[int | None, typer.Option(help="Override the policy's limit.")] = None,
    max_member_removals: Annotated[int | None, typer.Option(
        help="Override the policy's limit on group members removed.")] = None,
    bulk: Annotated[bool | None, typer.Option("--bulk/--no-bulk", help="Force or forbid Bulk.")]
    = None,
    insecure: InsecureOption = False,
    quiet: QuietOption = False,
    by: Annotated[str | None, typer.Option(
        "--by", help="Who pushes, for the evidence (default: the OS account@host; or set "
                     "RECON_PUSHED_BY).")] = None,
) -> None:
    """Push the approved operations safely; exit 1 if any approved op did not succeed."""
    from recon.io.config_file import load_config
    from recon.io.plan_files import read_approval, read_plan
    from recon.workflows.push import push

    if by is not None:  # the journal records it with the run (recon.io.journal.pushed_by)
        import os

        from recon.io.journal import PUSHED_BY_ENV

        os.environ[PUSHED_BY_ENV] = by
    cfg = load_config(config)
    the_plan, approval = read_plan(plan_file), read_approval(approval_file)
    policy = cfg.policy.with_limits(max_disables=max_disables, max_deletes=max_deletes,
                                    max_member_removals=max_member_removals)
    result = push(the_plan, approval, cfg, journal, policy=policy, dry_run=dry_run,
                  concurrency=concurrency, use_bulk=bulk, insecure=insecure,
                  progress=not quiet and console.is_terminal)
    counts = {str(k): int(v) for k, v in result.counts().items() if v}
    if not quiet:
        print_counts(counts, title="Push results" + (" (dry run)" if dry_run else ""))
    failed = result.results[~result.results["status"].isin(
        ["succeeded", "already_applied", "skipped", "dry_run"])]
    for row in failed.head(20).itertuples(index=False):
        tell(f"{row.status!s}: {row.action!s} {row.hr_key or ''!s} "
             f"{row.target_id or ''!s}: {row.error!s}")
    say(", ".join(f"{name} {count}" for name, count in counts.items()) or "nothing")
    if counts.get("link_needed") and cfg.target.entra is not None and not dry_run:
        _write_link_plan(the_plan, result, cfg, journal)
    raise typer.Exit(0 if result.ok else 1)


def _write_link_plan(the_plan: object, result: object, cfg: object, journal: Path) -> None:
    """Entra: the accounts bulkUpload cannot reach get a plan of link ops beside the journal."""
    from recon.core.config import Config
    from recon.core.plan import Plan
    from recon.core.results import PushResult
    from recon.io.plan_files import write_plan
    from recon.workflows.push_entra import link_plan

    assert isinstance(the_plan, Plan) and isinstance(result, PushResult)
    assert isinstance(cfg, Config) and cfg.target.entra is not None
    links = link_plan(the_plan, result, cfg.target.entra)
    where = journal.parent / "link-plan.json"
    write_plan(links, where)
    warn(f"{len(links.ops)} accounts are matched on another attribute than the app's: approve "
         f"and push the link plan {where} (PATCH of the matching attribute), then push this "
         "plan again")


@app.command("verify")
def verify_command(
    config: ConfigOption,
    plan_file: Annotated[Path, typer.Option("--plan", help="plan.json of the run.")],
    approval_file: Annotated[Path, typer.Option("--approval", help="approval.json for it.")],
    journal: Annotated[Path | None, typer.Option(help="The push journal (for its statuses).")]
    = None,
    out: Annotated[Path | None, typer.Option(help="Write verification.csv here.")] = None,
    insecure: InsecureOption = False,
) -> None:
    """Re-read the target and report every approved op as converged or not; exit 0 only if all."""
    from recon.io.config_file import load_config
    from recon.io.plan_files import read_approval, read_plan
    from recon.workflows.reconcile import snapshot
    from recon.workflows.verify import verify

    cfg = load_config(config)
    the_plan, approval = read_plan(plan_file), read_approval(approval_file)
    if cfg.target.entra is not None:  # bulkUpload is asynchronous: provisioning logs tell
        from recon.workflows.verify_entra import verify_configured

        if journal is None:
            raise typer.BadParameter("verify for Entra needs --journal (the push's journal)")
        check = verify_configured(cfg, the_plan, approval, journal)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            check.results.to_csv(out, index=False)
        unfinished = ~check.results["state"].isin(["converged", "skipped"])
        for row in check.results[unfinished].head(20).itertuples(index=False):
            tell(f"{row.state!s}: {row.action!s} {row.hr_key!s}: {row.reason!s}")
        say(check.summary())
        raise typer.Exit(0 if check.converged else 1)
    result = verify(cfg, the_plan, approval, snapshot(cfg, insecure=insecure))
    table = result.results
    if journal is not None and journal.exists():
        from recon.io.journal import Journal

        with Journal(journal) as opened:
            states = opened.ops_frame().set_index("op_id")["status"]
        table = table.assign(push_status=table["op_id"].map(states))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
    for row in table[~table["converged"]].head(20).itertuples(index=False):
        tell(f"not converged: {row.action!s} {row.hr_key or ''!s} "
             f"{row.target_id or ''!s}: {row.detail!s}")
    say(result.summary())
    raise typer.Exit(0 if result.ok else 1)


@app.command("report")
def report_command(
    run: Annotated[Path, typer.Option(help="Run folder written by recon reconcile --out.")],
    journal: Annotated[Path | None, typer.Option(
        help="Push journal: adds the Push results and Verification evidence.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Evidence workbook (default RUN/evidence.xlsx; never the review's report.xlsx).")]
    = None,
) -> None:
    """Write the evidence workbook of a run: plan, approval, push results, verification."""
    from recon.workflows.report import report_command as write_report

    say(f"wrote {write_report(run, journal, out=out)}")


@app.command("waves")
def waves_command(
    run: Annotated[Path, typer.Option(help="Run folder written by recon reconcile with waves.")],
    journal: Annotated[list[Path] | None, typer.Option(
        help="A push journal besides the run folder's own *.sqlite (repeat it).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Where to write the table (default RUN/waves-progress.csv).")] = None,
) -> None:
    """Per wave: people, ops by action, pushed, converged and failed (journals, verification)."""
    from rich.table import Table

    from recon.workflows.waves import wave_progress

    table = wave_progress(run, journal or [])
    target = out or run / "waves-progress.csv"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(target, index=False)
    except OSError as cannot:
        raise OutputError(f"{target}: cannot write ({cannot.strerror})") from cannot
    counts = ["wave", "people", "ops", "pushed", "converged", "failed"]
    actions = [c for c in table.columns if c not in counts]
    shown = Table(title="Waves")
    for column in [*counts[:3], "by action", *counts[3:]]:
        shown.add_column(column, justify="left" if column in ("wave", "by action") else "right",
                         overflow="fold")
    for row in table.to_dict("records"):
        by_action = ", ".join(f"{a} {row[a]}" for a in actions if row[a])
        shown.add_row(*(Text(str(row[c])) for c in counts[:3]), Text(by_action),
                      *(Text(str(row[c])) for c in counts[3:]))
    console.print(shown)
    say(f"{len(table) - 1} waves, {int(table['ops'].sum())} operations: "
        f"{int(table['pushed'].sum())} pushed, {int(table['converged'].sum())} converged, "
        f"{int(table['failed'].sum())} failed → {target}")


@app.command("undo")
def undo_command(
    run: Annotated[Path, typer.Option(help="The run folder whose push to undo.")],
    journal: Annotated[Path, typer.Option(help="The journal of that push.")],
    out: Annotated[Path, typer.Option(help="A new run folder for the undo plan.")],
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="The config: its policy says whether created accounts may be "
                               "deleted (max_deletes), and how the review is cut.")] = None,
    max_deletes: Annotated[int | None, typer.Option(
        help="Override the policy's limit: above 0, accounts the push created are deleted "
             "rather than disabled.")] = None,
    overwrite: Annotated[bool, typer.Option(
        help="Replace an undo plan already in --out (never one that was approved or pushed).")]
    = False,
    quiet: QuietOption = False,
) -> None:
    """Plan the inverse of what a push did (from its journal); review, approve and push it."""
    from recon.core.config import Policy, Review
    from recon.io.config_file import load_config
    from recon.workflows.undo import undo

    policy, review = Policy(), Review()
    if config is not None:
        cfg = load_config(config)
        policy, review = cfg.policy, cfg.review
    policy = policy.with_limits(max_deletes=max_deletes)
    done = undo(run, journal, out, policy=policy, review=review, overwrite=overwrite)
    record = done.undo.record
    if not quiet:
        print_counts({str(k): int(v) for k, v in done.plan.ops["action"].value_counts().items()},
                     title="Undo operations")
    noted = record[record["note"].fillna("") != ""]
    for row in noted.head(20).itertuples(index=False):
        tell(f"{row.action!s} {row.hr_key if isinstance(row.hr_key, str) else ''}"
             f" {row.account!s}: {row.note!s}")
    say(f"{done.summary()} → {out}")
    lost = record["note"].fillna("").str.startswith("cannot be undone")
    raise typer.Exit(1 if lost.any() else 0)


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option(help="Folder for the demo's outputs.")] = Path("out/demo"),
) -> None:
    """The main job end to end: a local scim2-server seeded from the samples, reconciled,
    approved, pushed and verified."""
    from recon.demo import run_demo

    raise typer.Exit(run_demo(out, console))


# ---- the one place exceptions become exit codes -----------------------------------------------


def _unknown_command(argv: Sequence[str]) -> str | None:
    """The did-you-mean line for a first argument that is no command (click says only "No such
    command")."""
    if not argv or argv[0].startswith("-"):
        return None
    names = sorted(command.name or "" for command in app.registered_commands)
    if argv[0] in names:
        return None
    close = difflib.get_close_matches(argv[0], names, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}?" if close else f"commands: {', '.join(names)}"
    return f"no such command {argv[0]!r}; {hint}"


def run(argv: Sequence[str]) -> int:
    """Run the CLI on ``argv`` and return its exit code (``EXIT_CODES``)."""
    unknown = _unknown_command(argv)
    if unknown is not None:
        error(unknown)
        return 2
    try:
        result = app(args=list(argv), prog_name="recon", standalone_mode=False)
    except ReconError as mistake:
        error(str(mistake))
        return mistake.exit_code
    except typer.Exit as done:
        return int(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        tell("interrupted")
        return 130
    except typer.TyperException as usage:  # typer's own click: usage mistakes
        return _usage_error(usage)
    except Exception:
        error("internal error (a bug in recon; please report it with this traceback):")
        traceback.print_exc()
        return 3
    return int(result) if isinstance(result, int) else 0


def _usage_error(usage: typer.TyperException) -> int:
    """One line for a usage mistake; ``recon`` with no command shows the help instead."""
    formatted = getattr(usage, "format_message", None)
    message = formatted() if callable(formatted) else str(usage)
    if type(usage).__name__ == "NoArgsIsHelpError":  # its message is the help text
        err.print(Text(message))
        return 2
    hint = ""
    context = getattr(usage, "ctx", None)
    if context is not None:
        hint = f" (see {context.command_path} --help)"
    error(f"{' '.join(message.split())}{hint}")
    return int(getattr(usage, "exit_code", 2))


def main() -> None:
    """Entry point of the installed ``recon`` command."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    warnings.simplefilter("default")
    warnings.formatwarning = lambda message, category, *args, **kwargs: f"warning: {message}\n"
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
