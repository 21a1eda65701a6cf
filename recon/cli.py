"""The command line: a thin shell over the library, for scheduled runs.

Each command is one call into ``recon``; this module only parses options and renders results.
``main`` is the single place where a ReconError becomes one line on stderr and an exit code:
no traceback for a user mistake.
"""

from __future__ import annotations

import logging
import sys
import warnings
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from recon.console import console, err, print_counts
from recon.errors import OutputError, ReconError

app = typer.Typer(
    name="recon", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Reconcile an HR extract with a SCIM or Entra target: check, plan, approve, push, verify.",
)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The YAML config file.")]


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as error:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from error


@app.command("reconcile")
def reconcile_command(
    config: ConfigOption,
    out: Annotated[Path, typer.Option(help="Run folder for identities.csv, diffs.csv, plan.json.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="As-of date, YYYY-MM-DD.")] = None,
    insecure: Annotated[bool, typer.Option(help="Allow plain http to a non-loopback target.")]
    = False,
) -> None:
    """Classify every HR row and account, write the run folder, print counts per category."""
    from recon.io.config_file import load_config
    from recon.io.run import write_outputs
    from recon.io.workbook import write_workbook
    from recon.workflows.reconcile import plan, reconcile, snapshot

    cfg = load_config(config)
    target = snapshot(cfg, insecure=insecure, progress=True)
    result = reconcile(cfg, target=target, as_of=_as_of(as_of))
    the_plan = plan(result, cfg)
    files = write_outputs(result, the_plan, out)
    try:
        files["report"] = write_workbook(out / "report.xlsx", result, the_plan)
    except OutputError as too_large:  # the run folder is complete without it
        console.print(f"[yellow]not written: {too_large}. identities.csv, diffs.csv and "
                      "plan.json hold every row; approve with `recon approve --category`.[/yellow]")
    print_counts({str(k): int(v) for k, v in result.counts().items()})
    if result.groups is not None:
        print_counts({str(k): int(v) for k, v in result.groups.member_counts().items()},
                     title="Group members")
    console.print(f"plan: {len(the_plan.ops)} operations, digest {the_plan.digest[:16]}")
    console.print(f"wrote {', '.join(str(p) for p in files.values())}")


@app.command("quality")
def quality_cli(
    config: ConfigOption,
    out: Annotated[Path, typer.Option(help="Folder for quality.json and quality.html.")],
) -> None:
    """Check the HR extract's data quality; exit non-zero when recon would refuse to plan."""
    from recon.workflows.report import quality_command

    result, files = quality_command(config, out)
    console.print(f"{result.details.get('rows', 0)} rows: {len(result.invalid)} quarantined, "
                  f"{len(result.warnings)} warnings → {', '.join(str(p) for p in files)}")


@app.command("snapshot")
def snapshot_command(
    config: ConfigOption,
    out: Annotated[Path, typer.Option(
        help="Where to write the snapshot: .json (with source, time and groups) or .jsonl "
             "(users only, one per line; read fastest).")],
    insecure: Annotated[bool, typer.Option(help="Allow plain http to a non-loopback target.")]
    = False,
) -> None:
    """Read the target and write its users (with a timestamp and digest) to a file."""
    from recon.io.config_file import load_config
    from recon.io.snapshots import write_snapshot
    from recon.workflows.reconcile import snapshot

    cfg = load_config(config)
    taken = snapshot(cfg, insecure=insecure, progress=True)
    write_snapshot(taken, out)
    console.print(f"{taken.count} users from {taken.source}, digest {taken.digest[:16]}"
                  f" → {out}")


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
    workbook: Annotated[Path | None, typer.Option(
        help="Approve the ops marked Approve in this reviewed report.xlsx.")] = None,
) -> None:
    """Write an approval bound to the plan's digest."""
    from recon.core.approve import approve
    from recon.io.plan_files import read_plan, write_approval

    if workbook is not None:
        from recon.workflows.report import approve_from_workbook

        marked = approve_from_workbook(plan_file, workbook, approver=approver, out=out, note=note)
        console.print(f"approved {len(marked.op_ids)} operations marked in {workbook.name} → {out}")
        return
    the_plan = read_plan(plan_file)
    if not (category or action or op or all_ops):
        raise typer.BadParameter("say what to approve: --category, --action, --op or --all")
    approval = approve(the_plan, approver=approver, categories=category or (),
                       actions=action or (), op_ids=op or (), everything=all_ops, note=note)
    write_approval(approval, out)
    console.print(f"approved {len(approval.op_ids)} of {len(the_plan.ops)} operations of plan "
                  f"{the_plan.digest[:16]} → {out}")


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
    insecure: Annotated[bool, typer.Option(help="Allow plain http to a non-loopback target.")]
    = False,
) -> None:
    """Push the approved operations safely; exit 1 if any approved op did not succeed."""
    from recon.io.config_file import load_config
    from recon.io.plan_files import read_approval, read_plan
    from recon.workflows.push import push

    cfg = load_config(config)
    the_plan, approval = read_plan(plan_file), read_approval(approval_file)
    policy = cfg.policy.with_limits(max_disables=max_disables, max_deletes=max_deletes,
                                    max_member_removals=max_member_removals)
    result = push(the_plan, approval, cfg, journal, policy=policy, dry_run=dry_run,
                  concurrency=concurrency, use_bulk=bulk, insecure=insecure)
    counts = {str(k): int(v) for k, v in result.counts().items() if v}
    print_counts(counts, title="Push results" + (" (dry run)" if dry_run else ""))
    failed = result.results[~result.results["status"].isin(
        ["succeeded", "already_applied", "skipped", "dry_run"])]
    for row in failed.head(20).itertuples(index=False):
        err.print(f"{row.status!s}: {row.action!s} {row.hr_key or ''!s} "
                  f"{row.target_id or ''!s}: {row.error!s}", highlight=False)
    raise typer.Exit(0 if result.ok else 1)


