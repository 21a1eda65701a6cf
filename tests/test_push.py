"""Pushing approved ops to scim2-server: convergence, idempotency, stale targets, limits, resume.

Most cases run against scim2-server in-process; the full cycle also runs against the real
``scim2-server`` command on loopback.
"""

from __future__ import annotations

import io
import json
import random
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from recon.core.approve import Approval
from recon.core.config import Policy
from recon.core.plan import Plan
from recon.core.results import PushResult
from recon.core.same import normalize_values, normalized
from recon.core.scim import ENTERPRISE, case_insensitive
from recon.errors import PlanError, PushError
from recon.io.journal import Journal
from recon.targets.scim import ScimClient
from recon.testing import inprocess_app, inprocess_client, seed, start_server, user
from recon.workflows.push import push
from recon.workflows.push_scim import RetryPolicy
from tests.plans import approve_all, approve_some, op_row, patch_op, plan_of

WORK_EMAIL = 'emails[type eq "work"].value'
FAST = RetryPolicy(max_tries=4, base_delay=0.01, max_delay=0.05)


def account(client: ScimClient, user_name: str) -> dict[str, Any]:
    [found] = client.find("userName", user_name)
    return found


def the_team(client: ScimClient) -> dict[str, dict[str, Any]]:
    """Accounts as the snapshot saw them: a drifter, a leaver, a rehire and an unlinked one."""
    seed(client, [
        user("ann@example.com", external_id="E1", title="Engineer", email="ann@example.com",
             employee_number="E1", department="R&D"),
        user("bob@example.com", external_id="E2", title="Analyst", active=True,
             employee_number="E2"),
        user("cat@example.com", external_id="E3", title="Designer", active=False,
             employee_number="E3"),
        user("dan@example.com", title="Support"),
    ])
    return {name: account(client, f"{name}@example.com") for name in ("ann", "bob", "cat", "dan")}


