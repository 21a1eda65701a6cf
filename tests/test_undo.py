"""Undo (issue 21): the inverse of every op a push journal says took effect, as a plan.

The rules (recon/core/undo.py) in one table of hand-built ops, then against scim2-server in
process: a wave pushed and undone leaves the target as its snapshot was, apart from the
accounts the push created (disabled), and an account someone changed after the push is
``stale`` and left as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from recon.core.groupplan import reference
from recon.core.ops import ops_from_frame
from recon.core.plan import Plan, ops_frame, plan_digest
from recon.core.scim import CORE_GROUP, CORE_USER, ENTERPRISE, PATCH_OP, get_path
from recon.core.undo import GROUP_LEFT, NOT_RESTORABLE, target_changes, undo_plan
from recon.core.waves import member_op_row
from tests.plans import approve_all

MANAGER = f"{ENTERPRISE}:manager"
WORK = 'emails[type eq "work"].value'


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def row(action: str, method: str, path: str, target_id: str, payload: Any, before: Any, *,
        hr_key: str | None = None, category: str = "drift", match: Any = None
        ) -> dict[str, Any]:
    return {"action": action, "method": method, "path": path, "target_id": target_id,
            "hr_key": hr_key, "hr_row": None if hr_key is None else int(hr_key),
            "category": category, "payload": payload, "before": before, "etag": 'W/"1"',
            "risk": "low", "match": match}


def pushed_plan() -> Plan:
    new_group = row("group_create", "POST", "/Groups", "", {
        "schemas": [CORE_GROUP], "displayName": "dept-New"}, {}, category="group_missing",
        match={"displayName": "dept-New"})
    joiner = row("create", "POST", "/Users", "", {
        "schemas": [CORE_USER], "userName": "new@x.org", "active": True,
        "name": {"givenName": "Nia"}}, {}, hr_key="5", category="joiner",
        match={"userName": "new@x.org", "externalId": "5"})
    ids = ops_frame([new_group, joiner])["op_id"]
    group_ref, joiner_ref = reference(ids[0]), reference(ids[1])
    rows = [new_group, joiner,
            row("update", "PATCH", "/Users/u1", "u1", patch(
                {"op": "replace", "path": "title", "value": "Lead"},
                {"op": "add", "path": "emails", "value": [{"type": "work", "value": "n@x.org"}]},
                {"op": "replace", "path": MANAGER, "value": {"value": "m2"}}),
                {"title": "Engineer", WORK: None, MANAGER: "m1"}, hr_key="1"),
            row("link", "PATCH", "/Users/u2", "u2", patch(
                {"op": "replace", "path": "externalId", "value": "2"}), {"externalId": None},
                hr_key="2", category="link"),
            row("enable", "PATCH", "/Users/u3", "u3", patch(
                {"op": "replace", "path": "active", "value": True},
                {"op": "replace", "path": "title", "value": "X"}),
                {"active": False, "title": "Y"}, hr_key="3", category="rehire"),
            row("disable", "PATCH", "/Users/u4", "u4", patch(
                {"op": "replace", "path": "active", "value": False}), {"active": True},
                hr_key="4", category="leaver"),
            row("delete", "DELETE", "/Users/u6", "u6", None, {"active": True},
                category="orphan"),
            member_op_row("group_add", "member_missing", group_ref, [joiner_ref, "u9"], ""),
            member_op_row("group_remove", "member_extra", "g1", ["u4"], 'W/"2"', "4", 4),
            row("update", "PATCH", "/Users/u7", "u7", patch(
                {"op": "replace", "path": "title", "value": "Boss"}), {"title": "Clerk"},
                hr_key="7"),
            ]
    ops = ops_frame(rows)
    return Plan(ops, plan_digest("snap", ops["op_id"]), "snap", pd.Timestamp("2026-11-15").date())


def effect_of(plan: Plan, **exceptions: str) -> pd.DataFrame:
    """Every op succeeded (creates made the ids new-…), but those named (by action)."""
    ops = plan.ops
    status = [exceptions.get(str(a), "succeeded") for a in ops["action"]]
    made = ["g-new" if a == "group_create" else "new-5" if a == "create" else t
            for a, t in zip(ops["action"], ops["target_id"], strict=True)]
    frame = pd.DataFrame({"op_id": ops["op_id"], "status": status, "target_id": made})
    return frame[frame["status"] != "absent"]


def inverse_of(undo: Any, action: str, target: str = "") -> dict[str, Any]:
    record = undo.record.set_index("op_id")
    plan = undo.plan.ops.set_index("op_id")
    for op_id, entry in record.iterrows():
        if entry["action"] == action and (not target or entry["account"] == target):
            found = plan.loc[entry["undo_op_id"]]
            return {"action": found["action"], "method": found["method"],
                    "path": found["path"], "payload": json.loads(found["payload"] or "null"),
                    "before": json.loads(found["before"]), "risk": found["risk"],
                    "category": found["category"], "undone": op_id}
    raise AssertionError(f"no inverse of {action} {target}")


def test_each_pushed_op_has_its_inverse_with_the_pushed_values_as_precondition() -> None:
    plan = pushed_plan()
    undo = undo_plan(plan, effect_of(plan), journal_digest="j" * 64)

    drift = inverse_of(undo, "update", "u1")
    assert sorted(drift["payload"]["Operations"], key=lambda o: o["path"]) == [
        {"op": "remove", "path": 'emails[type eq "work"]'},  # the push added the item whole
        {"op": "replace", "path": "title", "value": "Engineer"},
        {"op": "replace", "path": MANAGER, "value": {"value": "m1"}}]
    assert drift["before"] == {"title": "Lead", WORK: "n@x.org", MANAGER: "m2"}
    link = inverse_of(undo, "link")
    assert (link["action"], link["risk"]) == ("update", "medium")  # an identifying attribute
    assert link["payload"]["Operations"] == [{"op": "remove", "path": "externalId"}]
    assert link["before"] == {"externalId": "2"}
    rehire = inverse_of(undo, "enable")
    assert rehire["action"] == "disable" and rehire["category"] == "rehire"
    assert sorted(rehire["payload"]["Operations"], key=lambda o: o["path"]) == [
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "title", "value": "Y"}]
    assert rehire["before"] == {"active": True, "title": "X"}
    leaver = inverse_of(undo, "disable")
    assert (leaver["action"], leaver["before"]) == ("enable", {"active": False})
    joiner = inverse_of(undo, "create")
    assert (joiner["action"], joiner["path"], joiner["before"]) == (
        "disable", "/Users/new-5", {"active": True})
    # Members: the bulkId references of the push are the ids its creates got.
    added = inverse_of(undo, "group_add")
    assert (added["action"], added["path"]) == ("group_remove", "/Groups/g-new")
    assert added["before"] == {"members": {"present": ["new-5", "u9"]}}
    removed = inverse_of(undo, "group_remove")
    assert added["risk"] == "medium" and removed["risk"] == "low"
    assert removed["payload"]["Operations"] == [{"op": "add", "path": "members",
                                                  "value": [{"value": "u4"}]}]
    assert removed["before"] == {"members": {"absent": ["u4"]}}
    notes = dict(zip(undo.record["action"], undo.record["note"].fillna(""), strict=True))
    assert notes["group_create"] == GROUP_LEFT and notes["delete"] == NOT_RESTORABLE
    # No ETag: the push re-reads each account and checks ``before`` (stale if it moved).
    assert set(undo.plan.ops["etag"]) == {""}
    assert undo.plan.snapshot_digest == "j" * 64
    assert undo.plan.digest == plan_digest("j" * 64, undo.plan.ops["op_id"])


def test_created_accounts_are_deleted_only_when_deletes_are_allowed() -> None:
    plan = pushed_plan()
    undo = undo_plan(plan, effect_of(plan), journal_digest="j", delete_created=True)
    joiner = inverse_of(undo, "create")
    assert (joiner["action"], joiner["method"], joiner["payload"]) == (
        "delete", "DELETE", None)


def test_only_what_took_effect_is_undone() -> None:
    plan = pushed_plan()
    effect = effect_of(plan, enable="stale", disable="failed", link="absent",
                       update="already_applied")
    undo = undo_plan(plan, effect, journal_digest="j")
    notes = undo.record.set_index("action")["note"].fillna("")
    assert notes["enable"] == "not undone: it did not take effect (stale)"
    assert notes["disable"] == "not undone: it did not take effect (failed)"
    assert notes["link"] == "not undone: it was not pushed"
    assert set(undo.plan.ops["action"]) == {"update", "disable", "group_remove", "group_add"}
    assert len(undo.plan.ops[undo.plan.ops["action"] == "update"]) == 2  # already applied too


def test_an_inverse_expects_what_the_push_wrote_and_writes_what_was_before() -> None:
    """As the push engine reads ops (recon.core.ops): the inverse's ``before`` is what the
    pushed op leaves behind, and what the inverse leaves behind is the pushed op's ``before``."""
    plan = pushed_plan()
    undo = undo_plan(plan, effect_of(plan), journal_digest="j")
    inverse = {op.target_id: op for op in ops_from_frame(undo.plan.ops)}
    for op in ops_from_frame(plan.ops):
        if op.action not in ("update", "link", "enable", "disable"):
            continue
        back = inverse[op.target_id]
        assert back.before == {path: plain(value) for path, value in op.desired.items()}
        restored = {path: plain(value) for path, value in back.desired.items()}
        for path, old in op.before.items():
            removed = path[: path.index("]") + 1] if "[" in path else path
            assert restored[path if old is not None else removed] == old


