"""Provisioning logs (``GET /auditLogs/provisioning``): what the inbound job did with each record.

Each ``provisioningObjectSummary`` (learn.microsoft.com/graph/api/resources/
provisioningobjectsummary) says what the job did (create, update, disable, other), how it
ended (success, failure, skipped), and, step by step (``provisioningSteps``: import, scoping,
matching, processing, export), why. A step may carry a ``SkipReason`` even when the entry as a
whole succeeded: a manager the job could not resolve leaves the user without a manager, and the
entry says ``success`` (Microsoft's published API2AAD log sample). ``plain_words`` says those
codes as an administrator would.

The logs filter only with ``eq``, ``contains``, ``gt`` and ``lt`` (learn.microsoft.com/graph/
api/provisioningobjectsummary-list), so "since the push" is ``activityDateTime gt …``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recon.core.config import EntraTarget
from recon.targets.entra.credentials import graph_endpoint
from recon.targets.entra.graph import graph_errors, open_session, pages, run_sync

LOG_PAGE_SIZE = 500

#: Error codes and skip reasons (howto-analyze-provisioning-logs, the inbound API issues page,
#: the log sample) → what they mean for the worker, in words.
PLAIN_WORDS = {
    "UnableToResolveReferenceAttributeValue":
        "the manager was not set: the job had not processed the manager's record before this "
        "one (reconcile and push again: recon sends the manager's record first)",
    "NotEffectivelyEntitled":
        "nothing was created: the record is inactive and no Entra user has its matching "
        "attribute",
    "ImportSkipped": "the record has no value for the app's matching attribute",
    "DuplicateTargetEntries": "several Entra users hold this matching attribute value",
    "DuplicateSourceEntries": "several records carry this matching attribute value",
    "EntryConflict": "another object already holds a unique value of this record "
                     "(often the userPrincipalName)",
    "MandatoryFieldsMissing": "a value Entra needs to create the user is missing",
    "AzureActiveDirectoryCannotUpdateObjectsOriginatedInExternalService":
        "the user is synced from on-premises AD; change it there, a cloud-only job cannot",
    "AzureActiveDirectoryInvalidUserPrincipalName":
        "the userPrincipalName is not valid (or its domain is not verified in the tenant)",
    "InvalidDomain": "the userPrincipalName's domain is not a verified domain of the tenant",
}


def plain_words(code: str, detail: str = "") -> str:
    """A log code as a sentence; the code stays in brackets for a search or a support case."""
    words = PLAIN_WORDS.get(code)
    said = f"{code}: {detail}".strip(": ") if code else detail
    return said if words is None else f"{words} ({said})"


@dataclass(frozen=True)
class LogEntry:
    """The parts of a ``provisioningObjectSummary`` that verify needs."""

    id: str
    activity: str  # ISO UTC
    job_id: str
    change_id: str
    action: str  # create | update | delete | disable | other …
    status: str  # success | warning | failure | skipped
    source_id: str  # the record's matching attribute value (e.g. the externalId)
    target_id: str  # the Entra user's object id
    error_code: str
    reason: str
    skip_reasons: tuple[tuple[str, str], ...] = field(default=())  # (property, SkipReason)
    modified: tuple[str, ...] = field(default=())  # names of modifiedProperties

    def explained(self) -> str:
        """Why this entry matters, in words: the failure, else the skip reasons."""
        if self.error_code or self.reason:
            return plain_words(self.error_code, self.reason)
        return "; ".join(f"{prop + ': ' if prop else ''}{plain_words(code)}"
                         for prop, code in self.skip_reasons)


def log_entry(summary: dict[str, Any]) -> LogEntry:
    status_info = summary.get("provisioningStatusInfo") or {}
    # provisioningstatusinfo.md names it errorInfo; every example sends errorInformation.
    error = status_info.get("errorInformation") or status_info.get("errorInfo") or {}
    skips = []
    for step in summary.get("provisioningSteps") or []:
        details = step.get("details") or {}
        if details.get("SkipReason"):
            skips.append((str(details.get("PropertyName") or ""), str(details["SkipReason"])))
    return LogEntry(
        id=str(summary.get("id") or ""),
        activity=str(summary.get("activityDateTime") or ""),
        job_id=str(summary.get("jobId") or ""),
        change_id=str(summary.get("changeId") or ""),
        action=str(summary.get("provisioningAction") or ""),
        status=str(status_info.get("status") or ""),
        source_id=str((summary.get("sourceIdentity") or {}).get("id") or ""),
        target_id=str((summary.get("targetIdentity") or {}).get("id") or ""),
        error_code=str(error.get("errorCode") or ""),
        reason=str(error.get("reason") or ""),
        skip_reasons=tuple(skips),
        modified=tuple(str(m.get("displayName") or "")
                       for m in summary.get("modifiedProperties") or []),
    )


def provisioning_logs(target: EntraTarget, job_id: str, since: str, *,
                      credential: Any | None = None) -> list[LogEntry]:
    """``/auditLogs/provisioning`` entries of one job after ``since`` (ISO UTC), paged.

    Reports APIs allow about 5 requests per 10 s (learn.microsoft.com/graph/throttling-limits);
    the SDK's retry handler waits out the 429s, and pages are large so a verify needs few calls.
    """
    endpoint = graph_endpoint(target)
    quoted_job = job_id.replace("'", "''")

    async def read() -> list[LogEntry]:
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.audit_logs.provisioning.provisioning_request_builder import (
            ProvisioningRequestBuilder,
        )

        session = open_session(target, credential)
        try:
            with graph_errors(endpoint):
                query = ProvisioningRequestBuilder.ProvisioningRequestBuilderGetQueryParameters(
                    filter=f"jobId eq '{quoted_job}' and activityDateTime gt {since}",
                    top=LOG_PAGE_SIZE)
                summaries = await pages(session, session.client.audit_logs.provisioning,
                                        RequestConfiguration(query_parameters=query),
                                        lambda _: None)
                return [log_entry(summary) for summary in summaries]
        finally:
            await session.http.aclose()

    return run_sync(read)
