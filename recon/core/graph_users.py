"""Microsoft Graph users as SCIM users: the read table, one user at a time or a whole column.

Everything downstream of a snapshot speaks SCIM paths; Entra speaks Graph properties.
``GRAPH_ATTRIBUTES`` says which Graph property recon reads into which SCIM path. It is used by
the Entra target (``recon.targets.entra``: live reads, ``$select``) and by the snapshot files
(``recon.io.snapshots``: a saved ``/users`` export), so it lives here, below both.

``scim_user`` maps one user (an msgraph-sdk model or a wire dict); ``scim_users_columnar`` maps
a pyarrow struct array of wire users to the struct array of the SCIM users ``scim_user`` would
make, so a million-user export is mapped without a dict per user. A test holds the two equal.

Two properties have no SCIM core home and a naming clash worth a word: Graph ``employeeType``
(Employee, Contractor…) is SCIM core ``userType`` — as Entra's own SCIM API and the API-driven
inbound sample map it — while Graph ``userType`` (Member / Guest) is kept, with the other Graph
lifecycle and hybrid properties, under the ``urn:recon:graph`` extension.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.scim import CORE_USER, ENTERPRISE, GRAPH_EXTENSION, parse_path, set_path


@dataclass(frozen=True)
class GraphAttribute:
    """One row of the read table: a SCIM path and the Graph user property behind it."""

    scim_path: str
    graph_property: str  # dotted for complex Graph properties: employeeOrgData.costCenter

    @property
    def select(self) -> str:
        """The ``$select`` name: the top-level Graph property."""
        return self.graph_property.split(".")[0]


def _extension(name: str) -> GraphAttribute:
    return GraphAttribute(f"{GRAPH_EXTENSION}:{name}", name)


GRAPH_ATTRIBUTES: tuple[GraphAttribute, ...] = (
    GraphAttribute("id", "id"),
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
    # Read only, never sent: guests, lifecycle dates, hybrid (AD-synced) users.
    _extension("userType"),
    _extension("employeeType"),
    _extension("employeeHireDate"),
    _extension("employeeLeaveDateTime"),
    _extension("onPremisesImmutableId"),
    _extension("onPremisesSyncEnabled"),
    _extension("externalUserState"),
    _extension("createdDateTime"),
    _extension("mailNickname"),
)

MANAGER = f"{ENTERPRISE}:manager"
MANAGER_KEY = f"{GRAPH_EXTENSION}:managerEmployeeId"
"""The manager's employeeId (from the ``$expand``): what bulkUpload's manager.value carries."""

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def read_property(user: Any, dotted: str) -> Any:
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


def user_location(graph_url: str, user_id: str) -> str:
    return f"{graph_url.rstrip('/')}/users/{user_id}"


def scim_user(user: Any, graph_url: str = "",
              table: Iterable[GraphAttribute] = GRAPH_ATTRIBUTES) -> dict[str, Any]:
    """One Graph user (msgraph-sdk ``User`` or wire dict) as a SCIM User resource dict.

    Absent and null Graph values are left out, as a SCIM server leaves out unassigned
    attributes. The manager is a reference by object id (``manager.value``), like SCIM; the
    manager's employeeId is kept beside it for the inbound direction and for verify.
    """
    resource: dict[str, Any] = {"schemas": [CORE_USER, ENTERPRISE, GRAPH_EXTENSION]}
    for attribute in table:
        value = read_property(user, attribute.graph_property)
        if attribute.graph_property == "manager":
            value = read_property(value, "id")
        if value is None or value == "":
            continue
        set_path(resource, attribute.scim_path, _wire(value))
    emails = resource.get("emails")
    if isinstance(emails, list):
        for email in emails:
            email["primary"] = True
    manager_employee_id = read_property(read_property(user, "manager"), "employeeId")
    if manager_employee_id:
        set_path(resource, MANAGER_KEY, manager_employee_id)
    if "id" in resource:
        resource["meta"] = {"resourceType": "User",
                            "location": user_location(graph_url, str(resource["id"]))}
    return resource


# ---- a whole column of users -------------------------------------------------------------------
# The wire users are one pyarrow struct array (a Graph export read by pyarrow's JSON reader). Each
# read-table row becomes a column at its SCIM path, built bottom-up as struct arrays: a container
# (``name``, the enterprise extension) is null where none of its children has a value, because
# set_path makes one only when it writes into it. Values scim_user would leave out (null, "") are
# null. Anything whose dict form this cannot be sure of gives None: the caller reads the file the
# general way.

_SIMPLE = frozenset({"string", "large_string", "bool", "null"})


def _is_text(array: Any) -> bool:
    return bool(pa.types.is_string(array.type) or pa.types.is_large_string(array.type))


def _wire_column(users: Any, dotted: str) -> Any:
    """``read_property(user, dotted)`` for every user, as an array; None when unsure."""
    node = users
    for name in dotted.split("."):
        if pa.types.is_null(node.type):
            return pa.nulls(len(users))
        if not pa.types.is_struct(node.type):
            return None
        names = [field.name for field in node.type]
        if names.count(name) > 1:
            return None
        if name not in names:
            return pa.nulls(len(users))
        node = pc.struct_field(node, [names.index(name)])
    return node


def _present(values: Any) -> Any:
    """scim_user's ``value is None or value == ""`` as nulls; None for types it cannot judge."""
    if pa.types.is_null(values.type) or pa.types.is_boolean(values.type):
        return values
    if _is_text(values):
        return pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)
    return None


