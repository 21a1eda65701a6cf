"""Pushing to Entra: bulkUpload records and link PATCHes, after a pre-flight.

Against the documented-behaviour loopback Graph (recon.testing.graph_server): the records, the
pre-flight (job status, schema), the fresh read that judges every op (link needed, stale,
employeeId length, a link onto a taken employeeId), managers before reports, flow-null values,
pacing and the daily quota. Verify: tests/test_entra_verify.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from recon.core.approve import Approval
from recon.core.config import EntraTarget, Policy
from recon.errors import ConfigError, PlanError, PushError
from recon.io.journal import Journal
from recon.targets.entra.records import MAX_OPERATIONS, InboundOp, bulk_requests, inbound_ops
from recon.testing.graph_server import RunningGraph
from recon.workflows.push_entra import push_inbound
from tests.entra_helpers import (
    DEPARTMENT,
    ENTERPRISE,
    JOB_ID,
    MANAGER,
    SP_ID,
    TOKEN_ENV,
    approve_all,
    entra,
    graph,
    plan_of,
    statuses,
    workers,
)

__all__ = ["graph"]


def test_bulk_requests_hold_at_most_fifty_operations_with_unique_bulk_ids() -> None:
    desired = workers(120)
    ops = inbound_ops(plan_of(desired).ops, desired)

    chunks = list(bulk_requests(ops))

    assert [len(chunk) for chunk, _ in chunks] == [50, 50, 20]
    bodies = [body for _, body in chunks]
    assert all(b["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]
               for b in bodies)
    bulk_ids = [op["bulkId"] for b in bodies for op in b["Operations"]]
    assert len(set(bulk_ids)) == 120
    with pytest.raises(PlanError, match="1 to 50"):
        next(bulk_requests(ops, MAX_OPERATIONS + 1))


def test_each_op_is_a_post_of_the_full_worker_record() -> None:
    """G-BULK: POST /Users, externalId = HR key, active, manager.value = manager's HR key."""
    desired = workers(2, start=2000, manager="2000")
    desired.loc[2, "worker_active"] = False
    ops = inbound_ops(plan_of(desired, ["create", "disable"]).ops.tail(1), desired)

    assert ops == [InboundOp(ops[0].op_id, "disable", "2001", ops[0].op_id, {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": "emp2001@contoso.com",
        "externalId": "2001",
        "displayName": "Worker 2001",
        "name": {"givenName": "Worker", "familyName": "2001"},
        "emails": [{"type": "work", "value": "emp2001@contoso.com", "primary": True}],
        ENTERPRISE: {"department": "Sales", "employeeNumber": "2001",
                     "manager": {"value": "2000"}},
        "active": False,
    })]
    assert ops[0].operation()["method"] == "POST"
    assert ops[0].operation()["path"] == "/Users"


def test_a_manager_outside_the_hr_file_is_not_sent() -> None:
    """DESIGN: an unresolvable reference is reported, never written."""
    desired = workers(1, manager="9999")
    (op,) = inbound_ops(plan_of(desired).ops, desired)
    assert "manager" not in op.record[ENTERPRISE]


def test_managers_travel_before_their_reports() -> None:
    """Entra resolves manager.value against users it holds: upload the chain top down."""
    desired = workers(4)
    desired[MANAGER] = pd.Series(["1001", "1002", pd.NA, "1000"], index=desired.index,
                                 dtype="string")
    ops = inbound_ops(plan_of(desired).ops, desired)
    assert [op.hr_key for op in ops] == ["1002", "1001", "1000", "1003"]


# -- push ----------------------------------------------------------------------------------------


