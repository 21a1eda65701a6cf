"""The safety limits of a push, counted one way for every target and every face.

Like Entra's accidental-deletion threshold: a batch that would disable or delete more accounts,
or remove more group members, than the policy allows is refused as a whole before anything is
sent. ``limit_checks`` says where a batch stands against each limit (the notebook's table, the
plan-time warning); ``check_limits`` refuses a batch past any of them (the push).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from recon.core.config import Policy
from recon.errors import LimitError


@dataclass(frozen=True)
class LimitCheck:
    """One safety limit against a batch: ``count`` of ``what``, ``allowed`` by ``option``."""

    what: str  # "disables", "deletes", "group member removals", "disables, % of accounts"
    count: float
    allowed: float
    option: str  # the policy key (and, with dashes, the push option) that raises it
    refusal: str  # the one line a push past this limit is refused with

    @property
    def ok(self) -> bool:
        return self.count <= self.allowed


def member_removals(ops: pd.DataFrame) -> int:
    """Group members the ops remove (one PatchOp operation per member)."""
    payloads = ops.loc[ops["action"] == "group_remove", "payload"]
    return sum(len(json.loads(str(p)).get("Operations", [])) for p in payloads)


def limit_checks(ops: pd.DataFrame, policy: Policy,
                 account_count: Callable[[], int] | None = None) -> list[LimitCheck]:
    """Each limit of ``policy`` against the ops (the percentage only when ``account_count`` is
    given, the policy sets one and the ops disable something)."""
    actions = ops["action"].value_counts()
    disables, deletes = int(actions.get("disable", 0)), int(actions.get("delete", 0))
    def counted(what: str, count: int, option: str) -> LimitCheck:
        allowed = getattr(policy, option)
        return LimitCheck(what, count, allowed, option,
                          f"{count} {what} approved, over the limit of {allowed} per push "
                          f"(raise {option} / --{option.replace('_', '-')} to allow it)")

    checks = [counted("group member removals", member_removals(ops), "max_member_removals"),
              counted("disables", disables, "max_disables"),
              counted("deletes", deletes, "max_deletes")]
    if policy.max_disable_percent is not None and disables and account_count is not None:
        total = account_count()
        share = 100.0 * disables / max(total, 1)
        checks.append(LimitCheck(
            "disables, % of accounts", round(share, 1), policy.max_disable_percent,
            "max_disable_percent", f"{disables} disables are {share:.1f}% of the target's "
            f"{total} accounts, over the limit of {policy.max_disable_percent}%"))
    return checks


def check_limits(ops: pd.DataFrame, policy: Policy,
                 account_count: Callable[[], int] | None = None) -> None:
    """Refuse a batch past any safety limit (PlanError naming the first one)."""
    for check in limit_checks(ops, policy, account_count):
        if not check.ok:
            raise LimitError(check.refusal)