def plain(value: Any) -> Any:
    return value["value"] if isinstance(value, dict) and set(value) == {"value"} else value


# ---- against scim2-server (in process) ---------------------------------------------------


@pytest.fixture
def pushed_pilot(tmp_path: Path) -> Any:
    """The samples on an in-process scim2-server; the pilot wave (Legal) planned and pushed."""
    from recon.core.approve import approve
    from recon.io.config_file import load_config
    from recon.io.hr import read_hr
    from recon.io.run import write_outputs
    from recon.testing.scimserver import inprocess_client, seed, seed_groups
    from recon.workflows.push import push
    from recon.workflows.reconcile import plan, reconcile
    from recon.workflows.waves import plan_waves
    from tests.conftest import SAMPLES

    sample = json.loads((SAMPLES / "target_snapshot.json").read_text(encoding="utf-8"))
    client = inprocess_client()
    ids = seed(client, sample["Resources"])
    seed_groups(client, sample["groups"], ids)
    config = load_config(SAMPLES / "recon.yaml")
    hr = read_hr(config.source, config.base_dir)
    before = client.snapshot(groups=True)
    result = reconcile(config, hr, before)
    waves = plan_waves(config, result, plan(result, config), hr,
                       waves={"pilot": '[Supervisory Organization] = "Legal"'})
    pilot = waves.plan_for("pilot")
    write_outputs(result, pilot, tmp_path / "run")
    pushed = push(pilot, approve(pilot, approver="tests", everything=True), client,
                  tmp_path / "run" / "journal.sqlite", progress=False)
    assert pushed.ok and set(pilot.ops["action"]) >= {"create", "update", "group_add"}
    yield client, before, pilot, tmp_path
    client.close()


