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
# # 2 · Reconcile and review
#
# This notebook compares every HR row with the target's accounts and puts each one in exactly
# one **category** (in sync, drift, joiner, leaver, conflict…). Nothing is changed in the
# target here: the result is a **plan** of the changes that would bring the target in line with
# HR, which you review below and approve in notebook 3.
#
# Change the settings below to work on your own files, then use *Run → Run All Cells*.

# %% tags=["parameters"]
config_path = "../data/samples/recon.yaml"  # the YAML config for this HR source and target
run_dir = "../out/notebooks/02"  # where identities.csv, diffs.csv and plan.json are written

# %%
from pathlib import Path

import recon
from recon import notebook as nb

nb.setup()

# %% [markdown]
# ## Run the reconciliation
#
# Reads the HR extract and the accounts, quarantines the rows that fail the data-quality
# checks, applies the attribute mapping, matches workers to accounts (first by employee id,
# then by e-mail), and classifies every row. The run folder receives the full results as CSV
# and the plan as `plan.json`.

# %%
config = recon.load_config(config_path)
hr = recon.read_hr(config.source, config.base_dir)
target = recon.snapshot(config)
result = recon.reconcile(config, hr, target)
changes = recon.plan(result, config)
files = recon.write_outputs(result, changes, Path(run_dir), overwrite=True)
nb.show_facts({"as-of date": result.meta.as_of, "HR rows": len(hr.frame),
               "accounts": target.count, "rows in the result": len(result.identities),
               "planned operations": len(changes.ops), "plan digest": changes.digest[:16] + "…",
               "written to": run_dir})

# %% [markdown]
# ## What the categories look like
#
# Every HR row and every account lands in exactly one category. **Blue** rows get a planned
# change, **orange** rows need a person (a conflict to settle, a row to fix in HR, an account
# nobody owns), **grey** rows need nothing.

# %%
nb.show_categories(result.counts(), "HR rows and accounts per category")
nb.show_table(nb.category_summary(result), caption="Categories", rows=15)

# %% [markdown]
# ## Drill down, category by category
#
# One table per category. Type in the search box to filter (a name, an employee id, a
# department), click a column header to sort; scroll to page through every row. (In a headless
# run, each table shows its first rows and the file that holds them all.)

# %%
for name in nb.categories_present(result):
    nb.show_table(nb.category_table(result, name), caption=f"{name} — {nb.MEANING.get(name, '')}",
                  csv=files["identities"], note=f"category = {name}")

# %% [markdown]
# ## What changes for each person (before → after)
#
# For every worker whose account differs from HR: which attribute, what the account holds
# today, and what HR says it should be. Managers are shown by name.

# %%
drift = nb.diff_table(result)
nb.show_bars(drift["attribute"].value_counts(), "Differences per attribute", "people")
nb.show_table(drift, caption="Attribute differences (drift, link, rehire)", rows=15,
              csv=files["diffs"])

# %% [markdown]
# ## Conflicts, side by side
#
# A conflict is a worker who matches several accounts (or an account claimed by several
# workers). recon changes nothing for them: compare what HR wants with each candidate account,
# decide which account is the right one, and fix the other in the target or in HR. Cells that
# differ from HR are shaded.

# %%
nb.show_conflicts(result, config)

# %% [markdown]
# ## Accounts nobody owns
#
# Orphans are accounts that match no HR row; excluded accounts match the exclusion rule
# (service or break-glass accounts) and are left alone. Here are their last known attributes,
# to help find an owner. Orphans are reported only: disabling them is a policy decision.

# %%
nb.show_table(nb.orphan_table(result, ("orphan", "excluded")),
              caption="Orphan and excluded accounts", csv=files["identities"],
              note="category = orphan or excluded")

# %% [markdown]
# ## Groups and memberships
#
# With `groups:` in the config, recon derives groups from HR (one per department, and
# all-employees) and compares them with the target's groups: groups to create, members to add
# (joiners right after their account is created), members to remove (leavers leave every
# managed group, movers leave their old department). Groups outside `managed` are left alone.

# %%
if result.groups is not None:
    nb.show_bars(result.groups.member_counts(), "Group members per category", "members")
    nb.show_table(result.groups.groups, caption="Groups", rows=20, csv=files["groups"])
    nb.show_table(result.groups.changes(), caption="Members to add and to remove", rows=15,
                  csv=files["memberships"], note="category = member_missing or member_extra")

# %% [markdown]
# ## The plan
#
# The operations recon would send, per category and action. High-risk operations (disables,
# a change of user name or e-mail) deserve a second look. Approve them in **notebook 3**, or send
# the run folder to an auditor.

# %%
nb.show_table(nb.plan_overview(changes), caption="Planned operations", rows=15)
