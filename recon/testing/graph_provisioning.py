"""The loopback Graph's API-driven inbound provisioning engine: bulkUpload records → users + logs.

One accepted upload is processed as one provisioning cycle (``process_upload``), record by
record, the way Microsoft documents the service (page names: ``recon.testing.graph_tenant``):

- the job reads its attribute mappings and matches a record to a user **only** by the matching
  pair (default SCIM externalId ↔ Graph employeeId); no match → create, match → update only what
  changed (FAQ "How do we create/update users", BULK Example 1, CUS "Matching users");
- ``active`` decides enable and disable (FAQ, terminations); a record without ``active`` is
  read as inactive (a Microsoft Q&A report, learn.microsoft.com/answers/questions/5915761: the
  log showed Active = False; Microsoft does not document it);
- an unmatched inactive record creates nobody: the log sample only creates users "active and
  assigned in API" (LOGSAMPLE); modelled as a skip with SkipReason NotEffectivelyEntitled, which
  is an inference, not a documented answer;
- mappings applied "on object creation only" and generated values (the RandomString UPN rule
  of FAQ "unique UPN") are written on create and never again (CUS, AM ``ObjectAddOnly``);
- an omitted or null value changes nothing, unless the mapping has "flow null values" ticked,
  when it clears the property on update (NUL);
- the manager reference (``manager.value`` = the manager's externalId, BULK) resolves only
  against records the job has processed (MGR: "The provisioning app should have processed the
  manager record prior to processing the user record"); otherwise the entry carries a processing
  step with SkipReason UnableToResolveReferenceAttributeValue and stays ``success``, and a
  manager processed later in the same cycle is set by a follow-up ``update`` entry with the
  same changeId (LOGSAMPLE);
- a record missing the matching value is skipped with ImportSkipped; several users with the
  value fail with DuplicateTargetEntries; a UPN already taken fails with EntryConflict (the
  service does not de-duplicate UPNs, FAQ); a user synced from on-premises AD cannot be
  changed (AzureActiveDirectoryCannotUpdateObjectsOriginatedInExternalService: LOGA, and
  Microsoft Q&A 2128416);
- every record gets a provisioningObjectSummary with its provisioningSteps (import, scoping,
  matching, processing, export) and modifiedProperties, shaped like LOGSAMPLE (POS, PSTEP).
"""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from recon.core.config import EntraMapping
from recon.core.scim import ENTERPRISE, get_path

DEFAULT_DOMAIN = "contoso.com"