def cycle_ops(accounts: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One op per action: create, update, disable, enable, link."""
    ann, bob, cat, dan = (accounts[n] for n in ("ann", "bob", "cat", "dan"))
    return [
        op_row("create", hr_key="E4", match={"userName": "eve@example.com", "externalId": "E4"},
               payload=user("eve@example.com", external_id="E4", given="Eve", title="Tester",
                            email="eve@example.com", employee_number="E4")),
        op_row("update", target_id=ann["id"], hr_key="E1", etag=ann["meta"]["version"],
               payload=patch_op(("replace", "title", "Lead Engineer"),
                                ("replace", WORK_EMAIL, "ann.lee@example.com"),
                                ("replace", f"{ENTERPRISE}:department", "Platform")),
               before={"title": "Engineer", WORK_EMAIL: "ann@example.com",
                       f"{ENTERPRISE}:department": "R&D", "active": True}),
        op_row("disable", target_id=bob["id"], hr_key="E2", etag=bob["meta"]["version"],
               payload=patch_op(("replace", "active", False)), before={"active": True}),
        op_row("enable", target_id=cat["id"], hr_key="E3", etag=cat["meta"]["version"],
               payload=patch_op(("replace", "active", True), ("replace", "title", "Lead Designer")),
               before={"active": False, "title": "Designer"}),
        op_row("link", target_id=dan["id"], hr_key="E5", etag=dan["meta"]["version"],
               payload=patch_op(("add", "externalId", "E5"),
                                ("Add", f"{ENTERPRISE}:employeeNumber", "E5"),
                                # no work e-mail yet: a filtered path would be 400 noTarget
                                ("add", "emails", [{"type": "work", "value": "dan@example.com",
                                                    "primary": True}])),
               before={"externalId": None, f"{ENTERPRISE}:employeeNumber": None,
                       WORK_EMAIL: None, "active": True}),
    ]


def assert_converged(client: ScimClient) -> None:
    ann, bob, cat, dan, eve = (account(client, f"{n}@example.com")
                               for n in ("ann", "bob", "cat", "dan", "eve"))
    assert (ann["title"], ann["emails"][0]["value"], ann[ENTERPRISE]["department"]) == (
        "Lead Engineer", "ann.lee@example.com", "Platform")
    assert bob["active"] is False
    assert (cat["active"], cat["title"]) == (True, "Lead Designer")
    assert (dan["externalId"], dan[ENTERPRISE]["employeeNumber"]) == ("E5", "E5")
    assert dan["emails"] == [{"type": "work", "value": "dan@example.com", "primary": True}]
    assert (eve["externalId"], eve["name"]["givenName"]) == ("E4", "Eve")
    assert client.count() == 5


def statuses(result: PushResult) -> dict[str, str]:
    return dict(zip(result.results["action"], result.results["status"], strict=True))


@pytest.mark.parametrize("use_bulk", [False, True], ids=["single", "bulk"])
def test_full_cycle_converges_and_a_second_push_is_a_no_op(tmp_path: Path, use_bulk: bool
                                                           ) -> None:
    client = inprocess_client()
    plan = plan_of(cycle_ops(the_team(client)))
    approval = approve_all(plan)
    journal = tmp_path / "push.db"

    first = push(plan, approval, client, journal, use_bulk=use_bulk, progress=False, retry=FAST)
    assert first.ok and set(first.results["status"]) == {"succeeded"}
    assert_converged(client)
    versions = {r["id"]: r["meta"]["version"] for r in client.users()}

    again = push(plan, approval, client, journal, use_bulk=use_bulk, progress=False)
    assert again.ok and set(again.results["status"]) == {"skipped"}
    elsewhere = push(plan, approval, client, tmp_path / "other.db", use_bulk=use_bulk,
                     progress=False)
    assert elsewhere.ok and set(elsewhere.results["status"]) == {"already_applied"}
    assert {r["id"]: r["meta"]["version"] for r in client.users()} == versions  # nothing written
    assert_converged(client)


@pytest.mark.integration
def test_full_cycle_against_the_real_server_on_loopback(tmp_path: Path) -> None:
    with start_server() as server:
        client = server.client()
        plan = plan_of(cycle_ops(the_team(client)))
        result = push(plan, approve_all(plan), client, tmp_path / "push.db",
                      progress=False, retry=FAST)
        assert result.ok, result.results.to_string()
        assert_converged(client)
        again = push(plan, approve_all(plan), client, tmp_path / "push.db",
                     progress=False)
        assert set(again.results["status"]) == {"skipped"}


@pytest.mark.parametrize("with_etag", [True, False], ids=["if-match", "re-read"])
def test_a_target_changed_since_the_snapshot_is_stale_and_not_overwritten(
        tmp_path: Path, with_etag: bool) -> None:
    client = inprocess_client()
    ann = the_team(client)["ann"]
    op = op_row("update", target_id=ann["id"], hr_key="E1",
                etag=ann["meta"]["version"] if with_etag else None,
                payload=patch_op(("replace", "title", "Lead Engineer")),
                before={"title": "Engineer", "active": True})
    client.patch(f"/Users/{ann['id']}", patch_op(("replace", "title", "Principal")))  # meanwhile
    plan = plan_of([op])
    result = push(plan, approve_all(plan), client, tmp_path / "j.db", progress=False)
    [row] = result.results.to_dict("records")
    assert (row["status"], result.ok) == ("stale", False)
    assert "title" in row["error"]
    assert account(client, "ann@example.com")["title"] == "Principal"


def test_an_unrelated_change_does_not_block_the_op(tmp_path: Path) -> None:
    """The version moved (412), but what the op replaces is as the snapshot saw it: go ahead."""
    client = inprocess_client()
    ann = the_team(client)["ann"]
    op = op_row("update", target_id=ann["id"], etag=ann["meta"]["version"],
                payload=patch_op(("replace", "title", "Lead Engineer")),
                before={"title": "Engineer", "active": True})
    client.patch(f"/Users/{ann['id']}", patch_op(("replace", "nickName", "Annie")))
    plan = plan_of([op])
    result = push(plan, approve_all(plan), client, tmp_path / "j.db", progress=False)
    assert statuses(result) == {"update": "succeeded"}
    assert account(client, "ann@example.com")["title"] == "Lead Engineer"


def test_case_and_unicode_form_do_not_make_an_op_stale(tmp_path: Path) -> None:
    """before/desired compare like reconcile: NFC, trimmed, userName/emails case-insensitive."""
    client = inprocess_client()
    seed(client, [user("zoe@example.com", title="Ingénieur", email="Zoe@Example.com")])
    zoe = account(client, "zoe@example.com")
    decomposed = "Inge\u0301nieur "
    op = op_row("update", target_id=zoe["id"],
                payload=patch_op(("replace", "title", "Chef")),
                before={"title": decomposed, WORK_EMAIL: "zoe@example.com", "active": "True"})
    plan = plan_of([op])
    result = push(plan, approve_all(plan), client, tmp_path / "j.db", progress=False)
    assert statuses(result) == {"update": "succeeded"}


def test_a_create_never_duplicates_an_existing_account(tmp_path: Path) -> None:
    """The same person already there (earlier lost reply): already applied; someone else: failed."""
    client = inprocess_client()
    seed(client, [user("eve@example.com", external_id="E4"), user("max@example.com",
                                                                   external_id="X9")])
    mine = op_row("create", match={"userName": "eve@example.com", "externalId": "E4"},
                  payload=user("eve@example.com", external_id="E4"))
    taken = op_row("create", match={"userName": "max@example.com", "externalId": "E7"},
                   payload=user("max@example.com", external_id="E7"))
    plan = plan_of([mine, taken])
    result = push(plan, approve_all(plan), client, tmp_path / "j.db", progress=False)
    by_id = dict(zip(result.results["op_id"], result.results["status"], strict=True))
    assert (by_id[mine["op_id"]], by_id[taken["op_id"]]) == ("already_applied", "failed")
    assert client.count() == 2


def test_delete_within_an_explicit_limit(tmp_path: Path) -> None:
    client = inprocess_client()
    dan = the_team(client)["dan"]
    plan = plan_of([op_row("delete", target_id=dan["id"], before={"active": True})])
    with pytest.raises(PlanError, match="1 deletes approved, over the limit of 0"):
        push(plan, approve_all(plan), client, tmp_path / "j.db", progress=False)
    result = push(plan, approve_all(plan), client, tmp_path / "j.db", progress=False,
                  policy=Policy(max_deletes=1))
    assert statuses(result) == {"delete": "succeeded"} and client.get_user(dan["id"]) is None
    again = push(plan, approve_all(plan), client, tmp_path / "k.db", progress=False,
                 policy=Policy(max_deletes=1))
    assert statuses(again) == {"delete": "already_applied"}


# -- refusals ----------------------------------------------------------------------------------


def leavers(client: ScimClient, count: int) -> Plan:
    seed(client, [user(f"l{n}@example.com") for n in range(count)])
    return plan_of([op_row("disable", target_id=r["id"], before={"active": True},
                               payload=patch_op(("replace", "active", False)))
                        for r in client.users()])


def test_safety_limits_refuse_the_whole_batch(tmp_path: Path) -> None:
    client = inprocess_client()
    plan = leavers(client, 6)
    approval = approve_all(plan)
    with pytest.raises(PlanError, match="6 disables approved, over the limit of 5"):
        push(plan, approval, client, tmp_path / "j.db", policy=Policy(max_disables=5),
             progress=False)
    with pytest.raises(PlanError, match=r"6 disables are 60.0% of the target's 10 accounts"):
        seed(client, [user(f"stay{n}@example.com") for n in range(4)])
        push(plan, approval, client, tmp_path / "j.db", progress=False,
             policy=Policy(max_disable_percent=50))
    assert not (tmp_path / "j.db").exists()  # refused before anything was written
    assert all(r.get("active", True) for r in client.users())


def test_approval_for_another_plan_or_unknown_ops_is_refused(tmp_path: Path) -> None:
    client = inprocess_client()
    plan = leavers(client, 2)
    with pytest.raises(PlanError, match="the approval is for plan"):
        push(plan, Approval("0" * 64, tuple(plan.ops["op_id"]), "tests"), client,
             tmp_path / "j.db", progress=False)
    with pytest.raises(PlanError, match="which is not in the plan"):
        push(plan, approve_some(plan, frozenset({"f" * 64})), client, tmp_path / "j.db",
             progress=False)


def test_only_approved_ops_are_pushed(tmp_path: Path) -> None:
    client = inprocess_client()
    plan = leavers(client, 3)
    chosen = plan.ops["op_id"].iloc[0]
    result = push(plan, approve_some(plan, frozenset({chosen})), client,
                  tmp_path / "j.db", progress=False)
    assert list(result.results["op_id"]) == [chosen]
    assert sum(not r.get("active", True) for r in client.users()) == 1


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    client = inprocess_client()
    plan = leavers(client, 3)
    result = push(plan, approve_all(plan), client, tmp_path / "j.db", dry_run=True,
                  progress=False)
    assert set(result.results["status"]) == {"dry_run"} and result.ok
    assert all(r.get("active", True) for r in client.users())
    assert not (tmp_path / "j.db").exists()


# -- journal -----------------------------------------------------------------------------------


def test_journal_records_attempts_without_personal_values(tmp_path: Path) -> None:
    client = inprocess_client()
    plan = plan_of(cycle_ops(the_team(client)))
    push(plan, approve_all(plan), client, tmp_path / "push.db", progress=False)
    with Journal(tmp_path / "push.db") as journal:
        attempts = journal.attempts_frame()
        assert len(attempts) == 5 and set(attempts["outcome"]) == {"succeeded"}
        assert journal.done() == set(plan.ops["op_id"])
    dump = "\n".join(sqlite3.connect(tmp_path / "push.db").iterdump())
    for personal in ("Lead Engineer", "ann.lee@example.com", "eve@example.com", "Eve"):
        assert personal not in dump
    assert "replace title" in dump  # which attributes were written is kept


def test_resume_skips_what_succeeded_and_finishes_the_rest(tmp_path: Path) -> None:
    client = inprocess_client()
    plan = leavers(client, 4)
    first_two = frozenset(plan.ops["op_id"].iloc[:2])
    push(plan, approve_some(plan, first_two), client, tmp_path / "j.db", progress=False)
    result = push(plan, approve_all(plan), client, tmp_path / "j.db", progress=False)
    assert result.counts()[["skipped", "succeeded"]].tolist() == [2, 2]
    assert result.results["attempts"].tolist() == [1, 1, 1, 1]


# -- comparisons -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [("title", " Inge\u0301nieur "), ("userName", "Ann.Lee@Example.COM "),
     (WORK_EMAIL, "ANN@example.com"), ("name.givenName", "Ann"), ("title", "")],
)
def test_push_compares_values_as_reconcile_does(path: str, value: str) -> None:
    expected = normalize_values(pd.Series([value]), fold_case=case_insensitive(path)).iloc[0]
    assert normalized(path, value) == (None if pd.isna(expected) else expected)


@pytest.mark.parametrize(("sent", "expected"), [(False, "false"), ("False", "false"),
                                                 ("true", "true"), (None, "true")])
def test_active_is_read_leniently(sent: object, expected: str) -> None:
    assert normalized("active", sent) == expected


def test_an_account_deleted_since_the_snapshot_is_stale(tmp_path: Path) -> None:
    client = inprocess_client()
    ann = the_team(client)["ann"]
    client.delete(f"/Users/{ann['id']}")
    plan = plan_of([op_row("update", target_id=ann["id"], before={"title": "Engineer"},
                               payload=patch_op(("replace", "title", "Lead")))])
    result = push(plan, approve_all(plan), client, tmp_path / "j.db", progress=False)
    assert result.results[["status", "error"]].values.tolist() == [
        ["stale", "the account no longer exists"]]


def test_progress_bar_and_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    client = inprocess_client()
    plan = leavers(client, 3)
    result = push(plan, approve_all(plan), client, tmp_path / "j.db", progress=True)
    assert result.counts().to_dict() == {"succeeded": 3, "already_applied": 0, "stale": 0,
                                         "failed": 0, "skipped": 0, "dry_run": 0}
    assert "3/3" in capsys.readouterr().err


def test_a_create_without_external_id_is_looked_up_by_username_only(tmp_path: Path) -> None:
    client = inprocess_client()
    seed(client, [user("eve@example.com", external_id="E4")])
    op = op_row("create", match={"userName": "EVE@example.com", "externalId": None},
                payload=user("eve@example.com"))
    plan = plan_of([op])
    result = push(plan, approve_all(plan), client, tmp_path / "j.db", progress=False)
    assert statuses(result) == {"create": "already_applied"} and client.count() == 1


def test_bulk_is_chunked_to_the_advertised_limits(tmp_path: Path) -> None:
    """RFC 7644 §3.7.4: never more than maxOperations per request, nor maxPayloadSize bytes."""
    app = inprocess_app()
    bulk_sizes: list[int] = []

    def small_bulk(environ: dict[str, Any], start_response: Callable[..., Any]
                   ) -> Iterable[bytes]:
        if environ["PATH_INFO"].endswith("/Bulk"):
            body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
            bulk_sizes.append(len(json.loads(body)["Operations"]))
            assert len(body) <= 4000
            environ["wsgi.input"] = io.BytesIO(body)
        answer = b"".join(app(environ, start_response))
        if environ["PATH_INFO"].endswith("/ServiceProviderConfig"):
            config = json.loads(answer)
            config["bulk"] = {"supported": True, "maxOperations": 4, "maxPayloadSize": 4000}
            answer = json.dumps(config).encode()
        return [answer]

    client = ScimClient(httpx.Client(transport=httpx.WSGITransport(app=small_bulk),
                                     base_url="http://127.0.0.1/v2"))
    rows = [op_row("create", match={"userName": f"n{n}@example.com"},
                   payload=user(f"n{n}@example.com", title="x" * 700)) for n in range(10)]
    plan = plan_of(rows)
    result = push(plan, approve_all(plan), client, tmp_path / "j.db", progress=False)
    assert result.ok and client.count() == 10
    assert sum(bulk_sizes) == 10 and max(bulk_sizes) <= 4 and len(bulk_sizes) >= 3


def test_groups_are_read_with_their_members() -> None:
    client = inprocess_client()
    seed(client, [user("ann@example.com")])
    ann = account(client, "ann@example.com")
    client.create({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "Engineering", "members": [{"value": ann["id"]}]}, "/Groups")
    [group] = client.groups()
    assert group["displayName"] == "Engineering"
    assert [m["value"] for m in group["members"]] == [ann["id"]]
    assert client.snapshot(groups=True).groups == [group]


def test_back_off_honours_retry_after_and_is_capped_with_jitter() -> None:
    policy = RetryPolicy(max_tries=6, base_delay=0.25, max_delay=2.0, max_retry_after=30.0)
    rng = random.Random(1)
    assert policy.delay(1, 7.0, rng) == 7.0  # the server said when
    assert policy.delay(1, 3600.0, rng) == 30.0  # but not an hour
    delays = [policy.delay(tries, None, rng) for tries in range(1, 8)]
    assert all(0.125 <= d <= 0.25 for d in delays[:1]) and max(delays) <= 2.0
    assert delays[-1] >= 1.0  # exponential up to the cap, jittered within its upper half


def test_one_push_per_journal_at_a_time(tmp_path: Path) -> None:
    with (Journal(tmp_path / "j.db", exclusive=True),
          pytest.raises(PushError, match="another push is using this journal")):
        Journal(tmp_path / "j.db", exclusive=True)
    with Journal(tmp_path / "j.db", exclusive=True):  # released on close
        pass


def test_group_member_removals_past_the_limit_are_refused() -> None:
    import json as _json

    import pandas as _pd

    from recon.core.limits import check_limits
    from recon.errors import PlanError as _PlanError

    payload = _json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                           "Operations": [{"op": "remove", "path": f'members[value eq "{n}"]'}
                                          for n in range(3)]})
    ops = _pd.DataFrame({"action": ["group_remove", "group_remove"], "payload": [payload] * 2})
    check_limits(ops, Policy(max_disables=0, max_member_removals=6), lambda: 10)
    with pytest.raises(_PlanError, match="6 group member removals approved, over the limit of 5"):
        check_limits(ops, Policy(max_disables=0, max_member_removals=5), lambda: 10)


def test_a_journal_belongs_to_one_target(tmp_path: Path) -> None:
    """Resume skips what succeeded: only true on the target where it succeeded."""
    from recon.errors import PushError as _PushError
    from recon.io.journal import Journal as _Journal

    with _Journal(tmp_path / "push.db") as journal:
        journal.start_run("d" * 64, target="http://127.0.0.1:8001/v2")
        journal.end_run()
        journal.start_run("d" * 64, target="http://127.0.0.1:8001/v2")
        journal.end_run()
        with pytest.raises(_PushError, match=r"use a new journal for http://127\.0\.0\.1:8002/v2"):
            journal.start_run("d" * 64, target="http://127.0.0.1:8002/v2")
