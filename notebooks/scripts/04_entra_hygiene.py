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
# # 4 · HR against Entra ID: joiner / mover / leaver hygiene
#
# This notebook compares the HR extract with the users of a Microsoft Entra ID tenant and
# lists what an access review asks about:
#
# - **leavers whose account is still enabled**,
# - accounts with **no employee id**, and employee ids **carried by several accounts**,
# - **department or manager** in Entra that disagree with HR,
# - **hire and leave dates** in Entra (they start Lifecycle Workflows) that disagree with HR,
# - **guests**: invitations never accepted, and old ones,
# - accounts **synced from on-premises AD**, which only AD can change.
#
# It only reads Entra; nothing is changed. The findings are saved as CSV files and one Excel
# workbook for the review. With the default settings it reads a **local test Graph server**
# loaded with the sample accounts (it behaves as Microsoft documents Graph); set `graph_url`
# (and the `entra` target in your config) to read a real tenant. Permissions: `User.Read.All`,
# and `User-LifeCycleInfo.Read.All` for the leave dates (docs/entra.md).

# %% tags=["parameters"]
config_path = "../data/samples/recon.yaml"  # the YAML config for this HR source
run_dir = "../out/notebooks/04"  # where the access-review files are written
graph_url = None  # None: start a local test Graph loaded with the sample accounts

# %%
from pathlib import Path

import recon
from recon import hygiene
from recon import notebook as nb

nb.setup()

# %% [markdown]
# ## Read the Entra users
#
# All users are read through Microsoft Graph and put in the same shape as any other target, so
# the comparison is the same as in notebook 2. The read uses `users/delta`: the first run reads
# everyone, later runs in the same run folder only what changed since (the delta link is kept
# there, in `entra-delta.json`).

# %%
config = recon.load_config(config_path)
local = None
if graph_url is None:
    local = nb.start_local_graph(config, recon.snapshot(config).resources)
    config = local.config
else:
    config = nb.with_entra(config, graph_url)
directory = hygiene.snapshot_delta(config.target.entra, run_dir, progress=False)
nb.show_facts({"tenant": config.target.entra.graph_url, **nb.snapshot_facts(directory)})

# %% [markdown]
# ## Compare with HR
#
# Every worker is matched to an Entra user (by employee id, then by e-mail) and classified.

# %%
hr = recon.read_hr(config.source, config.base_dir)
result = recon.reconcile(config, hr, directory)
nb.show_categories(result.counts(), "HR rows and Entra users per category")

# %% [markdown]
# ## Findings for the access review

# %%
findings = hygiene.findings(result, config)
nb.show_bars(hygiene.counts(findings), "Findings", "accounts or people")

# %% [markdown]
# ### Leavers whose account is still enabled
#
# Inactive in HR (terminated, or a termination date already passed) but the Entra account can
# still sign in. These are the first to fix.

# %%
nb.show_table(findings["leavers still enabled"], caption="Leavers still enabled")

# %% [markdown]
# ### Employee ids missing or shared
#
# Without an employee id an account cannot be tied to a person reliably (it was matched by
# e-mail, or not at all). An employee id on several accounts means duplicates: one person, two
# accounts. Service accounts matching the exclusion rule are not listed.

# %%
nb.show_table(findings["accounts without employee id"], caption="Accounts without employee id")
nb.show_table(findings["employee ids on several accounts"],
              caption="Employee ids carried by several accounts")

# %% [markdown]
# ### Department or manager disagreements
#
# Entra says one thing, HR another. Department and manager drive dynamic groups and approval
# flows, so a wrong value here grants or routes access wrongly.

# %%
nb.show_table(findings["department or manager differs"],
              caption="Department or manager differs (Entra → HR)")

# %% [markdown]
# ### Hire and leave dates
#
# Lifecycle Workflows start joiner and leaver tasks from `employeeHireDate` and
# `employeeLeaveDateTime`. Where Entra's dates differ from HR's, onboarding or offboarding runs
# on the wrong day (or never).

# %%
findings["lifecycle dates differ from HR"] = hygiene.lifecycle_dates(result, directory)
nb.show_table(findings["lifecycle dates differ from HR"],
              caption="Entra lifecycle dates that differ from HR")

# %% [markdown]
# ### Guests
#
# Invited users, with their invitation state and age: invitations still pending, and the
# oldest accepted ones, are the first to review.

# %%
findings["guests"] = hygiene.guests(directory, result.meta.as_of)
nb.show_table(findings["guests"], caption="Guests (pending first, oldest first)")

# %% [markdown]
# ### Accounts synced from on-premises AD
#
# A cloud-only provisioning job cannot change these (`onPremisesSyncEnabled`): their fixes go
# through Active Directory. recon says so in the reason of every row that would change one.

# %%
synced = result.identities[result.identities["reason"].fillna("").str.contains(
    "synced from on-premises AD")]
nb.show_table(synced[["category", "hr_key", "user_name", "reason"]],
              caption="Changes that only AD can make")

# %% [markdown]
# ## Export for the access review
#
# One CSV per finding and one workbook with a sheet per finding.

# %%
exported = hygiene.export(findings, Path(run_dir))
nb.show_files(exported, "Files for the access review")

# %%
if local is not None:
    local.stop()