#: The mappings the server applies unless a job is given others: the pairs recon expects by
#: default (recon.targets.entra.mapping.DEFAULT_MAPPINGS lists the same).
SERVER_MAPPINGS: tuple[EntraMapping, ...] = (
    EntraMapping(source="externalId", target="employeeId", matching=True),
    EntraMapping(source="userName", target="userPrincipalName"),
    EntraMapping(source="active", target="accountEnabled"),
    EntraMapping(source="displayName", target="displayName"),
    EntraMapping(source="name.givenName", target="givenName"),
    EntraMapping(source="name.familyName", target="surname"),
    EntraMapping(source="title", target="jobTitle"),
    EntraMapping(source="userType", target="employeeType"),
    EntraMapping(source=f"{ENTERPRISE}:department",
                 target="department"),
    EntraMapping(source=f"{ENTERPRISE}:manager",
                 target="manager"),
    EntraMapping(source=f"{ENTERPRISE}:organization",
                 target="companyName"),
    EntraMapping(source=f"{ENTERPRISE}:costCenter",
                 target="employeeOrgData.costCenter"),
    EntraMapping(source=f"{ENTERPRISE}:division",
                 target="employeeOrgData.division"),
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")



@dataclass
class Job:
    """An API-driven inbound provisioning job (``API2AAD.…``) and its app's mappings."""

    service_principal_id: str
    job_id: str
    status: str = "Active"
    mappings: tuple[EntraMapping, ...] = SERVER_MAPPINGS
    domain: str = DEFAULT_DOMAIN  # DefaultDomain() of the generated-UPN expression
    processed: set[str] = field(default_factory=set)  # matching values the job has processed
    staged: list[list[dict[str, Any]]] = field(default_factory=list)  # uploads not yet processed

    def matching(self) -> EntraMapping:
        return next(m for m in self.mappings if m.matching)



class Tenant(Protocol):
    """What the engine needs of the tenant (``recon.testing.graph_tenant.GraphState``)."""

    tenant_id: str
    users: dict[str, dict[str, Any]]
    lock: threading.RLock

    def by_property(self, name: str, value: Any) -> list[dict[str, Any]]: ...

    def touch(self, user_id: str) -> None: ...

    def add_log(self, entry: dict[str, Any]) -> None: ...


CLEAR = object()  # a value that clears the Graph property ("flow null values")
MANAGER_SOURCE = f"{ENTERPRISE}:manager"
GENERATED_UPN_EXPRESSION = ('Join("", Replace([userName], , "(?<Suffix>@(.)*)", "Suffix", "", , ),'
                            ' RandomString(3, 3, 0, 0, 0, ), "@", DefaultDomain())')


@dataclass
class Outcome:
    """What processing one record did, before it is written as a log entry."""

    data: dict[str, Any]
    key: str
    action: str = "other"  # create | update | disable | other (POS provisioningAction)
    status: str = "success"  # success | failure | skipped (PSI)
    user: dict[str, Any] | None = None
    error: tuple[str, str] | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    modified: list[dict[str, Any]] = field(default_factory=list)
    change_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    waiting_manager: str | None = None  # a manager key not processed yet


def _step(name: str, kind: str, description: str, status: str = "success",
          details: dict[str, str] | None = None) -> dict[str, Any]:
    """A provisioningStep (PSTEP): name, provisioningStepType, status, description, details."""
    return {"name": name, "provisioningStepType": kind, "status": status,
            "description": description, "details": details or {}}


def _active(data: dict[str, Any]) -> bool:
    """SCIM active as the job reads it: a boolean or the strings "True"/"False"; absent is
    inactive (see the module docstring)."""
    value = data.get("active")
    if value is None:
        return False
    return str(value).strip().lower() not in {"false", "0", "no"}


def _set(user: dict[str, Any], dotted: str, value: Any) -> None:
    head, _, tail = dotted.partition(".")
    if not tail:
        if value is CLEAR:
            user.pop(head, None)
        else:
            user[head] = value
        return
    inner = dict(user.get(head) or {})
    _set(inner, tail, value)
    user[head] = inner


def _get(user: dict[str, Any], dotted: str) -> Any:
    value: Any = user
    for name in dotted.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _generated(job: Job, mapping: EntraMapping, data: dict[str, Any]) -> str:
    """A generated value: the FAQ's unique-UPN rule for userPrincipalName, else a random id."""
    if mapping.target.lower() == "userprincipalname":
        local = str(data.get("userName") or "user").split("@")[0]
        return f"{local}{random.randint(0, 999):03d}@{job.domain}"
    return uuid.uuid4().hex[:12]


def mapped_values(job: Job, data: dict[str, Any], *, create: bool) -> dict[str, Any]:
    """Graph property → value the mappings give for a record (manager apart), CLEAR to clear."""
    values: dict[str, Any] = {}
    for mapping in job.mappings:
        if mapping.target.lower() == "manager" or mapping.matching:
            continue
        if mapping.apply == "on_create" and not create:
            continue  # CUS: "Only during creation"
        if mapping.generated:
            values[mapping.target] = _generated(job, mapping, data)
            continue
        if mapping.source.lower() == "active":
            values[mapping.target] = _active(data)
            continue
        value = get_path(data, mapping.source)
        if isinstance(value, dict):
            value = value.get("value")
        if value is None or (isinstance(value, str) and value == ""):
            if mapping.flow_null and not create:
                values[mapping.target] = CLEAR  # NUL: null, "" or omitted clears on update
            continue
        values[mapping.target] = value
    return values


def _manager_key(job: Job, data: dict[str, Any]) -> str | None:
    if not any(m.target.lower() == "manager" for m in job.mappings):
        return None
    value = get_path(data, MANAGER_SOURCE)
    return str(value) if value not in (None, "") else None


def _resolve_manager(state: Tenant, job: Job, key: str) -> str | None:
    """The object id of a processed manager, or None (MGR)."""
    if key not in job.processed:
        return None
    found = state.by_property(job.matching().target, key)
    return found[0]["id"] if len(found) == 1 else None


def _unresolved_step(key: str, upn: str) -> dict[str, Any]:
    """LOGSAMPLE's processing step for a manager the job cannot resolve yet."""
    return _step(
        "EntrySynchronizationSkip", "processing",
        f"We were unable to assign {key} as the manager of {upn}. Please ensure that {key} is "
        "in scope for provisioning and has been processed. Provision it on demand, or restart "
        "provisioning.", details={key: "manager Add", "PropertyName": "manager",
                                 "SkipReason": "UnableToResolveReferenceAttributeValue"})


def _changes(user: dict[str, Any], values: dict[str, Any]) -> list[dict[str, Any]]:
    """modifiedProperties for the values that differ from what the user holds."""
    changed = []
    for name, value in values.items():
        old = _get(user, name)
        new = None if value is CLEAR else value
        if old != new and not (old is None and value is CLEAR):
            changed.append({"displayName": name, "oldValue": old, "newValue": new})
    return changed


def _create(state: Tenant, job: Job, out: Outcome, values: dict[str, Any]) -> None:
    matching = job.matching()
    scoping = _step("EntrySynchronizationScoping", "scoping",
                    "Determine if User in scope by evaluating against each scoping filter",
                    details={"Active in the source system": "True",
                             "Scoping filter evaluation passed": "True"})
    out.steps += [scoping, _step(
        "EntrySynchronizationAdd", "matching",
        f"User '{out.key}' will be created in Azure Active Directory (User is active and "
        "assigned in API, but no matching User was found in Azure Active Directory)")]
    out.action = "create"
    upn = values.get("userPrincipalName")
    if not upn or upn is CLEAR:
        out.status, out.error = "failure", ("MandatoryFieldsMissing",
                                            "userPrincipalName is required to create a user")
    elif any(str(u.get("userPrincipalName", "")).lower() == str(upn).lower()
             for u in state.users.values()):
        out.status, out.error = "failure", (
            "EntryConflict", f"Another object with the userPrincipalName {upn} already exists")
    if out.status == "failure":
        out.steps.append(_step("EntryExportAdd", "export", out.error[1] if out.error else "",
                               "failure"))
        return
    properties = {k: v for k, v in values.items() if v is not CLEAR}
    user: dict[str, Any] = {"id": str(uuid.uuid4()), "accountEnabled": True,
                            "userType": "Member", "createdDateTime": now_iso()}
    _set(user, matching.target, out.key)
    for name, value in properties.items():
        _set(user, name, value)
    state.users[user["id"]] = user
    out.user = user
    out.steps.append(_step("EntryExportAdd", "export",
                           f"User '{user.get('userPrincipalName')}' was created in Azure "
                           "Active Directory"))
    out.modified = [{"displayName": k, "oldValue": None, "newValue": v}
                    for k, v in [(matching.target, out.key), *properties.items()]]


def _update(state: Tenant, job: Job, out: Outcome, user: dict[str, Any],
            values: dict[str, Any]) -> None:
    out.user = user
    out.steps += [
        _step("EntryImport", "matching",
              f"Retrieved '{user.get('userPrincipalName')}' from Azure Active Directory",
              details={"objectId": user["id"]}),
        _step("EntrySynchronizationScoping", "scoping",
              "Determine if User in scope by evaluating against each scoping filter",
              details={"Active in the source system": str(_active(out.data))})]
    changed = _changes(user, values)
    if not changed:
        out.action, out.status = "other", "skipped"  # LOGA: skipped, already in sync
        out.steps.append(_step("EntrySynchronizationSkipped", "export",
                               "The user is already in sync; nothing to export", "skipped"))
        return
    if user.get("onPremisesSyncEnabled"):
        out.action, out.status = "update", "failure"
        out.error = ("AzureActiveDirectoryCannotUpdateObjectsOriginatedInExternalService",
                     "The user is synchronized from on-premises Active Directory; it can only "
                     "be changed there")
        out.steps.append(_step("EntryExportUpdate", "export", out.error[1], "failure"))
        return
    upn = values.get("userPrincipalName")
    if upn not in (None, CLEAR) and any(
            u is not user and str(u.get("userPrincipalName", "")).lower() == str(upn).lower()
            for u in state.users.values()):
        out.action, out.status = "update", "failure"
        out.error = ("EntryConflict", f"Another object with the userPrincipalName {upn} "
                                      "already exists")
        out.steps.append(_step("EntryExportUpdate", "export", out.error[1], "failure"))
        return
    for change in changed:
        _set(user, change["displayName"], values[change["displayName"]])
    state.touch(user["id"])
    disabled = any(c["displayName"] == "accountEnabled" and c["newValue"] is False
                   for c in changed)
    out.action = "disable" if disabled else "update"
    out.modified = changed
    out.steps.append(_step("EntryExportUpdate", "export",
                           f"User '{user.get('userPrincipalName')}' was updated in Azure Active "
                           "Directory"))


def process_record(state: Tenant, job: Job, data: dict[str, Any]) -> Outcome:
    """Apply one record; the outcome is logged by ``process_upload``."""
    matching = job.matching()
    key_value = get_path(data, matching.source)
    out = Outcome(data, "" if key_value in (None, "") else str(key_value))
    out.steps.append(_step("EntryImportAdd", "import",
                           f"Received User '{out.key}' change of type (Add) from API"))
    if not out.key:
        out.status, out.error = "skipped", (
            "ImportSkipped", f"The record is missing the matching property {matching.source}; "
                             "scoping, matching and export cannot be evaluated")
        return out
    found = state.by_property(matching.target, out.key)
    if len(found) > 1:
        out.status, out.error = "failure", (
            "DuplicateTargetEntries", f"{len(found)} users have {matching.target} {out.key}")
        return out
    if not found and not _active(out.data):
        out.status = "skipped"
        out.steps.append(_step(
            "EntrySynchronizationSkip", "processing",
            f"User '{out.key}' is not active in the source and has no matching user; nothing "
            "is created", details={"SkipReason": "NotEffectivelyEntitled"}))
        return out
    values = mapped_values(job, data, create=not found)
    manager_key = _manager_key(job, data)
    skip = None
    if manager_key is not None:
        boss = _resolve_manager(state, job, manager_key)
        if boss is not None:
            values["manager"] = boss
        else:
            out.waiting_manager = manager_key
            skip = _unresolved_step(manager_key, str(
                values.get("userPrincipalName") or (found[0].get("userPrincipalName")
                                                    if found else out.key)))
    if found:
        _update(state, job, out, found[0], values)
    else:
        _create(state, job, out, values)
        if out.user is not None:
            state.touch(out.user["id"])
    if skip is not None:  # LOGSAMPLE's order: … matching, processing, export
        exports = [n for n, s in enumerate(out.steps) if s["provisioningStepType"] == "export"]
        out.steps.insert(exports[-1] if exports else len(out.steps), skip)
    if out.status != "failure":
        job.processed.add(out.key)
    return out


def process_upload(state: Tenant, job: Job, operations: list[dict[str, Any]]) -> None:
    """One provisioning cycle over one upload's records, then its log entries."""
    cycle_id = str(uuid.uuid4())
    with state.lock:
        outcomes = [process_record(state, job, op["data"]) for op in operations
                    if op.get("method") == "POST"]
        follow_ups = []
        for out in outcomes:
            if out.waiting_manager is None or out.user is None or out.status == "failure":
                continue
            boss = _resolve_manager(state, job, out.waiting_manager)
            if boss is None or out.user.get("onPremisesSyncEnabled"):
                continue  # never processed: the reference stays unset (LOGSAMPLE)
            old = out.user.get("manager")
            out.user["manager"] = boss
            state.touch(out.user["id"])
            follow_ups.append((out, old, boss))
        for out in outcomes:
            state.add_log(log_entry(state, job, cycle_id, out))
        for out, old, boss in follow_ups:
            follow = Outcome(out.data, out.key, "update", "success", out.user,
                             change_id=out.change_id,
                             steps=[_step("EntryExportUpdate", "export",
                                          f"User '{(out.user or {}).get('userPrincipalName')}' "
                                          "was updated in Azure Active Directory")],
                             modified=[{"displayName": "manager", "oldValue": old,
                                        "newValue": boss}])
            state.add_log(log_entry(state, job, cycle_id, follow))


def log_entry(state: Tenant, job: Job, cycle_id: str, out: Outcome) -> dict[str, Any]:
    """A provisioningObjectSummary (POS) shaped like the API2AAD entries of LOGSAMPLE."""
    user = out.user or {}
    return {
        "id": str(uuid.uuid4()),
        "activityDateTime": now_iso(),
        "tenantId": state.tenant_id,
        "jobId": job.job_id,
        "cycleId": cycle_id,
        "changeId": out.change_id,
        "provisioningAction": out.action,
        "durationInMilliseconds": 12,
        "initiatedBy": {"id": "", "displayName": "Azure AD Provisioning Service",
                        "initiatorType": "system"},
        "servicePrincipal": {"id": job.service_principal_id,
                             "displayName": "API-driven provisioning to Microsoft Entra ID"},
        "sourceSystem": {"id": "", "displayName": "API", "details": {}},
        "targetSystem": {"id": "", "displayName": "Azure Active Directory", "details": {
            "ServicePrincipalId": job.service_principal_id}},
        "sourceIdentity": {"id": out.key, "displayName": "", "details": {},
                           "identityType": ENTERPRISE},
        "targetIdentity": {"id": user.get("id", ""), "displayName": user.get("displayName", ""),
                           "identityType": "User",
                           "details": {"UserPrincipalName": user.get("userPrincipalName", "")}},
        # PSI names the property errorInfo; every example (PLIST, LOGSAMPLE) sends
        # errorInformation, which is what readers see.
        "provisioningStatusInfo": {"status": out.status, "errorInformation": None
                                   if out.error is None else {
                                       "errorCode": out.error[0], "reason": out.error[1],
                                       "additionalDetails": None,
                                       "errorCategory": "nonServiceFailure",
                                       "recommendedAction": None}},
        "provisioningSteps": out.steps,
        "modifiedProperties": [{"displayName": m["displayName"],
                                "oldValue": None if m["oldValue"] is None else str(m["oldValue"]),
                                "newValue": None if m["newValue"] is None else str(m["newValue"])}
                               for m in out.modified],
    }
