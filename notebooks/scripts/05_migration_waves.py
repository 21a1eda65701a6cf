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
# # 5 · A migration in waves, with undo
#
# A migration is rarely pushed in one go. It is cut into **waves** — a pilot department, then
# a country, then the rest — and each wave is rehearsed, pushed, checked and signed off before
# the next. This notebook plans the waves of the sample population side by side, takes the
# first wave through a dry run, the push and verification, shows how far each wave has got, and
# then **undoes** the wave: a new plan of inverse operations, built from what the push journal
# says took effect, pushed and verified like any plan — until the target is back to its snapshot.
#
# With the default settings it starts a **local test SCIM server** loaded with the sample
# accounts. Set `scim_url` to work against a real target.

# %% tags=["parameters"]
config_path = "../data/samples/recon.yaml"  # the YAML config for this HR source and target
run_dir = "../out/notebooks/05"  # where each wave's plan, approval, journal and undo are written
scim_url = None  # None: start a local scim2-server loaded with the sample accounts
scim_token_env = "RECON_SCIM_TOKEN"  # variable holding the bearer token for scim_url (None: none)
waves = {  # name: who is in the wave (HR columns, account attributes); the first match wins
    "pilot": '[Supervisory Organization] = "Legal"',
    "finance": '[Supervisory Organization] = "Finance & Accounting"',
    "nordics": 'Switch([Country], "False", "Sweden", "True", "Denmark", "True")',
    "americas": 'Switch([Country], "False", "United States of America", "True", "Mexico", "True")',
}
first_wave = None  # the wave to push and undo here; None: the first of `waves`
approver = "analyst@example.com"  # who approves (kept with each approval)

# %%
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.figure import Figure

import recon
from recon import notebook as nb

nb.setup()
run = Path(run_dir)
run.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## Connect to the target
#
# Without a `scim_url`, a local scim2-server is started on this computer and loaded with the
# accounts of the sample snapshot (it holds no groups yet); it disappears when the kernel stops.
# Each run of this notebook writes to a folder of its own under `run_dir`: a run folder that
# holds a push is evidence, never overwritten.

# %%
config = recon.load_config(config_path)
local = None
if scim_url is None:
    local = nb.start_local_scim(config, recon.snapshot(config).resources)
    config = local.config
else:
    config = nb.with_scim(config, scim_url, scim_token_env)
