"""What a SCIM target supports: its profile first, then its ServiceProviderConfig.

RFC 7644 §4 (``/ServiceProviderConfig``) and RFC 9865 §4 (its ``pagination`` block), read
leniently: real targets omit required blocks and send booleans as strings. A provider's
documented behaviour (recon.targets.scim_profiles) wins over what its configuration claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recon.targets.scim_profiles import GENERIC, Profile

if TYPE_CHECKING:  # scim2-models takes a second to import: only discovery needs it
    from scim2_models import ResourceType, Schema, ServiceProviderConfig


@dataclass(frozen=True)
class Discovery:
    """What the target supports: its profile first, then what it says (RFC 7644 §4, RFC 9865 §4).

    ``config`` is None for a target that serves no ServiceProviderConfig (or whose profile says
    it has none): then Bulk and ETags are off, filters and PATCH assumed, paging by index.
    """

    config: ServiceProviderConfig | None
    resource_types: list[ResourceType] = field(default_factory=list)
    schemas: list[Schema] = field(default_factory=list)
    profile: Profile = GENERIC

    @property
    def bulk(self) -> bool:
        if self.profile.bulk is not None:
            return self.profile.bulk
        return bool(self.config and self.config.bulk and self.config.bulk.supported)

    @property
    def bulk_max_operations(self) -> int:
        value = self.config.bulk.max_operations if self.config and self.config.bulk else None
        return int(value) if value else 0

    @property
    def bulk_max_payload(self) -> int:
        value = self.config.bulk.max_payload_size if self.config and self.config.bulk else None
        return int(value) if value else 0

    @property
    def etag(self) -> bool:
        if self.profile.etag is not None:
            return self.profile.etag
        return bool(self.config and self.config.etag and self.config.etag.supported)

    @property
    def filter(self) -> bool:
        if self.config is None:
            return True
        return bool(self.config.filter and self.config.filter.supported)

    @property
    def filter_max_results(self) -> int | None:
        value = self.config.filter.max_results if self.config and self.config.filter else None
        return int(value) if value else None

    @property
    def patch(self) -> bool:
        if self.config is None:
            return True
        return bool(self.config.patch and self.config.patch.supported)

    @property
    def sort(self) -> bool:
        return bool(self.config and self.config.sort and self.config.sort.supported)

    @property
    def cursor(self) -> bool:
        """Page by cursor (RFC 9865): the profile says so, or the target offers it."""
        if self.profile.paging is not None:
            return self.profile.paging == "cursor"
        pagination = self.config.pagination if self.config else None
        return bool(pagination and pagination.cursor)

    @property
    def max_page_size(self) -> int | None:
        pagination = self.config.pagination if self.config else None
        caps = [self.profile.max_page_size, pagination.max_page_size if pagination else None]
        known = [int(cap) for cap in caps if cap]
        return min(known) if known else None

    @property
    def patch_style(self) -> str:
        """How updates are sent (recon.targets.scim_requests): the profile's, else by PATCH."""
        if self.profile.patch_style is not None:
            return self.profile.patch_style
        return "path_filter" if self.patch else "put"


def lenient_config(data: dict[str, Any]) -> dict[str, Any]:
    """Real targets omit required blocks of ServiceProviderConfig; absent means unsupported."""
    fixed = dict(data)
    for block in ("patch", "bulk", "filter", "changePassword", "sort", "etag"):
        value = fixed.get(block)
        if not isinstance(value, dict):
            fixed[block] = {"supported": False}
        elif "supported" in value:
            fixed[block] = {**value, "supported": _truthy(value["supported"])}
    pagination = fixed.get("pagination")
    if isinstance(pagination, dict):
        fixed["pagination"] = {**pagination, **{key: _truthy(pagination.get(key))
                                                for key in ("cursor", "index")}}
    elif pagination is not None:
        fixed.pop("pagination")
    return fixed


def _truthy(value: Any) -> bool:
    """Booleans as real targets send them: true, "True", "true", 1."""
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)
