"""SCIM paths ↔ Microsoft Graph user properties, as data; Graph users → SCIM-shaped dicts.

Everything downstream of a snapshot speaks SCIM paths (``userName``, ``name.givenName``,
``urn:…:enterprise:2.0:User:employeeNumber``). Entra speaks Graph properties. Two tables say
which is which:

- ``GRAPH_ATTRIBUTES``, the *read* table (defined in ``recon.core.graph_users``, where a saved
  Graph export's reader reaches it too): which Graph property recon reads into which SCIM path
  (the snapshot, and ``$select``, derive from it). A mapping of the app whose SCIM attribute is
  not in it adds a row (``read_table``), so a custom attribute is read back where it is written.
- the app's attribute mappings (``AppMappings``, from ``target.entra.inbound.mappings`` or
  ``DEFAULT_MAPPINGS``): which SCIM attribute of an uploaded record the inbound provisioning
  app writes into which Graph property, whether always or only on creation, whether it computes
  the value itself (a generated userPrincipalName), and which pair matches records to users.

Only what the app writes, always, from the same property recon reads back, is *compared*
(``AppMappings.compared``): ``mail`` mastered by Exchange, or a userPrincipalName made from a
RandomString rule, would otherwise look like drift for ever.

Two properties have no SCIM core home and a naming clash worth a word: Graph ``employeeType``
(Employee, Contractor…) is SCIM core ``userType`` — as Entra's own SCIM API and the API-driven
inbound sample map it — while Graph ``userType`` (Member / Guest) is kept, with the other Graph
lifecycle and hybrid properties, under the ``urn:recon:graph`` extension: exclude guests with
``exclude: '[urn:recon:graph:userType] = "Guest"'``.

Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from recon.core.config import EntraInbound, EntraMapping
from recon.core.graph_users import (
    GRAPH_ATTRIBUTES,
    MANAGER,
    MANAGER_KEY,
    GraphAttribute,
    read_property,
    scim_user,
)
from recon.core.scim import ENTERPRISE, GRAPH_EXTENSION, get_path, parse_path

__all__ = ["GRAPH_ATTRIBUTES", "MANAGER", "MANAGER_KEY", "GraphAttribute", "read_property",
           "scim_user"]  # the read table lives in recon.core.graph_users (file exports use it)


MANAGER_EXPAND = "manager($select=id,employeeId)"
SYNCED = f"{GRAPH_EXTENSION}:onPremisesSyncEnabled"
"""True for a user synced from on-premises AD: the source of authority is AD, not Entra."""

#: Graph string properties with a documented maximum length (learn.microsoft.com/graph/api/
#: resources/user: "employeeId … The maximum length is 16 characters").
MAX_LENGTH = {"employeeid": 16}

#: What recon expects the app to write when the config names no mappings (docs/entra.md lists
#: them; Microsoft does not print the app's defaults, so check them with the job's schema).
DEFAULT_MAPPINGS: tuple[EntraMapping, ...] = (
    EntraMapping(source="externalId", target="employeeId", matching=True),
    EntraMapping(source="userName", target="userPrincipalName"),
    EntraMapping(source="active", target="accountEnabled"),
    EntraMapping(source="displayName", target="displayName"),
    EntraMapping(source="name.givenName", target="givenName"),
    EntraMapping(source="name.familyName", target="surname"),
    EntraMapping(source="title", target="jobTitle"),
    EntraMapping(source="userType", target="employeeType"),
    EntraMapping(source=f"{ENTERPRISE}:department", target="department"),
    EntraMapping(source=f"{ENTERPRISE}:manager", target="manager"),
    EntraMapping(source=f"{ENTERPRISE}:organization", target="companyName"),
    EntraMapping(source=f"{ENTERPRISE}:costCenter", target="employeeOrgData.costCenter"),
    EntraMapping(source=f"{ENTERPRISE}:division", target="employeeOrgData.division"),
)


def path_key(path: str) -> str:
    """A SCIM path as a comparison key: SCIM names are case-insensitive (RFC 7643 §2.1)."""
    parsed = parse_path(path)
    return f"{(parsed.schema or '').lower()}|{parsed.attribute.lower()}|" \
           f"{(parsed.filter_attr or '').lower()}|{(parsed.filter_value or '').lower()}|" \
           f"{(parsed.sub or '').lower()}"


_BY_SCIM = {path_key(a.scim_path): a for a in GRAPH_ATTRIBUTES}


def graph_property(scim_path: str) -> str | None:
    """The Graph property recon reads a SCIM path from (case-insensitive), or None."""
    attribute = _BY_SCIM.get(path_key(scim_path))
    return attribute.graph_property if attribute else None


@dataclass(frozen=True)
class AppMappings:
    """The inbound app's attribute mappings, and what follows from them for recon."""

    mappings: tuple[EntraMapping, ...]

    @cached_property
    def _by_source(self) -> dict[str, list[EntraMapping]]:
        found: dict[str, list[EntraMapping]] = {}
        for mapping in self.mappings:
            found.setdefault(path_key(mapping.source), []).append(mapping)
        return found

    @property
    def matching(self) -> EntraMapping:
        """The pair that moves a record: the only way bulkUpload finds an existing user."""
        return next(m for m in self.mappings if m.matching)

    def of(self, path: str) -> EntraMapping | None:
        """The mapping that writes a SCIM path into the property recon reads it back from (else
        the first one that writes from it), or None when the app ignores the path."""
        found = self._by_source.get(path_key(path), [])
        return next((m for m in found if self.reads_back(m)), found[0] if found else None)

    def read_table(self) -> tuple[GraphAttribute, ...]:
        """``GRAPH_ATTRIBUTES`` plus a row for each mapped SCIM path it does not read."""
        extra = {path_key(m.source): GraphAttribute(m.source, m.target) for m in self.mappings
                 if path_key(m.source) not in _BY_SCIM}
        return (*GRAPH_ATTRIBUTES, *extra.values())

    def reads_back(self, mapping: EntraMapping) -> bool:
        """Whether recon reads the mapping's SCIM path from the property the app writes."""
        read = graph_property(mapping.source) or mapping.target
        return read.lower() == mapping.target.lower()

    def compared(self, path: str, *, create: bool = False) -> bool:
        """Whether a SCIM path is compared with what Entra holds.

        ``active`` always is (accountEnabled is what a leaver is about). Otherwise only paths
        the app writes into the property recon reads back, and not a generated value; a
        create-only mapping counts for a create (``create``) and not afterwards.
        """
        if path_key(path) == path_key("active"):
            return True
        mapping = self.of(path)
        if mapping is None or mapping.generated or not self.reads_back(mapping):
            return False
        return create or mapping.apply == "always"

    def why_not_compared(self, path: str) -> str:
        """In a few words, why a SCIM path is not compared (for reasons and reports)."""
        mapping = self.of(path)
        if mapping is None:
            return "not written by the Entra app"
        if mapping.generated:
            return f"{mapping.target} is generated by the Entra app"
        if not self.reads_back(mapping):
            return f"written to {mapping.target}, read from {graph_property(path)}"
        return "written on creation only"

    def flow_null_paths(self) -> list[str]:
        """SCIM paths whose omission from a record clears the Graph property ("flow null")."""
        return [m.source for m in self.mappings if m.flow_null]

    def too_long(self, record: Mapping[str, Any]) -> list[str]:
        """Values of a record longer than the Graph property they go to can hold."""
        problems = []
        for mapping in self.mappings:
            limit = MAX_LENGTH.get(mapping.target.lower())
            value = get_path(dict(record), mapping.source)
            if limit is not None and value is not None and len(str(value)) > limit:
                problems.append(f"{mapping.target} holds at most {limit} characters; "
                                f"{mapping.source} {str(value)!r} has {len(str(value))}")
        return problems


def app_mappings(inbound: EntraInbound | None) -> AppMappings:
    """The configured mappings of the inbound app, or recon's defaults."""
    given = inbound.mappings if inbound is not None else None
    return AppMappings(tuple(given) if given is not None else DEFAULT_MAPPINGS)


def graph_select(table: Iterable[GraphAttribute] = GRAPH_ATTRIBUTES) -> list[str]:
    """``$select`` for ``/users``: every Graph property of the table (manager comes by $expand)."""
    names = dict.fromkeys(a.select for a in table if a.select != "manager")
    return list(names)
