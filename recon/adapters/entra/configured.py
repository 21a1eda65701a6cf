"""Push and verify from a config and a saved plan: what ``recon push`` / ``recon verify`` call.

The library functions take the pieces (plan, approval, target, desired frame); these wrappers
take a ``Config`` and rebuild the desired frame from its HR file, so the CLI stays one call.
"""

from __future__ import annotations

from pathlib import Path

from recon.adapters.entra.inbound import desired_for, push_inbound
from recon.adapters.entra.verify import InboundVerification, verify_inbound
from recon.approve import Approval, check_approval
from recon.config import Config, EntraTarget
from recon.errors import ConfigError
from recon.plan import Plan
from recon.push import PushResult


def _entra(config: Config) -> EntraTarget:
    if config.target.entra is None:
        raise ConfigError("this config has no target.entra")
    return config.target.entra


def push_configured(
    config: Config, plan: Plan, approval: Approval, journal: str | Path, *,
    dry_run: bool = False, max_disables: int | None = None, progress: bool = True,
) -> PushResult:
    """``push_inbound`` with the config's target, policy (``max_disables`` overrides it) and
    HR file. The result is an ``InboundPushResult``, typed as the PushResult the CLI renders."""
    policy = config.policy if max_disables is None else config.policy.model_copy(
        update={"max_disables": max_disables})
    return push_inbound(plan, approval, _entra(config), journal, desired=desired_for(config, plan),
                        policy=policy, dry_run=dry_run, progress=progress)


def verify_configured(
    config: Config, plan: Plan, approval: Approval, journal: str | Path, *,
    progress: bool = True,
) -> InboundVerification:
    """``verify_inbound`` for the approved ops, with the config's target and HR file."""
    check_approval(plan, approval)
    return verify_inbound(plan, _entra(config), journal, desired=desired_for(config, plan),
                          progress=progress)