@app.command("verify")
def verify_command(
    config: ConfigOption,
    plan_file: Annotated[Path, typer.Option("--plan", help="plan.json of the run.")],
    approval_file: Annotated[Path, typer.Option("--approval", help="approval.json for it.")],
    journal: Annotated[Path | None, typer.Option(help="The push journal (for its statuses).")]
    = None,
    out: Annotated[Path | None, typer.Option(help="Write verification.csv here.")] = None,
    insecure: Annotated[bool, typer.Option(help="Allow plain http to a non-loopback target.")]
    = False,
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
        for row in check.results[check.results["state"].isin(["failed", "pending"])].head(
                20).itertuples(index=False):
            err.print(f"{row.state!s}: {row.action!s} {row.hr_key!s}: {row.reason!s}",
                      highlight=False)
        console.print(check.summary())
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
        err.print(f"not converged: {row.action!s} {row.hr_key or ''!s} "
                  f"{row.target_id or ''!s}: {row.detail!s}", highlight=False)
    console.print(result.summary())
    raise typer.Exit(0 if result.ok else 1)


@app.command("report")
def report_command(
    run: Annotated[Path, typer.Option(help="Run folder written by recon reconcile --out.")],
    journal: Annotated[Path | None, typer.Option(
        help="Push journal: adds the Push results and Verification evidence.")] = None,
    out: Annotated[Path | None, typer.Option(help="Workbook path (default RUN/report.xlsx).")]
    = None,
) -> None:
    """Write the auditor workbook of a run (and, after a push, its evidence)."""
    from recon.workflows.report import report_command as write_report

    console.print(f"wrote {write_report(run, journal, out=out)}")


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option(help="Folder for the demo's outputs.")] = Path("out/demo"),
) -> None:
    """The main job end to end: a local scim2-server seeded from the samples, reconciled,
    approved, pushed and verified."""
    from recon.demo import run_demo

    raise typer.Exit(run_demo(out, console))


def main() -> None:
    """Entry point: run the app; a ReconError becomes one line on stderr and exit code 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    warnings.simplefilter("default")
    warnings.formatwarning = lambda message, category, *args, **kwargs: f"warning: {message}\n"
    try:
        app(standalone_mode=False)
    except ReconError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as error:  # click's usage errors
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        raise


if __name__ == "__main__":
    main()
