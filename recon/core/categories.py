"""The categories, defined once: name, meaning, planned action, kind, and display order.

Every HR row and every target account lands in exactly one category (DESIGN.md). classify,
groups, the workbook, the notebooks and the CLI read their names, meanings and order here.

``kind`` says what a category asks of a person: ``change`` (ops are planned), ``person`` (a
person decides or fixes something), ``nothing`` (no action). ``side`` says whose row it is:
``hr`` (an HR row), ``account`` (a target account without its own HR row), or ``both``
(``conflict``: the HR row and each candidate account).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["change", "person", "nothing"]
Side = Literal["hr", "account", "both"]


@dataclass(frozen=True)
class Category:
    name: str
    meaning: str  # what it means, as an analyst reads it
    action: str  # what recon plans for it
    kind: Kind
    side: Side


#: Display order: what changes first, then what needs a person, then what needs nothing.
CATEGORIES: tuple[Category, ...] = (
    Category("drift", "matched by the employee key, attributes differ: update",
             "update the account (PATCH)", "change", "hr"),
    Category("link", "matched only by a fallback key (e-mail): write the key, plus any drift",
             "link the account, write its anchor attributes", "change", "hr"),
    Category("joiner", "active in HR, no account: create", "create an account (POST)",
             "change", "hr"),
    Category("leaver", "inactive in HR, account still enabled: disable",
             "disable the account (policy)", "change", "hr"),
    Category("rehire", "active in HR, account disabled: enable", "enable the account",
             "change", "hr"),
    Category("conflict", "ambiguous match: a person decides", "none — a person decides",
             "person", "both"),
    Category("invalid", "failed the data-quality checks: fix in HR", "none — fix the HR row",
             "person", "hr"),
    Category("orphan", "account with no HR row: reported", "account without HR row: reported",
             "person", "account"),
    Category("excluded", "account matching the exclusion rule: left alone",
             "account excluded by rule: left alone", "nothing", "account"),
    Category("future_hire", "hire date beyond the pre-hire window: later",
             "none yet (hire date beyond the pre-hire window)", "nothing", "hr"),
    Category("departed", "inactive in HR, no account: nothing to do",
             "none (inactive, no account)", "nothing", "hr"),
    Category("out_of_scope", "outside the scoping rule: left alone",
             "none (fails the scoping rule)", "nothing", "hr"),
    Category("in_sync", "matched, nothing differs", "none", "nothing", "hr"),
)

BY_NAME = {category.name: category for category in CATEGORIES}
ORDER = tuple(category.name for category in CATEGORIES)
HR_CATEGORIES = tuple(c.name for c in CATEGORIES if c.side in ("hr", "both"))
ACCOUNT_CATEGORIES = tuple(c.name for c in CATEGORIES if c.side in ("account", "both"))
CHANGES = tuple(c.name for c in CATEGORIES if c.kind == "change")
NEEDS_A_PERSON = tuple(c.name for c in CATEGORIES if c.kind == "person")
NOTHING = tuple(c.name for c in CATEGORIES if c.kind == "nothing")
#: HR categories whose matched account is the worker's (active worker with an account).
HAS_ACCOUNT = ("in_sync", "drift", "link", "rehire")

#: Group and membership categories (recon.core.groups), in display order, with their meaning.
GROUP_CATEGORIES = {
    "group_missing": "derived from HR, not in the target: create",
    "group_drift": "members differ: add and remove",
    "group_extra": "managed, no rule derives it: reported; its members are removed",
    "group_conflict": "several target groups share the name: a person decides",
    "unmanaged": "not matched by `managed`: left alone",
    "group_in_sync": "members as HR says",
}
MEMBERSHIP_CATEGORIES = {
    "member_missing": "add to the group",
    "member_extra": "remove from the group",
    "member_waiting": "eligible, but no account yet and none created",
    "member_conflict": "the account is in a match conflict",
    "member_dangling": "points to no account: reported",
    "member_left_alone": "excluded, out-of-scope or quarantined: left alone",
    "member_nested": "a nested group: left alone",
    "member_ok": "member as HR says",
}

#: Every category name an op or a row can carry.
EVERY_CATEGORY = (*ORDER, *GROUP_CATEGORIES, *MEMBERSHIP_CATEGORIES)


def order_key(name: str) -> int:
    """Sort key for a category name: display order, unknown names last."""
    return ORDER.index(name) if name in BY_NAME else len(ORDER)
