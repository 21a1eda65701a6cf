"""The inbound provisioning job (status, schema) and the one direct write: linking an account.

- ``job_status``: ``GET /servicePrincipals/{id}/synchronization/jobs/{jobId}``. A paused or
  quarantined job still answers bulkUpload with 202 and then logs nothing (learn.microsoft.com/
  entra/identity/app-provisioning/inbound-provisioning-api-issues), so a push asks first.
- ``schema_differences``: ``GET …/jobs/{jobId}/schema`` against the config's mappings; the
  app, not recon, decides what is written (…/synchronization-synchronizationschema-get).
- ``link_accounts``: ``PATCH /users/{id}`` with the matching property (employeeId) through
  msgraph-sdk. bulkUpload finds an existing user *only* by its matching attribute, so an
  account recon matched another way must carry it before any record can reach it. Needs
  ``User.ReadWrite.All``; Graph refuses it for users synced from on-premises AD.

Permissions: ``Synchronization.Read.All`` for the job and its schema (learn.microsoft.com/graph/
api/synchronization-synchronizationjob-get), ``User.ReadWrite.All`` for the link
(learn.microsoft.com/graph/api/user-update).
"""

from __future__ import annotations

from typing import Any

from recon.core.config import EntraMapping, EntraTarget
from recon.errors import ConfigError
from recon.targets.entra.credentials import graph_endpoint
from recon.targets.entra.graph import describe_error, graph_errors, open_session, page_of, run_sync
from recon.targets.entra.mapping import app_mappings, path_key

JOB_READY = "Active"


def _job_builder(session: Any, target: EntraTarget) -> Any:
    if target.inbound is None:
        raise ConfigError("target.entra.inbound (service_principal_id, job_id) is needed to "
                          "push to Entra through API-driven inbound provisioning")
    return (session.client.service_principals
            .by_service_principal_id(target.inbound.service_principal_id)
            .synchronization.jobs.by_synchronization_job_id(target.inbound.job_id))


def read_job(target: EntraTarget, *, schema: bool = False,
             credential: Any | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The job (wire JSON) and, when asked, its synchronizationSchema."""
    endpoint = graph_endpoint(target)

    async def read() -> tuple[dict[str, Any], dict[str, Any] | None]:
        session = open_session(target, credential)
        try:
            builder = _job_builder(session, target)
            with graph_errors(endpoint):
                job = await page_of(session, builder)
                found = await page_of(session, builder.schema) if schema else None
            return job, found
        finally:
            await session.http.aclose()

    return run_sync(read)


def job_problem(job: dict[str, Any]) -> str | None:
    """Why bulkUpload should not be used now (None: the job is Active).

    Status codes (learn.microsoft.com/graph/api/resources/synchronization-synchronizationstatus):
    NotConfigured, NotRun, Active, Paused, Quarantine.
    """
    status = job.get("status") or {}
    code = str(status.get("code") or "")
    if code == JOB_READY:
        return None
    quarantine = status.get("quarantine") or {}
    why = ((quarantine.get("error") or {}).get("message") or quarantine.get("reason") or "")
    return (f"the provisioning job is {code or 'in an unknown state'}"
            f"{': ' + why if why else ''}; a job that is not Active accepts uploads (202) and "
            "processes none. Start provisioning in the Entra admin center (a quarantined job "
            "needs its notification e-mail and a restart), then push again")


def _source_name(mapping: dict[str, Any]) -> str:
    source = mapping.get("source") or {}
    return str(source.get("name") or "")


def schema_differences(schema: dict[str, Any], mappings: tuple[EntraMapping, ...]) -> list[str]:
    """Where the job's attribute mappings disagree with the config's (one sentence each)."""
    found: dict[str, dict[str, Any]] = {}
    for rule in schema.get("synchronizationRules") or []:
        for object_mapping in rule.get("objectMappings") or []:
            for attribute in object_mapping.get("attributeMappings") or []:
                found.setdefault(str(attribute.get("targetAttributeName") or "").lower(),
                                 attribute)
    problems = []
    for mapping in mappings:
        actual = found.get(mapping.target.lower())
        where = f"mapping {mapping.source} → {mapping.target}"
        if actual is None:
            problems.append(f"{where}: the job has no mapping to {mapping.target}")
            continue
        kind = str((actual.get("source") or {}).get("type") or "")
        if kind == "Attribute" and not mapping.generated and \
                path_key(_source_name(actual)) != path_key(mapping.source):
            problems.append(f"{where}: the job writes {mapping.target} from "
                            f"{_source_name(actual)}")
        if mapping.generated and kind == "Attribute":
            problems.append(f"{where}: the config says generated, the job copies "
                            f"{_source_name(actual)}")
        on_create = str(actual.get("flowType") or "Always") == "ObjectAddOnly"
        if on_create != (mapping.apply == "on_create"):
            problems.append(f"{where}: the job applies it "
                            f"{'on creation only' if on_create else 'always'}, the config "
                            f"says {mapping.apply}")
        matching = int(actual.get("matchingPriority") or 0) > 0
        if matching != mapping.matching:
            problems.append(f"{where}: the job {'matches' if matching else 'does not match'} "
                            "on it")
    return problems


def check_schema(target: EntraTarget, schema: dict[str, Any]) -> list[str]:
    """``schema_differences`` for the target's configured (or default) mappings."""
    return schema_differences(schema, app_mappings(target.inbound).mappings)


def link_accounts(target: EntraTarget, links: list[tuple[str, str]], *,
                  credential: Any | None = None) -> list[tuple[int, str]]:
    """PATCH the matching property (employeeId) of each (user id, value): per link, the HTTP
    status and Graph's message.

    204 is success. A refusal is returned, not raised: one account's refusal (a synced user,
    a value too long) must not stop the other links.
    """
    from kiota_abstractions.api_error import APIError
    from msgraph.generated.models.user import User

    endpoint = graph_endpoint(target)
    prop = app_mappings(target.inbound).matching.target

    async def write() -> list[tuple[int, str]]:
        session = open_session(target, credential)
        answers = []
        try:
            with graph_errors(endpoint):  # transport failures stop the links; refusals do not
                for user_id, value in links:
                    user = User()
                    if prop == "employeeId":
                        user.employee_id = value
                    else:
                        user.additional_data = {prop: value}
                    try:
                        await session.client.users.by_user_id(user_id).patch(user)
                    except APIError as error:
                        answers.append((int(error.response_status_code or 0),
                                        describe_error(error, endpoint)))
                        continue
                    answers.append((204, ""))
            return answers
        finally:
            await session.http.aclose()

    return run_sync(write)
