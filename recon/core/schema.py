"""Which SCIM attribute paths a target has: the config's paths are checked before any work.

A misspelt attribute in ``attributes:`` (``titel:``) would otherwise plan hundreds of "drift"
ops that fail only at push. ``TargetSchema`` knows the attributes of a target: RFC 7643's core
User (§4.1) and enterprise extension (§4.3) by default, the target's own ``/Schemas`` when it
offers them (RFC 7644 §4), or the Graph property map for Entra. ``unknown_paths`` names every
config path the target does not have, with the closest valid path.

Custom extension attributes are allowed by naming their schema in ``target.extensions``:
every attribute under a listed URN is accepted as written.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from recon.core.config import Config
from recon.core.scim import CORE_USER, ENTERPRISE, GRAPH_EXTENSION, Path, parse_path
from recon.errors import ConfigError

# RFC 7643 §4.1 (User), §3.1 (common attributes): attribute → its sub-attributes (empty: simple).
_MULTI = ("value", "display", "type", "primary")
RFC7643_USER: dict[str, tuple[str, ...]] = {
    "id": (), "externalId": (), "meta": ("resourceType", "created", "lastModified", "location",
                                         "version"),
    "userName": (),
    "name": ("formatted", "familyName", "givenName", "middleName", "honorificPrefix",
             "honorificSuffix"),
    "displayName": (), "nickName": (), "profileUrl": (), "title": (), "userType": (),
    "preferredLanguage": (), "locale": (), "timezone": (), "active": (), "password": (),
    "emails": _MULTI, "phoneNumbers": _MULTI, "ims": _MULTI, "photos": _MULTI,
    "addresses": ("formatted", "streetAddress", "locality", "region", "postalCode", "country",
                  "type", "primary"),
    "groups": ("value", "$ref", "display", "type"), "entitlements": _MULTI, "roles": _MULTI,
    "x509Certificates": _MULTI,
}
# RFC 7643 §4.3: the enterprise User extension.
RFC7643_ENTERPRISE: dict[str, tuple[str, ...]] = {
    "employeeNumber": (), "costCenter": (), "organization": (), "division": (), "department": (),
    "manager": ("value", "$ref", "displayName"),
}
#: Multi-valued attributes: addressed by a value filter (``emails[type eq "work"].value``).
MULTI_VALUED = frozenset({"emails", "phonenumbers", "ims", "photos", "addresses", "groups",
                          "entitlements", "roles", "x509certificates"})


@dataclass(frozen=True)
class TargetSchema:
    """The attributes a target has, per schema URN: ``{urn: {attribute: sub-attributes}}``."""

    attributes: Mapping[str, Mapping[str, tuple[str, ...]]]
    source: str  # where the schema came from, for the message: "RFC 7643", "/Schemas", …
    open_schemas: frozenset[str] = field(default_factory=frozenset)  # any attribute accepted
    #: Whole paths a target names explicitly (Entra's map): only these, when given.
    exact_paths: frozenset[str] | None = None

    @classmethod
    def rfc7643(cls, extensions: Iterable[str] = ()) -> TargetSchema:
        return cls({CORE_USER: RFC7643_USER, ENTERPRISE: RFC7643_ENTERPRISE}, "RFC 7643",
                   frozenset(urn.lower() for urn in extensions))

    @classmethod
    def of_paths(cls, paths: Iterable[str], source: str,
                 extensions: Iterable[str] = ()) -> TargetSchema:
        """A schema that is exactly a list of paths (Entra: the Graph properties recon maps)."""
        return cls({}, source, frozenset(urn.lower() for urn in extensions),
                   frozenset(_key(p) for p in paths))

    @classmethod
    def from_scim(cls, schemas: Iterable[Mapping[str, Any]],
                  extensions: Iterable[str] = ()) -> TargetSchema:
        """The schema of a target's ``/Schemas`` resources (RFC 7643 §7)."""
        found: dict[str, dict[str, tuple[str, ...]]] = {}
        for schema in schemas:
            urn = str(schema.get("id") or "")
            if not urn:
                continue
            found[urn] = {
                str(a.get("name")): tuple(str(s.get("name")) for s in a.get("subAttributes") or []
                                          if isinstance(s, Mapping))
                for a in schema.get("attributes") or [] if isinstance(a, Mapping) and a.get("name")
            }
        if CORE_USER not in found:
            return cls.rfc7643(extensions)
        found[CORE_USER] = {**{k: v for k, v in RFC7643_USER.items()
                               if k in ("id", "externalId", "meta")}, **found[CORE_USER]}
        return cls(found, "the target's /Schemas", frozenset(u.lower() for u in extensions))

    def valid_paths(self) -> list[str]:
        """Every path this schema knows, in the config's notation (for suggestions)."""
        if self.exact_paths is not None:
            return sorted(self.exact_paths)
        paths = []
        for urn, attributes in self.attributes.items():
            prefix = "" if urn == CORE_USER else f"{urn}:"
            for name, subs in attributes.items():
                if name.lower() in MULTI_VALUED and "value" in subs:
                    paths.append(f'{prefix}{name}[type eq "work"].value')
                elif subs and name.lower() != "manager":
                    paths += [f"{prefix}{name}.{sub}" for sub in subs]
                else:
                    paths.append(f"{prefix}{name}")
        return sorted(paths)

    def has(self, text: str) -> bool:
        path = parse_path(text)
        schema = (path.schema or CORE_USER).lower()
        if schema in self.open_schemas or (schema == GRAPH_EXTENSION.lower() and (
                self.exact_paths is None)):
            return True
        if self.exact_paths is not None:
            return _key(text) in self.exact_paths
        attributes = next((a for urn, a in self.attributes.items() if urn.lower() == schema), None)
        if attributes is None:
            return False
        subs = next((s for name, s in attributes.items()
                     if name.lower() == path.attribute.lower()), None)
        if subs is None:
            return False
        return _sub_ok(path, subs)


