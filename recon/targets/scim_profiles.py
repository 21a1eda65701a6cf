"""SCIM service providers' documented quirks, as named profiles (``target.scim.profile``).

A profile is data: what a provider's own SCIM documentation says it does where it departs from
RFC 7644 — Bulk, paging, which attributes a filter may name, how PATCH must be shaped, whether
ETags are honoured, its rate limit, and the attributes it ignores. docs/providers.md is the
table with sources; each profile below names the provider's pages.

``None`` means "not documented": the value is then taken from the target's
``/ServiceProviderConfig`` where the provider serves one (RFC 7644 §4, RFC 9865 §4), else the
safe choice (no Bulk, no ETag, index paging). The plan never sees a profile: it stays
provider-neutral, and the push shapes each approved op's request for the profile at send time
(recon.targets.scim_requests).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from recon.core.config import ScimTarget
from recon.core.scim import ENTERPRISE, parse_path

PatchStyle = Literal["path_filter", "value_object", "put"]
Paging = Literal["index", "cursor"]
#: The three ways to send an update (docs/providers.md "PATCH styles").
PATCH_STYLES: tuple[PatchStyle, ...] = ("path_filter", "value_object", "put")


@dataclass(frozen=True)
class Profile:
    """What recon assumes about one SCIM service provider (None: discover, or the safe default).

    - ``url_pattern``: what the provider's SCIM base URL looks like (for error messages).
    - ``discovery``: the provider serves ``/ServiceProviderConfig``.
    - ``bulk``, ``etag``: Bulk requests and ``If-Match`` may be used.
    - ``paging``: ``index`` (startIndex/count) or ``cursor`` (RFC 9865).
    - ``page_size``: asked per page; ``max_page_size``: the documented cap.
    - ``filter_attributes``: attributes ``eq`` filters may name (None: any); a look-up by
      another attribute reads the listing and compares in recon instead.
    - ``case_exact_eq``: ``eq`` compares case-sensitively, even on userName and e-mails.
    - ``patch_style``: ``path_filter`` (RFC 7644 paths such as ``emails[type eq "work"].value``),
      ``value_object`` (no filtered paths: a multi-valued attribute is replaced whole, in a
      value object without a path) or ``put`` (the whole resource, re-read and changed).
    - ``requests_per_second``: pacing of every request (None: unpaced; 429s are honoured).
    - ``only_attributes``: the attributes the provider stores (None: any);
      ``ignored_attributes``: paths (or path prefixes) it ignores or rejects.
    """

    name: str
    title: str
    docs: tuple[str, ...] = ()
    url_pattern: str | None = None
    discovery: bool = True
    bulk: bool | None = None
    etag: bool | None = None
    paging: Paging | None = None
    page_size: int | None = None
    max_page_size: int | None = None
    filter_attributes: frozenset[str] | None = None
    case_exact_eq: bool | None = None
    patch_style: PatchStyle | None = None
    requests_per_second: float | None = None
    only_attributes: frozenset[str] | None = None
    ignored_attributes: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def can_filter(self, attribute: str) -> bool:
        """Whether an ``eq`` filter may name ``attribute`` (names compare case-insensitively)."""
        if self.filter_attributes is None:
            return True
        return attribute.lower() in {name.lower() for name in self.filter_attributes}

    def ignored(self, paths: list[str]) -> list[str]:
        """The attribute paths among ``paths`` that the provider ignores or rejects."""
        stored = None if self.only_attributes is None else {
            name.lower() for name in self.only_attributes}

        def ignored(path: str) -> bool:
            parsed = parse_path(path)
            top = (parsed.schema or parsed.attribute).lower()
            return (stored is not None and top not in stored) or any(
                path.lower().startswith(prefix.lower()) for prefix in self.ignored_attributes)

        return [path for path in paths if ignored(path)]


GENERIC = Profile(
    name="generic",
    title="Any RFC 7644 service provider (capabilities from /ServiceProviderConfig)",
    docs=("https://datatracker.ietf.org/doc/html/rfc7644",
          "https://www.rfc-editor.org/rfc/rfc9865.html"),
)

AWS_IDENTITY_CENTER = Profile(
    name="aws_identity_center",
    title="AWS IAM Identity Center",
    url_pattern="https://scim.<region>.amazonaws.com/<tenant id>/scim/v2",
    docs=("https://docs.aws.amazon.com/singlesignon/latest/developerguide/what-is-scim.html",
          "https://docs.aws.amazon.com/singlesignon/latest/developerguide/listusers.html",
          "https://docs.aws.amazon.com/singlesignon/latest/developerguide/limitations.html",
          "https://docs.aws.amazon.com/singlesignon/latest/developerguide/patchuser.html"),
    bulk=False,
    etag=False,
    paging="cursor",
    page_size=100,
    max_page_size=100,
    filter_attributes=frozenset({"userName", "externalId", "displayName", "id"}),
    patch_style="path_filter",
    ignored_attributes=("password", "ims", "photos", "entitlements", "x509Certificates",
                        f"{ENTERPRISE}:manager.displayName"),
    notes=("startIndex is not supported: pages follow nextCursor; totalResults is absent in "
           "cursor mode",
           "one value only in emails, phoneNumbers and addresses",
           "at most 100 member changes per group PATCH (groups.chunk_size: 100)",
           "GetGroup/ListGroups return no members"),
)

GITHUB_EMU = Profile(
    name="github_emu",
    title="GitHub Enterprise Managed Users",
    url_pattern="https://api.github.com/scim/v2/enterprises/<enterprise>",
    docs=("https://docs.github.com/en/enterprise-cloud@latest/rest/enterprise-admin/scim",
          "https://docs.github.com/en/enterprise-cloud@latest/admin/managing-iam/"
          "provisioning-user-accounts-with-scim/"
          "provisioning-users-and-groups-with-scim-using-the-rest-api",
          "https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api"),
    discovery=False,
    bulk=False,
    etag=False,
    paging="index",
    page_size=100,
    filter_attributes=frozenset({"userName", "externalId", "id", "displayName"}),
    patch_style="value_object",
    requests_per_second=5000 / 3600,
    only_attributes=frozenset({"schemas", "userName", "name", "displayName", "emails", "roles",
                               "externalId", "active"}),
    notes=("PATCH paths with filters are ineffective; value objects without a path work",
           "no /ServiceProviderConfig, no /Bulk; the setup user's PAT (scim:enterprise)",
           "DELETE is a hard deprovision; active=false suspends",
           "do not provision more than 1,000 users per hour"),
)

SLACK = Profile(
    name="slack",
    title="Slack (SCIM API v2)",
    url_pattern="https://api.slack.com/scim/v2",
    docs=("https://docs.slack.dev/admins/scim-api",
          "https://docs.slack.dev/reference/scim-api",
          "https://docs.slack.dev/reference/scim-api/rate-limits",
          "https://api.slack.com/changelog/2019-06-have-scim-will-paginate"),
    bulk=False,
    etag=False,
    paging="index",
    page_size=1000,
    max_page_size=1000,
    filter_attributes=frozenset({"userName"}),
    patch_style="value_object",
    requests_per_second=10.0,
    notes=("a count above 1000 is served as 1000; the default page is 10",
           "rate limits are organisation-wide, shared by every SCIM app: 600 writes and "
           "1000 reads per minute",
           "DELETE /Users/{id} deactivates; users are never hard-deleted"),
)

ATLASSIAN = Profile(
    name="atlassian",
    title="Atlassian Cloud (Atlassian Guard user provisioning)",
    url_pattern="https://api.atlassian.com/scim/directory/<directory id>",
    docs=("https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/",
          "https://developer.atlassian.com/cloud/admin/user-provisioning/rest/api-group-users/",
          "https://support.atlassian.com/atlassian-cloud/kb/"
          "how-to-fetch-all-users-via-user-provisioning-scim-api/"),
    bulk=False,
    paging="index",
    page_size=100,
    max_page_size=100,
    filter_attributes=frozenset({"userName", "externalId", "displayName"}),
    patch_style="value_object",
    notes=("a single eq filter on userName or externalId (displayName for groups)",
           "e-mails must be on a verified domain; a duplicate is 409",
           "DELETE unlinks and deactivates irreversibly: prefer active=false"),
)

ZOOM = Profile(
    name="zoom",
    title="Zoom (SCIM2 API)",
    url_pattern="https://api.zoom.us/scim2",
    docs=("https://developers.zoom.us/docs/api/scim2/",
          "https://developers.zoom.us/docs/api/rate-limits/"),
    discovery=False,
    bulk=False,
    etag=False,
    paging="index",
    page_size=100,
    filter_attributes=frozenset({"userName"}),
    patch_style="put",
    requests_per_second=60.0,
    ignored_attributes=("externalId",),
    notes=("PATCH only (de)activates a user; other changes go by PUT",
           "externalId is Zoom's own user id, not the HR key",
           "OAuth access tokens are short-lived: refresh token_env before a long run"),
)

PROFILES: dict[str, Profile] = {profile.name: profile for profile in (
    GENERIC, AWS_IDENTITY_CENTER, GITHUB_EMU, SLACK, ATLASSIAN, ZOOM)}


def profile_for(target: ScimTarget) -> Profile:
    """The named profile with the config's overrides (page size, PATCH style, pacing) applied."""
    profile = PROFILES[target.profile]
    if target.page_size is not None:
        profile = replace(profile, page_size=target.page_size)
    if target.patch_style is not None:
        profile = replace(profile, patch_style=target.patch_style)
    if target.requests_per_second is not None:
        profile = replace(profile, requests_per_second=target.requests_per_second or None)
    return profile