def _struct(children: dict[str, Any], length: int) -> Any:
    """A struct array of the children, null where every child is null (no container made)."""
    names = list(children)
    arrays = [children[name] for name in names]
    valid = pc.is_valid(arrays[0])
    for array in arrays[1:]:
        valid = pc.or_(valid, pc.is_valid(array))
    return pa.StructArray.from_arrays(arrays, names=names, mask=pc.invert(valid))


def scim_users_columnar(users: Any, graph_url: str = "",
                        table: Iterable[GraphAttribute] = GRAPH_ATTRIBUTES) -> Any:
    """The SCIM users ``scim_user`` makes of wire users, as one pyarrow struct array; or None.

    ``users`` is a pyarrow struct array (or ChunkedArray) of Graph users as the wire has them.
    None when some value is not text, a boolean or null (a number, a timestamp pyarrow inferred,
    an object where a property should be): the caller then maps them one by one.
    """
    if isinstance(users, pa.ChunkedArray):
        users = users.combine_chunks()
    if not pa.types.is_struct(users.type):
        return None
    length = len(users)
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for attribute in table:
        raw = _wire_column(users, attribute.graph_property)
        if raw is not None and attribute.graph_property == "manager":
            raw = _wire_column(raw, "id") if not pa.types.is_null(raw.type) else raw
        values = _present(raw) if raw is not None else None
        if values is None:
            return None
        path = parse_path(attribute.scim_path)
        if path.is_reference:
            reference = _struct({"value": values}, length)
            nested.setdefault(path.schema or "", {})[path.attribute] = reference
        elif path.filter_attr is not None:
            top[path.attribute] = _filtered_item(values, path.filter_attr,
                                                 path.filter_value or "", path.sub or "value")
        elif path.schema is not None:
            nested.setdefault(path.schema, {})[path.attribute] = values
        elif path.sub is not None:
            nested.setdefault(path.attribute, {})[path.sub] = values
        else:
            top[path.attribute] = values
    manager = _wire_column(users, "manager")
    manager_key = (_wire_column(manager, "employeeId")
                   if manager is not None and not pa.types.is_null(manager.type) else manager)
    if manager_key is None or _present(manager_key) is None:
        return None
    if not pa.types.is_null(manager_key.type):
        nested.setdefault(GRAPH_EXTENSION, {})[MANAGER_KEY.rpartition(":")[2]] = _present(
            manager_key)
    for container, children in nested.items():
        if container in top:
            return None  # a SCIM path and a container of the same name: leave it to scim_user
        top[container] = _struct(children, length)
    ids = top.get("id")
    if ids is None or not _is_text(ids):
        return None
    schemas = pa.array([[CORE_USER, ENTERPRISE, GRAPH_EXTENSION]]).take(pa.array([0] * length))
    prefix = f"{graph_url.rstrip('/')}/users/"
    meta = pa.StructArray.from_arrays(
        [pa.repeat("User", length).cast(pa.string()),
         pc.binary_join_element_wise(pa.scalar(prefix), ids, "")],
        names=["resourceType", "location"], mask=pc.is_null(ids))
    return pa.StructArray.from_arrays([schemas, *top.values(), meta],
                                      names=["schemas", *top, "meta"])


def _filtered_item(values: Any, attribute: str, literal: str, sub: str) -> Any:
    """``[{attribute: literal, "primary": True, sub: value}]`` where a value is, else null."""
    present = pc.is_valid(values)
    kept = values.filter(present)
    item = pa.StructArray.from_arrays(
        [pa.repeat(literal, len(kept)).cast(pa.string()), pa.repeat(True, len(kept)), kept],
        names=[attribute, "primary", sub])
    counts = present.cast(pa.int32()).to_numpy(zero_copy_only=False)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts, dtype=np.int32)]), pa.int32())
    return pa.ListArray.from_arrays(offsets, item, mask=pc.invert(present))