def _sub_ok(path: Path, subs: tuple[str, ...]) -> bool:
    lowered = {s.lower() for s in subs}
    if path.filter_attr is not None:
        return path.filter_attr.lower() in lowered and (
            path.sub is None or path.sub.lower() in lowered)
    if path.sub is not None:
        return path.sub.lower() in lowered
    return True  # a whole attribute (manager, or a complex one written as an object)


def _key(text: str) -> str:
    """A path compared case-insensitively, its schema spelt in full."""
    path = parse_path(text)
    schema = (path.schema or CORE_USER).lower()
    rest = path.attribute
    if path.filter_attr is not None:
        rest += f'[{path.filter_attr} eq "{path.filter_value}"]'
    if path.sub is not None:
        rest += f".{path.sub}"
    return f"{schema}:{rest}".lower()


def closest(text: str, choices: Iterable[str]) -> str | None:
    """The valid path closest to a misspelt one (compared without the schema URN too)."""
    options = list(choices)
    short = {option.rsplit(":", 1)[-1].lower(): option for option in options}
    found = difflib.get_close_matches(text.rsplit(":", 1)[-1].lower(), list(short), n=1,
                                      cutoff=0.6)
    if found:
        return short[found[0]]
    whole = difflib.get_close_matches(text, options, n=1, cutoff=0.6)
    return whole[0] if whole else None


def unknown_paths(paths: Mapping[str, str], schema: TargetSchema) -> list[tuple[str, str, str]]:
    """``(where, path, suggestion)`` for each config path the target does not have.

    ``paths`` maps where a path stands in the config (``attributes.titel``) to the path."""
    valid = schema.valid_paths()
    problems = []
    for where, text in paths.items():
        if not schema.has(text):
            problems.append((where, text, closest(text, valid) or ""))
    return problems


def config_paths(config: Config) -> dict[str, str]:
    """Every target attribute path the config names, keyed by where it stands in the file."""
    from recon.core.expressions import compile_expression

    paths = {f"attributes.{path}": path for path in config.attributes}
    paths.update({f"match.{n}.target": rule.target for n, rule in enumerate(config.match)})
    if config.target.exclude:
        for column in sorted(compile_expression(config.target.exclude).columns):
            paths[f"target.exclude [{column}]"] = column
    return paths


def check_target_paths(config: Config, schema: TargetSchema) -> None:
    """ConfigError naming the line, the path and the closest valid one, for the first config
    path the target does not have."""
    problems = unknown_paths(config_paths(config), schema)
    if not problems:
        return
    where, path, suggestion = problems[0]
    hint = f"; did you mean {suggestion!r}?" if suggestion else ""
    more = f" ({len(problems) - 1} more like it)" if len(problems) > 1 else ""
    key = where.split(" [", 1)[0]
    raise ConfigError(
        f"{config.where(key)}: {where}: {path!r} is not an attribute of the target "
        f"({schema.source}){hint}{more} (a custom extension's attributes are allowed by "
        f"listing its schema URN in target.extensions)")
