"""`make demo`: the main job end to end on the bundled samples, against a real SCIM server.

1. start scim2-server on a free loopback port and seed it with the sample snapshot;
2. read the target live and reconcile the sample HR extract against it;
3. approve the non-destructive categories plus leavers (within the safety limits), and the
   group changes next to them (groups to create, members to add and to remove);
4. push with a journal, then verify by reading the target again;
5. stop the server. Outputs land in the given folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console

from recon.console import print_counts
from recon.core.approve import approve
from recon.core.config import ScimTarget, Target
from recon.io.config_file import load_config
from recon.io.plan_files import write_approval
from recon.io.run import write_outputs
from recon.io.snapshots import read_snapshot
from recon.io.workbook import write_workbook
from recon.targets.scim import connect
from recon.testing.scimserver import seed, seed_groups, start_server
from recon.workflows.push import push
from recon.workflows.reconcile import plan, reconcile, snapshot
from recon.workflows.verify import verify

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
DEMO_CATEGORIES = ("joiner", "drift", "link", "rehire", "leaver",
                   "group_missing", "member_missing", "member_extra")


def run_demo(out: Path, console: Console) -> int:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    base = load_config(SAMPLES / "recon-live.yaml")
    sample = read_snapshot(SAMPLES / "target_snapshot.json")
    with start_server() as server:
        console.rule("[bold]1. target")
        console.print(f"scim2-server on {server.url}")
        config = base.model_copy(update={"target": Target(
            scim=ScimTarget(url=server.url), exclude=base.target.exclude)})
        with connect(config.target.scim) as client:  # type: ignore[arg-type]
            ids = seed(client, sample.resources)
            seed_groups(client, sample.groups or [], ids)
        target = snapshot(config)
        console.print(f"seeded and read back {target.count} accounts and "
                      f"{len(target.groups or [])} groups (snapshot digest {target.digest[:16]})")

        approved = converged = 0
        ok = True
        for number in (1, 2):
            # Round 2 writes what round 1 could not: references (managers) to accounts that
            # round 1 created, as Entra's engine does after its creates.
            folder = out if number == 1 else out / "round-2"
            result = reconcile(config, target=target)
            the_plan = plan(result, config)
            if number == 2 and the_plan.ops.empty:
                break
            console.rule(f"[bold]2. reconcile (round {number})")
            write_outputs(result, the_plan, folder)
            write_workbook(folder / "report.xlsx", result, the_plan)
            print_counts({str(k): int(v) for k, v in result.counts().items()})
            if result.groups is not None:
                print_counts({str(k): int(v) for k, v in result.groups.counts().items()},
                             title="Groups")
                print_counts({str(k): int(v)
                              for k, v in result.groups.member_counts().items()},
                             title="Group members")
            console.print(f"plan: {len(the_plan.ops)} operations, digest {the_plan.digest[:16]}")

            console.rule("[bold]3. approve")
            approval = approve(the_plan, approver="recon demo", categories=DEMO_CATEGORIES,
                               note="demo: non-destructive categories plus leavers",
                               source="demo")
            write_approval(approval, folder / "approval.json")
            console.print(f"approved {len(approval.op_ids)} operations "
                          f"({', '.join(DEMO_CATEGORIES)})")
            if not approval.op_ids:
                break

            console.rule("[bold]4. push")
            pushed = push(the_plan, approval, config, folder / "journal.sqlite", progress=True)
            print_counts({str(k): int(v) for k, v in pushed.counts().items() if v},
                         title="Push results")

            console.rule("[bold]5. verify")
            target = snapshot(config)
            checked = verify(config, the_plan, approval, target)
            checked.results.to_csv(folder / "verification.csv", index=False)
            write_workbook(folder / "evidence.xlsx", result, the_plan, approval=approval,
                           push_results=pushed, verification=checked.results)
            console.print(checked.summary())
            approved += len(checked.results)
            converged += checked.converged
            ok = ok and pushed.ok and checked.ok
            remaining = checked.remaining.ops
            console.print(f"still planned after the push: {len(remaining)} operations "
                          f"({', '.join(sorted(set(remaining['category'])) or ['none'])})")
        print_counts({str(k): int(v) for k, v in checked.reconciliation.counts().items()},
                     title="After the push")
        if checked.reconciliation.groups is not None:
            print_counts({str(k): int(v) for k, v
                          in checked.reconciliation.groups.member_counts().items()},
                         title="Group members after the push")
        console.print(f"[bold]converged: {converged}/{approved} approved operations[/bold]")
    console.print(f"outputs in {out}")
    return 0 if ok and converged == approved else 1
