"""Approvals: a set of op ids bound to one plan digest, with who, when and why.

An approval comes from CLI rules (``--category leaver``), a notebook selection, or an auditor's
workbook. It is refused for another plan (digest differs) or for ops the plan does not hold, so
what is pushed is exactly what a person saw.

Decisions are records (``recon.approval/2``): besides the approved ids, an approval keeps one
``Decision`` per op a person decided — approve or reject, the comment, who, when, and the
reviewed workbook's name and sha256 — so a rejection with "check with HR first" stays
distinguishable from an op nobody looked at. ``recon.approval/1`` files (ids only) are still read.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from recon.core.categories import EVERY_CATEGORY
from recon.core.plan import RISK, Plan
from recon.errors import PlanError

APPROVAL_FORMAT = "recon.approval/2"
#: Formats read back: /1 held the approved ids only.
APPROVAL_FORMATS = ("recon.approval/1", APPROVAL_FORMAT)
APPROVE, REJECT = "approve", "reject"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Decision:
    """One person's decision on one op: approve or reject, why, who, when, and where.

    ``via`` says where it was taken: ``op`` (the op's own row), ``category`` (a decision for a
    whole category on a workbook's Summary), or ``rule`` (CLI or notebook rules).
    """

    op_id: str
    decision: str  # APPROVE or REJECT
    comment: str = ""
    by: str = ""
    at: str = ""
    workbook: str = ""  # the reviewed workbook's file name, if any
    workbook_sha256: str = ""
    via: str = "op"

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Reviewed:
    """A workbook an approval was read from: name, sha256, and who saved it last, when."""

    file: str
    sha256: str
    saved_by: str = ""
    saved_at: str = ""

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Approval:
    plan_digest: str
    op_ids: tuple[str, ...]
    approver: str
    approved_at: str = field(default_factory=utc_now)
    note: str = ""
    source: str = "cli"
    decisions: tuple[Decision, ...] = ()  # every recorded decision, approvals and rejections
    reviewed: tuple[Reviewed, ...] = ()  # the workbooks the decisions were read from

    def to_json(self) -> dict[str, Any]:
        return {"format": APPROVAL_FORMAT, "plan_digest": self.plan_digest,
                "op_ids": list(self.op_ids), "approver": self.approver,
                "approved_at": self.approved_at, "note": self.note, "source": self.source,
                "decisions": [d.to_json() for d in self.decisions],
                "reviewed": [r.to_json() for r in self.reviewed]}

    def decision_table(self) -> pd.DataFrame:
        """One row per decided op: op_id, decision, comment, by, at, workbook, workbook_sha256,
        via. An approval without recorded decisions (format /1, or built by hand) yields one
        ``approve`` row per approved op, by the approver at the approval's time."""
        columns = list(Decision.__dataclass_fields__)
        if self.decisions:
            return pd.DataFrame([d.to_json() for d in self.decisions], columns=columns)
        return pd.DataFrame({"op_id": list(self.op_ids), "decision": APPROVE, "comment": "",
                             "by": self.approver, "at": self.approved_at, "workbook": "",
                             "workbook_sha256": "", "via": "rule"}, columns=columns)


def approve(
    plan: Plan,
    *,
    approver: str,
    categories: Iterable[str] = (),
    actions: Iterable[str] = (),
    op_ids: Iterable[str] = (),
    everything: bool = False,
    note: str = "",
    source: str = "cli",
) -> Approval:
    """Approve the ops that match any of the given rules (categories, actions, explicit ids)."""
    if not approver.strip():
        raise PlanError("an approval needs the approver's name")
    categories, actions = list(categories), list(actions)
    _known("category", categories, EVERY_CATEGORY)
    _known("action", actions, tuple(RISK))
    ops = plan.ops
    wanted_ids = list(op_ids)
    unknown = sorted(set(wanted_ids) - set(ops["op_id"]))
    if unknown:
        raise PlanError(f"op {unknown[0][:12]} is not in the plan {plan.digest[:12]}")
    chosen = ops["op_id"].isin(wanted_ids)
    if everything:
        chosen |= True
    chosen |= ops["category"].isin(list(categories)) | ops["action"].isin(list(actions))
    ids = tuple(ops.loc[chosen.fillna(False).astype(bool), "op_id"].astype(str))
    at, who = utc_now(), approver.strip()
    decisions = tuple(Decision(one, APPROVE, by=who, at=at, via="rule") for one in ids)
    return Approval(plan.digest, ids, who, at, note=note, source=source, decisions=decisions)


def _known(kind: str, names: list[str], known: tuple[str, ...]) -> None:
    """PlanError for a name that is no category (or action) at all: a typo approves nothing."""
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (one of: {', '.join(known)})"
            raise PlanError(f"unknown {kind} {name!r}{hint}")


def for_ops(approval: Approval, op_ids: Iterable[str], *, note: str = "") -> Approval:
    """The approval narrowed to ``op_ids`` (a wave's): its approved ids and its decisions on
    other ops are left out; ``note`` is added to the approval's own (e.g. "wave pilot")."""
    kept = set(op_ids)
    return replace(
        approval, op_ids=tuple(one for one in approval.op_ids if one in kept),
        decisions=tuple(d for d in approval.decisions if d.op_id in kept),
        note="; ".join(part for part in (approval.note, note) if part))


def check_approval(plan: Plan, approval: Approval) -> None:
    """Refuse an approval made for another plan or naming ops this plan does not hold."""
    if approval.plan_digest != plan.digest:
        raise PlanError(
            f"the approval is for plan {approval.plan_digest[:12]}, not for this plan "
            f"{plan.digest[:12]}: reconcile again and approve the new plan")
    unknown = sorted(set(approval.op_ids) - set(plan.ops["op_id"]))
    if unknown:
        raise PlanError(f"the approval names op {unknown[0][:12]} which is not in the plan")


def approved_ops(plan: Plan, approval: Approval) -> pd.DataFrame:
    """The approved rows of the plan, in plan order; PlanError for another digest/unknown ops."""
    check_approval(plan, approval)
    return plan.ops[plan.ops["op_id"].isin(list(approval.op_ids))].reset_index(drop=True)