def test_push_uploads_in_chunks_and_entra_creates_the_workers(graph: RunningGraph,
                                                              tmp_path: Path) -> None:
    desired = workers(60, manager="1000")
    plan = plan_of(desired)

    result = push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "journal.db",
                          desired=desired, progress=False)

    assert result.ok and statuses(result) == {"succeeded": 60}
    assert result.requests == 2
    posts = [r for r in graph.state.requests if r["method"] == "POST"]
    assert [r["path"] for r in posts] == [
        f"/v1.0/servicePrincipals/{SP_ID}/synchronization/jobs/{JOB_ID}/bulkUpload"] * 2
    assert {r["headers"]["Content-Type"] for r in posts} == {"application/scim+json"}
    assert [len(p["Operations"]) for p in graph.state.bulk_payloads] == [50, 10]
    ada = graph.state.by_employee_id("1042")
    assert ada is not None and ada["userPrincipalName"] == "emp1042@contoso.com"
    assert ada["manager"] == graph.state.by_employee_id("1000")["id"]  # type: ignore[index]
    with Journal(tmp_path / "journal.db") as journal:
        attempts = journal.attempts_frame()
    bulk_ids = attempts["request_summary"].str.extract(r"bulkId=(\S+)")[0]
    assert sorted(bulk_ids) == sorted(plan.ops["op_id"])  # bulkId ↔ op id, journaled
    assert set(attempts["outcome"]) == {"succeeded"} and set(attempts["http_status"]) == {202}
    assert not attempts["request_summary"].str.contains("emp1042@").any()  # no values


def test_push_waits_out_throttling_and_journals_every_attempt(graph: RunningGraph,
                                                             tmp_path: Path) -> None:
    graph.state.throttle_bulk_calls = {0}
    desired = workers(3)
    plan = plan_of(desired)
    waits: list[float] = []

    result = push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "journal.db",
                          desired=desired, progress=False, sleep=waits.append)

    assert result.ok and result.requests == 2
    assert 1.0 in waits  # the Retry-After of the 429
    with Journal(tmp_path / "journal.db") as journal:
        attempts = journal.attempts_frame()
    per_op = attempts.groupby("op_id")[["outcome", "http_status"]].agg(list)
    assert per_op["outcome"].map(tuple).unique().tolist() == [("throttled", "succeeded")]
    assert per_op["http_status"].map(tuple).unique().tolist() == [(429, 202)]


def test_pushing_the_same_plan_again_sends_nothing_twice(graph: RunningGraph,
                                                        tmp_path: Path) -> None:
    desired = workers(5)
    plan = plan_of(desired)
    journal = tmp_path / "journal.db"
    push_inbound(plan, approve_all(plan), entra(graph), journal, desired=desired,
                 progress=False)

    again = push_inbound(plan, approve_all(plan), entra(graph), journal, desired=desired,
                         progress=False)

    assert statuses(again) == {"already_applied": 5}
    assert again.requests == 0 and len(graph.state.bulk_payloads) == 1


def test_a_dry_run_builds_every_request_and_sends_none(graph: RunningGraph,
                                                      tmp_path: Path) -> None:
    desired = workers(70)
    plan = plan_of(desired)

    result = push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "j.db",
                          desired=desired, progress=False, dry_run=True)

    assert statuses(result) == {"dry_run": 70} and result.ok and result.dry_run
    assert result.results["request_no"].max() == 2
    assert not (tmp_path / "j.db").exists()
    assert {r["method"] for r in graph.state.requests} == {"GET"}  # the job, the accounts


def test_links_and_deletes_are_reported_not_sent(graph: RunningGraph, tmp_path: Path) -> None:
    desired = workers(3)
    plan = plan_of(desired, ["create", "link", "delete"])

    with pytest.raises(PlanError, match="1 deletes approved, over the limit of 0"):
        push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "j.db",
                     desired=desired, progress=False)
    result = push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "j.db",
                          desired=desired, progress=False,
                          policy=Policy(max_deletes=1))

    states = result.results.set_index("action")["status"].to_dict()
    assert states == {"create": "succeeded", "link": "stale", "delete": "skipped"}
    assert [len(p["Operations"]) for p in graph.state.bulk_payloads] == [1]


