"""``recon undo``: the push of a run, turned back by a new plan that is reviewed like any other.

``undo(run, journal, out)`` reads the run folder and what its push journal says took effect,
builds the inverse ops (``recon.core.undo``) and writes a run folder of their own — plan.json,
report.xlsx to review, undo.csv (what became of each pushed op), identities.csv and meta.json,
whose ``undoes`` names the undone run, its plan digest and the journal's sha256 (the review
workbook's Summary shows them as its snapshot source and digest). The undo plan is then
approved, pushed with a journal and verified like any plan; an account changed since the push
is ``stale`` there and left as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from recon.core.config import Policy, Review
from recon.core.plan import Plan
from recon.core.results import RunMeta
from recon.core.snapshot import Snapshot
from recon.core.undo import Undo, target_changes, undo_plan
from recon.errors import InputError
from recon.io.run import journal_effect, journal_facts, read_run, write_undo_run
from recon.io.workbook import write_review


@dataclass(frozen=True)
class UndoRun:
    """An undo written to its run folder: the plan, its record, the files."""

    undo: Undo
    undone_plan: Plan
    journal_sha256: str
    files: dict[str, Path]

    @property
    def plan(self) -> Plan:
        return self.undo.plan

    def compare(self, before: Snapshot, after: Snapshot) -> pd.DataFrame:
        """Is the target back? What differs between the snapshot the undone run was planned
        from (``before``) and the target now (``after``), attribute by attribute; after a
        complete undo, only the accounts the push created (disabled) and groups it created
        (emptied). See ``recon.core.undo.target_changes``."""
        return target_changes(before, after)

    def summary(self) -> str:
        record = self.undo.record
        undone = int((record["undo_op_id"].fillna("") != "").sum())
        return (f"undo: {len(self.plan.ops)} inverse operations for {undone} of "
                f"{len(record)} operations of plan {self.undone_plan.digest[:16]}, "
                f"digest {self.plan.digest[:16]}")


def undo(run_dir: str | Path, journal: str | Path, out: str | Path, *,
         policy: Policy | None = None, review: Review | None = None,
         overwrite: bool = False) -> UndoRun:
    """The undo plan of the push of ``run_dir`` that ``journal`` recorded, written to ``out``.

    Accounts the push created are disabled; deleted instead when ``policy`` allows deletes
    (``max_deletes`` above 0; the push still counts them against it). ``journal`` must record
    a push of this run's plan (InputError otherwise).
    """
    folder = Path(run_dir)
    run, plan = read_run(folder)
    effect, pushed_plans = journal_effect(journal)
    if plan.digest not in pushed_plans:
        raise InputError(f"this journal records pushes of plan "
                         f"{(pushed_plans or ['(none)'])[0][:12]}, not of the run's plan "
                         f"{plan.digest[:12]}: undo needs the journal of this run's push",
                         file=str(journal))
    facts = journal_facts(journal)
    rules = policy or Policy()
    done = undo_plan(plan, effect, journal_digest=facts["sha256"],
                     delete_created=rules.max_deletes > 0)
    identities = _people(run.identities, done)
    groups = None
    if run.groups is not None:  # the groups' names; none of the undone run's memberships
        groups = (_groups(run.groups.groups, plan, done), run.groups.memberships.iloc[0:0])
    meta = RunMeta(
        as_of=plan.as_of, hr_file=run.meta.hr_file, hr_sha256=run.meta.hr_sha256,
        snapshot_source=f"undo of plan {plan.digest} (run {folder.name}), from push journal "
                        f"{facts['file']}",
        snapshot_digest=facts["sha256"], config_digest=run.meta.config_digest,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"))
    undoes = {"run": str(folder), "plan_digest": plan.digest,
              "snapshot_digest": plan.snapshot_digest, "journal": str(journal),
              "journal_sha256": facts["sha256"]}
    written, files = write_undo_run(out, done.plan, identities=identities, diffs=done.diffs,
                                    groups=groups, meta=meta, record=done.record,
                                    undoes=undoes, overwrite=overwrite)
    for number, workbook in enumerate(write_review(out, written, done.plan, policy=rules,
                                                   review=review)):
        files[f"review {number}" if number else "report"] = workbook
    return UndoRun(done, plan, facts["sha256"], files)


def _people(identities: pd.DataFrame, done: Undo) -> pd.DataFrame:
    """The rows of the undone run's identities the undo is about, a created account's id on
    its joiner's row (so the review names the account by its person)."""
    record = done.record
    ops = done.plan.ops
    accounts = set(record["account"].dropna()) | set(ops["target_id"].dropna())
    for payload in ops.loc[ops["action"].str.startswith("group_"), "payload"]:
        for operation in json.loads(str(payload)).get("Operations", []):
            accounts |= {str(v.get("value")) for v in operation.get("value") or []}
            path = str(operation.get("path", ""))
            if '"' in path:
                accounts.add(path.split('"')[1])
    keys = set(ops["hr_key"].dropna())
    people = identities[identities["target_id"].isin(accounts) | identities["hr_key"].isin(keys)
                        ].copy()
    creates = record[(record["action"] == "create") & (record["account"].fillna("") != "")]
    new_ids = pd.Series(creates["account"].to_numpy(), index=creates["hr_key"].to_numpy())
    new_ids = new_ids[~new_ids.index.duplicated()]
    people["target_id"] = people["target_id"].fillna(people["hr_key"].map(new_ids)).astype(
        "string")
    return people.reset_index(drop=True)


def _groups(groups: pd.DataFrame, plan: Plan, done: Undo) -> pd.DataFrame:
    """The undone run's groups, a group the push created with the id it got."""
    made = done.record[(done.record["action"] == "group_create")
                       & (done.record["account"].fillna("") != "")]
    if made.empty:
        return groups
    payloads = plan.ops.set_index("op_id")["payload"]
    names = {str(json.loads(str(payloads[one])).get("displayName")): str(account)
             for one, account in zip(made["op_id"], made["account"], strict=True)}
    new = groups["target_id"].isna() & groups["group"].isin(list(names))
    groups = groups.copy()
    groups.loc[new, "target_id"] = groups.loc[new, "group"].map(names)
    return groups
