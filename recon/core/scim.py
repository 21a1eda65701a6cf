"""SCIM's vocabulary, defined once: every schema URN recon uses and the attribute-path grammar.

A path is what the config's ``attributes:`` keys hold (RFC 7644 §3.5.2 ``attrPath`` /
``valuePath``): ``userName``, ``name.givenName``, ``emails[type eq "work"].value``,
``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber``. Attribute names
are case-insensitive (RFC 7643 §2.1). The URNs are those of scim2-models' classes
(``PatchOp.__schema__`` …; a test checks them), spelled here so the hot path need not import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# RFC 7643 §8.7.1 (core User and Group), §4.3 (enterprise extension)
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# RFC 7644 §3.4.2 (ListResponse), §3.5.2 (PatchOp), §3.7 (Bulk), §3.12 (Error)
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
#: Graph properties that SCIM has no name for, read under this extension (recon.targets.entra).
GRAPH_EXTENSION = "urn:recon:graph"

_VALUE_FILTER = re.compile(
    r'^(?P<attr>[\w$-]+)\[(?P<sub>[\w$-]+)\s+eq\s+"(?P<value>[^"]*)"\](?:\.(?P<rest>[\w$-]+))?$',
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Path:
    """A parsed SCIM path: optional schema URN, attribute, value filter, sub-attribute."""

    schema: str | None
    attribute: str
    filter_attr: str | None = None
    filter_value: str | None = None
    sub: str | None = None

    @property
    def is_reference(self) -> bool:
        return self.schema == ENTERPRISE and self.attribute.lower() == "manager"


def parse_path(text: str) -> Path:
    schema: str | None = None
    rest = text.strip()
    if is_schema(rest):
        schema, _, rest = rest.rpartition(":")
        if schema.lower() == CORE_USER.lower():
            schema = None
    if match := _VALUE_FILTER.match(rest):
        return Path(schema, match["attr"], match["sub"], match["value"], match["rest"])
    attribute, _, sub = rest.partition(".")
    return Path(schema, attribute, sub=sub or None)


def _get_ci(mapping: dict[str, Any], key: str) -> Any:
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    for name, value in mapping.items():
        if name.lower() == lowered:
            return value
    return None


def _container(resource: dict[str, Any], path: Path) -> Any:
    if path.schema is None:
        return resource
    return _get_ci(resource, path.schema)


def get_path(resource: dict[str, Any], text: str | Path) -> Any:
    """The value at a SCIM path, or None. ``manager`` yields the manager's id."""
    path = parse_path(text) if isinstance(text, str) else text
    container = _container(resource, path)
    if not isinstance(container, dict):
        return None
    value = _get_ci(container, path.attribute)
    if path.filter_attr is not None:
        if not isinstance(value, list):
            return None
        chosen = [
            item
            for item in value
            if isinstance(item, dict)
            and str(_get_ci(item, path.filter_attr)).lower() == (path.filter_value or "").lower()
        ]
        if not chosen:
            return None
        value = chosen[0]
    if path.sub is not None:
        return _get_ci(value, path.sub) if isinstance(value, dict) else None
    if path.is_reference and isinstance(value, dict):
        return _get_ci(value, "value")
    return value


def set_path(resource: dict[str, Any], text: str | Path, value: Any) -> None:
    """Write a value at a SCIM path, creating containers and the filtered item as needed."""
    path = parse_path(text) if isinstance(text, str) else text
    container: dict[str, Any] = resource
    if path.schema is not None:
        container = resource.setdefault(path.schema, {})
    if path.is_reference:
        container[path.attribute] = {"value": value}
        return
    if path.filter_attr is not None:
        items: list[dict[str, Any]] = container.setdefault(path.attribute, [])
        for item in items:
            if str(item.get(path.filter_attr, "")).lower() == (path.filter_value or "").lower():
                break
        else:
            item = {path.filter_attr: path.filter_value}
            if not items:
                item["primary"] = True
            items.append(item)
        item[path.sub or "value"] = value
        return
    if path.sub is not None:
        container.setdefault(path.attribute, {})[path.sub] = value
        return
    container[path.attribute] = value


#: ``active`` values real targets send for "no" (RFC 7643 says boolean; some send strings).
INACTIVE_WORDS = frozenset({"false", "0", "no"})


def is_active(value: Any) -> bool:
    """SCIM ``active`` read leniently: missing is True; "False"/"0"/"no" (any case) are False."""
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    # Anything else as its text, as the column form (recon.core.same) reads it: 0 is "0".
    return str(value).strip().lower() not in INACTIVE_WORDS


def is_schema(key: str) -> bool:
    """A resource key that names a schema extension (``urn:…``) rather than an attribute."""
    return key.lower().startswith("urn:")


def child_path(key: str, sub: str) -> str:
    """The path of ``sub`` under a resource key: ``urn:…:User:department``, ``name.givenName``."""
    return f"{key}:{sub}" if is_schema(key) else f"{key}.{sub}"


def case_insensitive(text: str) -> bool:
    """userName and e-mail values are not case-exact (RFC 7643 §4.1.1, §4.1.2)."""
    path = parse_path(text)
    return path.attribute.lower() in {"username", "emails"}


def bulk_request(operations: list[dict[str, Any]], *,
                 fail_on_errors: int | None = None) -> dict[str, Any]:
    """A SCIM BulkRequest (RFC 7644 §3.7) around ``operations``; ``failOnErrors`` when given."""
    body: dict[str, Any] = {"schemas": [BULK_REQUEST], "Operations": operations}
    if fail_on_errors is not None:
        body["failOnErrors"] = fail_on_errors
    return body
