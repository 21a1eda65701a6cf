"""The plan: content-addressed ops, valid SCIM payloads, a digest that binds approvals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scim2_models import EnterpriseUser, PatchOp, User

from recon.core.approve import approve, check_approval
from recon.core.plan import bulk_request
from recon.errors import InputError, PlanError
from recon.io.plan_files import read_approval, read_plan, write_approval, write_plan
from recon.workflows.reconcile import plan, reconcile
from tests.tables import accounts, config
from tests.test_classify import TARGET, WORKERS


def make_plan():  # type: ignore[no-untyped-def]
    cfg = config()
    return plan(reconcile(cfg, WORKERS, TARGET), cfg)


def test_one_op_per_change_with_the_expected_actions() -> None:
    ops = make_plan().ops
    by_key = dict(zip(ops["hr_key"].fillna("-"), ops["action"], strict=True))
    assert by_key == {"2": "update", "3": "link", "4": "create", "6": "disable",
                      "7": "enable", "12": "disable"}


def test_the_plan_is_deterministic_and_changes_with_its_inputs() -> None:
    first, second = make_plan(), make_plan()
    assert first.digest == second.digest
    assert list(first.ops["op_id"]) == list(second.ops["op_id"])
    changed_hr = WORKERS.frame.copy()
    changed_hr.loc[2, "title"] = "Vice President"
    from recon.io.hr import HrExtract

    other = plan(reconcile(config(), HrExtract(changed_hr, WORKERS.path, "1" * 64, 1), TARGET),
                 config())
    assert other.digest != first.digest
    renamed = accounts("""
    | id  | userName   | employeeNumber | active |
    | a1  | ANN@x.org  | 1              | true   |
    """)
    assert plan(reconcile(config(), WORKERS, renamed), config()).digest != first.digest


def test_payloads_are_valid_scim() -> None:
    ops = make_plan().ops
    for method, payload in zip(ops["method"], ops["payload"], strict=True):
        body = json.loads(payload)
        if method == "POST":
            user = User[EnterpriseUser].model_validate(body)
            assert user.active is True and user.user_name
        else:
            patch = PatchOp[User[EnterpriseUser]].model_validate(body)
            assert patch.operations


def test_updates_carry_the_values_they_replace() -> None:
    ops = make_plan().ops.set_index("hr_key")
    assert json.loads(ops.loc["2", "before"])["title"] == "Manager"
    assert json.loads(ops.loc["7", "before"]) == {"active": False}
    link = json.loads(ops.loc["3", "payload"])["Operations"]
    assert {"op": "replace", "value": "3",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
            } in link


def test_plan_json_round_trips_and_refuses_edits(tmp_path: Path) -> None:
    the_plan = make_plan()
    file = tmp_path / "plan.json"
    write_plan(the_plan, file)
    again = read_plan(file)
    assert again.digest == the_plan.digest
    assert list(again.ops["op_id"]) == list(the_plan.ops["op_id"])
    data = json.loads(file.read_text())
    data["ops"][0]["payload"]["Operations"] = []
    file.write_text(json.dumps(data))
    with pytest.raises(InputError, match="does not match"):
        read_plan(file)


def test_approvals_bind_to_the_digest(tmp_path: Path) -> None:
    the_plan = make_plan()
    approval = approve(the_plan, approver="auditor", categories=["leaver"])
    assert len(approval.op_ids) == 2
    check_approval(the_plan, approval)
    write_approval(approval, tmp_path / "a.json")
    assert read_approval(tmp_path / "a.json") == approval
    other = approve(the_plan, approver="auditor", everything=True)
    stale = type(other)(plan_digest="0" * 64, op_ids=other.op_ids, approver="x")
    with pytest.raises(PlanError, match="not for this plan"):
        check_approval(the_plan, stale)
    with pytest.raises(PlanError, match="not in the plan"):
        approve(the_plan, approver="auditor", op_ids=["f" * 64])


def test_bulk_export_has_one_operation_per_op() -> None:
    the_plan = make_plan()
    bulk = bulk_request(the_plan)
    assert len(bulk["Operations"]) == len(the_plan.ops)
    assert all(op["bulkId"] for op in bulk["Operations"])
