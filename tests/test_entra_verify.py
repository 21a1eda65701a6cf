"""Verifying Entra pushes through the provisioning logs and the users, and the sample end to end.

Against the documented-behaviour loopback Graph (recon.testing.graph_server): pending until the
job has processed, failures and skipped steps in words, updates and disables seen on the users;
Microsoft's 1,000-row inbound sample through reconcile → push → verify, and through the CLI.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from recon.core.approve import approve
from recon.core.config import Config, parse_config
from recon.errors import PlanError
from recon.testing.graph_server import RunningGraph
from recon.workflows.push_entra import push_inbound
from recon.workflows.reconcile import plan, reconcile
from recon.workflows.verify_entra import verify_inbound
from tests.conftest import SAMPLES
from tests.entra_helpers import (
    JOB_ID,
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


# -- verify --------------------------------------------------------------------------------------


def test_verify_reports_pending_until_entra_applies_then_converged(
    graph: RunningGraph, tmp_path: Path,
) -> None:
    """API-ISS: results arrive asynchronously, in the provisioning logs, minutes later."""
    graph.state.defer = True
    desired = workers(4)
    plan = plan_of(desired)
    journal = tmp_path / "journal.db"
    push_inbound(plan, approve_all(plan), entra(graph), journal, desired=desired,
                 progress=False)

    before = verify_inbound(plan, entra(graph), journal, desired=desired, progress=False)
    graph.state.process_pending()
    after = verify_inbound(plan, entra(graph), journal, desired=desired, progress=False)

    assert before.counts().to_dict() == {"pending": 4} and not before.converged
    assert after.counts().to_dict() == {"converged": 4} and after.converged
    assert set(after.results["log_action"]) == {"create"}
    logs = [r for r in graph.state.requests if r["path"] == "/v1.0/auditLogs/provisioning"]
    assert logs and logs[-1]["query"]["$filter"].startswith(f"jobId eq '{JOB_ID}' and "
                                                            "activityDateTime gt ")


def test_verify_gives_the_provisioning_log_reason_of_a_failure(graph: RunningGraph,
                                                              tmp_path: Path) -> None:
    graph.state.add_user(userPrincipalName="emp1001@contoso.com")  # UPN taken, no employeeId
    desired = workers(2)
    plan = plan_of(desired)
    journal = tmp_path / "journal.db"
    push_inbound(plan, approve_all(plan), entra(graph), journal, desired=desired,
                 progress=False)

    verification = verify_inbound(plan, entra(graph), journal, desired=desired, progress=False)

    by_key = verification.results.set_index("hr_key")
    assert by_key.loc["1000", "state"] == "converged"
    assert by_key.loc["1001", "state"] == "failed"
    assert "EntryConflict" in by_key.loc["1001", "reason"]
    assert "emp1001@contoso.com" in by_key.loc["1001", "reason"]


def test_verify_sees_updates_and_disables_through_the_users(graph: RunningGraph,
                                                           tmp_path: Path) -> None:
    for key in ("1000", "1001"):
        graph.state.add_user(id=f"t{key}", userPrincipalName=f"emp{key}@contoso.com",
                             employeeId=key, department="Marketing")
    desired = workers(2)
    desired.loc[2, "worker_active"] = False
    plan = plan_of(desired, ["update", "disable"])
    journal = tmp_path / "journal.db"
    push_inbound(plan, approve_all(plan), entra(graph), journal, desired=desired,
                 progress=False)

    verification = verify_inbound(plan, entra(graph), journal, desired=desired, progress=False)

    assert verification.converged
    assert verification.results.set_index("hr_key")["log_action"].to_dict() == {
        "1000": "update", "1001": "disable"}
    assert graph.state.by_employee_id("1001")["accountEnabled"] is False  # type: ignore[index]
    assert json.loads(json.dumps(graph.state.bulk_payloads))[0]["Operations"][1]["data"][
        "active"] is False


def test_verify_without_a_push_says_so(graph: RunningGraph, tmp_path: Path) -> None:
    plan = plan_of(workers(1))
    with pytest.raises(PlanError, match="push first"):
        verify_inbound(plan, entra(graph), tmp_path / "journal.db", desired=workers(1),
                       progress=False)


def test_verify_says_why_a_manager_was_not_set_in_plain_words(graph: RunningGraph,
                                                             tmp_path: Path) -> None:
    """provisioningStep details carry SkipReason UnableToResolveReferenceAttributeValue while
    the entry says success (Microsoft's API2AAD log sample): verify reads the steps."""
    graph.state.add_user(id="boss", userPrincipalName="boss@contoso.com", employeeId="900",
                         onPremisesSyncEnabled=True)  # cannot be restated: never processed
    desired = pd.concat([workers(1, start=900), workers(1, manager="900")], ignore_index=True)
    plan = plan_of(desired.iloc[[1]])
    journal = tmp_path / "j.db"
    push_inbound(plan, approve_all(plan), entra(graph), journal, desired=desired,
                 progress=False)

    check = verify_inbound(plan, entra(graph), journal, desired=desired, progress=False)

    (row,) = check.results.itertuples()
    assert row.state == "failed"
    assert "the manager was not set" in row.reason
    assert "UnableToResolveReferenceAttributeValue" in row.reason


# -- end to end ------------------------------------------------------------------------------------

AS_OF = date(2026, 11, 15)


def sample_mappings() -> list[dict[str, object]]:
    """The mappings data/samples/entra-inbound.yaml shows in its comments (a generated UPN)."""
    text = (SAMPLES / "entra-inbound.yaml").read_text(encoding="utf-8")
    lines = [line.split("#", 1)[1] for line in text.splitlines()
             if line.lstrip().startswith("#       - {")]
    return list(yaml.safe_load("\n".join(lines)))


def sample_config(graph: RunningGraph, mappings: list[dict[str, object]] | None = None
                  ) -> Config:
    """data/samples/entra-inbound.yaml (Microsoft's 1,000-row inbound sample), pointed at the
    loopback tenant instead of its empty snapshot, with guests excluded by a config rule."""
    data = yaml.safe_load((SAMPLES / "entra-inbound.yaml").read_text(encoding="utf-8"))
    data["as_of"] = AS_OF.isoformat()
    inbound: dict[str, object] = {"service_principal_id": SP_ID, "job_id": JOB_ID}
    if mappings is not None:
        inbound["mappings"] = mappings
    data["target"] = {
        "entra": {"credential": "token", "token_env": TOKEN_ENV, "graph_url": graph.url,
                  "inbound": inbound},
        "exclude": '[urn:recon:graph:userType] = "Guest"',
    }
    return parse_config(data, base_dir=SAMPLES)


@pytest.mark.parametrize("app", ["default mappings", "generated UPN"])
def test_the_sample_extract_converges_in_entra_through_bulk_upload(
    graph: RunningGraph, tmp_path: Path, app: str,
) -> None:
    """Reconcile → plan → approve → bulkUpload → provisioning logs → reconcile again: nothing
    left to do. The tenant already holds a drifted worker, a leaver still enabled, a rehire
    still disabled, a guest (excluded by the config) and a service account without employeeId
    (an orphan: reported, never touched). With the sample's commented mappings the app
    generates UPNs on creation: they differ from HR's userName and are not drift."""
    from recon.core.config import EntraMapping

    mappings = sample_mappings() if app == "generated UPN" else None
    if mappings is not None:
        graph.state.add_job(SP_ID, JOB_ID, mappings=[EntraMapping.model_validate(m)
                                                     for m in mappings])
    tenant = graph.state
    tenant.add_user(userPrincipalName="emp1783@contoso.com", employeeId="1783",
                    department="Old dept")
    tenant.add_user(userPrincipalName="emp1571@contoso.com", employeeId="1571")  # HR: inactive
    tenant.add_user(userPrincipalName="emp1387@contoso.com", employeeId="1387",
                    accountEnabled=False)
    tenant.add_user(userPrincipalName="guest_fabrikam.com#EXT#@contoso.com", userType="Guest")
    tenant.add_user(userPrincipalName="svc-backup@contoso.com")
    config = sample_config(graph, mappings)
    entra_target = config.target.entra
    assert entra_target is not None

    first = reconcile(config)
    the_plan = plan(first, config)
    approval = approve(the_plan, approver="Ines Auditor", everything=True)
    pushed = push_inbound(the_plan, approval, entra_target, tmp_path / "journal.db",
                          desired=first.desired, policy=config.policy, progress=False)
    verification = verify_inbound(the_plan, entra_target, tmp_path / "journal.db",
                                  desired=first.desired, progress=False)
    second = reconcile(config)

    counts = first.counts()
    assert {"joiner", "drift", "leaver", "rehire", "orphan", "excluded"} <= set(counts.index)
    assert counts["orphan"] == 1 and counts["excluded"] == 1
    actions = the_plan.counts().to_dict()
    assert {"update": 1, "enable": 1, "disable": 1}.items() <= actions.items()
    assert pushed.ok and statuses(pushed) == {"succeeded": len(the_plan)}
    assert [len(p["Operations"]) for p in tenant.bulk_payloads][:-1] == [50] * (
        len(tenant.bulk_payloads) - 1)
    assert verification.converged, verification.results.query("state != 'converged'")
    assert len(plan(second, config)) == 0
    assert second.counts()["in_sync"] == counts["joiner"] + 3
    assert tenant.by_employee_id("1571")["accountEnabled"] is False  # type: ignore[index]
    assert tenant.by_employee_id("1783")["department"] != "Old dept"  # type: ignore[index]


def test_the_cli_pushes_to_entra_and_verifies_through_the_logs(
    graph: RunningGraph, tmp_path: Path,
) -> None:
    """recon reconcile → approve → push → verify with target.entra, as a scheduled job runs."""
    from typer.testing import CliRunner

    from recon.cli import app

    data = yaml.safe_load((SAMPLES / "entra-inbound.yaml").read_text(encoding="utf-8"))
    data["source"]["path"] = str(SAMPLES / data["source"]["path"])
    data["target"] = {"entra": {"credential": "token", "token_env": TOKEN_ENV,
                                "graph_url": graph.url,
                                "inbound": {"service_principal_id": SP_ID, "job_id": JOB_ID}}}
    config = tmp_path / "entra.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    run = tmp_path / "run"
    runner = CliRunner()

    def recon(*args: str) -> int:
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False).exit_code

    assert recon("reconcile", "-c", config, "--out", run, "--as-of", AS_OF) == 0
    assert recon("approve", "--plan", run / "plan.json", "--out", run / "approval.json",
                 "--approver", "Ines Auditor", "--category", "joiner") == 0
    assert recon("push", "-c", config, "--plan", run / "plan.json", "--approval",
                 run / "approval.json", "--journal", run / "journal.db") == 0
    assert recon("verify", "-c", config, "--plan", run / "plan.json", "--approval",
                 run / "approval.json", "--journal", run / "journal.db",
                 "--out", run / "verification.csv") == 0

    verification = pd.read_csv(run / "verification.csv", dtype=str)
    assert len(verification) == 170 and set(verification["state"]) == {"converged"}
    assert len(graph.state.users) == 170
