"""Groups: department and all-employees groups derived from HR, reconciled with /Groups.

A leaver removed from nothing keeps access, so membership is reconciled as carefully as the
accounts themselves: movers change department group, leavers leave every managed group,
unmanaged groups are left alone, and a second run after the push plans nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from recon.core.approve import approve
from recon.core.config import Config
from recon.core.groupplan import reference
from recon.core.ops import before_holds, desired_holds, desired_of_patch, op_from_row
from recon.core.plan import plan_digest
from recon.core.results import Reconciliation
from recon.core.snapshot import Snapshot
from recon.io.plan_files import read_plan, write_plan
from recon.testing.scimserver import inprocess_client, seed
from recon.workflows.push import push
from recon.workflows.reconcile import plan, reconcile
from recon.workflows.verify import verify
from tests.conftest import SAMPLES
from tests.tables import accounts, config, csv_text, hr, table

GROUPS = {
    "rules": [{"name": 'Join("", "dept-", [dept])'}, {"name": '"all-employees"'}],
    "managed": ["dept-*", "all-employees"],
    "chunk_size": 2,
}

WORKERS = """
| id | status     | email     | first | last | dept  | hired      | ended      | in_scope |
| 1  | Active     | ann@x.com | Ann   | A    | Sales | 01/06/2020 | -          | True     |
| 2  | Active     | bob@x.com | Bob   | B    | Legal | 01/06/2020 | -          | True     |
| 3  | Terminated | cat@x.com | Cat   | C    | Sales | 01/06/2020 | 10/01/2026 | True     |
| 4  | Active     | dan@x.com | Dan   | D    | Sales | 11/10/2026 | -          | True     |
| 5  | Active     | eve@x.com | Eve   | E    | Sales | 01/06/2020 | -          | False    |
"""

ACCOUNTS = """
| id  | userName    | employeeNumber | active | first   | last    |
| u1  | ann@x.com   | 1              | true   | Ann     | A       |
| u2  | bob@x.com   | 2              | true   | Bob     | B       |
| u3  | cat@x.com   | 3              | true   | Cat     | C       |
| u5  | eve@x.com   | 5              | true   | Eve     | E       |
| svc | svc-x@x.com | -              | true   | Backup  | Service |
| u9  | old@x.com   | 9              | true   | Old     | O       |
"""

#: The target's groups: name, id, members (ids separated by spaces).
TARGET_GROUPS = """
| displayName   | id      | members                      |
| dept-Sales    | g-sales | u1 u2 u3 u5 svc gone         |
| all-employees | g-all   | u1 u2 u3 u9                  |
| vpn-users     | g-vpn   | u3                           |
| dept-Old      | g-old   | u1                           |
"""


def group_resources(text: str) -> list[dict[str, Any]]:
    return [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": row["id"],
             "displayName": row["displayName"], "meta": {"version": f'W/"{row["id"]}"'},
             "members": [{"value": m, "type": "User"} for m in str(row["members"]).split()]}
            for row in table(text).to_dict("records")]


def group_config(**overrides: Any) -> Config:
    return config(groups={**GROUPS, **overrides},
                  target={"file": "snapshot.json", "exclude": 'Left([userName], 4) = "svc-"'})


def run(hr_text: str = WORKERS, accounts_text: str = ACCOUNTS,
        groups_text: str = TARGET_GROUPS, **overrides: Any) -> Reconciliation:
    users = accounts(accounts_text)
    target = Snapshot.of(users.resources, source="test", groups=group_resources(groups_text))
    return reconcile(group_config(**overrides), hr(hr_text), target)


def memberships(result: Reconciliation) -> set[tuple[str, str, str]]:
    assert result.groups is not None
    frame = result.groups.memberships
    who = frame["member_id"].fillna("hr:" + frame["hr_key"].fillna("?"))
    return set(zip(frame["group"], who, frame["category"], strict=True))


def test_every_member_of_a_managed_group_is_classified() -> None:
    expected = table("""
    | group         | member  | category          | why                                       |
    | dept-Sales    | u1      | member_ok         | Ann works in Sales                        |
    | dept-Sales    | u2      | member_extra      | Bob moved to Legal                        |
    | dept-Sales    | u3      | member_extra      | Cat left: a leaver leaves every group     |
    | dept-Sales    | hr:4    | member_missing    | Dan joins: added after his create         |
    | dept-Sales    | u5      | member_left_alone | Eve is out of scope: her account is left  |
    | dept-Sales    | svc     | member_left_alone | an excluded service account               |
    | dept-Sales    | gone    | member_dangling   | no such account: reported                 |
    | dept-Legal    | u2      | member_missing    | Bob's new department (group to create)    |
    | all-employees | u1      | member_ok         |                                           |
    | all-employees | u2      | member_ok         |                                           |
    | all-employees | u3      | member_extra      | leaver                                    |
    | all-employees | u9      | member_extra      | orphan account: not an employee           |
    | all-employees | hr:4    | member_missing    | joiner                                    |
    | dept-Old      | u1      | member_extra      | no rule derives dept-Old any more         |
    """)
    want = set(zip(expected["group"], expected["member"], expected["category"], strict=True))
    assert memberships(run()) == want


def test_a_quarantined_workers_account_keeps_its_groups() -> None:
    workers = WORKERS + (
        "| -  | Active     | fay@x.com | Fay   | F    | Sales | 01/06/2020 | -          | True |\n")
    users = ACCOUNTS + "| u6  | fay@x.com   | -              | true   | Fay     | F       |\n"
    groups = TARGET_GROUPS.replace("u1 u2 u3 u5 svc gone", "u1 u2 u3 u5 svc gone u6")
    result = run(workers, users, groups)
    assert ("dept-Sales", "u6", "member_left_alone") in memberships(result)  # no Employee ID


def test_groups_are_created_reported_or_left_alone() -> None:
    result = run()
    assert result.groups is not None
    groups = result.groups.groups.set_index("group")
    assert groups["category"].to_dict() == {
        "all-employees": "group_drift", "dept-Legal": "group_missing",
        "dept-Old": "group_extra", "dept-Sales": "group_drift", "vpn-users": "unmanaged"}
    assert groups.loc["dept-Sales", ["to_add", "to_remove"]].tolist() == [1, 2]
    assert groups.loc["vpn-users", "to_remove"] == 0  # the leaver Cat stays: not ours


def test_when_narrows_a_rule_and_names_compare_without_case() -> None:
    result = run(rules=[{"name": 'Join("", "DEPT-", [dept])', "when": '[dept] = "Sales"'}])
    assert result.groups is not None
    groups = result.groups.groups.set_index("group")["category"].to_dict()
    assert groups["dept-Sales"] == "group_drift"  # DEPT-Sales is dept-Sales
    assert "DEPT-Legal" not in groups and "dept-Legal" not in groups
    assert groups["all-employees"] == "group_extra"  # no rule derives it here


def test_a_snapshot_without_groups_plans_no_group_op() -> None:
    users = accounts(ACCOUNTS)
    result = reconcile(group_config(), hr(WORKERS), users)
    assert result.groups is None
    assert not plan(result, group_config()).ops["action"].str.startswith("group_").any()


# ---- plan -------------------------------------------------------------------------------------

def test_group_ops_chunk_members_and_say_what_they_expect() -> None:
    result = run()
    ops = plan(result, group_config()).ops
    groups = ops[ops["action"].str.startswith("group_")]
    assert groups["category"].tolist() == [
        "group_missing", "member_missing", "member_missing", "member_missing",
        "member_extra", "member_extra", "member_extra"]
    create = groups.iloc[0]
    assert json.loads(create["payload"])["displayName"] == "dept-Legal"
    joiner = ops[ops["action"] == "create"].iloc[0]
    by_path = {(a, p): json.loads(b) for a, p, b in zip(
        groups["action"], groups["path"], groups["before"], strict=True)}
    assert by_path[("group_add", f"/Groups/{reference(create['op_id'])}")] == {
        "members": {"absent": ["u2"]}}  # Bob joins the group the same push creates
    assert by_path[("group_add", "/Groups/g-sales")] == {
        "members": {"absent": [reference(joiner["op_id"])]}}  # Dan, once created
    assert by_path[("group_remove", "/Groups/g-sales")] == {"members": {"present": ["u2", "u3"]}}
    removes = json.loads(groups[groups["path"] == "/Groups/g-all"].iloc[-1]["payload"])
    assert [o["path"] for o in removes["Operations"]] == [
        'members[value eq "u3"]', 'members[value eq "u9"]']  # chunk_size 2: one op
    assert groups.loc[groups["target_id"] == "g-sales", "etag"].unique().tolist() == [
        'W/"g-sales"']


def test_the_plan_digest_covers_group_ops() -> None:
    the_plan = plan(run(), group_config())
    ops = the_plan.ops
    users = ops[~ops["action"].str.startswith("group_")]
    assert the_plan.digest == plan_digest(the_plan.snapshot_digest, ops["op_id"].tolist())
    assert the_plan.digest != plan_digest(the_plan.snapshot_digest, users["op_id"].tolist())


def test_plan_json_round_trips_group_ops(tmp_path: Path) -> None:
    the_plan = plan(run(), group_config())
    write_plan(the_plan, tmp_path / "plan.json")
    again = read_plan(tmp_path / "plan.json")
    assert again.digest == the_plan.digest
    assert again.ops["op_id"].tolist() == the_plan.ops["op_id"].tolist()


# ---- push preconditions and Entra-style PATCH ---------------------------------------------------

def test_membership_preconditions_and_entra_style_removals() -> None:
    group = {"id": "g", "members": [{"value": "a"}, {"value": "b"}]}
    add = {"schemas": [], "Operations": [{"op": "Add", "path": "members",
                                          "value": [{"$ref": None, "value": "c"}]}]}
    entra_remove = {"Operations": [{"op": "Remove", "path": "members",
                                    "value": [{"$ref": None, "value": "a"}]}]}
    rfc_remove = {"Operations": [{"op": "remove", "path": 'members[value eq "b"]'}]}
    assert desired_of_patch(add) == ({"members": {"present": ["c"], "absent": []}}, True)
    assert desired_of_patch(entra_remove)[0] == {"members": {"present": [], "absent": ["a"]}}
    assert not desired_holds(group, desired_of_patch(add)[0])
    assert desired_holds(group, desired_of_patch(
        {"Operations": [*rfc_remove["Operations"], {"op": "REMOVE", "path": "members",
                                                    "value": [{"value": "x"}]}]})[0]) is False
    assert before_holds(group, {"members": {"present": ["a", "b"], "absent": ["c"]}})
    assert not before_holds(group, {"members": {"absent": ["a"]}})
    everyone = {"Operations": [{"op": "remove", "path": "members"}]}
    assert desired_of_patch(everyone)[1] is False  # never declared "already applied"


def test_an_op_refers_to_a_create_and_gets_its_id() -> None:
    row = {"op_id": "f" * 64, "action": "group_add", "method": "PATCH",
           "path": f"/Groups/bulkId:{'a' * 32}", "target_id": f"bulkId:{'a' * 32}",
           "payload": json.dumps({"Operations": [{"op": "add", "path": "members",
                                                  "value": [{"value": f"bulkId:{'b' * 32}"}]}]}),
           "before": json.dumps({"members": {"absent": [f"bulkId:{'b' * 32}"]}})}
    op = op_from_row(row)
    assert sorted(op.references) == ["a" * 32, "b" * 32]
    ready = op.resolved({"a" * 32: "group-1", "b" * 32: "user-7"})
    assert (ready.path, ready.target_id) == ("/Groups/group-1", "group-1")
    assert ready.before == {"members": {"absent": ["user-7"]}}
    assert ready.desired == {"members": {"present": ["user-7"], "absent": []}}


# ---- against scim2-server -------------------------------------------------------------------

def live_target(client: Any, users: Snapshot, groups_text: str) -> None:
    ids = seed(client, users.resources)
    for group in group_resources(groups_text):
        members = [{"value": ids[m["value"]]} for m in group["members"] if m["value"] in ids]
        reply = client.create({"schemas": group["schemas"], "displayName": group["displayName"],
                               "members": members}, "/Groups")
        assert reply.ok, reply.detail


def with_hr_file(cfg: Config, workers: str, folder: Path) -> Config:
    """The config reading ``workers`` from a CSV file (verify reads the HR file again)."""
    path = folder / f"hr-{abs(hash(workers))}.csv"
    path.write_text(csv_text(hr(workers).frame), encoding="utf-8")
    return cfg.model_copy(update={"source": cfg.source.model_copy(update={"path": path})})


def round_trip(cfg: Config, workers: str, client: Any, journal: Path) -> tuple[Any, Any, Any]:
    """reconcile → plan → approve all → push → verify; returns (plan, push result, verify)."""
    cfg = with_hr_file(cfg, workers, journal.parent)
    result = reconcile(cfg, target=client.snapshot(groups=True))
    the_plan = plan(result, cfg)
    approval = approve(the_plan, approver="test", everything=True)
    pushed = push(the_plan, approval, client, journal, progress=False)
    checked = verify(cfg, the_plan, approval, client.snapshot(groups=True))
    return the_plan, pushed, checked


@pytest.fixture()
def target() -> Any:
    client = inprocess_client()
    live_target(client, accounts(ACCOUNTS), TARGET_GROUPS)
    return client


def members_by_name(client: Any) -> dict[str, set[str]]:
    names = {str(u["id"]): str(u["userName"]) for u in client.users()}
    return {str(g["displayName"]): {names.get(str(m["value"]), "?") for m in g.get("members") or []}
            for g in client.groups()}


def test_push_converges_memberships_and_the_second_run_is_a_no_op(target: Any,
                                                                  tmp_path: Path) -> None:
    cfg = group_config()
    _, pushed, checked = round_trip(cfg, WORKERS, target, tmp_path / "journal.sqlite")
    assert pushed.ok, pushed.results.to_dict("records")
    assert checked.ok, checked.results[~checked.results["converged"]].to_dict("records")
    assert members_by_name(target) == {
        "dept-Sales": {"ann@x.com", "dan@x.com", "eve@x.com", "svc-x@x.com"},
        "dept-Legal": {"bob@x.com"},
        "all-employees": {"ann@x.com", "bob@x.com", "dan@x.com"},
        "vpn-users": {"cat@x.com"},  # unmanaged: the leaver stays, recon does not touch it
        "dept-Old": set(),           # reported, never deleted
    }
    again = reconcile(cfg, hr(WORKERS), target.snapshot(groups=True))
    assert plan(again, cfg).ops.empty
    assert again.groups is not None
    assert set(again.groups.memberships["category"]) <= {"member_ok", "member_left_alone"}


def test_a_department_move_next_run_moves_the_membership(target: Any, tmp_path: Path) -> None:
    cfg = group_config()
    round_trip(cfg, WORKERS, target, tmp_path / "first.sqlite")
    moved = WORKERS.replace("| 1  | Active     | ann@x.com | Ann   | A    | Sales |",
                            "| 1  | Active     | ann@x.com | Ann   | A    | Legal |")
    the_plan, pushed, checked = round_trip(cfg, moved, target, tmp_path / "second.sqlite")
    assert set(the_plan.ops["action"]) == {"group_add", "group_remove"}
    assert pushed.ok and checked.ok
    groups = members_by_name(target)
    assert "ann@x.com" in groups["dept-Legal"] and "ann@x.com" not in groups["dept-Sales"]


def test_a_membership_changed_since_the_snapshot_is_stale(target: Any, tmp_path: Path) -> None:
    cfg = group_config()
    result = reconcile(cfg, hr(WORKERS), target.snapshot(groups=True))
    the_plan = plan(result, cfg)
    sales_id = target.find("displayName", "dept-Sales", "/Groups")[0]["id"]
    ops = the_plan.ops
    removal = ops[(ops["action"] == "group_remove") & (ops["target_id"] == sales_id)].iloc[0]
    bob = json.loads(removal["before"])["members"]["present"][0]
    target.patch(f"/Groups/{sales_id}", {  # someone removes Bob by hand meanwhile
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": f'members[value eq "{bob}"]'}]})
    approval = approve(the_plan, approver="test", op_ids=[removal["op_id"]])
    pushed = push(the_plan, approval, target, tmp_path / "j.sqlite", progress=False,
                  use_bulk=False)
    assert pushed.results.set_index("op_id").loc[removal["op_id"], "status"] == "stale"


def test_groups_listed_without_members_are_read_one_by_one(target: Any) -> None:
    def members(groups: list[dict[str, Any]]) -> dict[str, set[str]]:
        return {g["displayName"]: {m["value"] for m in g["members"]} for g in groups}

    assert members(target.groups(exclude_members=True)) == members(target.groups())
    assert len(members(target.groups())["dept-Sales"]) == 5  # the dangling one was not seeded


def test_an_add_waits_for_its_joiners_create(target: Any, tmp_path: Path) -> None:
    cfg = group_config()
    the_plan = plan(reconcile(cfg, hr(WORKERS), target.snapshot(groups=True)), cfg)
    ops = the_plan.ops
    dan = ops[(ops["action"] == "group_add") & ops["before"].str.contains("bulkId")]
    approval = approve(the_plan, approver="test", op_ids=dan["op_id"].tolist())  # no create
    pushed = push(the_plan, approval, target, tmp_path / "j.sqlite", progress=False)
    assert set(pushed.results["status"]) == {"failed"}
    assert pushed.results["error"].str.contains("waits for create op").all()


# ---- the bundled samples --------------------------------------------------------------------



def readme_groups() -> dict[str, tuple[str, int, int]]:
    """The "Expected groups" table of data/samples/README.md (written by the generator)."""
    text = (SAMPLES / "README.md").read_text(encoding="utf-8")
    section = text.split("### Expected groups", 1)[1].split("<!--", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| group")]
    return {cells[0].strip(): (cells[1].strip().strip("`"), int(cells[2]), int(cells[3]))
            for cells in rows}


def test_the_sample_groups_match_the_readme() -> None:
    from recon.io.config_file import load_config

    result = reconcile(load_config(SAMPLES / "recon.yaml"))
    assert result.groups is not None
    groups = result.groups.groups
    got = {str(g): (str(c), int(a), int(r)) for g, c, a, r in zip(
        groups["group"], groups["category"], groups["to_add"], groups["to_remove"],
        strict=True)}
    assert got == readme_groups()
