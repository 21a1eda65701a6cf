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
# # 1 · Load and check the HR extract
#
# This notebook reads the configuration, the HR extract and the target's accounts, then checks
# the extract's data quality **before** anything is compared. Rows that fail a check are put
# aside (quarantined) with the reason, so they can be fixed in the HR system; everything else
# goes on to the reconciliation in notebook 2.
#
# Change the two settings below to work on your own files, then use *Run → Run All Cells*.

# %% tags=["parameters"]
config_path = "../data/samples/recon.yaml"  # the YAML config for this HR source and target
run_dir = "../out/notebooks/01"  # where the quarantine list is written
profile_columns = ["Worker Type", "Supervisory Organization", "Country"]  # columns to profile

# %%
from pathlib import Path

import recon
from recon import notebook as nb

nb.setup()

# %% [markdown]
# ## The configuration
#
# The config names the HR file, the column that identifies a worker, which statuses count as
# active, and the target. The as-of date is the day the comparison is made for: a termination
# date before it makes a worker inactive.

# %%
config = recon.load_config(config_path)
nb.show_facts(nb.config_facts(config, config_path))

# %% [markdown]
# ## The HR extract
#
# Every column is read as text, exactly as it is in the file (leading zeros are kept; empty
# cells are missing values). `hr_row` is the row number in the file, not counting the header.

# %%
hr = recon.read_hr(config.source, config.base_dir)
nb.show_facts({"rows": len(hr.frame), "columns": len(hr.frame.columns),
               "file": hr.path.name, "SHA-256": hr.sha256[:16] + "…"})
nb.show_table(hr.frame.reset_index(), caption="HR extract (search, sort, page)", csv=hr.path)

# %% [markdown]
# ## The target's accounts
#
# A snapshot of the accounts as the target holds them today (read live, or from a saved
# export). Disabled accounts are counted too: a disabled account still exists.

# %%
target = recon.snapshot(config)
nb.show_facts(nb.snapshot_facts(target))

# %% [markdown]
# ## Data quality
#
# Each HR row is checked: the worker key is present and unique, the status is filled in, dates
# can be read, e-mail addresses look like e-mail addresses. A row that fails is **quarantined**:
# it is left out of the comparison and listed below with the reason. Nothing is changed for a
# quarantined worker until the row is fixed in HR.

# %%
quality = recon.check_quality(config, hr)
nb.quality_message(quality.invalid, len(hr.frame))
nb.show_bars(nb.failed_checks(quality.invalid), "Quarantined rows per failed check")

# %% [markdown]
# The quarantined rows, with the reason first and then the row as it is in the file. This list
# is also saved as `quarantine.csv` in the run folder, to send to the HR team.

# %%
quarantine = nb.quarantine_table(hr.frame, quality.invalid)
Path(run_dir).mkdir(parents=True, exist_ok=True)
quarantine.to_csv(Path(run_dir) / "quarantine.csv", index=False, encoding="utf-8-sig")
nb.show_table(quarantine, caption="Quarantined HR rows", csv=Path(run_dir) / "quarantine.csv")

# %% [markdown]
# Warnings are reported but do not quarantine a row (for example a manager key that points to
# no worker).

# %%
nb.show_table(quality.warnings, caption="Warnings (reported, not quarantined)",
              csv=Path(run_dir) / "warnings.csv")

# %% [markdown]
# ## Profiles
#
# How many workers hold each value: a quick way to spot a status nobody expected, a worker type
# that should be out of scope, or a department spelled two ways.

# %%
nb.show_profiles(hr.frame, nb.hr_profile_columns(config, profile_columns))

# %% [markdown]
# Next: **notebook 2** compares the checked rows with the accounts and shows what would change.
