"""SCIM paths ↔ Microsoft Graph user properties, as data; Graph users → SCIM-shaped dicts.

Everything downstream of a snapshot speaks SCIM paths (``userName``, ``name.givenName``,
``urn:…:enterprise:2.0:User:employeeNumber``). Entra speaks Graph properties. One table,
``GRAPH_ATTRIBUTES``, says which is which; the snapshot reads the Graph side of it into the SCIM
side, and ``$select`` is derived from it, so adding a row is the whole change for a new attribute.

Two properties have no SCIM core home and a naming clash worth a word: Graph ``employeeType``
(Employee, Contractor…) is SCIM core ``userType`` — as Entra's own SCIM API and the API-driven
inbound sample map it — while Graph ``userType`` (Member / Guest) is kept, with the other Graph
lifecycle properties, under the ``urn:recon:graph`` extension: exclude guests with
``exclude: '[urn:recon:graph:userType] = "Guest"'``.

Pure functions, no I/O: also used to build the SCIM records sent to ``bulkUpload``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from recon.core.scim import CORE_USER, ENTERPRISE, GRAPH_EXTENSION, parse_path, set_path

"""SCIM-shaped home of Graph-only properties (read side only; never sent to bulkUpload)."""


@dataclass(frozen=True)
class GraphAttribute:
    """One row of the translation table: a SCIM path and the Graph user property behind it."""

    scim_path: str
    graph_property: str  # dotted for complex Graph properties: employeeOrgData.costCenter
    inbound: bool = True  # does API-driven inbound provisioning write it from this SCIM path?

    @property
    def select(self) -> str:
        """The ``$select`` name: the top-level Graph property."""
        return self.graph_property.split(".")[0]


GRAPH_ATTRIBUTES: tuple[GraphAttribute, ...] = (
    GraphAttribute("id", "id", inbound=False),
    GraphAttribute("userName", "userPrincipalName"),
    GraphAttribute("externalId", "employeeId"),
    GraphAttribute("active", "accountEnabled"),
    GraphAttribute("displayName", "displayName"),
    GraphAttribute("name.givenName", "givenName"),
    GraphAttribute("name.familyName", "surname"),
    GraphAttribute("title", "jobTitle"),
    GraphAttribute('emails[type eq "work"].value', "mail"),
    GraphAttribute("userType", "employeeType"),
    GraphAttribute(f"{ENTERPRISE}:employeeNumber", "employeeId"),
    GraphAttribute(f"{ENTERPRISE}:department", "department"),
    GraphAttribute(f"{ENTERPRISE}:manager", "manager"),
    GraphAttribute(f"{ENTERPRISE}:organization", "companyName"),
    GraphAttribute(f"{ENTERPRISE}:costCenter", "employeeOrgData.costCenter"),
    GraphAttribute(f"{ENTERPRISE}:division", "employeeOrgData.division"),
    GraphAttribute(f"{GRAPH_EXTENSION}:userType", "userType", inbound=False),
    GraphAttribute(f"{GRAPH_EXTENSION}:employeeType", "employeeType", inbound=False),
    GraphAttribute(f"{GRAPH_EXTENSION}:employeeHireDate", "employeeHireDate", inbound=False),
    GraphAttribute(f"{GRAPH_EXTENSION}:employeeLeaveDateTime", "employeeLeaveDateTime",
                   inbound=False),
    GraphAttribute(f"{GRAPH_EXTENSION}:onPremisesImmutableId", "onPremisesImmutableId",
                   inbound=False),
)

MANAGER_EXPAND = "manager($select=id,employeeId)"
MANAGER_KEY = f"{GRAPH_EXTENSION}:managerEmployeeId"
"""The manager's employeeId (from the ``$expand``): what bulkUpload's manager.value carries."""


def graph_select() -> list[str]:
    """``$select`` for ``/users``: every Graph property of the table (manager comes by $expand)."""
    names = dict.fromkeys(a.select for a in GRAPH_ATTRIBUTES if a.select != "manager")
    return list(names)


def _key(path: str) -> str:
    parsed = parse_path(path)
    return f"{(parsed.schema or '').lower()}|{parsed.attribute.lower()}|" \
           f"{(parsed.filter_attr or '').lower()}|{(parsed.filter_value or '').lower()}|" \
           f"{(parsed.sub or '').lower()}"


_BY_SCIM = {_key(a.scim_path): a for a in GRAPH_ATTRIBUTES}


def graph_property(scim_path: str) -> str | None:
    """The Graph property behind a SCIM path (case-insensitive, as SCIM names are), or None."""
    attribute = _BY_SCIM.get(_key(scim_path))
    return attribute.graph_property if attribute else None


_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def _read(user: Any, dotted: str) -> Any:
    """A Graph property from an msgraph-sdk model (snake_case attributes) or a wire dict."""
    value = user
    for name in dotted.split("."):
        if value is None:
            return None
        if isinstance(value, Mapping):
            value = value.get(name)
        else:
            value = getattr(value, _SNAKE.sub("_", name).lower(), None)
    return value


def _wire(value: Any) -> Any:
    """Graph values as they appear on the wire: timestamps in ISO 8601 UTC with ``Z``."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def scim_user(user: Any, graph_url: str = "") -> dict[str, Any]:
    """One Graph user (msgraph-sdk ``User`` or wire dict) as a SCIM User resource dict.

    Absent and null Graph values are left out, as a SCIM server leaves out unassigned
    attributes. The manager is a reference by object id (``manager.value``), like SCIM; the
    manager's employeeId is kept beside it for the inbound direction and for verify.
    """
    resource: dict[str, Any] = {"schemas": [CORE_USER, ENTERPRISE, GRAPH_EXTENSION]}
    for attribute in GRAPH_ATTRIBUTES:
        value = _read(user, attribute.graph_property)
        if attribute.graph_property == "manager":
            value = _read(value, "id")
        if value is None or value == "":
            continue
        set_path(resource, attribute.scim_path, _wire(value))
    emails = resource.get("emails")
    if isinstance(emails, list):
        for email in emails:
            email["primary"] = True
    manager_employee_id = _read(_read(user, "manager"), "employeeId")
    if manager_employee_id:
        set_path(resource, MANAGER_KEY, manager_employee_id)
    if "id" in resource:
        resource["meta"] = {"resourceType": "User",
                            "location": f"{graph_url.rstrip('/')}/users/{resource['id']}"}
    return resource