def test_push_refuses_a_stale_approval_or_too_many_disables(graph: RunningGraph,
                                                            tmp_path: Path) -> None:
    desired = workers(3)
    plan = plan_of(desired, "disable")
    with pytest.raises(PlanError, match="approval is for plan"):
        push_inbound(plan, Approval("e" * 64, tuple(plan.ops["op_id"]), "x"), entra(graph),
                     tmp_path / "j.db", desired=desired, progress=False)
    with pytest.raises(PlanError, match="not in the plan"):
        push_inbound(plan, Approval(plan.digest, ("f" * 64,), "x"), entra(graph), tmp_path / "j.db",
                     desired=desired, progress=False)
    with pytest.raises(PlanError, match="3 disables approved, over the limit of 2"):
        push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "j.db", desired=desired,
                     policy=Policy(max_disables=2), progress=False)
    assert graph.state.bulk_payloads == []


def test_push_refuses_records_that_differ_from_what_was_approved(graph: RunningGraph,
                                                                tmp_path: Path) -> None:
    """The records are rebuilt from HR; if HR changed since the plan, nobody approved them."""
    desired = workers(2)
    plan = plan_of(desired, "update")
    plan.ops["payload"] = json.dumps({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": DEPARTMENT, "value": "Marketing"}]})

    with pytest.raises(PlanError, match=r"approved .*department = 'Marketing'.*'Sales'"):
        push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "j.db", desired=desired,
                     progress=False)
    assert graph.state.bulk_payloads == []


def test_push_without_an_inbound_job_is_a_config_error(graph: RunningGraph,
                                                       tmp_path: Path) -> None:
    desired = workers(1)
    plan = plan_of(desired)
    target = EntraTarget(credential="token", token_env=TOKEN_ENV, graph_url=graph.url)
    with pytest.raises(ConfigError, match="inbound"):
        push_inbound(plan, approve_all(plan), target, tmp_path / "j.db", desired=desired)


# -- pre-flight: the job, the fresh read, the limits -----------------------------------------------


def test_a_push_to_a_job_that_is_not_active_is_refused_in_one_line(graph: RunningGraph,
                                                                  tmp_path: Path) -> None:
    """A paused job answers bulkUpload with 202 and processes nothing (inbound API issues):
    recon asks the job first (GET …/synchronization/jobs/{id})."""
    desired = workers(2)
    plan = plan_of(desired)
    graph.state.pause_job()

    with pytest.raises(PushError, match="the provisioning job is Paused") as raised:
        push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "j.db",
                     desired=desired, progress=False)

    assert "\n" not in str(raised.value) and graph.state.bulk_payloads == []
    graph.state.job().status = "Quarantine"
    with pytest.raises(PushError, match="Quarantine: Set a notification e-mail"):
        push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "j.db",
                     desired=desired, progress=False)


def test_the_jobs_schema_is_compared_with_the_configured_mappings(graph: RunningGraph,
                                                                 tmp_path: Path) -> None:
    """GET …/jobs/{id}/schema: a warning for each mapping the app does not have as configured."""
    desired = workers(1)
    plan = plan_of(desired)
    target = entra(graph, {"mappings": [
        {"source": "externalId", "target": "employeeId", "matching": True},
        {"source": "userName", "target": "userPrincipalName", "apply": "on_create",
         "generated": True},
        {"source": "title", "target": "jobTitle"},
        {"source": "name.familyName", "target": "officeLocation"}]})

    with pytest.warns(UserWarning) as warned:
        push_inbound(plan, approve_all(plan), target, tmp_path / "j.db", desired=desired,
                     progress=False)

    said = [str(w.message) for w in warned]
    assert any("the config says generated, the job copies userName" in m for m in said)
    assert any("applies it always, the config says on_create" in m for m in said)
    assert any("the job has no mapping to officeLocation" in m for m in said)
    assert not any("jobTitle" in m for m in said)