def test_an_account_changed_after_the_push_is_stale_and_left_as_it_is(pushed_pilot: Any
                                                                      ) -> None:
    from recon.workflows.push import push
    from recon.workflows.undo import undo

    client, before, pilot, folder = pushed_pilot
    drift = pilot.ops[pilot.ops["action"] == "update"].iloc[0]
    path = next(iter(json.loads(drift["before"])))
    others = [r["id"] for r in before.resources if r["id"] != drift["target_id"]]
    edit = {"value": others[0]} if path.endswith(":manager") else "edited by hand"
    client.patch(f"/Users/{drift['target_id']}", patch(
        {"op": "replace", "path": path, "value": edit}))

    done = undo(folder / "run", folder / "run" / "journal.sqlite", folder / "undo")
    undone = push(done.plan, approve_all(done.plan), client, folder / "undo" / "journal.sqlite",
                  progress=False)
    status = undone.results.set_index("target_id")["status"]
    assert status[drift["target_id"]] == "stale"
    assert (status.drop(drift["target_id"]) == "succeeded").all()
    kept = get_path(client.get_user(drift["target_id"]) or {}, path)
    assert kept == (edit["value"] if isinstance(edit, dict) else edit)  # not overwritten
    stale = undone.results[undone.results["status"] == "stale"]
    assert path.rsplit(":", 1)[-1] in str(stale["error"].iloc[0])

    # Everything else is as the snapshot had it; the joiner's new account is disabled, the
    # group the pilot created (dept-Legal) is left, emptied.
    changes = target_changes(before, client.snapshot(groups=True))
    users = changes[changes["kind"] == "user"]
    assert set(users["id"]) == {drift["target_id"], *users.loc[
        users["attribute"] == "created", "id"]}
    assert users.loc[users["attribute"] == "created", "after"].tolist() == ["active false"]
    assert users.loc[users["id"] == drift["target_id"], "attribute"].tolist() == [
        path.rsplit(":", 1)[0] if path.startswith("urn:") else path.split(".")[0]]
    groups = changes[changes["kind"] == "group"]
    assert groups[["name", "attribute"]].values.tolist() == [["dept-Legal", "created"]]
