"""Waves (issue 21): every person and every op in exactly one wave, nothing pulled in or
dropped, dependencies between waves reported; a wave's plan and approval hold its ops only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from recon.core.approve import approve, check_approval, for_ops
from recon.core.config import Wave, parse_config
from recon.core.plan import plan_digest
from recon.core.waves import OUTSIDE, Waves, is_expression, people_waves, rules_of
from recon.errors import ConfigError, InputError, PlanError
from recon.io.hr import read_hr
from recon.io.run import read_waves, write_outputs, write_waves
from recon.workflows.waves import approve_wave, plan_waves, progress, wave_rules
from tests.conftest import SAMPLES

WAVES = {"pilot": '[Supervisory Organization] = "Legal"',
         "finance": '[Supervisory Organization] = "Finance & Accounting"',
         "dublin": '[Location] = "Dublin"'}


@pytest.fixture(scope="module")
def waves(sample_run: Any) -> tuple[Any, Any, Any, Waves]:
    config, result, changes = sample_run
    hr = read_hr(config.source, config.base_dir)
    return config, result, changes, plan_waves(config, result, changes, hr, waves=WAVES)


def test_each_person_is_in_the_first_wave_whose_predicate_holds() -> None:
    frame = pd.DataFrame({"Org": ["Legal", "Legal", "Sales", None],
                          "Location": ["Dublin", "Oslo", "Dublin", "Dublin"]})
    rules = rules_of({"legal": '[Org] = "Legal"', "dublin": '[Location] = "Dublin"'})
    assert people_waves(rules, frame).tolist() == ["legal", "legal", "dublin", "dublin"]
    assert people_waves(rules_of({"none": '[Org] = "x"'}), frame).tolist() == [OUTSIDE] * 4


def test_every_op_lands_in_exactly_one_wave_and_no_member_is_lost(waves: Any) -> None:
    _, result, changes, found = waves
    assert found.ops["op_id"].is_unique
    assert list(found.ops["op_id"]) == list(found.plan.ops["op_id"])
    assert set(found.ops["wave"]) <= {*WAVES, OUTSIDE}
    assert sum(found.people.values()) == len(result.identities)
    # User ops are the plan's own (same ids); membership ops are cut, members kept.
    users = changes.ops[~changes.ops["action"].str.startswith("group_")]
    assert set(users["op_id"]) <= set(found.ops["op_id"])
    assert members_by_group(changes.ops) == members_by_group(found.plan.ops)


def members_by_group(ops: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for action, target, payload in zip(ops["action"], ops["target_id"], ops["payload"],
                                       strict=True):
        if action not in ("group_add", "group_remove"):
            continue
        for operation in json.loads(payload)["Operations"]:
            ids = ([v["value"] for v in operation["value"]] if action == "group_add"
                   else [operation["path"].split('"')[1]])
            found.setdefault((action, target), []).extend(ids)
    return {key: sorted(ids) for key, ids in found.items()}


def test_a_membership_op_holds_the_members_of_one_wave_only(waves: Any) -> None:
    _, result, _, found = waves
    accounts = result.identities["target_id"].notna()
    by_account = dict(zip(result.identities.loc[accounts, "target_id"],
                          found.person_waves[accounts], strict=True))
    cut = found.plan.ops.merge(found.ops[["op_id", "wave"]], on="op_id")
    checked = 0
    for action, payload, wave in zip(cut["action"], cut["payload"], cut["wave"], strict=True):
        if action != "group_add":
            continue
        members = [v["value"] for v in json.loads(payload)["Operations"][0]["value"]]
        assert {by_account[m] for m in members if m in by_account} <= {wave}
        checked += 1
    assert checked > len(WAVES)


def test_a_waves_plan_is_its_ops_with_their_own_digest(waves: Any) -> None:
    _, _, changes, found = waves
    pilot = found.plan_for("pilot")
    assert set(pilot.ops["op_id"]) == set(found.op_ids("pilot")) and len(pilot.ops)
    assert pilot.digest == plan_digest(changes.snapshot_digest, list(pilot.ops["op_id"]))
    later = found.later("pilot")
    assert sum(later.values()) + len(pilot.ops) == len(found.ops)
    assert "pilot" not in later
    table = found.summary().set_index("wave")
    assert table.loc["pilot", "ops"] == len(pilot.ops)
    assert table["ops"].sum() == len(found.ops)


def test_cross_wave_dependencies_are_reported(waves: Any) -> None:
    _, _, _, found = waves
    deps = found.dependencies
    # all-employees gets members from every wave: each wave is told the others change it.
    shared = deps[(deps["kind"] == "group") & (deps["subject"] == "all-employees")]
    assert set(shared["wave"]) == set(WAVES)
    # Dublin's joiner reports to a manager outside the wave: reported, not pulled in.
    managers = deps[deps["kind"] == "manager"]
    assert len(managers) and set(managers["wave"]) <= set(WAVES)
    for op_id, wave in zip(managers["op_id"], managers["wave"], strict=True):
        assert found.ops.set_index("op_id").loc[op_id, "wave"] == wave


def test_a_group_created_for_several_waves_goes_with_the_first(waves: Any) -> None:
    config, result, changes, _ = waves
    # dept-Legal is new; its members are Legal people in Dublin (first) and elsewhere.
    found = plan_waves(config, result, changes, waves={"dublin": WAVES["dublin"],
                                                        "pilot": WAVES["pilot"]})
    creates = found.ops[found.ops["action"] == "group_create"]
    assert len(creates) == 1 and creates["wave"].iloc[0] == "dublin"
    told = found.dependencies[found.dependencies["kind"] == "group_create"]
    assert list(told["wave"]) == ["pilot"] and list(told["other_wave"]) == ["dublin"]
    assert list(told["op_id"]) == list(creates["op_id"])
    assert "dept-Legal is created by wave dublin: push that wave first" in told["detail"].iloc[0]


def test_an_approval_for_a_wave_names_its_ops_only(waves: Any, tmp_path: Path) -> None:
    _, result, _, found = waves
    everything = approve(found.plan, approver="A. Auditor", everything=True)
    narrowed = for_ops(everything, found.op_ids("finance"), note="wave finance")
    assert set(narrowed.op_ids) == set(found.op_ids("finance"))
    assert {d.op_id for d in narrowed.decisions} == set(narrowed.op_ids)
    check_approval(found.plan, narrowed)  # bound to the same plan
    write_outputs(result, found.plan, tmp_path / "run")
    write_waves(tmp_path / "run", found)
    again, record = approve_wave(everything, tmp_path / "run" / "plan.json", "finance")
    assert set(again.op_ids) == set(narrowed.op_ids) and again.note.endswith("wave finance")
    with pytest.raises(PlanError, match=r"unknown wave 'finanse' \(did you mean 'finance'\?\)"):
        approve_wave(everything, tmp_path / "run" / "plan.json", "finanse")
    assert record.names == list(WAVES)


def test_the_waves_record_reads_back_and_refuses_another_plan(waves: Any,
                                                              tmp_path: Path) -> None:
    _, result, changes, found = waves
    pilot = found.selecting("pilot")
    write_outputs(result, pilot.plan, tmp_path / "run")
    write_waves(tmp_path / "run", pilot)
    back = read_waves(tmp_path / "run")
    assert back.selected == "pilot" and back.plan_digest == pilot.plan.digest
    assert back.full_digest == found.plan.digest
    assert back.people == found.people and back.names == found.names
    pd.testing.assert_frame_equal(back.ops.fillna("").reset_index(drop=True),
                                  found.ops.astype("string").fillna("").reset_index(drop=True))
    with pytest.raises(InputError, match=r"waves\.json is for plan"):
        read_waves(tmp_path / "run", changes)


def test_progress_counts_pushed_converged_and_failed_per_wave(waves: Any) -> None:
    _, _, _, found = waves
    pilot = found.op_ids("pilot")
    states = pd.DataFrame({"op_id": pilot[:3], "status": ["succeeded", "already_applied",
                                                         "stale"]})
    converged = pd.DataFrame({"op_id": pilot[:2], "converged": [True, False]})
    table = progress(found, states, converged).set_index("wave")
    assert table.loc["pilot", ["pushed", "converged", "failed"]].tolist() == [2, 1, 1]
    assert table.loc["finance", ["pushed", "converged", "failed"]].tolist() == [0, 0, 0]
    assert list(table.index) == [*WAVES, OUTSIDE]


def test_wave_names_and_predicates_from_the_config_and_the_command_line(sample_config: Any
                                                                        ) -> None:
    data = {**sample_config.model_dump(mode="json", exclude={"waves"}),
            "waves": [{"name": name, "when": when} for name, when in WAVES.items()]}
    config = parse_config(data, base_dir=SAMPLES, name="recon.yaml")
    assert [w.name for w in wave_rules(config)] == list(WAVES)
    assert wave_rules(config, "pilot") == tuple(config.waves)
    adhoc = wave_rules(config, '[Country] = "Ireland"')
    assert adhoc[0] == Wave(name='[Country] = "Ireland"', when='[Country] = "Ireland"')
    with pytest.raises(ConfigError, match=r"unknown wave 'pilto' \(did you mean 'pilot'\?\)"):
        wave_rules(config, "pilto")
    assert is_expression('[Location] = "Oslo"') and not is_expression("Oslo pilot")
    for bad, fragment in [({"name": "a=b", "when": '"True"'}, "no brackets"),
                          ({"name": "x", "when": "[Location"}, "waves.0.when"),
                          ({"name": "pilot", "wehn": "x"}, "unknown key")]:
        with pytest.raises(ConfigError, match=fragment):
            parse_config({**data, "waves": [bad]}, base_dir=SAMPLES, name="recon.yaml")
    with pytest.raises(ConfigError, match="named twice"):
        parse_config({**data, "waves": [data["waves"][0], data["waves"][0]]}, base_dir=SAMPLES)


def test_a_predicate_naming_an_unknown_column_is_one_clear_error(sample_run: Any) -> None:
    config, result, changes = sample_run
    with pytest.raises(ConfigError, match=r"unknown column 'Locaton'.*did you mean 'Location'"):
        plan_waves(config, result, changes, waves={"x": '[Locaton] = "Oslo"'})
    # Account attributes (SCIM paths, as target.exclude reads them) are there too.
    found = plan_waves(config, result, changes, waves={"svc": 'Left([userName], 4) = "svc-"'})
    assert found.people["svc"] == 3