def test_values_too_long_for_employee_id_are_refused_before_sending(graph: RunningGraph,
                                                                   tmp_path: Path) -> None:
    """learn.microsoft.com/graph/api/resources/user: employeeId holds at most 16 characters."""
    desired = workers(2)
    desired.loc[2, "externalId"] = "12345678901234567"
    plan = plan_of(desired)

    result = push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "j.db",
                          desired=desired, progress=False)

    by_key = result.results.set_index("hr_key")
    assert by_key.loc["1000", "status"] == "succeeded"
    assert by_key.loc["1001", "status"] == "failed"
    assert "employeeId holds at most 16 characters" in by_key.loc["1001", "error"]
    assert [len(p["Operations"]) for p in graph.state.bulk_payloads] == [1]


def test_changes_since_the_snapshot_make_an_op_stale(graph: RunningGraph,
                                                    tmp_path: Path) -> None:
    """The SCIM push's re-read, for Entra: what was approved over must still hold."""
    graph.state.add_user(id="t1000", userPrincipalName="emp1000@contoso.com", employeeId="1000",
                         department="Marketing")
    graph.state.add_user(id="other", userPrincipalName="x@contoso.com", employeeId="1001")
    desired = workers(2)
    plan = plan_of(desired, ["update", "create"])
    plan.ops["payload"] = [json.dumps({"Operations": [
        {"op": "replace", "path": DEPARTMENT, "value": "Sales"}]}), ""]
    plan.ops["before"] = [json.dumps({DEPARTMENT: "Finance"}), ""]

    result = push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "j.db",
                          desired=desired, progress=False)

    reasons = result.results.set_index("hr_key")["error"]
    assert set(result.results["status"]) == {"stale"}
    assert "approved over 'Finance', Entra now holds 'Marketing'" in reasons["1000"]
    assert "exists since the snapshot" in reasons["1001"]  # a create would be an update
    assert graph.state.bulk_payloads == []


def test_a_link_to_an_employee_id_another_account_holds_is_refused(graph: RunningGraph,
                                                                  tmp_path: Path) -> None:
    """Two users with one employeeId would fail every later record (DuplicateTargetEntries)."""
    graph.state.add_user(id="t1000", userPrincipalName="emp1000@contoso.com")
    graph.state.add_user(id="twin", userPrincipalName="twin@contoso.com", employeeId="1000")
    desired = workers(1)
    plan = plan_of(desired, "link")

    result = push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "j.db",
                          desired=desired, progress=False)

    assert result.results["status"].tolist() == ["failed"]
    assert "already belongs to Entra user twin" in result.results["error"][0]
    assert "employeeId" not in graph.state.users["t1000"]


def test_flow_null_mappings_get_the_accounts_own_value(graph: RunningGraph,
                                                      tmp_path: Path) -> None:
    """With "Flow null values" an omitted attribute is cleared (clear-attribute-values);
    recon never clears what HR leaves empty, so it sends what the account holds."""
    from recon.testing.graph_provisioning import SERVER_MAPPINGS

    flowing = [m if m.target != "department" else m.model_copy(update={"flow_null": True})
               for m in SERVER_MAPPINGS]
    graph.state.add_job(SP_ID, JOB_ID, mappings=flowing)
    graph.state.add_user(id="t1000", userPrincipalName="emp1000@contoso.com", employeeId="1000",
                         department="Marketing", jobTitle="Old")
    desired = workers(1)
    desired[DEPARTMENT] = pd.NA
    desired["title"] = "New"
    plan = plan_of(desired, "update")
    target = entra(graph, {"mappings": [m.model_dump() for m in flowing]})

    result = push_inbound(plan, approve_all(plan), target, tmp_path / "j.db", desired=desired,
                          progress=False)

    assert result.ok
    sent = graph.state.bulk_payloads[0]["Operations"][0]["data"]
    assert sent[ENTERPRISE]["department"] == "Marketing"
    assert graph.state.users["t1000"]["department"] == "Marketing"
    assert graph.state.users["t1000"]["jobTitle"] == "New"


