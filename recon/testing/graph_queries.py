"""The loopback Graph's query options: ``$filter``, ``$select``, the user properties it knows.

Each answer follows a Microsoft page (names in ``recon.testing.graph_tenant``), or, where
Microsoft documents none, the answer Graph is reported to give (cited).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from recon.testing.graph_tenant import GraphError

#: v1.0 user properties (USER). ``$select`` of anything else is a 400 (below).
USER_PROPERTIES = frozenset({
    "aboutMe", "accountEnabled", "ageGroup", "assignedLicenses", "assignedPlans",
    "authorizationInfo", "birthday", "businessPhones", "city", "companyName",
    "consentProvidedForMinor", "country", "createdDateTime", "creationType",
    "customSecurityAttributes", "deletedDateTime", "department", "displayName",
    "employeeHireDate", "employeeId", "employeeLeaveDateTime", "employeeOrgData", "employeeType",
    "externalUserState", "externalUserStateChangeDateTime", "faxNumber", "givenName", "hireDate",
    "id", "identities", "imAddresses", "interests", "isResourceAccount", "jobTitle",
    "lastPasswordChangeDateTime", "legalAgeGroupClassification", "licenseAssignmentStates",
    "mail", "mailboxSettings", "mailNickname", "manager", "mobilePhone", "mySite",
    "officeLocation", "onPremisesDistinguishedName", "onPremisesDomainName",
    "onPremisesExtensionAttributes", "onPremisesImmutableId", "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors", "onPremisesSamAccountName", "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled", "onPremisesUserPrincipalName", "otherMails", "passwordPolicies",
    "passwordProfile", "pastProjects", "postalCode", "preferredDataLocation",
    "preferredLanguage", "preferredName", "provisionedPlans", "proxyAddresses",
    "responsibilities", "schools", "securityIdentifier", "showInAddressList", "signInActivity",
    "signInSessionsValidFromDateTime", "skills", "state", "streetAddress", "surname",
    "usageLocation", "userPrincipalName", "userType",
})
#: LIST: returned only when a single user is read; selecting them on the list is a 501
#: (microsoftgraph/microsoft-graph-docs issues 5637 and 3878: "NotImplemented").
SINGLE_USER_ONLY = frozenset({"aboutMe", "birthday", "hireDate", "interests", "mySite",
                              "pastProjects", "preferredName", "responsibilities", "schools",
                              "skills", "mailboxSettings"})
#: LIST: what a user read returns without $select.
DEFAULT_PROPERTIES = (
    "businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName",
)
#: USER (the "Supports $filter" notes), for the operators the server implements.
USER_FILTERS = {"id": {"eq", "in"}, "employeeId": {"eq", "in"}, "userType": {"eq", "in"},
                "accountEnabled": {"eq"}, "userPrincipalName": {"eq", "in"},
                "onPremisesSyncEnabled": {"eq"}, "mail": {"eq", "in"}}
#: KNOWN (query parameters): "When using the in operator, the request is limited to 15
#: expressions in the filter clause by default".
MAX_IN_VALUES = 15
#: PLIST: provisioning logs filter with eq, contains, gt and lt only, "case sensitive".
LOG_OPERATORS = {"eq", "gt", "lt"}
LOG_FIELDS = {
    "jobid": ("jobId",), "cycleid": ("cycleId",), "changeid": ("changeId",),
    "activitydatetime": ("activityDateTime",), "provisioningaction": ("provisioningAction",),
    "sourceidentity/id": ("sourceIdentity", "id"), "targetidentity/id": ("targetIdentity", "id"),
    "provisioningstatusinfo/status": ("provisioningStatusInfo", "status"),
}

_VALUE = r"'(?:[^']|'')*'|[\w:.+-]+"
_CLAUSE = re.compile(rf"^\s*(?P<prop>[\w/]+)\s+(?P<op>[a-z]+)\s+(?P<value>{_VALUE})\s*$",
                     re.IGNORECASE)
_IN = re.compile(r"^\s*(?P<prop>[\w/]+)\s+in\s+\((?P<values>.*)\)\s*$", re.IGNORECASE)
_CONTAINS = re.compile(rf"^\s*contains\(\s*(?P<prop>[\w/]+)\s*,\s*(?P<value>{_VALUE})\s*\)\s*$",
                       re.IGNORECASE)


def _literal(text: str) -> str:
    text = text.strip()
    return text[1:-1].replace("''", "'") if text.startswith("'") else text


def parse_filter(text: str | None) -> list[tuple[str, str, Any]]:
    """``a eq 'x' and b in ('1','2') and contains(c,'y')`` → [(prop, op, value or values)]."""
    if not text:
        return []
    clauses: list[tuple[str, str, Any]] = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        if (found := _IN.match(part)) is not None:
            values = [_literal(v) for v in re.findall(_VALUE, found["values"])]
            if len(values) > MAX_IN_VALUES:
                raise GraphError(400, "Request_UnsupportedQuery",
                                 f"The in operator takes at most {MAX_IN_VALUES} values.")
            clauses.append((found["prop"], "in", values))
        elif (found := _CONTAINS.match(part)) is not None:
            clauses.append((found["prop"], "contains", _literal(found["value"])))
        elif (found := _CLAUSE.match(part)) is not None:
            clauses.append((found["prop"], found["op"].lower(), _literal(found["value"])))
        else:
            raise GraphError(400, "BadRequest", f"Invalid filter clause: {part!r}.")
    return clauses


def matches(actual: Any, op: str, expected: Any) -> bool:
    """One clause against a value: strings case-sensitively, times as instants."""
    if op == "in":
        return any(matches(actual, "eq", one) for one in expected)
    if isinstance(actual, bool):
        return op == "eq" and str(actual).lower() == str(expected).lower()
    if actual is None:
        return op == "eq" and str(expected) == "null"
    text = str(actual)
    if op == "eq":
        return text == str(expected)
    if op == "contains":
        return str(expected) in text
    left, right = (datetime.fromisoformat(v.replace("Z", "+00:00")) for v in (text, expected))
    return bool(left > right) if op == "gt" else bool(left < right)


def user_clauses(text: str | None) -> list[tuple[str, str, Any]]:
    clauses = parse_filter(text)
    for prop, op, _ in clauses:
        if op not in USER_FILTERS.get(prop, set()):
            raise GraphError(400, "Request_UnsupportedQuery",
                             f"Unsupported or invalid query filter clause specified for "
                             f"property '{prop}' of resource 'User'.")
    return clauses


def log_clauses(text: str | None) -> list[tuple[tuple[str, ...], str, Any]]:
    clauses = []
    for prop, op, value in parse_filter(text):
        if op not in LOG_OPERATORS | {"contains"}:
            raise GraphError(400, "BadRequest", f"The operator '{op}' is not supported on "
                                                "provisioning logs; use eq, contains, gt or lt.")
        if prop.lower() not in LOG_FIELDS:
            raise GraphError(400, "BadRequest", f"Invalid filter clause on {prop!r}.")
        clauses.append((LOG_FIELDS[prop.lower()], op, value))
    return clauses


def field_of(entry: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = entry
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def split_top_level(text: str) -> list[str]:
    """Split ``a,manager($select=id,employeeId)`` on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    if current:
        parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def selected(query: dict[str, str], *, collection: bool) -> list[str]:
    """``$select`` checked against the user properties.

    No Learn page prints the answer to an unknown property; Graph is reported to answer 400
    "Could not find a property named '…' on type 'microsoft.graph.user'."
    (microsoftgraph/msgraph-sdk-powershell issue 2103, microsoft-graph-docs issue 3957).
    """
    if "$select" not in query:
        return list(DEFAULT_PROPERTIES)
    names = [n.strip() for n in query["$select"].split(",") if n.strip()]
    for name in names:
        if name not in USER_PROPERTIES:
            raise GraphError(400, "Request_BadRequest", f"Parsing OData Select and Expand "
                             f"failed: Could not find a property named '{name}' on type "
                             "'microsoft.graph.user'.")
        if collection and name in SINGLE_USER_ONLY:
            raise GraphError(501, "NotImplemented", "This operation target is not yet supported.")
    return names
