# ---
# jupyter:
#   jupytext:
#     formats: ipynb,scripts//py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version,-jupytext.text_representation.format_version
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3 · Approve, push and verify
#
# This notebook takes the plan of a live target from review to evidence: choose what to
# approve, check the safety limits, rehearse with a dry run, push, read the target again to
# verify that every approved change landed, and write the evidence workbook for the auditor.
#
# With the default settings it starts a **local test SCIM server** loaded with the sample
# accounts, so you can try everything safely. Set `scim_url` to work against a real target.

# %% tags=["parameters"]
config_path = "../data/samples/recon.yaml"  # the YAML config for this HR source and target
run_dir = "../out/notebooks/03"  # where the plan, approval, journal and workbooks are written
scim_url = None  # None: start a local scim2-server loaded with the sample accounts
scim_token_env = "RECON_SCIM_TOKEN"  # variable holding the bearer token for scim_url (None: none)
approver = "analyst@example.com"  # who approves (kept with the approval)
approve_categories = ["joiner", "drift", "link", "rehire", "leaver"]  # what to approve
approval_workbook = None  # path of the auditor's marked workbook: approve what they marked
note = "Approved from notebook 3"  # why; kept with the approval

# %%
from pathlib import Path

import recon
from recon import notebook as nb

nb.setup()
run = Path(run_dir)
run.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## Connect to the target
#
# Without a `scim_url`, a local scim2-server is started on this computer and loaded with the
# accounts of the sample snapshot; it disappears when the notebook's kernel stops.

# %%
config = recon.load_config(config_path)
local = None
if scim_url is None:
    local = nb.start_local_scim(config, recon.snapshot(config).resources)
    config = local.config
else:
    config = nb.with_scim(config, scim_url, scim_token_env)
before = recon.snapshot(config)
nb.show_facts({"target": config.target.scim.url, **nb.snapshot_facts(before)})

# %% [markdown]
# ## Reconcile against the live accounts
#
# The same comparison as notebook 2, against the accounts as the target holds them right now.
# The plan's digest fingerprints exactly these operations and this snapshot: an approval is only
# valid for this plan.

# %%
hr = recon.read_hr(config.source, config.base_dir)
result = recon.reconcile(config, hr, before)
changes = recon.plan(result, config)
recon.write_outputs(result, changes, run, overwrite=True)  # the same plan again, or refused
nb.show_categories(result.counts(), "HR rows and accounts per category")
nb.show_table(nb.plan_overview(changes), caption="Planned operations")
review = recon.write_workbook(run / "review.xlsx", result, changes)
nb.show_facts({"plan digest": changes.digest[:16] + "…", "review workbook": review})

# %% [markdown]
# ## Choose what to approve
#
# Either by category (the `approve_categories` setting), or by reading back the review
# workbook after the auditor marked each change *Approve* or *Reject*, with a comment if they
# like (set `approval_workbook` to its path). Every cell the auditor was not meant to change is
# checked against this plan: an edited value is refused, naming the cell. Each decision is kept
# in approval.json — rejections and their comments too — with the workbook's sha256. Only
# approved operations are ever sent.

# %%
if approval_workbook:
    approval = recon.read_approvals(approval_workbook, changes, approver=approver, note=note,
                                    reconciliation=result)
    rejected = approval.decision_table().query("decision == 'reject'")
    if len(rejected):
        nb.show_table(rejected[["op_id", "comment", "by", "workbook"]],
                      caption="Rejected in the workbook")
else:
    approval = recon.approve(changes, approver=approver, categories=approve_categories,
                             note=note, source="notebook")
recon.write_approval(approval, run / "approval.json")
nb.show_message(f"{len(approval.op_ids)} of {len(changes.ops)} operations approved by "
                f"{approval.approver} (source: {approval.source}).")
nb.show_table(nb.approved_table(changes, approval), caption="Planned and approved operations")

# %% [markdown]
# ## Safety limits
#
# Like Entra's accidental-deletion threshold, a push refuses to start when it would disable or
# delete more accounts than the policy allows. The limits come from the config's `policy`.

# %%
limits = nb.limits_table(changes, approval, config.policy, before.count)
nb.show_table(limits, caption="Safety limits")

# %% [markdown]
# ## Dry run
#
# A rehearsal: checks the approval and the limits and lists what would be sent, without
# changing anything.

# %%
journal = nb.journal_for(run, local)
rehearsal = recon.push(changes, approval, config, journal, dry_run=True, progress=False)
nb.show_table(nb.results_table(rehearsal.results, result), caption="Dry run: what would be sent",
              csv=run / "dry_run.csv")

# %% [markdown]
# ## Push
#
# Sends the approved operations. Each one is checked against the account first, so a change
# made in the target since the snapshot is never overwritten (it is reported as *stale*).
# Every attempt is written to the journal; running this cell again resumes and skips what
# already succeeded. (A fresh local test server gets a fresh journal, since its accounts are
# new.)

# %%
pushed = nb.run_with_progress(
    lambda: recon.push(changes, approval, config, journal, progress=False),
    nb.journal_counter(journal, approval.op_ids), len(approval.op_ids), "pushing")
nb.show_message(nb.counts_line(pushed.counts(), "push"), ok=pushed.ok)
nb.show_table(nb.results_table(pushed.results, result), caption="Push results",
              csv=run / "push_results.csv")

# %% [markdown]
# ## Verify
#
# The target is read again and compared with HR once more. Every approved operation should
# have converged. What is still planned afterwards is work that was not approved, and
# follow-up work the push made possible: a new joiner whose manager was created in the same
# push can only get that manager now. Run this notebook again to approve it.

# %%
after = recon.snapshot(config)
verification = recon.verify(config, changes, approval, after)
nb.show_message(verification.summary(), ok=verification.ok)
nb.show_table(nb.results_table(verification.results, result), caption="Verification per operation",
              csv=run / "verified.csv")
nb.show_categories(verification.reconciliation.counts(), "After the push: rows per category")
nb.show_table(nb.plan_overview(verification.remaining), caption="Still planned")
nb.show_table(nb.diff_table(verification.reconciliation, nb.CHANGES),
              caption="Still different from HR (before → after)")

# %% [markdown]
# ## Evidence workbook
#
# One workbook for the auditor: the plan, every decision (who, when, why; "Rejected by … —
# comment"), what the push did (every attempt, from the journal) and what the verification
# found, with the time of each.

# %%
evidence = recon.write_workbook(run / "evidence.xlsx", result, changes, approval=approval,
                                push_results=pushed, verification=verification)
nb.show_files([evidence, run / "approval.json", journal], "Evidence of this run")

# %%
if local is not None:
    local.stop()