def test_a_manager_the_job_never_processed_is_restated_first(graph: RunningGraph,
                                                            tmp_path: Path) -> None:
    """hr-manager-update-issues: the job must have processed the manager's record before the
    report's. recon sends a record restating the manager's account (nothing changes) first."""
    boss = graph.state.add_user(id="boss", userPrincipalName="boss@contoso.com",
                                employeeId="900", displayName="The Boss", department="Board")
    desired = pd.concat([workers(1, start=900), workers(2, manager="900"),
                         workers(1, start=2000, manager="900")], ignore_index=True)
    plan = plan_of(desired.iloc[1:3])  # the two reports; the manager is in HR, not in the plan
    journal = tmp_path / "j.db"

    result = push_inbound(plan, approve_all(plan), entra(graph), journal, desired=desired,
                          progress=False)
    again = plan_of(desired.iloc[[3]])
    later = push_inbound(again, approve_all(again), entra(graph), journal, desired=desired,
                         progress=False)

    assert result.ok and result.manager_records == 1
    first = graph.state.bulk_payloads[0]["Operations"]
    assert first[0]["data"]["externalId"] == "900" and first[0]["data"]["active"] is True
    assert first[0]["data"]["displayName"] == "The Boss"
    assert graph.state.users["boss"]["department"] == "Board"  # restated, not changed
    assert all(graph.state.by_employee_id(k)["manager"] == boss["id"]  # type: ignore[index]
               for k in ("1000", "1001"))
    assert later.manager_records == 0  # known processed: journaled
    assert graph.state.by_employee_id("2000")["manager"] == boss["id"]  # type: ignore[index]


def test_pacing_keeps_below_40_calls_in_any_5_seconds() -> None:
    """inbound-provisioning-api-concepts: 40 calls in any 5-second window; recon keeps 35."""
    from recon.targets.entra.inbound import Pacer

    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pacer = Pacer(35, sleep, window=5000.0, clock=lambda: now[0])  # milliseconds: exact sums
    starts = []
    for _ in range(80):
        pacer.wait()
        starts.append(now[0])
        now[0] += 10.0

    assert all(sum(1 for t in starts if s <= t < s + 5000.0) <= 35 for s in starts)
    assert len(waits) == 2 and starts[-1] < 11_000.0


def test_a_spent_daily_quota_stops_the_push_cleanly_and_the_next_run_resumes(
    graph: RunningGraph, tmp_path: Path,
) -> None:
    """2,000 calls a day with P1/P2 (inbound-provisioning-api-concepts): counted in the
    journal; what does not fit is deferred, not failed, and sent by the next run."""
    desired = workers(5)
    plan = plan_of(desired)
    journal = tmp_path / "j.db"

    first = push_inbound(plan, approve_all(plan), entra(graph, {"daily_quota": 3}), journal,
                         desired=desired, batch_size=1, progress=False)
    second = push_inbound(plan, approve_all(plan), entra(graph, {"daily_quota": 3}), journal,
                          desired=desired, batch_size=1, progress=False)
    third = push_inbound(plan, approve_all(plan), entra(graph, {"daily_quota": 10}), journal,
                         desired=desired, batch_size=1, progress=False)

    assert statuses(first) == {"succeeded": 3, "deferred": 2} and not first.ok
    assert "daily bulkUpload quota of 3 calls" in first.results["error"].iloc[-1]
    assert "run the push again after" in first.results["error"].iloc[-1]
    assert statuses(second) == {"already_applied": 3, "deferred": 2}
    assert statuses(third) == {"already_applied": 3, "succeeded": 2} and third.ok
    assert len(graph.state.bulk_payloads) == 5


def test_a_429_with_a_day_long_retry_after_defers_the_rest(graph: RunningGraph,
                                                          tmp_path: Path) -> None:
    """Other clients may spend the tenant's quota: Graph then answers 429 with a long
    Retry-After (graph/throttling); recon stops cleanly instead of waiting a day."""
    graph.state.daily_quota = 1
    desired = workers(3)
    plan = plan_of(desired)

    result = push_inbound(plan, approve_all(plan), entra(graph), tmp_path / "j.db",
                          desired=desired, batch_size=1, progress=False)

    assert statuses(result) == {"succeeded": 1, "deferred": 2}
    assert "Retry-After" in result.results["error"].iloc[-1]
