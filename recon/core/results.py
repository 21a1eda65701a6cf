"""The typed results of a run: plain objects holding DataFrames; rendering is the caller's.

``Reconciliation`` (reconcile), ``PushResult`` (push), ``Verification`` (verify) and the run's
``RunMeta``. The workbook, the notebook display and the CLI summary render them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from recon.core.categories import MEMBERSHIP_CATEGORIES, ORDER
from recon.core.groups import GroupReconciliation
from recon.core.plan import Plan
from recon.core.quality import QualityResult
from recon.core.summary import ordered_counts, summary_html


@dataclass(frozen=True)
class RunMeta:
    as_of: date
    hr_file: str
    hr_sha256: str
    snapshot_source: str
    snapshot_digest: str
    config_digest: str
    generated_at: str

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "as_of": self.as_of.isoformat()}


@dataclass(frozen=True)
class Reconciliation:
    identities: pd.DataFrame
    diffs: pd.DataFrame
    desired: pd.DataFrame
    current: pd.DataFrame
    quality: QualityResult
    meta: RunMeta
    wanted: pd.DataFrame  # normalized desired values per SCIM path, references resolved
    # Groups and memberships (recon.core.groups) when the config has ``groups:`` and the snapshot
    # holds the target's groups; None otherwise (no group is planned from a snapshot without).
    groups: GroupReconciliation | None = None

    def counts(self) -> pd.Series:
        return self.identities.groupby("category").size().sort_values(ascending=False)

    def category(self, name: str) -> pd.DataFrame:
        return self.identities[self.identities["category"] == name]

    def __repr__(self) -> str:
        return (f"Reconciliation({len(self.identities):,} rows, as of {self.meta.as_of}, "
                f"snapshot {self.meta.snapshot_digest[:12]})")

    def _repr_html_(self) -> str:
        """What a notebook shows for a result on its own: counts and digests, never the rows."""
        counts = {str(k): int(v) for k, v in self.counts().items()}
        tables = [("rows per category", ordered_counts(counts, ORDER))]
        if self.groups is not None:
            members = {str(k): int(v) for k, v in self.groups.member_counts().items()}
            tables.append(("group members", ordered_counts(members,
                                                           tuple(MEMBERSHIP_CATEGORIES))))
        facts = {"as-of date": self.meta.as_of, "HR file": self.meta.hr_file,
                 "HR sha256": self.meta.hr_sha256[:16] + "…",
                 "target": self.meta.snapshot_source,
                 "snapshot digest": self.meta.snapshot_digest[:16] + "…",
                 "quarantined rows": f"{len(self.quality.invalid):,}"}
        return summary_html("Reconciliation", facts, tables)



STATUSES = ("succeeded", "already_applied", "stale", "failed", "skipped", "dry_run")


OK_STATUSES = frozenset({"succeeded", "already_applied", "skipped", "dry_run"})


RESULT_COLUMNS = ["op_id", "action", "category", "hr_key", "target_id", "status", "attempts",
                  "http_status", "error"]


@dataclass(frozen=True)
class PushResult:
    """What happened to every approved op; rendering (tables, exit code) is the caller's."""

    results: pd.DataFrame
    plan_digest: str
    journal_path: str
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """True when every approved op succeeded, was already applied, or was done earlier."""
        return bool(self.results["status"].isin(OK_STATUSES).all())

    def counts(self) -> pd.Series:
        """Ops per status, in a fixed order, zeros included."""
        return self.results["status"].value_counts().reindex(list(STATUSES), fill_value=0)



@dataclass(frozen=True)
class Verification:
    # op_id, action, category, hr_key, target_id, converged, detail, verified_at (the fresh
    # snapshot's time), account_id (the account read back; a create's new id)
    results: pd.DataFrame
    reconciliation: Reconciliation
    remaining: Plan  # what a new plan would still do

    @property
    def converged(self) -> int:
        return int(self.results["converged"].sum())

    @property
    def ok(self) -> bool:
        return bool(self.results["converged"].all())

    def summary(self) -> str:
        return f"converged: {self.converged}/{len(self.results)} approved operations"