session = run / (local.started_at if local is not None
                 else datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
before = recon.snapshot(config)
nb.show_facts({"target": config.target.scim.url, **nb.snapshot_facts(before)})

# %% [markdown]
# ## The waves side by side
#
# Everyone — each HR row and each account no HR row matches — belongs to the first wave whose
# rule holds, or to no wave yet. Each planned operation goes with the wave of the person it is
# about; a group change that concerns people of several waves is cut into one change per wave,
# so a wave never pulls in another wave's people and never drops them.

# %%
hr = recon.read_hr(config.source, config.base_dir)
result = recon.reconcile(config, hr, before)
whole_plan = recon.plan(result, config)
planned = recon.plan_waves(config, result, whole_plan, hr, waves=waves)
summary = planned.summary()
nb.show_table(summary, caption="People and operations per wave")

actions = [c for c in summary.columns if c not in ("wave", "people", "ops")]
figure = Figure(figsize=(8, 0.5 * len(summary) + 1.4))
axes = figure.subplots()
left = [0] * len(summary)
for action in actions:
    counts = summary[action].tolist()
    axes.barh(summary["wave"][::-1], counts[::-1], left=left[::-1], label=action)
    left = [a + b for a, b in zip(left, counts)]
axes.set_title("Operations per wave and action", loc="left", fontsize=11)
axes.set_xlabel("operations")
axes.spines[["top", "right"]].set_visible(False)
axes.legend(fontsize=8, frameon=False, ncol=3, loc="lower right")
nb.show_figure(figure)

# %% [markdown]
# ## What a wave needs from the others
#
# A dependency outside a wave is reported, never silently dropped or pulled in:
#
# - **manager** — the person's manager is in another wave (or in none): a joiner whose manager is
#   created in a later wave gets the manager once both are pushed;
# - **group** — several waves change the same group;
# - **group_create** — the group is created by another wave: push that wave first; until then
#   this wave's additions to it wait.

# %%
dependencies = planned.dependencies
nb.show_table(dependencies.groupby(["wave", "kind"], sort=False).size().unstack(fill_value=0)
              .reset_index(), caption="Dependencies outside each wave, by kind")
nb.show_table(dependencies, caption="Cross-wave dependencies",
              csv=session / "wave-dependencies.csv")

# %% [markdown]
# ## The first wave's plan
#
# A wave's plan holds only that wave's operations, with a digest of its own; everything else is
# left to later waves. Its run folder records the waves too (`waves.json`, `waves.csv`), so
# `recon approve --wave` and `recon waves` work from it on the command line.

# %%
wave = first_wave or planned.names[0]
chosen = planned.selecting(wave)
wave_plan = chosen.plan
wave_dir = session / wave
recon.write_outputs(result, wave_plan, wave_dir, overwrite=True, waves=chosen)
nb.show_facts({"wave": wave, "operations": len(wave_plan.ops),
               "plan digest": wave_plan.digest[:16] + "…",
               "left to later waves": ", ".join(f"{name} {count}" for name, count in
                                                planned.later(wave).items())})
nb.show_table(nb.plan_overview(wave_plan), caption=f"Wave {wave}: planned operations")

# %% [markdown]
# ## Approve, check the limits, rehearse
#
# Every operation of the wave is approved here (in practice, by its reviewer: the workbook or
# notebook 3). The safety limits apply per push, and a dry run lists what would be sent
# without changing anything.

# %%
approval = recon.approve(wave_plan, approver=approver, everything=True,
                         note=f"wave {wave}, from notebook 5", source="notebook")
recon.write_approval(approval, wave_dir / "approval.json")
nb.show_table(nb.limits_table(wave_plan, approval, config.policy, before.count),
              caption="Safety limits")
journal = wave_dir / "journal.sqlite"
rehearsal = recon.push(wave_plan, approval, config, journal, dry_run=True, progress=False)
nb.show_table(nb.results_table(rehearsal.results, result),
              caption=f"Dry run of wave {wave}: what would be sent")

# %% [markdown]
# ## Push and verify the wave
#
# Each operation is checked against the account first (a change made since the snapshot is
# never overwritten) and written to the journal; the target is then read again and every
# approved operation must have converged.

# %%
pushed = nb.run_with_progress(
    lambda: recon.push(wave_plan, approval, config, journal, progress=False),
    nb.journal_counter(journal, approval.op_ids), len(approval.op_ids), f"pushing {wave}")
nb.show_message(nb.counts_line(pushed.counts(), "push"), ok=pushed.ok)
verification = recon.verify(config, wave_plan, approval, recon.snapshot(config))
verification.results.to_csv(wave_dir / "verification.csv", index=False)
nb.show_message(verification.summary(), ok=verification.ok)
nb.show_table(nb.results_table(verification.results, result),
              caption=f"Wave {wave}: verification per operation")

# %% [markdown]
# ## Progress of the migration
#
# The same table as `recon waves --run DIR`: per wave, its people, its operations by action,
# and how many were pushed, have converged and failed — read from the run folder, its journals
# and its verification.

# %%
progress = recon.wave_progress(wave_dir)
nb.show_table(progress, caption="Migration progress per wave",
              csv=wave_dir / "waves-progress.csv")
state = progress.set_index("wave")[["ops", "pushed", "converged", "failed"]]
figure = Figure(figsize=(8, 0.5 * len(state) + 1.4))
axes = figure.subplots()
axes.barh(state.index[::-1], state["ops"][::-1], color="#d5dbe3", label="planned")
axes.barh(state.index[::-1], state["pushed"][::-1], color="#2f6db5", height=0.5,
          label="pushed")
axes.barh(state.index[::-1], state["converged"][::-1], color="#1e7b34", height=0.25,
          label="converged")
axes.set_title("Operations per wave: planned, pushed, converged", loc="left", fontsize=11)
axes.set_xlabel("operations")
axes.spines[["top", "right"]].set_visible(False)
axes.legend(fontsize=8, frameon=False, loc="lower right")
nb.show_figure(figure)

# %% [markdown]
# ## Undo the wave
#
# `recon.undo` (and `recon undo` on the command line) reads the wave's run folder and what its
# journal says took effect, and plans the inverse: each changed attribute back to its value
# before, what was enabled disabled again (and the reverse), members added removed again,
# accounts the push created disabled (deleted only when the policy allows deletes). Each
# inverse operation expects what the push wrote: an account someone changed since is *stale*
# and left as it is. Its run folder names the undone plan and the journal's sha256, and holds a
# review workbook like any run.

# %%
undo_dir = session / f"{wave}-undo"
undone = recon.undo(wave_dir, journal, undo_dir, policy=config.policy, overwrite=True)
nb.show_message(undone.summary())
nb.show_table(undone.undo.record[["action", "category", "hr_key", "status", "undo_action",
                                  "note"]],
              caption="What becomes of each pushed operation", csv=undo_dir / "undo.csv")
nb.show_table(nb.plan_overview(undone.plan), caption="The undo plan")

# %% [markdown]
# ## Approve, push and verify the undo
#
# The undo plan is a plan like any other: approved (here all of it), pushed with a journal of
# its own, and verified.

# %%
undo_approval = recon.approve(undone.plan, approver=approver, everything=True,
                              note=f"undo of wave {wave}, from notebook 5", source="notebook")
recon.write_approval(undo_approval, undo_dir / "approval.json")
undo_journal = undo_dir / "journal.sqlite"
reverted = nb.run_with_progress(
    lambda: recon.push(undone.plan, undo_approval, config, undo_journal, progress=False),
    nb.journal_counter(undo_journal, undo_approval.op_ids), len(undo_approval.op_ids),
    f"undoing {wave}")
nb.show_message(nb.counts_line(reverted.counts(), "undo push"), ok=reverted.ok)
after = recon.snapshot(config)
undo_check = recon.verify(config, undone.plan, undo_approval, after)
nb.show_message(undo_check.summary(), ok=undo_check.ok)

# %% [markdown]
# ## Is the target back to its snapshot?
#
# Every user and group of the snapshot taken before the wave, compared attribute by attribute
# with the target now. What remains is what a journal cannot take back: the accounts the wave
# created, now disabled, and the groups it created, now empty.

# %%
changes = undone.compare(before, after)
unexpected = changes[~changes["attribute"].isin(["created"])]
nb.show_message(f"{len(unexpected)} attributes differ from the snapshot; "
                f"{len(changes) - len(unexpected)} resources were created by the wave",
                ok=unexpected.empty)
nb.show_table(changes, caption="The target now, against its snapshot before the wave")

# %%
if local is not None:
    local.stop()
