"""One push for every target: the approved ops of a plan, within the policy's safety limits.

``push(plan, approval, target, journal, policy=…)`` is what every face calls. ``target`` is a
config (its SCIM service provider or its Entra ID, as configured) or an open ``ScimClient``.
The approval must be for this plan, and the approved ops must stay within ``policy``'s limits
(``recon.core.limits``): the push is refused as a whole before anything is sent otherwise.
SCIM targets are pushed by ``recon.workflows.push_scim``; Entra ID through API-driven inbound
provisioning by ``recon.workflows.push_entra``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recon.core.approve import Approval
from recon.core.config import Config, Policy
from recon.core.plan import Plan
from recon.core.results import PushResult
from recon.errors import ConfigError
from recon.targets.scim import ScimClient, connect
from recon.workflows.push_entra import desired_for, push_inbound
from recon.workflows.push_scim import RetryPolicy, push_scim


def push(
    plan: Plan, approval: Approval, target: Config | ScimClient, journal: str | Path, *,
    policy: Policy | None = None, dry_run: bool = False, concurrency: int | None = None,
    use_bulk: bool | None = None, progress: bool = True, retry: RetryPolicy | None = None,
    desired: pd.DataFrame | None = None, insecure: bool = False,
) -> PushResult:
    """Push the approved ops of ``plan``; the result says what happened to each of them.

    ``policy`` gives the safety limits: the config's ``policy`` when ``target`` is a config,
    ``Policy()`` (50 disables, 0 deletes) for a bare client. ``concurrency`` (default 4) and
    ``use_bulk`` (None: Bulk when the target offers it) apply to SCIM targets; ``desired`` (the
    reconciliation's desired frame, else rebuilt from the HR file) to Entra, which takes whole
    records.
    """
    if isinstance(target, ScimClient):
        return push_scim(plan, approval, target, journal, policy=policy or Policy(),
                         concurrency=concurrency or 4, dry_run=dry_run, use_bulk=use_bulk,
                         progress=progress, retry=retry)
    limits = policy or target.policy
    if target.target.entra is not None:
        if concurrency is not None or use_bulk is not None:
            raise ConfigError("concurrency and bulk apply to SCIM targets; Entra's bulkUpload is "
                              "always bulk and paced (docs/entra.md)")
        records = desired if desired is not None else desired_for(target, plan)
        return push_inbound(plan, approval, target.target.entra, journal, desired=records,
                            policy=limits, dry_run=dry_run, progress=progress)
    if target.target.scim is None:
        raise ConfigError(f"{target.name}: target.file is a saved snapshot; push needs "
                          "target.scim or target.entra")
    with connect(target.target.scim, insecure=insecure) as client:
        return push_scim(plan, approval, client, journal, policy=limits,
                         concurrency=concurrency or 4, dry_run=dry_run, use_bulk=use_bulk,
                         progress=progress, retry=retry)
