"""The loopback Graph behaves as Microsoft documents Entra ID: one test per behaviour, on the wire.

The page behind each behaviour is in the test's docstring (short names: recon.testing.graph_tenant).
recon's own Entra tests and notebook 4 run against this server, so what it does is what they
prove; these tests pin it down without recon in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from recon.core.config import EntraMapping
from recon.core.scim import BULK_REQUEST, CORE_USER, ENTERPRISE
from recon.testing.graph_provisioning import SERVER_MAPPINGS
from recon.testing.graph_server import DEFAULT_JOB_ID, DEFAULT_SP_ID, RunningGraph, running_graph

TOKEN = "server-test-token"
JOB = f"/servicePrincipals/{DEFAULT_SP_ID}/synchronization/jobs/{DEFAULT_JOB_ID}"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def graph() -> Iterator[RunningGraph]:
    with running_graph(TOKEN) as running:
        yield running


@pytest.fixture
def http(graph: RunningGraph) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=graph.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def record(key: str, *, active: bool = True, manager: str | None = None,
           **values: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"schemas": [CORE_USER, ENTERPRISE], "externalId": key,
                            "userName": values.pop("userName", f"emp{key}@contoso.com"),
                            "active": active, ENTERPRISE: {"department": "Sales"}, **values}
    if manager is not None:
        data[ENTERPRISE]["manager"] = {"value": manager}
    return data


def upload(http: httpx.Client, *records: dict[str, Any], **headers: str) -> httpx.Response:
    body = {"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "bulkId": f"b{n}", "path": "/Users", "data": data}
        for n, data in enumerate(records)]}
    return http.post(f"{JOB}/bulkUpload", json=body,
                     headers={"Content-Type": "application/scim+json", **headers})


def logs(graph: RunningGraph, key: str) -> list[dict[str, Any]]:
    return [e for e in graph.state.visible_logs() if e["sourceIdentity"]["id"] == key]


def test_a_record_moves_only_the_user_holding_its_matching_attribute(
    graph: RunningGraph, http: httpx.Client,
) -> None:
    """FAQ, CUS: the job matches externalId ↔ employeeId and nothing else. A user with the
    record's userName but no employeeId is not found: the create then clashes on the UPN
    (EntryConflict; FAQ: the service does not de-duplicate UPNs)."""
    graph.state.add_user(id="held", userPrincipalName="other@contoso.com", employeeId="1",
                         department="Legal")
    graph.state.add_user(id="by-mail", userPrincipalName="emp2@contoso.com")

    assert upload(http, record("1"), record("2")).status_code == 202

    assert graph.state.users["held"]["department"] == "Sales"
    assert "employeeId" not in graph.state.users["by-mail"]
    (entry,) = logs(graph, "2")
    assert entry["provisioningAction"] == "create"
    assert entry["provisioningStatusInfo"]["status"] == "failure"
    assert entry["provisioningStatusInfo"]["errorInformation"]["errorCode"] == "EntryConflict"
    assert len(graph.state.users) == 2


def test_the_matching_attribute_is_the_apps_configuration(graph: RunningGraph,
                                                         http: httpx.Client) -> None:
    """CUS ("Matching precedence"), AM (matchingPriority): another pair can be chosen."""
    mappings = [EntraMapping(source="userName", target="userPrincipalName", matching=True),
                EntraMapping(source="externalId", target="employeeId")]
    graph.state.add_job(DEFAULT_SP_ID, DEFAULT_JOB_ID, mappings=mappings)
    graph.state.add_user(id="u", userPrincipalName="emp7@contoso.com")

    upload(http, record("7"))

    assert graph.state.users["u"]["employeeId"] == "7" and len(graph.state.users) == 1


def test_a_manager_resolves_only_against_records_the_job_processed(
    graph: RunningGraph, http: httpx.Client,
) -> None:
    """MGR: the manager record must have been processed first. LOGSAMPLE: otherwise a
    processing step with SkipReason UnableToResolveReferenceAttributeValue, entry success."""
    boss = graph.state.add_user(userPrincipalName="boss@contoso.com", employeeId="100")

    upload(http, record("1", manager="100"))
    (entry,) = logs(graph, "1")
    skip = [s for s in entry["provisioningSteps"] if s["provisioningStepType"] == "processing"]
    assert entry["provisioningStatusInfo"]["status"] == "success"
    assert skip[0]["details"]["SkipReason"] == "UnableToResolveReferenceAttributeValue"
    assert "manager" not in graph.state.by_employee_id("1")  # type: ignore[operator]

    upload(http, record("100", userName="boss@contoso.com"), record("2", manager="100"))
    assert graph.state.by_employee_id("2")["manager"] == boss["id"]  # type: ignore[index]
    assert not [s for s in logs(graph, "2")[0]["provisioningSteps"]
                if s["provisioningStepType"] == "processing"]


def test_a_manager_processed_later_in_the_cycle_is_set_by_a_follow_up_entry(
    graph: RunningGraph, http: httpx.Client,
) -> None:
    """LOGSAMPLE: the report's create skips the manager; an update entry with the same
    changeId sets it once the manager is created in the same cycle."""
    upload(http, record("2", manager="100"), record("100"))

    entries = logs(graph, "2")
    assert [e["provisioningAction"] for e in entries] == ["create", "update"]
    assert entries[0]["changeId"] == entries[1]["changeId"]
    assert entries[1]["modifiedProperties"][0]["displayName"] == "manager"
    boss = graph.state.by_employee_id("100")
    assert graph.state.by_employee_id("2")["manager"] == boss["id"]  # type: ignore[index]


def test_a_generated_upn_is_made_on_creation_and_never_again(graph: RunningGraph,
                                                            http: httpx.Client) -> None:
    """FAQ (unique UPN: Join, RandomString(3…), DefaultDomain() on object creation only), AM
    (flowType ObjectAddOnly), SCH (the job's schema shows it)."""
    mappings = [m for m in SERVER_MAPPINGS if m.target != "userPrincipalName"] + [
        EntraMapping(source="userName", target="userPrincipalName", apply="on_create",
                     generated=True)]
    graph.state.add_job(DEFAULT_SP_ID, DEFAULT_JOB_ID, mappings=mappings)

    upload(http, record("1", userName="ada@fabrikam.com"))
    upn = graph.state.by_employee_id("1")["userPrincipalName"]  # type: ignore[index]
    upload(http, record("1", userName="ada.l@fabrikam.com", title="Analyst"))

    assert upn.startswith("ada") and upn.endswith("@contoso.com") and len(upn) == len(
        "ada000@contoso.com")
    assert graph.state.by_employee_id("1")["userPrincipalName"] == upn  # type: ignore[index]
    schema = http.get(f"{JOB}/schema").json()
    (upn_mapping,) = [m for m in schema["synchronizationRules"][0]["objectMappings"][0][
        "attributeMappings"] if m["targetAttributeName"] == "userPrincipalName"]
    assert upn_mapping["flowType"] == "ObjectAddOnly"
    assert "RandomString" in upn_mapping["source"]["expression"]


def test_synced_users_refuse_updates_from_the_job_and_from_graph(graph: RunningGraph,
                                                                http: httpx.Client) -> None:
    """LOGA and Microsoft Q&A 2128416: AzureActiveDirectoryCannotUpdateObjectsOriginatedIn-
    ExternalService; UPD: a PATCH of a synced user is a 400."""
    graph.state.add_user(id="s", userPrincipalName="s@contoso.com", employeeId="1",
                         department="Legal", onPremisesSyncEnabled=True)

    upload(http, record("1", userName="s@contoso.com"))
    patched = http.patch("/users/s", json={"employeeId": "2"})

    (entry,) = logs(graph, "1")
    assert entry["provisioningStatusInfo"]["errorInformation"]["errorCode"] == \
        "AzureActiveDirectoryCannotUpdateObjectsOriginatedInExternalService"
    assert graph.state.users["s"]["department"] == "Legal"
    assert patched.status_code == 400 and "on-premises mastered" in patched.text
    assert graph.state.users["s"]["employeeId"] == "1"


def test_a_paused_job_accepts_uploads_and_logs_nothing_until_started(
    graph: RunningGraph, http: httpx.Client,
) -> None:
    """ISS: 202 but no logs when the app is paused; JOB, JSTAT: status.code tells."""
    graph.state.pause_job()
    assert http.get(JOB).json()["status"]["code"] == "Paused"

    assert upload(http, record("1")).status_code == 202
    assert graph.state.visible_logs() == [] and graph.state.users == {}

    assert http.post(f"{JOB}/start").status_code == 204
    assert http.get(JOB).json()["status"]["code"] == "Active"
    assert graph.state.by_employee_id("1") is not None and logs(graph, "1")


def test_log_entries_carry_their_steps_and_arrive_late(http: httpx.Client) -> None:
    """POS, PSTEP: steps import → scoping → matching → export; ISS: logs lag processing."""
    clock = Clock()
    with running_graph(TOKEN, clock=clock, log_delay=300.0) as graph, httpx.Client(
            base_url=graph.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        upload(client, record("1"))
        assert client.get("/auditLogs/provisioning").json()["value"] == []
        clock.now += 301
        (entry,) = client.get("/auditLogs/provisioning").json()["value"]

    assert [s["provisioningStepType"] for s in entry["provisioningSteps"]] == [
        "import", "scoping", "matching", "export"]
    assert entry["jobId"] == DEFAULT_JOB_ID and entry["sourceSystem"]["displayName"] == "API"
    assert entry["sourceIdentity"]["id"] == "1"


def test_logs_filter_with_the_documented_operators_only(graph: RunningGraph,
                                                       http: httpx.Client) -> None:
    """PLIST: eq, contains, gt and lt; ge/le are not among them."""
    upload(http, record("1"), record("2"))

    def find(text: str) -> httpx.Response:
        return http.get("/auditLogs/provisioning", params={"$filter": text})

    assert find("activityDateTime ge 2020-01-01T00:00:00Z").status_code == 400
    assert find("activityDateTime le 2999-01-01T00:00:00Z").status_code == 400
    assert len(find("activityDateTime gt 2020-01-01T00:00:00Z").json()["value"]) == 2
    assert len(find(f"jobId eq '{DEFAULT_JOB_ID}' and sourceIdentity/id eq '2'").json()[
        "value"]) == 1
    assert len(find("contains(jobId, 'API2AAD')").json()["value"]) == 2


def test_select_of_an_unknown_property_is_a_400(graph: RunningGraph, http: httpx.Client) -> None:
    """No Learn page prints it; Graph is reported to answer 400 "Could not find a property
    named …" (msgraph-sdk-powershell 2103); single-user-only properties are 501 on the list."""
    unknown = http.get("/users", params={"$select": "id,employeeNumber"})
    single = http.get("/users", params={"$select": "id,hireDate"})

    assert unknown.status_code == 400
    assert "Could not find a property named 'employeeNumber'" in unknown.json()["error"]["message"]
    assert single.status_code == 501


def test_bulk_upload_is_limited_to_40_calls_in_any_5_seconds_and_a_daily_quota() -> None:
    """CON, ISS: more than 40 calls in 5 s → 429; 2,000 (P1/P2) calls a day → 429; THR:
    Retry-After says how long to wait."""
    clock = Clock()
    with running_graph(TOKEN, clock=clock, daily_quota=44) as graph, httpx.Client(
            base_url=graph.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        answers = [upload(client, record(str(n))).status_code for n in range(41)]
        refused = upload(client, record("x"))
        clock.now += 5.0
        after_window = [upload(client, record(f"y{n}")).status_code for n in range(5)]
        over_quota = upload(client, record("z"))

    assert answers == [202] * 40 + [429]
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 5
    assert after_window == [202] * 4 + [429]
    assert over_quota.status_code == 429 and int(over_quota.headers["Retry-After"]) > 80_000


def test_flow_null_values_clears_only_where_ticked(graph: RunningGraph,
                                                  http: httpx.Client) -> None:
    """NUL: with "Flow null values" an omitted attribute clears the property on update;
    without it, omitting changes nothing (HRU)."""
    mappings = [m if m.target != "department" else EntraMapping(
        source=m.source, target="department", flow_null=True) for m in SERVER_MAPPINGS]
    graph.state.add_job(DEFAULT_SP_ID, DEFAULT_JOB_ID, mappings=mappings)
    graph.state.add_user(id="u", userPrincipalName="emp1@contoso.com", employeeId="1",
                         department="Sales", jobTitle="Analyst")

    bare = record("1")
    del bare[ENTERPRISE]
    upload(http, bare)

    assert "department" not in graph.state.users["u"]
    assert graph.state.users["u"]["jobTitle"] == "Analyst"


def test_an_unmatched_inactive_record_creates_nobody(graph: RunningGraph,
                                                    http: httpx.Client) -> None:
    """LOGSAMPLE creates only users "active and assigned in API"; the skip reason is inferred
    (NotEffectivelyEntitled), Microsoft documents none for this case."""
    upload(http, record("1", active=False))

    (entry,) = logs(graph, "1")
    assert graph.state.users == {} and entry["provisioningStatusInfo"]["status"] == "skipped"


def test_only_post_operations_are_processed(graph: RunningGraph, http: httpx.Client) -> None:
    """FAQ: only POST; a DELETE operation is not processed nor logged (Q&A 2028268). GEX sends
    two operations with one bulkId, and they are accepted."""
    body = {"schemas": [BULK_REQUEST], "Operations": [
        {"method": "DELETE", "bulkId": "a", "path": "/Users/1"},
        {"method": "POST", "bulkId": "a", "path": "/Users", "data": record("1")},
        {"method": "POST", "bulkId": "a", "path": "/Users", "data": record("2")}]}

    answer = http.post(f"{JOB}/bulkUpload", json=body,
                       headers={"Content-Type": "application/scim+json"})

    assert answer.status_code == 202 and len(graph.state.visible_logs()) == 2
    assert "auditLogs/provisioning" in answer.headers["Location"]
    wrong = http.post(f"{JOB}/bulkUpload", json=body)
    assert wrong.status_code == 400 and "Invalid Data Format" in wrong.text


def test_users_delta_returns_everything_once_then_only_changes(graph: RunningGraph,
                                                              http: httpx.Client) -> None:
    """DELTA: a round ends with @odata.deltaLink; the next returns changed users and removed
    ones as @removed; manager changes as manager@delta."""
    boss = graph.state.add_user(userPrincipalName="boss@contoso.com", employeeId="1")
    worker = graph.state.add_user(userPrincipalName="w@contoso.com", employeeId="2")
    gone = graph.state.add_user(userPrincipalName="g@contoso.com", employeeId="3")

    first = http.get("/users/delta", params={"$select": "employeeId,manager"}).json()
    worker["manager"] = boss["id"]
    graph.state.touch(worker["id"])
    graph.state.delete_user(gone["id"])
    second = http.get(first["@odata.deltaLink"]).json()

    assert {u["id"] for u in first["value"]} == {boss["id"], worker["id"], gone["id"]}
    assert second["value"] == [
        {"employeeId": "2", "id": worker["id"],
         "manager@delta": [{"@odata.type": "#microsoft.graph.user", "id": boss["id"]}]},
        {"id": gone["id"], "@removed": {"reason": "changed"}}]
    assert http.get("/users/delta", params={"$top": "5"}).status_code == 400


def test_in_filters_take_at_most_15_values(graph: RunningGraph, http: httpx.Client) -> None:
    """KNOWN: "the in operator … is limited to 15 expressions in the filter clause"."""
    ids = ",".join(f"'{n}'" for n in range(16))
    assert http.get("/users", params={"$filter": f"id in ({ids})"}).status_code == 400
    assert http.get("/users", params={"$filter": "id in ('1','2')"}).status_code == 200


def test_an_expired_token_is_a_401(graph: RunningGraph) -> None:
    """ISS: 401 InvalidAuthenticationToken, "Access token has expired or is not yet valid"."""
    answer = httpx.get(f"{graph.url}/users", headers={"Authorization": "Bearer old"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"
